/**
 * The DAG, backfills, the freshness plan (and its timer) and lineage as a user meets them: over
 * HTTP against the local host running Strata's own app on real Azurite.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, FUNCTION_KEY, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';
import { daysAgo, HOUR, MINUTE } from '../helpers/backfill-fixtures';
import { WAIT_MS } from '../helpers/wait';

const { host } = useHost({ tempPrefix: 'backfill-e2e-' });
const fkey = { 'x-functions-key': FUNCTION_KEY };
const admin = { 'x-functions-key': ADMIN_KEY };
const D2 = daysAgo(2);
const iso = (ms: number) => new Date(ms).toISOString();

async function get<T = Record<string, unknown>>(
  route: string,
  headers: Record<string, string> = fkey,
): Promise<{ status: number; body: T }> {
  const r = await fetch(`${host.baseUrl}${route}`, { headers });
  return { status: r.status, body: (await r.json()) as T };
}

async function post<T = Record<string, unknown>>(
  route: string,
  body: unknown,
  headers: Record<string, string> = fkey,
): Promise<{ status: number; body: T; location: string | null }> {
  const r = await fetch(`${host.baseUrl}${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as T, location: r.headers.get('location') };
}

/** Clicks every 10 minutes for three users from `start` for `hours`. */
function clicks(start: number, hours: number) {
  const out: Array<Record<string, unknown>> = [];
  for (let t = start, i = 0; t < start + hours * HOUR; t += 10 * MINUTE, i++)
    out.push({ user_id: `u${i % 3}`, page: ['/a', '/b', '/c', '/d'][i % 4], ts: iso(t) });
  return out;
}

/** One partition: batches arrive in event order (partitions on one clock would make each other late). */
async function send(events: unknown[]) {
  const r = await fetch(`${host.baseUrl}/api/_local/eventhubs/clicks?partitionKey=all`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify(events),
  });
  expect(r.status).toBe(202);
}

interface ViewStatus {
  view: string;
  caughtUp: boolean;
  watermark: string | null;
  newestSourceEvent: string | null;
  days: Record<string, number>;
}
interface Plan {
  views: ViewStatus[];
  work: Array<{ view: string; day: string; kind: string; reason: string }>;
  backfills: Array<{ views: string[]; from: string; to: string }>;
}
interface Instance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
}

const backfillInstances = async () =>
  (await get<Instance[]>('/runtime/webhooks/durabletask/instances', { 'x-functions-key': SYSTEM_KEY })).body.filter(
    (i) => i.name === 'backfill',
  );
/** A job of 48 intervals (each a Durable activity) and its status polls: longer than one wait on a busy machine. */
const JOB_WAIT_MS = 2 * WAIT_MS;
const finished = (statusUrl: string) =>
  eventually(
    async () => {
      const r = await fetch(statusUrl, { headers: { 'x-functions-key': SYSTEM_KEY } });
      const s = (await r.json()) as {
        runtimeStatus: string;
        output: { intervals: Record<string, number>; rows: Record<string, number> };
      };
      return r.status === 200 ? s : undefined;
    },
    JOB_WAIT_MS,
    'the backfill to finish',
  );

beforeAll(async () => {
  // Clicks two days ago, then (once in) yesterday's, so nothing arrives late by accident.
  const first = clicks(D2 + 8 * HOUR, 6);
  await send(first);
  await eventually(
    async () =>
      (await get<ViewStatus>('/api/views/user_clicks/status')).body.newestSourceEvent === first.at(-1)!.ts
        ? true
        : undefined,
    WAIT_MS,
    'the first clicks to be ingested',
  );
  const second = clicks(D2 + 32 * HOUR, 2);
  await send(second);
  await eventually(
    async () =>
      (await get<ViewStatus>('/api/views/user_clicks/status')).body.newestSourceEvent === second.at(-1)!.ts
        ? true
        : undefined,
    WAIT_MS,
    'the second clicks to be ingested',
  );
});

describe('GET /api/dag', () => {
  it('returns sources, views and services as nodes, and their edges, views in DAG order', async () => {
    const { status, body } = await get<{
      nodes: Array<{ id: string }>;
      edges: Array<{ from: string; to: string }>;
      order: string[];
    }>('/api/dag');
    expect(status).toBe(200);
    expect(body.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining([
        'source:clicks',
        'source:purchases',
        'view:user_clicks',
        'view:user_engagement',
        'service:churn_v1',
      ]),
    );
    expect(body.edges).toContainEqual(
      expect.objectContaining({ from: 'view:user_clicks', to: 'view:user_engagement' }),
    );
    expect(body.order).toEqual(['user_clicks', 'user_purchases', 'user_engagement']);
    const narrowed = await get<{ nodes: Array<{ id: string }> }>('/api/dag?view=user_purchases');
    expect(narrowed.body.nodes.map((n) => n.id).sort()).toEqual([
      'service:churn_v1',
      'source:purchases',
      'view:user_engagement',
      'view:user_purchases',
    ]);
    expect((await get('/api/dag', {})).status).toBe(401);
  });
});

