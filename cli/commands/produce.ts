/**
 * `strata produce`: stream synthetic users' clicks and purchases (and churn labels, when the
 * repo has a label source) at a target rate, with the daily pattern, drift, late records and
 * corrections of cli/generator. To Event Hubs when EVENTHUB_CONNECTION is a real connection
 * string (partition key = user id), else to the local host's bus at --url. Reports sent/s and
 * failures; exit 1 when any event could not be sent.
 */
import type { EventHubSink } from '../../shared/azure/event-hub-sink';
import type { FeatureRepo } from '../../shared/features/definitions/repo';
import type { CommandSpec } from '../core/command';
import { Failed, UsageError } from '../core/errors';
import { formatDuration, table } from '../core/output';
import { startProgress } from '../core/progress';
import { parseDurationOption, parseRate, parseShare, parseTime } from '../core/values';
import { DRIFT_FIELDS, parseDrift, type DriftSpec } from '../generator/drift';
import type { GeneratorOptions } from '../generator/events';
import { DEFAULT_LABEL_SOURCE, type LabelTarget } from '../produce/labels';
import type { Outgoing } from '../produce/sender';

const DAY = 86_400_000;
const SAMPLE_SOURCES = ['clicks', 'purchases'] as const;

/** The hub of each sample source the generator fills; refuses a repo without them. */
function sampleHubs(repo: FeatureRepo): Record<(typeof SAMPLE_SOURCES)[number], string> {
  const out: Record<string, string> = {};
  for (const name of SAMPLE_SOURCES) {
    const src = repo.sources.get(name);
    if (!src?.stream)
      throw new Failed(
        `produce generates the sample repo's ${SAMPLE_SOURCES.join(' and ')}; this app's repo has no stream source "${name}"`,
      );
    out[name] = src.stream.hub;
  }
  return out as Record<(typeof SAMPLE_SOURCES)[number], string>;
}

