/**
 * A train job killed mid-fit: the host is SIGKILLed while the fit step runs; a new host on the
 * same storage resumes the same instance from its history. The run counts each step's
 * executions: every step that had finished ran once, the fit (in flight at the kill) twice at
 * most, and the job completes with one registered version.
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { startHostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { ingestChurnHistory } from '../helpers/train-fixtures';
import { WAIT_MS } from '../helpers/wait';

const storage = useAzurite('train-crash-');
const fkey = { 'x-functions-key': FUNCTION_KEY };

interface Run {
  status: string;
  step?: string;
  steps: Record<string, { executions: number; finishedAt?: number }>;
  version?: number;
  progress?: { done?: number };
}

it('resumes a train job after the host is killed mid-fit, without re-running finished steps', async () => {
  const opts = {
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env: { STRATA_TRAINER_MODULES: path.join(ROOT, 'dist/test/fixtures/slow-trainer.js') },
  };
  const first = await startHostProcess(opts);
  const history = await ingestChurnHistory(first.baseUrl, ADMIN_KEY, storage.connectionString, {
    users: 150,
    events: 2000,
    seed: 11,
  });
  const started = await fetch(`${first.baseUrl}/api/jobs/train`, {
    method: 'POST',
    headers: { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'churn',
      window: history.window,
      trainer: 'slow-logistic',
      params: { steps: 40, stepMs: 250 },
      gate: { policy: 'register' },
    }),
  });
  expect(started.status, await started.clone().text()).toBe(202);
  const { jobId } = (await started.json()) as { jobId: string };
  const run = async (base: string) =>
    (await (await fetch(`${base}/api/runs/${jobId}`, { headers: fkey })).json()) as Run;

  // Kill once the fit has reported progress: training set and split are done, the fit is not.
  await eventually(
    async () => {
      const r = await fetch(`${first.baseUrl}/api/runs/${jobId}`, { headers: fkey });
      if (r.status !== 200) return undefined;
      const x = (await r.json()) as Run;
      return x.step === 'fit' && (x.progress?.done ?? 0) >= 2 ? true : undefined;
    },
    WAIT_MS,
    'the fit step to report progress',
  );
  await first.kill();
  expect((await first.exited).signal).toBe('SIGKILL');

  const second = await startHostProcess(opts);
  try {
    // The job (the orchestration) finishes after its run record does (the last step writes it),
    // so the job's own status is what to wait for; its run is final by then.
    const job = await eventually(
      async () => {
        const x = (await (await fetch(`${second.baseUrl}/api/jobs/${jobId}`, { headers: fkey })).json()) as {
          status: string;
          gate: { action: string };
        };
        return x.status === 'COMPLETED' || x.status === 'FAILED' ? x : undefined;
      },
      180_000,
      'the train job to finish on the new host',
    );
    expect(job).toMatchObject({ status: 'COMPLETED', gate: { action: 'staged' } });
    const done = await run(second.baseUrl);
    expect(done.status).toBe('COMPLETED');
    expect(done.version).toBe(1);
    const executions = Object.fromEntries(Object.entries(done.steps).map(([k, v]) => [k, v.executions]));
    // Finished before the kill: once. In flight: once more. After the restart: once.
    expect(executions).toEqual({
      'training-set': 1,
      split: 1,
      fit: 2,
      evaluate: 1,
      'evaluate-production': 1,
      baseline: 1,
      register: 1,
      gate: 1,
    });
    const versions = (await (
      await fetch(`${second.baseUrl}/api/models/churn/versions`, { headers: { 'x-functions-key': ADMIN_KEY } })
    ).json()) as { versions: unknown[] };
    expect(versions.versions).toHaveLength(1);
  } finally {
    await second.stop();
  }
});
