/**
 * `strata start` is `npm start`: the host runs under the supervisor (`start --restart`), so a
 * host that dies of a crash is started again on the same port, as after `npm start`. Real
 * Azurite, the CLI as a user runs it (dist/cli/main.js start).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ADMIN_KEY, ROOT, eventually, startHostProcess } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { WAIT_MS } from '../helpers/wait';

const storage = useAzurite('strata-start-');

/** The pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

it('strata start supervises the host: killed by SIGKILL, it is started again on the same port', async () => {
  const host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    viaStrata: true,
  });
  try {
    const [worker] = childrenOf(host.child.pid!);
    expect(worker, `a host process under strata start (pid ${host.child.pid}):\n${host.output()}`).toBeDefined();
    process.kill(worker!, 'SIGKILL');
    await eventually(
      () => (/\[supervisor\] the host died \(SIGKILL\); starting it again/.test(host.output()) ? true : undefined),
      WAIT_MS,
      'the supervisor to report the crash',
    );
    await eventually(
      async () => {
        const r = await fetch(`${host.baseUrl}/admin/host/status`, { headers: { 'x-functions-key': ADMIN_KEY } });
        const again = childrenOf(host.child.pid!);
        return r.status === 200 && again.length === 1 && again[0] !== worker ? true : undefined;
      },
      WAIT_MS,
      'the host started again and answering on its port',
    );
  } finally {
    await host.stop();
  }
  expect(host.child.exitCode, host.output()).toBe(0);
});
