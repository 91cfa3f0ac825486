// The fault proxy the unattended-running tests rely on: a delay never reorders bytes (also when it
// changes while chunks wait), and a one-way stall drops that way only, letting a close cross the other.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { FaultProxy } from '../helpers/faults.js';

let echo: Server;
const served: Socket[] = [];
before(async () => {
  echo = createServer((s) => {
    served.push(s);
    s.on('error', () => {}); // the proxy resets what it closes
    s.on('data', (d) => s.write(d));
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
});
after(() => {
  for (const s of served) s.destroy();
  echo.close();
});

async function client(proxy: FaultProxy): Promise<{ socket: Socket; received: () => string }> {
  const socket = createConnection({ host: '127.0.0.1', port: proxy.port });
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  return { socket, received: () => text };
}

const port = () => {
  const a = echo.address();
  return typeof a === 'object' && a ? a.port : 0;
};

it('keeps the order of delayed bytes when the delay shrinks meanwhile', async (t) => {
  const proxy = await FaultProxy.start(port());
  const c = await client(proxy);
  t.after(async () => {
    c.socket.destroy();
    await proxy.close();
  });
  proxy.delay(300);
  c.socket.write('first;');
  // Once the proxy holds it back, the delay goes: the next chunk must still come after it.
  while (proxy.delayed === 0) await new Promise(setImmediate);
  proxy.delay(0);
  c.socket.write('second;');
  while (c.received().length < 'first;second;'.length) await once(c.socket, 'data');
  assert.equal(c.received(), 'first;second;');
});

it('stalls one way only: nothing reaches the server, but its close reaches the client', async (t) => {
  const proxy = await FaultProxy.start(port());
  const c = await client(proxy);
  const sockets = [c.socket];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await proxy.close();
  });
  c.socket.write('a;');
  while (c.received() !== 'a;') await once(c.socket, 'data');
  const before = served.length;
  proxy.stallOpen('up');
  c.socket.write('lost;');
  // A new connection passes (only the open ones stall), and its bytes come back...
  const other = await client(proxy);
  sockets.push(other.socket);
  other.socket.write('b;');
  while (other.received() !== 'b;') await once(other.socket, 'data');
  assert.equal(served.length, before + 1);
  // ...while the stalled one got nothing back; the server closing it still reaches the client.
  assert.equal(c.received(), 'a;');
  const closed = once(c.socket, 'close');
  served[before - 1]?.destroy();
  await closed;
  assert.equal(c.received(), 'a;');
});
