/**
 * `npm start`'s embedded Azurite keeps what it acknowledged when the host goes away: the host
 * (Strata's app, no AzureWebJobsStorage) answers 202 for a Durable backfill and for a batch of
 * events, and its whole process group gets SIGKILL (a crash) or SIGINT (Ctrl-C) at once. A new
 * host on the same data dir resumes the instance and ingests the batch. After a SIGKILL the
 * Azurite that kept running is reused (one Azurite per folder, never two); after SIGINT it has
 * been stopped gracefully and a new one starts on the saved data. `stop-storage` stops it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startHostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually, type HostProcess } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { recentTimes } from '../helpers/recent-times';
import {
  ensureEmbeddedAzurite,
  readEmbeddedAzurite,
  stopEmbeddedAzurite,
} from '../../local/processes/embedded-azurite';
import { WAIT_MS } from '../helpers/wait';

const tmp = tempDir('embedded-storage-');
const dataDirs: string[] = [];
const hosts: HostProcess[] = [];
afterAll(async () => {
  for (const h of hosts) await h.kill();
  for (const d of dataDirs) await stopEmbeddedAzurite(d, { log: () => {} }).catch(() => undefined);
  tmp.cleanup();
});

const fkey = { 'x-functions-key': FUNCTION_KEY };
const { at } = recentTimes();
const CLICKS = [
  { user_id: 'u1', page: '/home', ts: at(0) },
  { user_id: 'u1', page: '/shop', ts: at(10) },
  { user_id: 'u1', page: '/cart', ts: at(20) },
  { user_id: 'u2', page: '/home', ts: at(5) },
];

/** Pids of processes running an Azurite on this folder (from /proc: Linux). */
function azuritesOn(location: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      if (args.some((a) => a.includes('azurite')) && args[args.indexOf('--location') + 1] === location)
        out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function start(dataDir: string): Promise<HostProcess> {
  const host = await startHostProcess({ entry: path.join(ROOT, 'dist/functions/index.js'), dataDir, detached: true });
  hosts.push(host);
  return host;
}

async function features(host: HostProcess, entity: string) {
  const r = await fetch(`${host.baseUrl}/api/features/${entity}?view=user_clicks`, { headers: fkey });
  return (await r.json()) as { features: Record<string, unknown>; views: Record<string, { eventTime: string | null }> };
}

for (const signal of ['SIGKILL', 'SIGINT'] as const) {
  it(`a backfill and an event batch answered 202 survive ${signal} of the host's process group`, async () => {
    const dataDir = path.join(tmp.dir, signal);
    dataDirs.push(dataDir);
    const location = path.join(dataDir, 'azurite');
    const first = await start(dataDir);
    const azurite = readEmbeddedAzurite(dataDir)!;
    expect(azuritesOn(location)).toEqual([azurite.pid]);

    const backfill = { views: ['user_clicks'], from: at(-3 * 60), to: at(0), interval: '1h', maxParallel: 2 };
    const [started, published] = await Promise.all([
      fetch(`${first.baseUrl}/api/backfills`, { method: 'POST', headers: fkey, body: JSON.stringify(backfill) }),
      fetch(`${first.baseUrl}/api/_local/eventhubs/clicks?partitionKeyField=user_id`, {
        method: 'POST',
        headers: { 'x-functions-key': ADMIN_KEY },
        body: JSON.stringify(CLICKS),
      }),
    ]);
    first.signalGroup(signal); // at once: well inside Azurite's 5 s autosave interval
    expect(started.status).toBe(202);
    expect(published.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const exit = await first.exited;

    if (signal === 'SIGKILL') {
      expect(exit.signal).toBe('SIGKILL');
      expect(azuritesOn(location), 'Azurite outlives the host').toEqual([azurite.pid]);
    } else {
      expect(exit.code, first.output()).toBe(0);
      expect(first.output()).toMatch(/embedded Azurite stopped and saved/);
      expect(azuritesOn(location), 'Ctrl-C stops Azurite too').toEqual([]);
      expect(readEmbeddedAzurite(dataDir)).toBeUndefined();
    }

    const second = await start(dataDir);
    const now = readEmbeddedAzurite(dataDir)!;
    if (signal === 'SIGKILL') {
      expect(now.pid, 'the running Azurite is reused').toBe(azurite.pid);
      expect(second.output()).toMatch(/reusing it/);
    }
    expect(azuritesOn(location)).toEqual([now.pid]);

    const status = await eventually(
      async () => {
        const r = await fetch(`${second.baseUrl}/api/backfills/${id}`, { headers: fkey });
        const s = (await r.json()) as { runtimeStatus?: string };
        return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed' ? s : undefined;
      },
      WAIT_MS,
      `backfill ${id} to finish on the new host`,
    );
    expect(status.runtimeStatus).toBe('Completed');

    const u1 = await eventually(
      async () => {
        const f = await features(second, 'u1');
        if (f.features['user_clicks:clicks_1h'] === 3) return f;
        throw new Error(`u1 is served as ${JSON.stringify(f)}`);
      },
      WAIT_MS,
      'the batch published before the signal to be served',
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- first host:\n${first.output()}\n--- second host:\n${second.output()}`);
    });
    expect(u1.features['user_clicks:last_page']).toBe('/cart');
    expect(u1.views.user_clicks!.eventTime).toBe(at(20));
    // u2 is on its own partition, ingested independently of u1's: wait for it too.
    const u2 = await eventually(
      async () => {
        const f = await features(second, 'u2');
        return f.features['user_clicks:clicks_1h'] !== null && f.features['user_clicks:clicks_1h'] !== undefined
          ? f
          : undefined;
      },
      WAIT_MS,
      "u2's click, published before the signal, to be served",
    );
    expect(u2.features['user_clicks:clicks_1h']).toBe(1);

    // SIGTERM (a service manager's stop) stops the host and its Azurite, gracefully.
    await second.stop();
    expect(second.output()).toMatch(/embedded Azurite stopped and saved/);
    expect(azuritesOn(location)).toEqual([]);
  });
}

it('stop-storage stops an Azurite left running by a crashed host, and says so when none runs', async () => {
  const dataDir = path.join(tmp.dir, 'stop-storage');
  dataDirs.push(dataDir);
  const host = await start(dataDir);
  const { pid } = readEmbeddedAzurite(dataDir)!;
  const cli = (...args: string[]) => {
    try {
      return {
        code: 0,
        out: execFileSync(process.execPath, [path.join(ROOT, 'dist/local/cli.js'), ...args], {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: 'pipe',
        }),
      };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, out: err.stdout + err.stderr };
    }
  };
  const refused = cli('stop-storage', '--data-dir', dataDir);
  expect(refused.code).toBe(1);
  expect(refused.out).toMatch(new RegExp(`host \\(pid ${host.child.pid}, port ${host.port}\\) is using`));
  expect(azuritesOn(path.join(dataDir, 'azurite'))).toEqual([pid]);

  host.signalGroup('SIGKILL');
  await host.exited;
  const stopped = cli('stop-storage', '--data-dir', dataDir);
  expect(stopped.out).toMatch(new RegExp(`stopped the embedded Azurite of .* \\(pid ${pid}\\); its data is saved`));
  expect(azuritesOn(path.join(dataDir, 'azurite'))).toEqual([]);
  expect(cli('stop-storage', '--data-dir', dataDir).out).toMatch(/no embedded Azurite is running/);
});

it('two stops at once send one SIGTERM: Azurite closes once, saves, and both callers see it stopped', async () => {
  const dataDir = path.join(tmp.dir, 'two-stops');
  dataDirs.push(dataDir);
  const log = () => {};
  const started = await ensureEmbeddedAzurite({ dataDir, log });
  const again = await ensureEmbeddedAzurite({ dataDir, log });
  expect(again).toMatchObject({ pid: started.pid, reused: true, ports: started.ports });
  const [a, b] = await Promise.all([started.stop(), stopEmbeddedAzurite(dataDir, { log })]);
  // The first sends the SIGTERM; the second sees the stop asked for and waits for the same exit.
  expect([a, b]).toEqual([
    expect.objectContaining({ status: 'stopped', pid: started.pid }),
    expect.objectContaining({ status: 'stopped', pid: started.pid }),
  ]);
  expect(azuritesOn(path.join(dataDir, 'azurite'))).toEqual([]);
  const azuriteLog = fs.readFileSync(path.join(dataDir, 'azurite.log'), 'utf8');
  expect(azuriteLog.match(/Azurite Table service successfully closed/g)).toHaveLength(1);
  expect(azuriteLog).not.toMatch(/Cannot close server|Exit due to unhandled error/);
  // The next start takes the same ports (free again: connection strings stay valid) on the saved data.
  const next = await ensureEmbeddedAzurite({ dataDir, log });
  expect(next).toMatchObject({ reused: false, ports: started.ports });
  expect((await next.stop()).status).toBe('stopped');
});
