/**
 * Strata under real Core Tools, proven without them: the compiled app is loaded by a
 * functions-core double that records what the Azure Node worker would hand the host
 * (test/fixtures/worker-double.ts), with local.settings.example.json's Values as the environment
 * (what `func start` does with a copy of it), and every function's bindings are checked against
 * the Functions binding schema and the host's indexing rules (test/helpers/functions-binding-schema.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFunctions, WorkerFunctionMetadata } from '../helpers/functions-binding-schema';
import { ROOT } from '../helpers/host-process';

const run = promisify(execFile);
const example = JSON.parse(fs.readFileSync(path.join(ROOT, 'local.settings.example.json'), 'utf8')) as {
  Values: Record<string, string>;
  Host: Record<string, unknown>;
};
const hostJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'host.json'), 'utf8')) as {
  extensionBundle?: { id: string; version: string };
};

interface WorkerOutput {
  programmingModel: { name: string; version: string };
  useDefaultMetadataIndexing: boolean;
  functionMetadataResults: Array<
    WorkerFunctionMetadata & { bindings: Record<string, Record<string, unknown>>; retryOptions?: unknown }
  >;
}

let worker: WorkerOutput;
beforeAll(async () => {
  // Only what func start would give the worker: the machine's PATH and the example's Values.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...example.Values };
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/test/fixtures/worker-double.js'), ROOT], {
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  worker = JSON.parse(stdout) as WorkerOutput;
});

describe('Strata as the Azure Node worker sees it', () => {
  it('uses worker indexing with the v4 programming model and registers every function from package.json main', () => {
    expect(worker.useDefaultMetadataIndexing).toBe(false);
    expect(worker.programmingModel.name).toBe('@azure/functions');
    expect(worker.programmingModel.version).toMatch(/^4\./);
    const names = worker.functionMetadataResults.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'health',
        'ingest-clicks',
        'ingest-predictions',
        'predict',
        'backfill',
        'backfills-start',
        'plan-timer',
      ]),
    );
    expect(names.length).toBeGreaterThan(30);
  });

  it('every binding passes the Functions binding schema with the settings of local.settings.example.json', () => {
    expect(checkFunctions(worker.functionMetadataResults, example.Values)).toEqual([]);
  });

  it('the Event Hubs functions index: their connection is the Event Hubs emulator string, not empty', () => {
    const eh = worker.functionMetadataResults.filter((f) =>
      f.rawBindings.some((b) => (JSON.parse(b) as { type: string }).type === 'eventHubTrigger'),
    );
    expect(eh.map((f) => f.name).sort()).toEqual([
      'ingest-churn_labels',
      'ingest-clicks',
      'ingest-predictions',
      'ingest-purchases',
    ]);
    for (const f of eh) {
      const t = f.rawBindings
        .map((b) => JSON.parse(b) as Record<string, unknown>)
        .find((b) => b.type === 'eventHubTrigger')!;
      expect(t).toMatchObject({ connection: 'EVENTHUB_CONNECTION', cardinality: 'many', consumerGroup: '$Default' });
    }
    expect(example.Values.EVENTHUB_CONNECTION).toMatch(/^Endpoint=sb:\/\/localhost;.*UseDevelopmentEmulator=true;$/);
  });

  it('the checker is not blind: the old empty EVENTHUB_CONNECTION fails indexing of each Event Hubs function', () => {
    const problems = checkFunctions(worker.functionMetadataResults, { ...example.Values, EVENTHUB_CONNECTION: '' });
    expect(problems.find((p) => p.startsWith("function 'ingest-clicks': binding 'eventHubTrigger"))).toMatch(
      /\(eventHubTrigger\): connection setting 'EVENTHUB_CONNECTION' is empty \(the extension cannot index the function\)$/,
    );
    expect(problems.filter((p) => p.includes("'EVENTHUB_CONNECTION' is empty"))).toHaveLength(4);
  });

  it('host.json carries the extension bundle that serves Durable, Event Hubs and storage bindings, and routes under /api', () => {
    expect(hostJson.extensionBundle).toEqual({
      id: 'Microsoft.Azure.Functions.ExtensionBundle',
      version: '[4.*, 5.0.0)',
    });
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(example.Host.LocalHttpPort).toBe(7071);
  });

  it('retry policies reach the host in the worker form: ingest retries a failed batch indefinitely (-1), backing off 1 s to 30 s', () => {
    const ingest = worker.functionMetadataResults.find((f) => f.name === 'ingest-clicks')!;
    expect(ingest.retryOptions).toMatchObject({
      retryStrategy: 'exponentialBackoff',
      maxRetryCount: -1,
      minimumInterval: { seconds: 1 },
      maximumInterval: { seconds: 30 },
    });
  });

  it("the checker holds retry policies to the host's rules: a count below -1, a missing interval, a minimum above the maximum", () => {
    const ingest = worker.functionMetadataResults.find((f) => f.name === 'ingest-clicks')!;
    const policy = ingest.retryOptions as Record<string, unknown>;
    const withRetry = (retryOptions: Record<string, unknown>) =>
      checkFunctions([{ ...ingest, retryOptions }], example.Values);
    expect(withRetry(policy)).toEqual([]);
    expect(withRetry({ ...policy, maxRetryCount: -2 })).toEqual([
      "function 'ingest-clicks': retry maxRetryCount must be at least -1 (-1 retries indefinitely)",
    ]);
    expect(withRetry({ ...policy, maximumInterval: undefined })).toEqual([
      "function 'ingest-clicks': retry maximumInterval is required by exponentialBackoff",
    ]);
    expect(withRetry({ ...policy, minimumInterval: { seconds: 60 } })).toEqual([
      "function 'ingest-clicks': retry minimumInterval must not be greater than maximumInterval",
    ]);
    expect(withRetry({ retryStrategy: 'fixedDelay', maxRetryCount: 3 })).toEqual([
      "function 'ingest-clicks': retry delayInterval is required by fixedDelay",
    ]);
  });
});
