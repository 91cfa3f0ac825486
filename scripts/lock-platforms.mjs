// npm records in package-lock.json only the optional platform packages its registry serves, and the
// registry mirror of our build machines serves only linux-x64 builds (the others answer 404). `npm ci`
// then refuses the lock ("Missing: @duckdb/node-bindings-darwin-arm64 from lock file"). This adds an
// entry for each missing one, with its version and the os/cpu/libc its name states, so npm ci accepts
// the lock and skips them as meant for another platform. Run after `npm install` changes the lock:
//   node scripts/lock-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const m = /-(linux|darwin|win32|android|freebsd)-(x64|arm64|arm|ia32)(?:-(musl|gnu))?$/.exec(name);
    if (!m) throw new Error(`cannot tell the platform of ${name} from its name: add its lock entry by hand`);
    packages[key] = {
      version,
      cpu: [m[2]],
      ...(m[3] === 'musl' ? { libc: ['musl'] } : {}),
      optional: true,
      os: [m[1]],
    };
    added++;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: added ${added} entries`);
