// The fold's map key (stage.ts pendingKey): a canonical integer text becomes its number, any other
// text stays itself, so two keys are equal in the map exactly when their texts are.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { pendingKey } from '../../../src/sink/stage.js';

it('maps canonical integers of up to 9 digits to numbers and leaves every other text as it is', () => {
  assert.equal(pendingKey('0'), 0);
  assert.equal(pendingKey('7'), 7);
  assert.equal(pendingKey('-5'), -5);
  assert.equal(pendingKey('999999999'), 999999999);
  assert.equal(pendingKey('-999999999'), -999999999);
  for (const t of ['', '-', '-0', '00', '007', '+1', '1e3', '12a', ' 1', '1.0', '1000000000', '\u0001'])
    assert.equal(pendingKey(t), t, JSON.stringify(t));
});

it('two texts get the same map key exactly when they are equal', () => {
  const text = fc.oneof(
    fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }).map(String),
    fc.stringMatching(/^-?0*[0-9]{0,11}$/),
    fc.string({ maxLength: 12 }),
  );
  fc.assert(
    fc.property(text, text, (a, b) => {
      const same = new Map([[pendingKey(a), 1]]).has(pendingKey(b));
      assert.equal(same, a === b, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }),
    { seed: 19, numRuns: 20_000 },
  );
});
