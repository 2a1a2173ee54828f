/**
 * The local host as a user meets it: a compiled Functions app served over HTTP, with timers,
 * Event Hubs and blob triggers, on real Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startHostProcess, HostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { tempDir, readJsonLines } from '../helpers/temp';
import { WAIT_MS } from '../helpers/wait';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/host-app.js');
let azurite: AzuriteHandle;
let host: HostProcess;
const tmp = tempDir();
const logFile = path.join(tmp.dir, 'invocations.jsonl');
const admin = { 'x-functions-key': ADMIN_KEY };

type Line = Record<string, unknown> & { fn: string };
const lines = (fn: string) => readJsonLines<Line>(logFile).filter((l) => l.fn === fn);

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  host = await startHostProcess({
    entry: ENTRY,
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { FIXTURE_LOG: logFile },
  });
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

describe('registrations', () => {
  it('lists every function the app registered, with its trigger', async () => {
    const res = await fetch(`${host.baseUrl}/admin/functions`, { headers: admin });
    const fns = (await res.json()) as Array<{ name: string; trigger: string; detail: string }>;
    const byName = Object.fromEntries(fns.map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        'boom',
        'hello',
        'item',
        'itemsByName',
        'ingest',
        'onDrop',
        'outConsumer',
        'publish',
        'secret',
        'startupTick',
        'tick',
      ].sort(),
    );
    expect(byName.hello!.trigger).toBe('httpTrigger');
    expect(byName.hello!.detail).toContain('/api/hello/{name?}');
    expect(byName.ingest!.trigger).toBe('eventHubTrigger');
    expect(byName.tick!.detail).toBe('schedule 0 0 0 1 1 *');
  });

  it('the start-up listing shows each function and its URL', () => {
    expect(host.output()).toMatch(
      /hello\s+httpTrigger\s+GET,POST http:\/\/127\.0\.0\.1:\d+\/api\/hello\/\{name\?\} \(anonymous\)/,
    );
  });
});

describe('HTTP functions', () => {
  it('pass route parameters, query, body and response headers', async () => {
    const res = await fetch(`${host.baseUrl}/api/hello/ada?q=7`, { method: 'POST', body: 'payload' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-fixture')).toBe('hello');
    expect(await res.json()).toEqual({ name: 'ada', q: '7', body: 'payload' });
  });

  it('an optional parameter may be left out', async () => {
    expect(await (await fetch(`${host.baseUrl}/api/hello`)).json()).toMatchObject({ name: null });
  });

  it('typed parameters: a value that breaks the constraint does not match', async () => {
    expect((await fetch(`${host.baseUrl}/api/items/12?code=${FUNCTION_KEY}`)).status).toBe(200);
    expect((await fetch(`${host.baseUrl}/api/items/twelve?code=${FUNCTION_KEY}`)).status).toBe(404);
    expect(await (await fetch(`${host.baseUrl}/api/items/by-name/x`)).json()).toEqual({ byName: 'x' });
  });

  it('answers 404 for unknown routes and 405 for a known route with the wrong method', async () => {
    const nf = await fetch(`${host.baseUrl}/api/nowhere`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: expect.stringContaining('/api/nowhere') });
    expect((await fetch(`${host.baseUrl}/api/hello`, { method: 'DELETE' })).status).toBe(405);
  });

  it('enforces auth levels: function routes take the function or admin key, admin routes only the admin key', async () => {
    expect((await fetch(`${host.baseUrl}/api/items/1`)).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/api/items/1`, { headers: { 'x-functions-key': 'wrong' } })).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/api/items/1`, { headers: { 'x-functions-key': FUNCTION_KEY } })).status).toBe(
      200,
    );
    expect((await fetch(`${host.baseUrl}/api/items/1?code=${ADMIN_KEY}`)).status).toBe(200);
    expect((await fetch(`${host.baseUrl}/api/secret?code=${FUNCTION_KEY}`)).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/api/secret?code=${ADMIN_KEY}`)).status).toBe(200);
    expect(
      (await fetch(`${host.baseUrl}/admin/functions`, { headers: { 'x-functions-key': FUNCTION_KEY } })).status,
    ).toBe(401);
  });

  it('a function that throws gives 500 and the host keeps serving', async () => {
    expect((await fetch(`${host.baseUrl}/api/boom`)).status).toBe(500);
    expect(host.output()).toContain('handler exploded');
    expect((await fetch(`${host.baseUrl}/api/hello`)).status).toBe(200);
  });
});

describe('timers', () => {
  it('runOnStartup fires once when the host starts', async () => {
    await eventually(() => (lines('startupTick').length === 1 ? true : undefined), WAIT_MS, 'startupTick');
  });

  it('a timer function fires on demand through the admin API, with the timer payload', async () => {
    const res = await fetch(`${host.baseUrl}/admin/functions/tick`, { method: 'POST', headers: admin });
    expect(res.status).toBe(202);
    const t = lines('tick');
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ isPastDue: false });
    expect(String(t[0]!.next)).toMatch(/^\d{4}-01-01T00:00:00/);
  });
});

describe('Event Hubs', () => {
  it('delivers batches per partition with the Azure trigger metadata', async () => {
    const events = Array.from({ length: 12 }, (_, i) => ({ user: `u${i % 3}`, n: i }));
    const res = await fetch(`${host.baseUrl}/api/_local/eventhubs/events?partitionKeyField=user`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(202);
    const got = await eventually(() => {
      const all = lines('ingest');
      const n = all.reduce((s, l) => s + (l.bodies as unknown[]).length, 0);
      return n >= 12 ? all : undefined;
    });
    const seen = got
      .flatMap((l) => l.bodies as Array<{ n: number }>)
      .map((b) => b.n)
      .sort((a, b) => a - b);
    expect(seen).toEqual(events.map((e) => e.n));
    for (const l of got) {
      const bodies = l.bodies as Array<{ user: string }>;
      const seq = l.sequenceNumberArray as number[];
      expect(seq).toHaveLength(bodies.length);
      expect([...seq].sort((a, b) => a - b)).toEqual(seq); // in order within a partition
      expect(l.partitionKeyArray).toEqual(bodies.map((b) => b.user));
      expect((l.offsetArray as string[]).every((o) => typeof o === 'string')).toBe(true);
      expect((l.enqueuedTimeUtcArray as string[]).every((t) => !Number.isNaN(Date.parse(t)))).toBe(true);
      expect(l.partitionContext).toMatchObject({ eventHubName: 'events', consumerGroup: '$Default' });
      // One partition key always lands in one partition.
      expect(new Set(bodies.map((b) => b.user)).size).toBeLessThanOrEqual(3);
    }
    const partitionsByUser = new Map<string, Set<string>>();
    for (const l of got)
      for (const b of l.bodies as Array<{ user: string }>) {
        const set = partitionsByUser.get(b.user) ?? new Set();
        set.add(String((l.partitionContext as { partitionId: string }).partitionId));
        partitionsByUser.set(b.user, set);
      }
    for (const s of partitionsByUser.values()) expect(s.size).toBe(1);
  });

  it('an Event Hubs output binding feeds the functions listening on that hub', async () => {
    const res = await fetch(`${host.baseUrl}/api/publish`, {
      method: 'POST',
      body: JSON.stringify([{ a: 1 }, { a: 2 }]),
    });
    expect(res.status).toBe(202);
    const got = await eventually(() => (lines('outConsumer').length >= 2 ? lines('outConsumer') : undefined));
    expect(got.map((l) => l.body)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('refuses a body that is not JSON with 400', async () => {
    const res = await fetch(`${host.baseUrl}/api/_local/eventhubs/events`, {
      method: 'POST',
      headers: admin,
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect((await res.json()) as { error: string }).toMatchObject({ error: expect.stringMatching(/must be JSON/) });
  });
});

describe('blob triggers', () => {
  it('runs once for a new blob in the watched container', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const c = blobs.getContainerClient('drops');
    await c.createIfNotExists();
    await c.getBlockBlobClient('hello.txt').upload('hi there', 8);
    const got = await eventually(() => (lines('onDrop').length ? lines('onDrop') : undefined));
    expect(got[0]).toMatchObject({ name: 'hello.txt', text: 'hi there' });
    await new Promise((r) => setTimeout(r, 700)); // several poll rounds
    expect(lines('onDrop')).toHaveLength(1);
  });
});

describe('shutdown', () => {
  it('stops cleanly on SIGTERM', async () => {
    const other = await startHostProcess({
      entry: ENTRY,
      storageConnection: azurite.connectionString,
      dataDir: path.join(tmp.dir, 'data2'),
      env: { FIXTURE_LOG: path.join(tmp.dir, 'other.jsonl') },
    });
    other.child.kill('SIGTERM');
    expect(await other.exited).toEqual({ code: 0, signal: null });
    expect(other.output()).toContain('SIGTERM: stopping');
  });

  it('a body over STRATA_UPLOAD_MAX_BYTES gets 413 naming the setting, before any function runs', async () => {
    const small = await startHostProcess({
      entry: ENTRY,
      storageConnection: azurite.connectionString,
      dataDir: path.join(tmp.dir, 'data4'),
      env: { FIXTURE_LOG: path.join(tmp.dir, 'small.jsonl'), STRATA_UPLOAD_MAX_BYTES: '1000' },
    });
    try {
      const big = await fetch(`${small.baseUrl}/api/hello/x`, { method: 'POST', body: 'x'.repeat(5000) });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ error: expect.stringContaining('STRATA_UPLOAD_MAX_BYTES') });
      const ok = await fetch(`${small.baseUrl}/api/hello/x`, { method: 'POST', body: 'x'.repeat(500) });
      expect(ok.status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  it('a bad setting stops the start with a message naming it', async () => {
    const bad = await startHostProcess({
      entry: ENTRY,
      storageConnection: azurite.connectionString,
      dataDir: path.join(tmp.dir, 'data3'),
      env: { REDIS_URL: 'localhost:6379' },
      noWait: true,
    });
    const r = await bad.exited;
    expect(r.code).toBe(1);
    expect(bad.output()).toMatch(/REDIS_URL: must start with redis:\/\//);
    expect(fs.existsSync(path.join(tmp.dir, 'data3', 'azurite'))).toBe(false);
  });
});
