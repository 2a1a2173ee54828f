/**
 * The host watchdog through the local host process, as `npm start` runs it (start --restart):
 * an activity stuck in a synchronous loop, and one that allocates past STRATA_MEMORY_BUDGET_MB,
 * and a loop in an orchestrator each take the host down once; the supervisor starts it again, the next host fails the
 * instance naming the timeout or the budget (the activity is not run again), and other work
 * (a bystander waiting on an event, a new orchestration) carries on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { startHostProcess, ROOT, SYSTEM_KEY } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';
import { eventually, WAIT_MS } from '../helpers/wait';
import { WATCHDOG_RECORD_FILE } from '../../local/watchdog/record';

const storage = useAzurite('durable-watchdog-');
const skey = { 'x-functions-key': SYSTEM_KEY };
/** A request to a host whose event loop is blocked would wait forever: each one is bounded. */
const REQUEST_MS = 5_000;

/** An app folder whose host.json sets a short functionTimeout, loading the Durable fixture app. */
function appWithTimeout(dir: string, functionTimeout: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const hostJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'host.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'host.json'), JSON.stringify({ ...hostJson, functionTimeout }));
  const entry = path.join(dir, 'app.js');
  fs.writeFileSync(entry, `require(${JSON.stringify(path.join(ROOT, 'dist/test/fixtures/durable-app.js'))});\n`);
  return entry;
}

it('a loop in an activity or an orchestrator and a memory hog each restart the host once and fail their instance with the reason; other work goes on', async () => {
  const execLog = path.join(storage.dir, 'exec.log');
  const dataDir = path.join(storage.dir, 'data');
  const host = await startHostProcess({
    entry: appWithTimeout(path.join(storage.dir, 'app'), '00:00:02'),
    storageConnection: storage.connectionString,
    dataDir,
    env: { DURABLE_EXEC_LOG: execLog, STRATA_WATCHDOG_GRACE: '4s', STRATA_MEMORY_BUDGET_MB: '600' },
    args: ['--restart'],
  });
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`${host.baseUrl}${p}`, { ...init, signal: AbortSignal.timeout(REQUEST_MS) });
  const finished = (id: string) =>
    eventually(
      async () => {
        const r = await api(`/runtime/webhooks/durabletask/instances/${id}`, { headers: skey });
        return r.status === 200 ? ((await r.json()) as { runtimeStatus: string; output: unknown }) : undefined;
      },
      WAIT_MS,
      `${id} to finish (through a watchdog kill and a restart)`,
    );
  const runs = (activity: string) =>
    readJsonLines<{ activity: string }>(execLog).filter((e) => e.activity === activity);
  try {
    // A bystander waiting on an event: the restarts are not its doing.
    expect((await api('/api/orchestrators/waitsForever/bystander', { method: 'POST', body: 'null' })).status).toBe(202);
    await eventually(
      async () => {
        const r = await api('/runtime/webhooks/durabletask/instances/bystander', { headers: skey });
        return ((await r.json()) as { customStatus?: { progress?: string } }).customStatus?.progress === 'half'
          ? true
          : undefined;
      },
      WAIT_MS,
      'the bystander to wait',
    );

    // for(;;){} in an activity: the loop never turns again; the watchdog sees it past 2 s + 4 s (a grace that lets the memory hog below reach its budget first on a busy machine).
    const spin = await api('/api/orchestrators/runsAway/spin-1', { method: 'POST', body: '{"activity":"spins"}' });
    expect(spin.status).toBe(202);
    const spun = await finished('spin-1');
    expect(spun.runtimeStatus).toBe('Failed');
    expect(String(spun.output)).toMatch(
      /Activity function 'spins' failed: Timeout value of 00:00:02 was exceeded by function: Functions\.spins \(the host watchdog found the host's event loop has not turned for \d+\.\d s \(past host\.json functionTimeout 00:00:02 plus 4 s grace/,
    );
    expect(runs('spins')).toHaveLength(1); // failed after the restart, never run again
    expect(host.output()).toMatch(/\[watchdog\] .* while it ran activity 'spins' of orchestration 'spin-1' \(task 0\)/);
    expect(host.output()).toMatch(/\[supervisor\] the host died \(SIGKILL\); starting it again/);

    // Memory without bound in one synchronous stretch: over the 600 MB budget, the same path.
    const hog = await api('/api/orchestrators/runsAway/hog-1', { method: 'POST', body: '{"activity":"hogsMemory"}' });
    expect(hog.status).toBe(202);
    const hogged = await finished('hog-1');
    expect(hogged.runtimeStatus).toBe('Failed');
    expect(String(hogged.output)).toMatch(
      /Activity function 'hogsMemory' failed: it exceeded the host's memory budget: the host watchdog found the host process uses \d+ MB of memory, over its budget of 600 MB \(STRATA_MEMORY_BUDGET_MB\)/,
    );
    expect(runs('hogsMemory')).toHaveLength(1);
    expect(host.output().match(/\[supervisor\] the host died/g)).toHaveLength(2);

    // A loop in the orchestrator's own code: its episode is blamed, and the instance is failed.
    expect((await api('/api/orchestrators/spinsInOrchestrator/orch-1', { method: 'POST', body: 'null' })).status).toBe(
      202,
    );
    const looped = await finished('orch-1');
    expect(looped.runtimeStatus).toBe('Failed');
    expect(String(looped.output)).toMatch(
      /Orchestrator function 'spinsInOrchestrator' failed: Timeout value of 00:00:02 was exceeded by function: Functions\.spinsInOrchestrator \(the host watchdog found the host's event loop has not turned/,
    );
    expect(host.output().match(/\[supervisor\] the host died/g)).toHaveLength(3);
    expect(fs.existsSync(path.join(dataDir, WATCHDOG_RECORD_FILE))).toBe(false); // taken by the next host

    // The host serves: the bystander finishes, and new work runs.
    const raised = await api('/runtime/webhooks/durabletask/instances/bystander/raiseEvent/continue', {
      method: 'POST',
      headers: { ...skey, 'content-type': 'application/json' },
      body: '"go"',
    });
    expect(raised.status).toBe(202);
    expect(await finished('bystander')).toMatchObject({ runtimeStatus: 'Completed', output: 'go' });
    expect((await api('/api/orchestrators/sequence/after', { method: 'POST', body: '3' })).status).toBe(202);
    expect(await finished('after')).toMatchObject({ runtimeStatus: 'Completed', output: 3 * 2 ** 5 });
  } finally {
    await host.stop();
  }
  expect((await host.exited).code).toBe(0);
});
