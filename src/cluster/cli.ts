// `npm run pg -- start|stop|env|psql`: the throwaway cluster by hand. `start` leaves it running and
// records it in .pg/cluster.json; `env` prints shell exports (`eval "$(npm run -s pg -- env)"`).

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterInfo, clusterEnv, conninfo, psql, startCluster, stopCluster } from './throwaway.js';

const stateFile = join(process.cwd(), '.pg', 'cluster.json');

function load(): ClusterInfo {
  if (!existsSync(stateFile)) {
    process.stderr.write('walduck pg: no cluster running here (start one with `npm run pg -- start`)\n');
    process.exit(1);
  }
  return JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterInfo;
}

async function main(cmd: string | undefined, rest: string[]): Promise<void> {
  switch (cmd) {
    case 'start': {
      if (existsSync(stateFile)) {
        process.stderr.write(`walduck pg: a cluster is already recorded in ${stateFile}; stop it first\n`);
        process.exit(1);
      }
      const info = await startCluster({ removeOnExit: false });
      mkdirSync(join(process.cwd(), '.pg'), { recursive: true });
      writeFileSync(stateFile, JSON.stringify(info, null, 2), { mode: 0o600 }); // it holds passwords
      process.stdout.write(
        `started PostgreSQL ${info.majorVersion} on port ${info.port}, socket ${info.socketDir}\n`,
      );
      process.stdout.write(`  ${conninfo(info)}\n`);
      return;
    }
    case 'stop': {
      stopCluster(load());
      rmSync(stateFile, { force: true });
      process.stdout.write('stopped and removed\n');
      return;
    }
    case 'env': {
      for (const [k, v] of Object.entries(clusterEnv(load()))) process.stdout.write(`export ${k}='${v}'\n`);
      return;
    }
    case 'psql': {
      process.stdout.write(`${psql(load(), rest.join(' '))}\n`);
      return;
    }
    default:
      process.stderr.write('usage: npm run pg -- start | stop | env | psql SQL\n');
      process.exit(2);
  }
}

main(process.argv[2], process.argv.slice(3)).catch((err: unknown) => {
  process.stderr.write(`walduck pg: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
