/**
 * The Durable HTTP API and the SDK's DurableClient against it: Azure's routes, status codes and
 * instance management (start, status, list, raise, terminate, suspend, resume, purge).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestrationRuntimeStatus } from 'durable-functions';
import { functionsCore } from '../../local/functions-core';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startDurableHarness, DurableHarness, HARNESS_SYSTEM_KEY } from '../fixtures/durable-harness';
import { tempDir } from '../helpers/temp';
import { until } from '../helpers/wait';

let azurite: AzuriteHandle;
let h: DurableHarness;
const tmp = tempDir('durable-client-');
const API = '/runtime/webhooks/durabletask';

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  h = await startDurableHarness({
    storageConnection: azurite.connectionString,
    execLog: path.join(tmp.dir, 'exec.log'),
  });
});
afterAll(async () => {
  await h?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

const statusIs = (id: string, status: string) =>
  until(`${id} to be ${status}`, async () => {
    const s = await h.client.getStatus(id);
    return s.runtimeStatus === status ? s : undefined;
  });

/** Start an instance that waits for the "continue" event (so it stays Running). */
async function startWaiting(instanceId: string): Promise<void> {
  await h.client.startNew('waitsForever', { instanceId });
  await until(`${instanceId} to wait`, async () => {
    const s = await h.client.getStatus(instanceId);
    return (s.customStatus as { progress?: string } | null)?.progress === 'half' ? s : undefined;
  });
}

