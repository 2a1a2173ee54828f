/**
 * Durable client parity with the extension: failed activities worded as the extension words them
 * (and FailureDetails when the SDK sent them), `restart`, the durable HTTP action with its 202
 * polling, and entities refused by name. Real durable-functions code, real Azurite, a real HTTP
 * server for callHttp.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startDurableHarness, DurableHarness } from '../fixtures/durable-harness';
import { tempDir } from '../helpers/temp';
import { WAIT_MS } from '../helpers/wait';

let azurite: AzuriteHandle;
let h: DurableHarness;
let api: http.Server;
let apiUrl = '';
const tmp = tempDir('durable-parity-');

/** A long-running-job API in the async pattern: POST /jobs -> 202 + Location; GET /jobs/1 -> 202 twice, then 200. */
const seen: Array<{ method: string; url: string; body: string; header: string | undefined }> = [];
let polls = 0;
beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  h = await startDurableHarness({
    storageConnection: azurite.connectionString,
    execLog: path.join(tmp.dir, 'exec.log'),
    hostJson: {
      extensions: {
        durableTask: {
          maxConcurrentActivityFunctions: 8,
          httpSettings: { defaultAsyncRequestSleepTimeMilliseconds: 50 },
        },
      },
    },
  });
  api = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, header: req.headers['x-test'] as string | undefined });
      if (req.method === 'POST' && req.url === '/jobs')
        return res.writeHead(202, { location: '/jobs/1', 'retry-after': '0' }).end();
      if (req.url === '/jobs/1') {
        polls++;
        if (polls < 3) return res.writeHead(202, { location: '/jobs/1' }).end(); // no Retry-After: host.json's default sleep
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ done: true, polls }));
      }
      res.writeHead(404).end('no such route');
    });
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h?.stop();
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  await azurite?.stop();
  tmp.cleanup();
});

const engine = () => h.ext.engine;

const run = (name: string, input?: unknown, instanceId?: string) => h.run(name, input, instanceId);

describe('failed activities, as the extension reports them', () => {
  it("the orchestrator sees \"Activity function 'x' failed: <message>\" with the error's stack as details", async () => {
    const s = await run('catchesActivityError', { activity: 'explode', input: 'kaboom' });
    expect(s.runtimeStatus).toBe('Completed');
    const message = s.output as string;
    expect(message.startsWith("Activity function 'explode' failed: kaboom \n TypeError: kaboom\n    at ")).toBe(true);
  });

  it('keeps a multi-line message and the cause chain in the details', async () => {
    const message = (await run('catchesActivityError', { activity: 'explodeWithCause' })).output as string;
    expect(message).toContain(
      "Activity function 'explodeWithCause' failed: This activity failed\nMore information about the failure",
    );
    expect(message).toContain('InvalidOperationException: This activity failed');
    expect(message).toContain('Caused by: OverflowException: Inner exception message');
  });

  it('uses the FailureDetails the SDK serialized for an exception properties provider', async () => {
    const s = await run('catchesActivityError', { activity: 'rejectsInput' });
    expect(s.output).toBe('BusinessValidationError: amount must be positive');
    const failed = (await engine().getStatus(s.instanceId, { showHistory: true }))!;
    expect(failed.runtimeStatus).toBe('Completed');
  });

  it('an unhandled activity error fails the orchestration with both messages', async () => {
    const s = await run('unhandledActivityError');
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(
      /^Orchestrator function 'unhandledActivityError' failed: Activity function 'explode' failed: kaboom/,
    );
  });
});

describe('restart', () => {
  it('re-runs a finished instance with its original input under a new id (the default), over HTTP', async () => {
    const first = await run('sequence', 4, 'restart-me');
    expect(first.runtimeStatus).toBe('Completed');
    const r = await h.http('POST', '/runtime/webhooks/durabletask/instances/restart-me/restart');
    expect(r.status).toBe(202);
    const links = r.body as { id: string; statusQueryGetUri: string };
    expect(links.id).not.toBe('restart-me');
    expect(links.statusQueryGetUri).toContain(`/instances/${links.id}`);
    const again = await engine().waitForCompletion(links.id, WAIT_MS);
    expect(again).toMatchObject({ name: 'sequence', input: 4, output: first.output, runtimeStatus: 'Completed' });
  });

  it('re-runs it under the same id with restartWithNewInstanceId=false, and can wait for the result', async () => {
    await run('sequence', 2, 'restart-same');
    const r = await h.http(
      'POST',
      '/runtime/webhooks/durabletask/instances/restart-same/restart?restartWithNewInstanceId=false&timeout=20&pollingInterval=1',
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual((await engine().getStatus('restart-same'))!.output);
    const history = (await engine().getStatus('restart-same', { showHistory: true }))!.historyEvents!;
    expect(history.filter((e) => e.EventType === 'ExecutionStarted')).toHaveLength(1);
  });

  it('answers 400 for an unknown instance and 409 for restarting a running one under its own id', async () => {
    expect((await h.http('POST', '/runtime/webhooks/durabletask/instances/nobody/restart')).status).toBe(400);
    await engine().startNew('waitsForever', { instanceId: 'restart-running' });
    const r = await h.http(
      'POST',
      '/runtime/webhooks/durabletask/instances/restart-running/restart?restartWithNewInstanceId=false',
    );
    expect(r.status).toBe(409);
    await engine().terminate('restart-running', 'done');
  });
});

describe('callHttp (the durable HTTP action)', () => {
  it('sends the request and follows 202 + Location until the final answer, as the extension polls', async () => {
    seen.length = 0;
    polls = 0;
    const s = await run('callsHttp', { url: `${apiUrl}/jobs`, method: 'POST', body: { size: 3 } });
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual({
      statusCode: 200,
      content: JSON.stringify({ done: true, polls: 3 }),
      contentType: 'application/json',
    });
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /jobs',
      'GET /jobs/1',
      'GET /jobs/1',
      'GET /jobs/1',
    ]);
    expect(seen[0]).toMatchObject({ body: '{"size":3}', header: 'durable' });
    // One built-in activity in history, as the extension schedules it.
    const history = (await engine().getStatus(s.instanceId, { showHistory: true }))!.historyEvents!;
    expect(history.filter((e) => e.EventType === 'TaskCompleted').map((e) => e.FunctionName)).toEqual([
      'BuiltIn::HttpActivity',
    ]);
  });

  it('returns the 202 itself when polling is off', async () => {
    const s = await run('callsHttp', { url: `${apiUrl}/jobs`, method: 'POST', enablePolling: false });
    expect(s.output).toMatchObject({ statusCode: 202 });
  });

  it('fails the task when nothing answers, naming the built-in activity', async () => {
    const s = await run('callsHttp', { url: 'http://127.0.0.1:1/never' });
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toContain("Activity function 'BuiltIn::HttpActivity' failed: fetch failed");
  });
});

describe('entities', () => {
  it('an orchestration that calls an entity fails with a message naming the call; the entities API answers 501', async () => {
    const s = await run('callsEntity');
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toContain('context.df.callEntity is not supported');
    expect((await h.http('GET', '/runtime/webhooks/durabletask/entities/counter/c1')).status).toBe(501);
  });
});
