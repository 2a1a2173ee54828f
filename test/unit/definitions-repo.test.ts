import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  count,
  defineRepo,
  entity,
  expr,
  featureService,
  featureView,
  source,
  sliding,
  sum,
  tumbling,
  type FeatureView,
} from '../../shared/features/definitions/language';
import { ValidationError } from '../../shared/errors';
import { churnRepo } from '../../shared/definitions/churn';
import { dagGraph, downstream, servicesUsing, topologicalOrder, upstream } from '../../shared/features/compute/dag';
import { events, orderTotals, orders, slide, testRepo, user } from '../helpers/feature-fixtures';

/** The problems defineRepo reports, as "where: problem" lines. */
function problemsOf(spec: Parameters<typeof defineRepo>[0]): string[] {
  try {
    defineRepo(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details.map((d) => `${d.where}: ${d.problem}`);
  }
  throw new Error('defineRepo accepted the definitions');
}

const one = () => expr('float', () => 1);
const derived = (name: string, inputs: Array<string | FeatureView<string, any>>) =>
  featureView({ name, entity: 'user', input: inputs, features: { x: one() } });

describe('defineRepo: references', () => {
  it('accepts the sample churn repo and puts views after their inputs', () => {
    expect(churnRepo.viewOrder).toEqual(['user_clicks', 'user_purchases', 'user_engagement']);
    expect(churnRepo.service('churn_v1').features.map((f) => `${f.ref}:${f.type}`)).toEqual([
      'user_clicks:clicks_1h:int',
      'user_clicks:clicks_24h:int',
      'user_clicks:distinct_pages_24h:int',
      'user_purchases:purchases_7d:int',
      'user_purchases:spend_7d:float',
      'user_purchases:avg_order_30d:float',
      'user_purchases:max_order_30d:float',
      'user_engagement:spend_per_click:float',
      'user_engagement:is_active:bool',
    ]);
    expect(churnRepo.view('user_clicks').columns.find((c) => c.name === 'last_page')).toEqual({
      name: 'last_page',
      type: 'string',
    });
  });

  it('names a missing entity, source or input view by its path, with the closest name', () => {
    expect(
      problemsOf({
        entities: [user],
        sources: [events],
        views: [
          featureView({ name: 'a', entity: 'usr', input: events, features: { n: count(sliding('1h')) } }),
          featureView({ name: 'b', entity: user, input: 'event', features: { n: count(sliding('1h')) } }),
          derived('c', ['a', 'bb']),
        ],
      }),
    ).toEqual([
      'views.a.entity: no entity named "usr" (did you mean "user"?); known: user',
      'views.b.input: no source named "event" (did you mean "events"?); known: events',
      'views.c.input[1]: no feature view named "bb" (did you mean "b"?); known: a, b, c',
    ]);
  });

  it('tells a source from a feature view', () => {
    expect(
      problemsOf({
        entities: [user],
        sources: [events],
        views: [
          slide,
          featureView({ name: 'a', entity: user, input: 'slide', features: { n: count(sliding('1h')) } }),
          derived('b', ['events']),
        ],
      }),
    ).toEqual([
      'views.a.input: "slide" is a feature view, not a source; a view over other views takes them as a list: input: [view, ...]',
      'views.b.input[0]: "events" is a source, not a feature view; a derived view takes feature views only',
    ]);
  });

  it('asks to list a referenced object that is not in the repo', () => {
    expect(problemsOf({ entities: [user], views: [slide] })).toEqual([
      'views.slide.input: source "events" is not in this repo; add it to sources: [...] in defineRepo',
    ]);
  });

  it('names a missing feature of a service and a missing field of an aggregation', () => {
    expect(
      problemsOf({
        entities: [user],
        sources: [events],
        views: [
          featureView({
            name: 'v',
            entity: user,
            input: events,
            features: { s: sum('amnt', sliding('1h')), p: sum('page', tumbling('1d')) },
          }),
        ],
        services: [featureService({ name: 'svc', features: ['v:s', 'v:n', 'w:s', 'v.s'] })],
      }),
    ).toEqual([
      'views.v.features.s.field: source "events" has no field "amnt" (did you mean "amount"?); fields: user_id, page, amount, ts',
      'views.v.features.p.field: sum needs a numeric field, but "page" of source "events" is string',
      'services.svc.features[2]: no feature view named "w" (in "w:s") (did you mean "v"?); known: v',
      'services.svc.features[3]: "v.s" is not a feature reference; write "view:feature", e.g. "user_clicks:clicks_1h"',
    ]);
    expect(
      problemsOf({
        entities: [user],
        sources: [events],
        views: [featureView({ name: 'v', entity: user, input: events, features: { n: count(sliding('1h')) } })],
        services: [featureService({ name: 'svc', features: ['v:n', 'v:nn'] })],
      }),
    ).toEqual(['services.svc.features[1]: view "v" has no feature "nn" (did you mean "n"?); its features: n']);
  });

  it('checks that the entity key and event time are fields of the source', () => {
    const page = entity({ name: 'page', joinKey: 'page_id' });
    const bad = source({
      name: 'bad',
      schema: z.object({ user_id: z.string(), when: z.number() }),
      eventTime: 'ts' as 'when',
      stream: { hub: 'bad' },
    });
    expect(
      problemsOf({
        entities: [page],
        sources: [bad, events],
        views: [featureView({ name: 'v', entity: page, input: events, features: { n: count(sliding('1h')) } })],
      }),
    ).toEqual([
      'sources.bad.eventTime: "ts" is not a field of the schema; fields: user_id, when',
      'views.v.entity: entity "page" is keyed by "page_id", but source "events" has no such field; add it to the source schema or use another entity',
    ]);
  });

  it('refuses aggregations in a derived view and explains where they belong', () => {
    const v = featureView({ name: 'd', entity: user, input: [slide], features: { n: count(sliding('1h')) } });
    expect(problemsOf({ entities: [user], sources: [events], views: [slide, v] })).toEqual([
      'views.d.features.n: a derived view computes expressions over its inputs\' latest values; aggregate "count" over time in the upstream view that reads the source, then use it here',
    ]);
  });

  it('checks names, durations and windows', () => {
    expect(
      problemsOf({
        entities: [user],
        sources: [events],
        views: [
          featureView({ name: 'User Clicks', entity: user, input: events, features: { n: count(sliding('1h')) } }),
          featureView({
            name: 'v',
            entity: user,
            input: events,
            ttl: '2 days',
            features: {
              entity_id: count(sliding('1h')),
              n: count(sliding('1h', { hop: '2h' })),
              m: count(sliding('1x')),
            },
          }),
        ],
      }),
    ).toEqual([
      'views[0].name: "User Clicks" is not a valid name: use lower-case letters, digits and _, starting with a letter (e.g. "user_clicks")',
      'views.v.features.entity_id: "entity_id" is reserved for the stores\' own columns (entity_id, event_ts, created_ts); choose another name',
      'views.v.features.n.window.hop: hop (2h) must not be longer than the window (1h)',
      'views.v.features.m.window.size: expected a duration like "30s", "5m", "1h", "7d" or "1h30m", got "1x" (cannot read "1x")',
      'views.v.ttl: expected a duration like "30s", "5m", "1h", "7d" or "1h30m", got "2 days" (cannot read "2 days")',
    ]);
  });

  it('refuses duplicate names', () => {
    expect(problemsOf({ entities: [user, entity({ name: 'user', joinKey: 'id' })] })).toEqual([
      'entities[1].name: "user" is defined twice in entities; names must be unique',
    ]);
  });
});

describe('defineRepo: the view DAG', () => {
  it('refuses a cycle and shows its path', () => {
    expect(problemsOf({ entities: [user], views: [derived('a', ['b']), derived('b', ['a'])] })).toEqual([
      'views.a.input: cycle in the view DAG: a -> b -> a. A view cannot depend on itself; compute the shared part in an upstream view that both read',
    ]);
  });

  it('shows a longer cycle, and a view reading itself', () => {
    const problems = problemsOf({
      entities: [user],
      sources: [events],
      views: [
        slide,
        derived('a', [slide, 'c']),
        derived('b', ['a']),
        derived('c', ['b']),
        derived('selfish', ['selfish']),
      ],
    });
    expect(problems).toEqual([
      'views.a.input: cycle in the view DAG: a -> c -> b -> a. A view cannot depend on itself; compute the shared part in an upstream view that both read',
      'views.selfish.input: cycle in the view DAG: selfish -> selfish. A view cannot depend on itself; compute the shared part in an upstream view that both read',
    ]);
  });

  it('orders views after their inputs whatever the declaration order', () => {
    const repo = defineRepo({
      entities: [user],
      sources: [events, orders],
      views: [derived('top', ['mid', orderTotals]), derived('mid', [slide]), orderTotals, slide],
    });
    expect(topologicalOrder(repo)).toEqual(['order_totals', 'slide', 'mid', 'top']);
    expect(downstream(repo, 'slide')).toEqual(['mid', 'top']);
    expect(downstream(repo, ['slide', 'order_totals'], { includeSelf: true })).toEqual([
      'order_totals',
      'slide',
      'mid',
      'top',
    ]);
    expect(upstream(repo, 'top')).toEqual({ views: ['order_totals', 'slide', 'mid'], sources: ['events', 'orders'] });
  });

  it('describes the DAG as nodes and edges', () => {
    const g = dagGraph(churnRepo);
    expect(g.nodes.map((n) => n.id)).toEqual([
      'source:clicks',
      'source:purchases',
      'source:churn_labels',
      'view:user_clicks',
      'view:user_purchases',
      'view:user_engagement',
      'service:churn_v1',
    ]);
    expect(g.edges.map((e) => `${e.from} -> ${e.to}`)).toEqual([
      'source:clicks -> view:user_clicks',
      'source:purchases -> view:user_purchases',
      'view:user_clicks -> view:user_engagement',
      'view:user_purchases -> view:user_engagement',
      'view:user_clicks -> service:churn_v1',
      'view:user_purchases -> service:churn_v1',
      'view:user_engagement -> service:churn_v1',
    ]);
    expect(g.edges.find((e) => e.to === 'service:churn_v1')!.features).toEqual([
      'clicks_1h',
      'clicks_24h',
      'distinct_pages_24h',
    ]);
    expect(g.nodes.find((n) => n.id === 'view:user_clicks')!.details.features).toContainEqual({
      name: 'clicks_1h',
      type: 'int',
      aggregation: 'count',
      field: null,
      window: 'sliding 1h hop 5m',
    });
    expect(servicesUsing(churnRepo, 'user_engagement')).toEqual(['churn_v1']);
  });
});

describe('versions', () => {
  const build = (opts: { expression?: (r: any) => number; reorder?: boolean; description?: string } = {}) => {
    const u = opts.reorder
      ? entity({ joinKey: 'user_id', name: 'user' })
      : entity({ name: 'user', joinKey: 'user_id' });
    const compute = opts.expression ?? ((r: any) => r.amount * 2);
    const features = opts.reorder
      ? { doubled: expr('float', compute), n: count(sliding('1h')) }
      : { n: count(sliding('1h')), doubled: expr('float', compute) };
    const base = featureView({
      name: 'base',
      entity: u,
      input: events,
      features,
      ...(opts.description ? { description: opts.description } : {}),
    });
    const top = featureView({
      name: 'top',
      entity: u,
      input: [base],
      features: { m: expr('float', (r: any) => r.base.n + 1) },
    });
    return defineRepo({
      entities: [u],
      sources: [events],
      views: [base, top],
      services: [featureService({ name: 'svc', features: ['base:n', 'top:m'] })],
    });
  };
  const versions = (repo: ReturnType<typeof build>) =>
    Object.fromEntries(repo.definitions().map((d) => [`${d.kind}:${d.name}`, d.version]));

  it('are the same for the same definitions, whatever the key order, feature order or description', () => {
    const v = versions(build());
    expect(v['view:base']).toMatch(/^[0-9a-f]{64}$/);
    expect(versions(build())).toEqual(v);
    expect(versions(build({ reorder: true }))).toEqual(v);
    expect(versions(build({ description: 'only words' }))).toEqual(v);
  });

  it('ignore layout and comments in expressions', () => {
    // prettier-ignore
    const spaced = (r: any) => {
      // twice the amount
      return r.amount   *   2
    };
    const v = versions(
      build({
        expression: (r: any) => {
          return r.amount * 2;
        },
      }),
    );
    expect(versions(build({ expression: spaced }))).toEqual(v);
  });

  it('change when an expression changes, and so do the versions downstream', () => {
    const before = versions(build());
    const after = versions(build({ expression: (r: any) => r.amount * 3 }));
    expect(after['entity:user']).toBe(before['entity:user']);
    expect(after['source:events']).toBe(before['source:events']);
    expect(after['view:base']).not.toBe(before['view:base']);
    expect(after['view:top']).not.toBe(before['view:top']);
    expect(after['service:svc']).not.toBe(before['service:svc']);
  });

  it('put the normalised expression text in the definition', () => {
    const def = build().view('base').definition as { features: Record<string, unknown> };
    expect(def.features.doubled).toEqual({ kind: 'expr', type: 'float', code: 'r => r . amount * 2' });
    expect(def.features.n).toEqual({
      kind: 'aggregate',
      agg: 'count',
      type: 'int',
      field: null,
      window: { kind: 'sliding', sizeMs: 3_600_000, hopMs: null },
    });
  });
});

describe('the sample repo', () => {
  it('views know how much history a warm-up needs', () => {
    // the tumbling day reaches furthest: a row at a day's end carries the previous day (2 days), plus 1h lateness
    expect(churnRepo.view('user_clicks').warmUpMs).toBe(2 * 24 * 3_600_000 + 3_600_000);
    // sliding 30d with a 1d hop: 31 days, plus 1h lateness
    expect(churnRepo.view('user_purchases').warmUpMs).toBe(31 * 24 * 3_600_000 + 3_600_000);
    expect(churnRepo.view('user_engagement').warmUpMs).toBeNull();
  });
});

it('testRepo is consistent (used by the transform tests)', () => {
  expect(testRepo.viewsReading('events').map((v) => v.name)).toEqual(['slide', 'tumble', 'hopping', 'everything']);
  expect(testRepo.consumers('slide').map((v) => v.name)).toEqual(['combined']);
  expect(() => testRepo.view('slid')).toThrow(
    'no feature view named "slid" (did you mean "slide"?); known: slide, tumble, hopping, everything, order_totals, combined',
  );
});