describe('Durable client API', () => {
  it('gives client functions a durableClient binding whose URLs carry the task hub and the system key as code=', () => {
    const fn = functionsCore.get('startOrchestration');
    const inputs = h.ext.inputsFor!(fn);
    expect(inputs).toHaveLength(1);
    const payload = JSON.parse(inputs[0]!.data.string!) as Record<string, unknown>;
    const query = `taskHub=StrataHub&connection=Storage&code=${HARNESS_SYSTEM_KEY}`;
    expect(payload.taskHubName).toBe('StrataHub');
    // No rpcBaseUrl: the SDK calls these keyed URLs (a local host has no key-less RPC port).
    expect(payload.rpcBaseUrl).toBeUndefined();
    expect(payload.requiredQueryStringParameters).toBe(query);
    expect((payload.managementUrls as Record<string, string>).statusQueryGetUri).toBe(
      `${h.baseUrl}${API}/instances/INSTANCEID?${query}`,
    );
    expect((payload.creationUrls as Record<string, string>).createNewInstancePostUri).toBe(
      `${h.baseUrl}${API}/orchestrators/{functionName}[/{instanceId}]?${query}`,
    );
    expect(h.ext.inputsFor!(functionsCore.get('double'))).toEqual([]);
  });

  it('starts an orchestration with DurableClient.startNew and reports status, input, output and history', async () => {
    const id = await h.client.startNew('sequence', { input: 3 });
    const done = await statusIs(id, OrchestrationRuntimeStatus.Completed);
    expect(done).toMatchObject({ name: 'sequence', instanceId: id, input: 3, output: 96 });
    const r = await h.http('GET', `${API}/instances/${id}?showHistory=true&showHistoryOutput=true`);
    expect(r.status).toBe(200);
    const events = (r.body as { historyEvents: Array<Record<string, unknown>> }).historyEvents;
    expect(events.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      ...Array(5).fill('TaskCompleted'),
      'ExecutionCompleted',
    ]);
    expect(events[1]).toMatchObject({ FunctionName: 'double', Result: 6 });
    expect(events[6]).toMatchObject({ OrchestrationStatus: 'Completed', Result: 96 });
    const noInput = await h.http('GET', `${API}/instances/${id}?showInput=false`);
    expect(noInput.body).toMatchObject({ input: null, output: 96 });
  });

  it('answers status with 202 while running, 200 when finished (500 on request for failures) and 404 for unknown ids', async () => {
    await startWaiting('status-codes');
    const running = await h.http('GET', `${API}/instances/status-codes`);
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toContain('/instances/status-codes');
    expect((await h.http('GET', `${API}/instances/nobody-here`)).status).toBe(404);
    await expect(h.client.getStatus('nobody-here')).rejects.toThrow(/404/);
    const failedId = await h.client.startNew('throws');
    await statusIs(failedId, 'Failed');
    expect((await h.http('GET', `${API}/instances/${failedId}`)).status).toBe(200);
    expect((await h.http('GET', `${API}/instances/${failedId}?returnInternalServerErrorOnFailure=true`)).status).toBe(
      500,
    );
  });

  it('does not start a second instance under an id that is running (409), and starts a finished id again as a new execution', async () => {
    const firstSteps = () => h.executions('double').filter((e) => e.key === '5').length;
    const before = firstSteps();
    await startWaiting('job-a');
    const again = await h.http('POST', `${API}/orchestrators/waitsForever/job-a`, {});
    expect(again.status).toBe(409);
    expect((again.body as { Message: string }).Message).toContain("'job-a' already exists and is Running");
    await expect(h.client.startNew('waitsForever', { instanceId: 'job-a' })).rejects.toThrow(/409/);
    const listed = await h.client.getStatusBy({ runtimeStatus: [OrchestrationRuntimeStatus.Running] });
    expect(listed.filter((s) => s.instanceId === 'job-a')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(firstSteps() - before).toBe(1); // the refused starts ran nothing

    await h.client.raiseEvent('job-a', 'continue', 'first run');
    await statusIs('job-a', 'Completed');
    const restarted = await h.http('POST', `${API}/orchestrators/sequence/job-a`, 1);
    expect(restarted.status).toBe(202);
    const second = await statusIs('job-a', 'Completed');
    expect(second).toMatchObject({ name: 'sequence', input: 1, output: 32 });
    const hist = await h.http('GET', `${API}/instances/job-a?showHistory=true`);
    expect(
      (hist.body as { historyEvents: Array<{ EventType: string }> }).historyEvents.filter(
        (e) => e.EventType === 'ExecutionStarted',
      ),
    ).toHaveLength(1);
  });

  it('rejects unknown orchestrators, bad instance ids and bad JSON with 400', async () => {
    expect((await h.http('POST', `${API}/orchestrators/noSuchThing`, {})).status).toBe(400);
    expect((await h.http('POST', `${API}/orchestrators/sequence/bad%23id`, 1)).status).toBe(400);
    expect((await h.http('POST', `${API}/orchestrators/sequence`, '{not json')).status).toBe(400);
    const badList = await h.http('GET', `${API}/instances/?runtimeStatus=Sleeping`);
    expect(badList.status).toBe(400);
    expect(badList.text).toContain('unknown runtime status Sleeping');
  });

  it('raises events: 202 while running, 410 once finished, 404 for unknown ids, 400 without a JSON content type', async () => {
    await startWaiting('raise-1');
    expect(
      (
        await h.http('POST', `${API}/instances/raise-1/raiseEvent/continue`, 'x=1', {
          'content-type': 'application/x-www-form-urlencoded',
        })
      ).status,
    ).toBe(400);
    expect((await h.http('POST', `${API}/instances/raise-1/raiseEvent/continue`, { by: 'http' })).status).toBe(202);
    expect((await statusIs('raise-1', 'Completed')).output).toEqual({ by: 'http' });
    expect((await h.http('POST', `${API}/instances/raise-1/raiseEvent/continue`, {})).status).toBe(410);
    expect((await h.http('POST', `${API}/instances/nobody/raiseEvent/continue`, {})).status).toBe(404);
    await expect(h.client.raiseEvent('nobody', 'continue', 1)).rejects.toThrow(/No instance with ID 'nobody'/);
  });

  it('terminates a running instance with the reason as its output; terminating it again answers 410', async () => {
    await startWaiting('term-1');
    await h.client.terminate('term-1', 'no longer needed');
    const s = await statusIs('term-1', 'Terminated');
    expect(s.output).toBe('no longer needed');
    expect((await h.http('POST', `${API}/instances/term-1/terminate?reason=again`)).status).toBe(410);
    expect((await h.http('POST', `${API}/instances/nobody/terminate?reason=x`)).status).toBe(404);
  });

  it('suspends an instance, holds the events sent meanwhile, and delivers them on resume', async () => {
    await startWaiting('susp-1');
    await h.client.suspend('susp-1', 'maintenance');
    await statusIs('susp-1', 'Suspended');
    await h.client.raiseEvent('susp-1', 'continue', 'after resume');
    // The event is accepted and stored, but a suspended orchestration does not run.
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.client.getStatus('susp-1')).runtimeStatus).toBe('Suspended');
    await h.client.resume('susp-1', 'done');
    const s = await statusIs('susp-1', 'Completed');
    expect(s.output).toBe('after resume');
    const events = (
      (await h.http('GET', `${API}/instances/susp-1?showHistory=true`)).body as {
        historyEvents: Array<{ EventType: string }>;
      }
    ).historyEvents.map((e) => e.EventType);
    expect(events.indexOf('ExecutionSuspended')).toBeLessThan(events.indexOf('ExecutionResumed'));
    expect(events.indexOf('ExecutionResumed')).toBeLessThan(events.indexOf('EventRaised'));
  });

  it('purges a finished instance with its history, refuses running ones (412) and answers 404 for unknown ids', async () => {
    const id = await h.client.startNew('sequence', { input: 2 });
    await statusIs(id, 'Completed');
    expect(await h.client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 1 });
    expect((await h.http('GET', `${API}/instances/${id}`)).status).toBe(404);
    expect(await h.client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 0 });
    await startWaiting('purge-running');
    expect((await h.http('DELETE', `${API}/instances/purge-running`)).status).toBe(412);
  });

  it('lists instances filtered by runtime status and creation time, one page at a time with x-ms-continuation-token', async () => {
    const from = new Date(Date.now() - 1000);
    const ids = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => h.client.startNew('sequence', { input: i, instanceId: `list-${i}` })),
    );
    for (const id of ids) await statusIs(id, 'Completed');
    await startWaiting('list-running');
    const to = new Date(Date.now() + 1000);

    const completed = await h.client.getStatusBy({
      createdTimeFrom: from,
      createdTimeTo: to,
      runtimeStatus: [OrchestrationRuntimeStatus.Completed],
    });
    expect(
      completed
        .map((s) => s.instanceId)
        .filter((i) => i.startsWith('list-'))
        .sort(),
    ).toEqual(['list-1', 'list-2', 'list-3', 'list-4', 'list-5']);
    const running = await h.client.getStatusBy({
      createdTimeFrom: from,
      runtimeStatus: [OrchestrationRuntimeStatus.Running],
    });
    expect(running.map((s) => s.instanceId)).toContain('list-running');
    expect(running.map((s) => s.instanceId)).not.toContain('list-1');
    const future = await h.client.getStatusBy({ createdTimeFrom: new Date(Date.now() + 60_000) });
    expect(future).toEqual([]);

    // Raw paging: two per page, following the continuation token.
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const r = await h.http(
        'GET',
        `${API}/instances/?instanceIdPrefix=list-&top=2`,
        undefined,
        token ? { 'x-ms-continuation-token': token } : {},
      );
      expect(r.status).toBe(200);
      const page = r.body as Array<{ instanceId: string }>;
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page.map((s) => s.instanceId));
      token = r.headers.get('x-ms-continuation-token');
      pages++;
    } while (token);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.sort()).toEqual(['list-1', 'list-2', 'list-3', 'list-4', 'list-5', 'list-running']);
  });

  it('purges finished instances by creation-time filter and leaves running ones', async () => {
    const from = new Date(Date.now() - 1000);
    const ids = await Promise.all(
      [1, 2, 3].map((i) => h.client.startNew('sequence', { input: i, instanceId: `pf-${i}` })),
    );
    for (const id of ids) await statusIs(id, 'Completed');
    await startWaiting('pf-running');
    const r = await h.client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: [] });
    expect(r.instancesDeleted).toBeGreaterThanOrEqual(3);
    for (const id of ids) expect((await h.http('GET', `${API}/instances/${id}`)).status).toBe(404);
    expect((await h.client.getStatus('pf-running')).runtimeStatus).toBe('Running');
    expect((await h.http('DELETE', `${API}/instances/`)).status).toBe(400);
  });

  it('waits for completion when started with timeout and pollingInterval and answers with the output', async () => {
    const r = await h.http('POST', `${API}/orchestrators/sequence/wait-1?timeout=10&pollingInterval=0.05`, 10);
    expect(r.status).toBe(200);
    expect(r.body).toBe(320);
  });

  it('serves check-status links from an HTTP starter function that plain fetch can follow', async () => {
    const fn = functionsCore.get('startOrchestration');
    const res = await functionsCore.invoke(fn.id, {
      inputData: [
        {
          name: fn.triggerKey,
          data: {
            http: {
              method: 'POST',
              url: `${h.baseUrl}/api/orchestrators/waitsForever/links-1`,
              headers: { 'content-type': 'application/json' },
              query: {},
              params: { name: 'waitsForever', instanceId: 'links-1' },
              body: { bytes: Buffer.from('null') },
            },
          },
        },
        ...h.ext.inputsFor!(fn),
      ],
    });
    const http = res.returnValue!.http as { statusCode: number | string; body: { bytes: Uint8Array } };
    expect(Number(http.statusCode)).toBe(202);
    const links = JSON.parse(Buffer.from(http.body.bytes).toString()) as Record<string, string>;
    expect(links.id).toBe('links-1');
    await until(
      'links-1 to wait',
      async () =>
        ((await (await fetch(links.statusQueryGetUri!)).json()) as { customStatus?: { progress?: string } })
          .customStatus?.progress === 'half' || undefined,
    );
    const raised = await fetch(links.sendEventPostUri!.replace('{eventName}', 'continue'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '"via link"',
    });
    expect(raised.status).toBe(202);
    const final = await until('links-1 to complete', async () => {
      const r = await fetch(links.statusQueryGetUri!);
      return r.status === 200 ? ((await r.json()) as { output: unknown }) : undefined;
    });
    expect(final.output).toBe('via link');
    expect((await fetch(links.purgeHistoryDeleteUri!, { method: 'DELETE' })).status).toBe(200);
  });
});
