/**
 * One Durable task hub shared by several host processes on one storage (issue 18), as the
 * instances of a scaled-out Function App share one: `npm start -- --instances 3` runs three
 * supervised hosts; a fan-out started on one of them has its activities run on more than one
 * host, each result exactly once; the host that owns an orchestration is SIGKILLed mid-run and
 * the others take its work over after the lease timeout and finish it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ADMIN_KEY, FUNCTION_KEY, ROOT, SYSTEM_KEY, startHostProcess, type HostProcess } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';
import { eventually, WAIT_MS } from '../helpers/wait';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/durable-app.js');
const storage = useAzurite('durable-instances-');
const skey = { 'x-functions-key': SYSTEM_KEY };
/** Short leases, so a dead host's work moves within seconds (the default is 30 s). */
const LEASES = { STRATA_DURABLE_LEASE_MS: '3000', STRATA_DURABLE_POLL_MS: '100' };
/** A host sees the others at its next lease round (every lease / 3). */
const HOSTS_SEE_EACH_OTHER_MS = 1500;

type Run = { activity: string; key: string; host?: string; start?: number; end?: number };
const runs = (log: string, activity: string) => readJsonLines<Run>(log).filter((e) => e.activity === activity);

async function finished(baseUrl: string, id: string) {
  return eventually(
    async () => {
      const r = await fetch(`${baseUrl}/runtime/webhooks/durabletask/instances/${id}`, { headers: skey });
      const s = r.status === 200 ? ((await r.json()) as { runtimeStatus: string; output: unknown }) : undefined;
      return s && ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus) ? s : undefined;
    },
    WAIT_MS,
    `${id} to finish`,
  );
}

const hosts: HostProcess[] = [];
afterAll(async () => {
  for (const h of hosts) await h.kill();
});

it('npm start -- --instances 3: a fan-out started on one host runs its activities on several hosts, each result once', async () => {
  const log = path.join(storage.dir, 'spread.log');
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'dist/local/cli.js'),
      'start',
      '--instances',
      '3',
      '--port',
      '0',
      '--entry',
      ENTRY,
      '--data-dir',
      path.join(storage.dir, 'spread-data'),
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...LEASES,
        AzureWebJobsStorage: storage.connectionString,
        STRATA_ADMIN_KEY: ADMIN_KEY,
        STRATA_FUNCTION_KEY: FUNCTION_KEY,
        STRATA_DURABLETASK_EXTENSION_KEY: SYSTEM_KEY,
        DURABLE_EXEC_LOG: log,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  try {
    // It prints the three ports; each host answers on its own.
    const urls = await eventually(
      () => {
        const found = [...out.matchAll(/instance \d: (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!);
        return found.length === 3 ? found : undefined;
      },
      WAIT_MS,
      'the three instance ports to be printed',
    );
    for (const url of urls)
      await eventually(
        async () => {
          const r = await fetch(`${url}/admin/host/status`, { headers: { 'x-functions-key': ADMIN_KEY } }).catch(
            () => undefined,
          );
          return r?.status === 200 ? true : undefined;
        },
        WAIT_MS,
        `${url} to be ready`,
      );
    await new Promise((r) => setTimeout(r, HOSTS_SEE_EACH_OTHER_MS));

    const r = await fetch(`${urls[0]}/api/orchestrators/overlapFan/spread-1`, {
      method: 'POST',
      body: JSON.stringify({ n: 24, ms: 300 }),
    });
    expect(r.status).toBe(202);
    const s = await finished(urls[1]!, 'spread-1');
    const tags = Array.from({ length: 24 }, (_, i) => `spread-1-${i}`);
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: tags });
    const done = runs(log, 'overlap');
    // Each activity ran exactly once, and not all on one host.
    expect(done.map((e) => e.key).sort()).toEqual([...tags].sort());
    const byHost = new Map<string, number>();
    for (const e of done) byHost.set(e.host ?? '?', (byHost.get(e.host ?? '?') ?? 0) + 1);
    expect(byHost.size, `activities per host: ${JSON.stringify([...byHost])}`).toBeGreaterThan(1);
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

it('the host running an orchestration is SIGKILLed mid-run: the other hosts take it over and finish it', async () => {
  const log = path.join(storage.dir, 'kill.log');
  const opts = {
    entry: ENTRY,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'kill-data'),
    env: { ...LEASES, DURABLE_EXEC_LOG: log },
  };
  for (let i = 0; i < 3; i++) hosts.push(await startHostProcess(opts));
  const [owner, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
  const status = await fetch(`${owner.baseUrl}/admin/host/status`, { headers: { 'x-functions-key': ADMIN_KEY } });
  const ownerId = ((await status.json()) as { instanceId: string }).instanceId;
  await new Promise((r) => setTimeout(r, HOSTS_SEE_EACH_OTHER_MS));

  const r = await fetch(`${owner.baseUrl}/api/orchestrators/overlapFan/kill-1`, {
    method: 'POST',
    body: JSON.stringify({ n: 12, ms: 1500 }),
  });
  expect(r.status).toBe(202);
  // Some activities are done, the rest in flight somewhere: the owner dies.
  await eventually(() => (runs(log, 'overlap').length >= 1 ? true : undefined), WAIT_MS, 'a first activity to finish');
  await owner.kill();
  const countAtKill = runs(log, 'overlap').length;

  const s = await finished(b.baseUrl, 'kill-1');
  const tags = Array.from({ length: 12 }, (_, i) => `kill-1-${i}`);
  expect(s).toMatchObject({ runtimeStatus: 'Completed', output: tags });
  const done = runs(log, 'overlap');
  // Every activity ran (some twice: those whose result died with the owner, at least once as on Azure) ...
  expect(new Set(done.map((e) => e.key))).toEqual(new Set(tags));
  // ... never two runs of one activity at the same time, and the survivors did the rest.
  for (const tag of tags) {
    const rs = done.filter((e) => e.key === tag).sort((x, y) => x.start! - y.start!);
    for (let i = 1; i < rs.length; i++)
      expect(rs[i]!.start!, `${tag} ran twice at once`).toBeGreaterThanOrEqual(rs[i - 1]!.end!);
  }
  // Nothing ran on the dead host after it died; the survivors ran the rest.
  expect(done.slice(countAtKill).every((e) => e.host !== ownerId)).toBe(true);
  expect(done.slice(countAtKill).length).toBeGreaterThan(0);
  expect(c.output() + b.output()).toMatch(/taken over from host/);
});
