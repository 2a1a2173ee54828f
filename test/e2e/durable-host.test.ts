/**
 * Durable Functions through the local host process (dist/local/cli.js), over HTTP only, as a user
 * of `npm start` sees them: an HTTP starter function, check-status links followed with plain fetch,
 * and the client API of durable-functions inside the app's own client functions.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startHostProcess, HostProcess, ROOT, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { WAIT_MS } from '../helpers/wait';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/durable-app.js');
const tmp = tempDir('durable-e2e-');
let azurite: AzuriteHandle;
let host: HostProcess;

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  host = await startHostProcess({
    entry: ENTRY,
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { DURABLE_EXEC_LOG: path.join(tmp.dir, 'exec.log') },
  });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

interface Links {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

async function start(
  name: string,
  input: unknown,
  instanceId?: string,
): Promise<{ status: number; links: Links; location: string | null }> {
  const r = await fetch(`${host.baseUrl}/api/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`, {
    method: 'POST',
    body: JSON.stringify(input),
  });
  return { status: r.status, links: (await r.json()) as Links, location: r.headers.get('location') };
}

const getJson = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

const finished = (links: Links) =>
  eventually(
    async () => {
      const r = await getJson(links.statusQueryGetUri);
      return r.status === 200 ? r.body : undefined;
    },
    WAIT_MS,
    `${links.id} to finish`,
  );

const customStatusIs = (links: Links, want: unknown) =>
  eventually(
    async () => {
      const r = await getJson(links.statusQueryGetUri);
      return JSON.stringify(r.body.customStatus) === JSON.stringify(want) ? r.body : undefined;
    },
    WAIT_MS,
    `${links.id} custom status ${JSON.stringify(want)}`,
  );

describe('durable failures in the host log', () => {
  it('a retried activity that failed once: its exception and inner exception, every line, in one entry with the invocation id', async () => {
    const { links } = await start('customRetryActivityException', null);
    expect(await finished(links)).toMatchObject({ runtimeStatus: 'Completed', output: 'Success' });
    const entry = host
      .output()
      .split(/\n(?=\S+ (?:INFO|WARN|ERROR|DEBUG) )/)
      .find((e) => e.includes("Executed 'Functions.raiseComplexOnce' (Failed"));
    expect(entry).toBeDefined();
    expect(entry).toMatch(/Executed 'Functions\.raiseComplexOnce' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\)/);
    expect(entry).toContain(
      'Exception: InvalidOperationException: This activity failed\nMore information about the failure',
    );
    expect(entry).toContain('Caused by: OverflowException: Inner exception message');
    // And the Durable extension's own line for the failed activity, naming the instance.
    expect(host.output()).toContain(
      `${links.id}: Function 'raiseComplexOnce (Activity)' failed with an error. Reason: Activity function 'raiseComplexOnce' failed: This activity failed`,
    );
  });

  it('an orchestration that fails is logged with its instance and the reason', async () => {
    const { links } = await start('unhandledActivityError', null);
    expect(await finished(links)).toMatchObject({ runtimeStatus: 'Failed' });
    expect(host.output()).toContain(
      `${links.id}: Function 'unhandledActivityError (Orchestrator)' failed with an error. Reason: Orchestrator function 'unhandledActivityError' failed: Activity function 'explode' failed: kaboom`,
    );
  });
});

describe('durable functions on the local host', () => {
  it('starts an orchestration from an HTTP starter and answers with check-status links on this host', async () => {
    const { status, links, location } = await start('sequence', 4);
    expect(status).toBe(202);
    expect(location).toBe(links.statusQueryGetUri);
    expect(
      links.statusQueryGetUri.startsWith(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${links.id}?`),
    ).toBe(true);
    const done = await finished(links);
    expect(done).toMatchObject({
      name: 'sequence',
      instanceId: links.id,
      runtimeStatus: 'Completed',
      input: 4,
      output: 128,
    });
  });

  it("raises events, reads status and waits for completion through the app's own client functions", async () => {
    const { links } = await start('twoEvents', null);
    const raise = (event: string, body: unknown) =>
      fetch(`${host.baseUrl}/api/raise/${links.id}/${event}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await raise('second', 'early')).status).toBe(202);
    await customStatusIs(links, 'waiting for first');
    expect((await raise('first', 'late')).status).toBe(202);
    const waited = await fetch(`${host.baseUrl}/api/wait/${links.id}`);
    expect(waited.status).toBe(200);
    expect(await waited.json()).toEqual({ first: 'late', second: 'early' });
    const s = await getJson(`${host.baseUrl}/api/status/${links.id}`);
    expect(s.body).toMatchObject({ runtimeStatus: 'Completed', output: { first: 'late', second: 'early' } });
  });

  it('refuses to start a second instance under a running id', async () => {
    const first = await start('waitsForever', null, 'e2e-once');
    expect(first.status).toBe(202);
    await customStatusIs(first.links, { progress: 'half' });
    const second = await fetch(`${host.baseUrl}/api/orchestrators/waitsForever/e2e-once`, {
      method: 'POST',
      body: 'null',
    });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: string }).error).toMatch(/409/);
    const raw = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/orchestrators/waitsForever/e2e-once`, {
      method: 'POST',
      body: 'null',
      headers: { 'x-functions-key': SYSTEM_KEY },
    });
    expect(raw.status).toBe(409);
  });

  it('suspends, resumes, terminates and purges through the management links', async () => {
    const { links } = await start('waitsForever', null);
    await customStatusIs(links, { progress: 'half' });
    expect((await fetch(links.suspendPostUri.replace('{text}', 'pause'), { method: 'POST' })).status).toBe(202);
    await eventually(async () =>
      (await getJson(links.statusQueryGetUri)).body.runtimeStatus === 'Suspended' ? true : undefined,
    );
    expect((await fetch(links.resumePostUri.replace('{text}', 'go'), { method: 'POST' })).status).toBe(202);
    await eventually(async () =>
      (await getJson(links.statusQueryGetUri)).body.runtimeStatus === 'Running' ? true : undefined,
    );
    expect((await fetch(links.terminatePostUri.replace('{text}', 'enough'), { method: 'POST' })).status).toBe(202);
    const done = await finished(links);
    expect(done).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });
    expect(
      (
        await fetch(links.sendEventPostUri.replace('{eventName}', 'continue'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '1',
        })
      ).status,
    ).toBe(410);
    const purged = await fetch(links.purgeHistoryDeleteUri, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect((await fetch(links.statusQueryGetUri)).status).toBe(404);
  });

  it('lists instances by runtime status on the Durable HTTP API', async () => {
    const { links } = await start('sequence', 1, 'e2e-listed');
    await finished(links);
    const r = await getJson(
      `${host.baseUrl}/runtime/webhooks/durabletask/instances/?runtimeStatus=Completed&instanceIdPrefix=e2e-&code=${SYSTEM_KEY}`,
    );
    expect(r.status).toBe(200);
    expect((r.body as unknown as Array<{ instanceId: string }>).map((s) => s.instanceId)).toContain('e2e-listed');
  });
});
