/**
 * Poison instances through the local host process: an activity that kills the host (as a fatal
 * V8 error or exhausted memory would) is run again by the next host after a crash, but not
 * forever: after POISON_AFTER_CRASHES restarts without progress the instance is Failed with the
 * reason, the host keeps serving, and other instances are untouched.
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { startHostProcess, ROOT, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';
import { POISON_AFTER_CRASHES } from '../../local/durable/engine';
import { WAIT_MS } from '../helpers/wait';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/durable-app.js');
const storage = useAzurite('durable-poison-');
const skey = { 'x-functions-key': SYSTEM_KEY };

it('an instance that kills the host is failed with the reason after a few restarts, and the host keeps serving', async () => {
  const execLog = path.join(storage.dir, 'exec.log');
  const opts = {
    entry: ENTRY,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env: { DURABLE_EXEC_LOG: execLog },
  };
  const kills = () => readJsonLines<{ activity: string }>(execLog).filter((e) => e.activity === 'killsHost').length;

  const first = await startHostProcess(opts);
  // A bystander waiting on an event: a crash restart is not its doing, so it is never counted.
  expect(
    (await fetch(`${first.baseUrl}/api/orchestrators/waitsForever/bystander`, { method: 'POST', body: 'null' })).status,
  ).toBe(202);
  await eventually(
    async () => {
      const r = await fetch(`${first.baseUrl}/runtime/webhooks/durabletask/instances/bystander`, { headers: skey });
      return ((await r.json()) as { customStatus?: { progress?: string } }).customStatus?.progress === 'half'
        ? true
        : undefined;
    },
    WAIT_MS,
    'the bystander to wait',
  );
  expect(
    (await fetch(`${first.baseUrl}/api/orchestrators/poisonous/poison-1`, { method: 'POST', body: 'null' })).status,
  ).toBe(202);
  expect((await first.exited).signal).toBe('SIGKILL');

  // Each restart resumes it once more; the last one fails it instead.
  for (let restart = 1; restart < POISON_AFTER_CRASHES; restart++) {
    const host = await startHostProcess({ ...opts, noWait: true });
    expect((await host.exited).signal, `restart ${restart}`).toBe('SIGKILL');
  }
  expect(kills()).toBe(POISON_AFTER_CRASHES);

  const last = await startHostProcess(opts);
  try {
    const status = await eventually(
      async () => {
        const r = await fetch(`${last.baseUrl}/runtime/webhooks/durabletask/instances/poison-1`, { headers: skey });
        return r.status === 200 ? ((await r.json()) as { runtimeStatus: string; output: string }) : undefined;
      },
      WAIT_MS,
      'poison-1 to be failed',
    );
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(
      new RegExp(`stopped ${POISON_AFTER_CRASHES} times while this instance was running activity 'killsHost'`),
    );
    expect(kills()).toBe(POISON_AFTER_CRASHES);
    expect(last.output()).toMatch(/failing it instead of running it again/);
    // The host serves, and the bystander still runs to completion.
    const raised = await fetch(`${last.baseUrl}/runtime/webhooks/durabletask/instances/bystander/raiseEvent/continue`, {
      method: 'POST',
      headers: { ...skey, 'content-type': 'application/json' },
      body: '"go"',
    });
    expect(raised.status).toBe(202);
    const bystander = await eventually(
      async () => {
        const r = await fetch(`${last.baseUrl}/runtime/webhooks/durabletask/instances/bystander`, { headers: skey });
        return r.status === 200 ? ((await r.json()) as { runtimeStatus: string }) : undefined;
      },
      WAIT_MS,
      'the bystander to finish',
    );
    expect(bystander.runtimeStatus).toBe('Completed');
  } finally {
    await last.stop();
  }
});