export const produceCommand: CommandSpec = {
  name: 'produce',
  summary:
    "stream synthetic users' clicks, purchases and churn labels at a target rate (drift, late records, corrections)",
  description: [
    'Users have traits that drive their clicks and purchases and whether they churn (quiet users who rarely',
    'buy churn more), so a model trained on the features learns something. Events are spread over an event-time',
    'span (default: the last 2 days up to now) by a daily pattern, and sent at --rate in wall time: the span is',
    'replayed compressed. The same --seed and span give the same events.',
    '',
    'Sends to Event Hubs when EVENTHUB_CONNECTION is an Event Hubs connection string, or when',
    'EVENTHUB_CONNECTION__fullyQualifiedNamespace names a namespace (signed in as DefaultAzureCredential, or',
    'the identity EVENTHUB_CONNECTION__credential/__clientId name; partition key: user_id),',
    "else to the local host's bus at --url (POST /api/_local/eventhubs/<hub>, admin key). Labels go to the",
    `label source (--labels-source, default ${DEFAULT_LABEL_SOURCE}) only if the app's repo defines it.`,
    '',
    `Drift fields: ${Object.entries(DRIFT_FIELDS)
      .map(([f, w]) => `${f} (${w})`)
      .join('; ')}.`,
  ].join('\n'),
  options: {
    rate: {
      type: 'string',
      value: '<rate>',
      description: 'events per second of wall time: 2000/s, 500, 60000/m (default 1000/s)',
    },
    duration: {
      type: 'string',
      value: '<duration>',
      description: 'how long to send: 30s, 5m (default 1m); events = rate x duration',
    },
    events: { type: 'string', value: '<n>', description: 'or exactly this many clicks and purchases' },
    users: { type: 'string', value: '<n>', description: 'synthetic users (default 1000)' },
    seed: { type: 'string', value: '<n>', description: 'random seed: the users and their labels (default 1)' },
    'events-seed': {
      type: 'string',
      value: '<n>',
      description: 'seed of the events alone (default --seed): more events of the same users',
    },
    from: { type: 'string', value: '<time>', description: 'event-time span start (default: --to minus --days)' },
    to: { type: 'string', value: '<time>', description: 'event-time span end (default now)' },
    days: { type: 'string', value: '<n>', description: 'span length in days when --from is not given (default 2)' },
    drift: {
      type: 'string',
      multiple: true,
      value: '<field=kind:n>',
      description:
        'inject drift: amount=shift:0.5 (in standard deviations), amount=scale:1.3, purchases=scale:2, page=new:0.3',
    },
    'drift-from': {
      type: 'string',
      value: '<time>',
      description: 'drift applies from this event time on (default: the whole span)',
    },
    late: {
      type: 'string',
      value: '<share>',
      description: 'share of events delivered 10 min to 6 h late (0.02 or 2%)',
    },
    corrections: {
      type: 'string',
      value: '<share>',
      description: 'share of purchases sent again later with a lower amount (same order_id)',
    },
    'labels-source': {
      type: 'string',
      value: '<source>',
      description: `the label source (default ${DEFAULT_LABEL_SOURCE})`,
    },
    'no-labels': { type: 'boolean', description: 'send no labels' },
    batch: { type: 'string', value: '<n>', description: 'events per send (default 500)' },
    wait: { type: 'boolean', description: 'then wait until the views over the produced sources have caught up' },
    'wait-timeout': { type: 'string', value: '<duration>', description: 'how long --wait waits (default 5m)' },
  },
  examples: [
    'npx strata produce --rate 2000/s --duration 5m --users 10000',
    'npx strata produce --events 20000 --users 500 --seed 7 --wait',
    'npx strata produce --duration 2m --drift amount=shift:0.5 --late 0.02 --corrections 0.01',
  ],
  async run(ctx) {
    const rate = parseRate(ctx.string('rate') ?? '1000/s', 'rate');
    const events =
      ctx.string('events') !== undefined
        ? ctx.number('events', 0, { min: 0, integer: true })
        : Math.round(rate * (parseDurationOption(ctx.string('duration') ?? '1m', 'duration') / 1000));
    const to = ctx.string('to') !== undefined ? parseTime(ctx.string('to')!, 'to') : Date.now();
    const from =
      ctx.string('from') !== undefined
        ? parseTime(ctx.string('from')!, 'from')
        : to - ctx.number('days', 2, { min: 0.001 }) * DAY;
    if (!(to > from)) throw new UsageError('--to must come after --from');
    if (to > Date.now() + 60_000)
      throw new UsageError('--to is in the future: the app refuses events dated ahead of their arrival');
    let drift: DriftSpec[];
    try {
      drift = ctx.strings('drift').map(parseDrift);
    } catch (e) {
      throw new UsageError(`--drift ${(e as Error).message}`);
    }
    // Loaded here, not at start-up: the repo, the Event Hubs SDK and the generator are heavy for --help.
    const { featureRepo: repo } = require('../../shared/definitions') as typeof import('../../shared/definitions');
    const { isRealEventHubConnection, LocalBusSink, PartitionedEventHubSink } =
      require('../../shared/azure/event-hub-sink') as typeof import('../../shared/azure/event-hub-sink');
    const { generateRecords } = require('../generator/events') as typeof import('../generator/events');
    const { labelTarget } = require('../produce/labels') as typeof import('../produce/labels');
    const { sendPaced } = require('../produce/sender') as typeof import('../produce/sender');
    const { waitForIngest } = require('../produce/wait') as typeof import('../produce/wait');
    const hubs = sampleHubs(repo);
    let labels: LabelTarget | undefined;
    if (!ctx.flag('no-labels')) {
      try {
        labels = labelTarget(repo, ctx.string('labels-source') ?? DEFAULT_LABEL_SOURCE);
      } catch (e) {
        throw new Failed((e as Error).message);
      }
      if (!labels && ctx.string('labels-source') !== undefined)
        throw new UsageError(`--labels-source ${ctx.string('labels-source')}: the app's repo has no such source`);
    }
    const options: GeneratorOptions = {
      seed: ctx.number('seed', 1, { integer: true }),
      ...(ctx.string('events-seed') !== undefined
        ? { eventsSeed: ctx.number('events-seed', 1, { integer: true }) }
        : {}),
      users: ctx.number('users', 1000, { min: 1, integer: true }),
      events,
      from,
      to,
      labels: labels !== undefined,
      late: ctx.string('late') !== undefined ? parseShare(ctx.string('late')!, 'late') : 0,
      corrections: ctx.string('corrections') !== undefined ? parseShare(ctx.string('corrections')!, 'corrections') : 0,
      drift,
      ...(ctx.string('drift-from') !== undefined
        ? { driftFrom: parseTime(ctx.string('drift-from')!, 'drift-from') }
        : {}),
    };

    const { eventHubConnectionFromSettings } =
      require('../../shared/azure/connections') as typeof import('../../shared/azure/connections');
    const resolved = eventHubConnectionFromSettings('EVENTHUB_CONNECTION', process.env);
    if (!resolved.ok) throw new Failed(resolved.problems.map((p) => `${p.where} ${p.problem}`).join('\n'));
    const connection = resolved.value;
    const toAzure = isRealEventHubConnection(connection);
    if (!toAzure) {
      // The local bus is the local host's: make sure --url is one before sending anything.
      const res = await ctx.api.request('GET', '/admin/host/status', { key: 'admin', accept: [401, 404] });
      if (res.status !== 200) {
        throw new Failed(
          `${ctx.api.baseUrl} is not Strata's local host (GET /admin/host/status: ${res.status}): set EVENTHUB_CONNECTION (or EVENTHUB_CONNECTION__fullyQualifiedNamespace for your Azure sign-in) to send to Event Hubs, or point --url at \`npx strata start\``,
        );
      }
      await res.arrayBuffer();
    }
    const sinkFor = (hub: string, keyField: string): EventHubSink =>
      toAzure
        ? new PartitionedEventHubSink(connection!, hub, keyField)
        : new LocalBusSink(ctx.api.baseUrl, hub, ctx.api.adminKey, 30_000, keyField);
    const sinks = new Map<string, EventHubSink>([
      [hubs.clicks, sinkFor(hubs.clicks, 'user_id')],
      [hubs.purchases, sinkFor(hubs.purchases, 'user_id')],
    ]);
    if (labels) sinks.set(labels.hub, sinkFor(labels.hub, labels.entityField));

    const counts = { event: 0, late: 0, correction: 0, label: 0 };
    const newest = new Map<string, number>();
    function* outgoing(): Generator<Outgoing> {
      for (const r of generateRecords(options)) {
        counts[r.kind]++;
        const source = r.source === 'labels' ? labels!.source : r.source;
        newest.set(source, Math.max(newest.get(source) ?? -Infinity, r.ts));
        if (r.source === 'labels') yield { hub: labels!.hub, body: labels!.toRecord(r) };
        else yield { hub: hubs[r.source], body: r.record };
      }
    }

    const target = toAzure ? 'Azure Event Hubs (EVENTHUB_CONNECTION)' : `the local bus at ${ctx.api.baseUrl}`;
    ctx.out.note(
      `producing ${events.toLocaleString('en-US')} events for ${options.users} users, ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}, at ${rate}/s to ${target}` +
        `${labels ? `; labels to ${labels.source}` : '; no label source in the repo: no labels'}`,
    );
    const progress = startProgress(ctx.out, { title: 'produce', total: events, unit: 'events' });
    const stop = new AbortController();
    const onSignal = () => {
      if (stop.signal.aborted) process.exit(1);
      progress.message('stopping: sending what is queued (Ctrl-C again to quit now)');
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    let report;
    try {
      report = await sendPaced(outgoing(), sinks, {
        rate,
        batchSize: ctx.number('batch', 500, { min: 1, max: 10_000, integer: true }),
        signal: stop.signal,
        onProgress: (sent, failed) =>
          progress.update(Math.min(sent, events), failed ? `${failed} failed` : stop.signal.aborted ? undefined : ''),
      });
    } finally {
      process.off('SIGINT', onSignal);
      progress.stop();
      await Promise.all([...sinks.values()].map((s) => s.close()));
    }
    const summary = {
      target,
      events,
      users: options.users,
      seed: options.seed,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      records: counts,
      labelSource: labels?.source ?? null,
      sent: report.sent,
      failed: report.failed,
      seconds: report.seconds,
      perSecond: report.seconds > 0 ? report.sent / report.seconds : 0,
      stopped: report.stopped,
      hubs: report.hubs,
      errors: report.errors,
      newestEvent: Object.fromEntries([...newest].map(([s, t]) => [s, new Date(t).toISOString()])),
    };
    let waited: { views: string[]; waitedMs: number } | undefined;
    if (ctx.flag('wait') && report.failed === 0) {
      waited = await waitForIngest(
        ctx.api,
        repo,
        newest,
        parseDurationOption(ctx.string('wait-timeout') ?? '5m', 'wait-timeout'),
      );
    }
    ctx.out.result({ ...summary, ...(waited ? { waited } : {}) }, () => [
      `sent ${report.sent.toLocaleString('en-US')} records in ${formatDuration(report.seconds * 1000)} (${Math.round(summary.perSecond).toLocaleString('en-US')}/s)${report.failed ? `, ${report.failed} FAILED` : ''}${report.stopped ? ' (stopped early)' : ''}`,
      `  ${counts.event + counts.late} events (${counts.late} late), ${counts.correction} corrections, ${counts.label} labels`,
      ...table(Object.entries(report.hubs), [
        { title: 'hub', value: ([h]) => h },
        { title: 'sent', value: ([, h]) => h.sent, align: 'right' },
        { title: 'failed', value: ([, h]) => h.failed, align: 'right' },
        { title: 'to', value: ([, h]) => h.target },
      ]).map((l) => `  ${l}`),
      ...report.errors.map((e) => `  error: ${e}`),
      ...(waited ? [`ingested: ${waited.views.join(', ')} caught up (waited ${formatDuration(waited.waitedMs)})`] : []),
    ]);
    return report.failed > 0 ? 1 : 0;
  },
};