describe('the plan and its timer', () => {
  it('a fresh stream: nothing to do, views caught up, and the timer starts nothing', async () => {
    const { body } = await get<Plan>('/api/plan');
    expect(body.work).toEqual([]);
    expect(body.views.find((v) => v.view === 'user_clicks')).toMatchObject({
      caughtUp: true,
      days: { complete: 1, incomplete: 1 },
    });
    expect((await post('/admin/functions/plan-timer', {}, admin)).status).toBe(202);
    expect(await backfillInstances()).toEqual([]);
  });

  it('after a late click the plan lists its days; the timer starts the backfill that clears them', async () => {
    await send([{ user_id: 'u1', page: '/late', ts: iso(D2 + 12 * HOUR) }]);
    const plan = await eventually(
      async () => {
        const p = (await get<Plan>('/api/plan')).body;
        return p.work.length ? p : undefined;
      },
      WAIT_MS,
      'the late click in the plan',
    );
    expect(plan.work.filter((w) => w.view === 'user_clicks').map((w) => `${w.kind} ${w.day}`)).toContain(
      `incomplete ${iso(D2).slice(0, 10)}`,
    );
    expect(plan.backfills.map((b) => b.views)).toEqual([['user_clicks']]);

    expect((await post('/admin/functions/plan-timer', {}, admin)).status).toBe(202);
    const [started] = await backfillInstances();
    expect(started).toBeDefined();
    const done = await finished(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${started!.instanceId}`);
    expect(done.runtimeStatus).toBe('Completed');
    expect((await get<Plan>('/api/plan')).body.work).toEqual([]);
  });
});

describe('POST /api/backfills', () => {
  it('refuses a bad request with what is wrong where', async () => {
    const bad = await post<{ details: Array<{ where: string; problem: string }> }>('/api/backfills', {
      views: ['user_click'],
      from: 'soon',
      interval: '5h',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d) => d.where).sort()).toEqual(['from', 'to']);
    const unknown = await post<{ details: Array<{ where: string; problem: string }> }>('/api/backfills', {
      views: ['user_click'],
      from: iso(D2),
      to: iso(D2 + HOUR),
      interval: '5h',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([
      { where: 'views[0]', problem: expect.stringContaining('did you mean "user_clicks"') },
      { where: 'interval', problem: expect.stringContaining('does not tile UTC days') },
    ]);
  });

  it(
    'starts a backfill with check-status links, joins it when asked again, reports progress, and re-runs without committing twice',
    async () => {
      const body = {
        views: ['user_clicks'],
        from: iso(D2),
        to: iso(D2 + 2 * 86_400_000),
        interval: '1h',
        maxParallel: 2,
      };
      const first = await post<{ id: string; status: string; statusQueryGetUri: string; terminatePostUri: string }>(
        '/api/backfills',
        body,
      );
      expect(first.status).toBe(202);
      expect(first.body).toMatchObject({ status: 'started', id: expect.stringMatching(/^backfill-[0-9a-f]{24}$/) });
      expect(first.location).toBe(first.body.statusQueryGetUri);
      const again = await post<{ id: string; status: string }>('/api/backfills', body);
      expect(again.body).toMatchObject({ id: first.body.id, status: 'joined' });

      const done = await finished(first.body.statusQueryGetUri);
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output.intervals.done).toBe(done.output.intervals.total);
      expect(done.output.intervals.committed).toBeGreaterThan(0);
      expect(done.output.rows.user_clicks).toBeGreaterThan(0);
      const status = await get<{ runtimeStatus: string; progress: { phase: string } }>(
        `/api/backfills/${first.body.id}`,
      );
      expect(status.body).toMatchObject({ runtimeStatus: 'Completed', progress: { phase: 'done' } });

      const rerun = await post<{ id: string; status: string; statusQueryGetUri: string }>('/api/backfills', body);
      expect(rerun.body).toMatchObject({ id: first.body.id, status: 'started' });
      const second = await finished(rerun.body.statusQueryGetUri);
      expect(second.output.intervals.committed).toBe(0);
      expect(second.output.intervals.total).toBe(done.output.intervals.total);
      expect((await get(`/api/backfills/backfill-000000000000000000000000`)).status).toBe(404);
    },
    3 * JOB_WAIT_MS,
  );
});

describe('lineage over HTTP', () => {
  it('walks a training set up to the Event Hubs batches, and a view down to its consumers', async () => {
    const ts = await post<{ id: string }>('/api/training-sets', {
      // Values count once they had arrived (created_ts <= the spine time): ask about now.
      spine: {
        rows: [
          { entity_id: 'u1', ts: iso(Date.now()) },
          { entity_id: 'u2', ts: iso(Date.now()) },
        ],
      },
      features: ['user_clicks:clicks_24h'],
    });
    expect(ts.status).toBe(201);
    const up = await get<{
      root: string;
      nodes: Array<{ id: string; kind: string }>;
      edges: Array<{ relation: string }>;
    }>(`/api/lineage/training-set/${ts.body.id}?direction=up&depth=3`);
    expect(up.status).toBe(200);
    expect(up.body.root).toBe(`training-set:${ts.body.id}`);
    const kinds = new Set(up.body.nodes.map((n) => n.kind));
    expect([...kinds].sort()).toEqual(['batch', 'job', 'segment', 'source', 'training-set', 'view']);
    expect(up.body.nodes.some((n) => n.id.startsWith('batch:eventhub:clicks:'))).toBe(true);

    const seg = up.body.nodes.find((n) => n.kind === 'segment' && n.id.startsWith('segment:user_clicks/'))!;
    const down = await get<{ nodes: Array<{ id: string }> }>(
      `/api/lineage/segment/${seg.id.slice('segment:'.length)}?direction=down`,
    );
    expect(down.body.nodes.map((n) => n.id)).toContain(`training-set:${ts.body.id}`);
    const view = await get<{ nodes: Array<{ id: string }> }>('/api/lineage/view/user_clicks?direction=down&depth=1');
    expect(view.body.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^view:user_engagement@/),
        'service:churn_v1',
        `training-set:${ts.body.id}`,
      ]),
    );
    expect((await get('/api/lineage/model/x')).status).toBe(400);
  });
});
