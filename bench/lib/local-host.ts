/** The local host (dist/local/cli.js) serving a benchmark's app entry on a port, as its own process. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

export function spawnLocalHost(o: {
  entry: string;
  port: number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  args?: string[];
}): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...(o.args ?? []),
      path.join(root, 'dist/local/cli.js'),
      '--entry',
      o.entry,
      '--port',
      String(o.port),
      '--data-dir',
      o.dataDir,
    ],
    { cwd: root, stdio: 'ignore', env: o.env },
  );
}
