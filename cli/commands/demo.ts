/**
 * `strata demo` (`npm run demo`): the whole loop on the local host, narrated step by step with
 * timings: produce events -> features online and offline -> train (a training set, a fit, a
 * registered production version) -> a second trainer as a canary -> traffic through predict ->
 * injected drift -> a monitoring window -> an alert whose action retrains -> promote -> a
 * summary table, and the dashboard left up.
 *
 * Every step is a `strata` command a user could type (each runs as its own process with --json,
 * printed before it runs), or one documented API call; nothing here reaches into the app, so the
 * demo is also a check that the CLI and the API tell the whole story. With no app answering at
 * --url it starts the local host itself (as `npm start` would) and keeps it up at the end until
 * Ctrl-C, so the dashboard link it prints keeps working.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ApiClient } from '../core/client';
import type { CommandContext, CommandSpec } from '../core/command';
import { Failed } from '../core/errors';
import { formatDuration, table } from '../core/output';
import { startProgress } from '../core/progress';
import { watchJob } from '../core/watch';

const MODEL = 'churn';
const DRIFT_RULE = 'demo-drift-retrain';

interface Sizes {
  users: number;
  events: number;
  driftEvents: number;
  requests: number;
  trees: number;
}
const FULL: Sizes = { users: 2000, events: 60_000, driftEvents: 20_000, requests: 2000, trees: 60 };
const QUICK: Sizes = { users: 800, events: 16_000, driftEvents: 6000, requests: 400, trees: 20 };

interface Job {
  id: string;
  status: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';
  step: string | null;
  version: number | null;
  gate: { action: string; reason: string } | null;
  metrics: { candidate?: Record<string, number> } | null;
  error: string | null;
}
interface Started {
  jobId: string;
  status: 'started' | 'joined' | 'skipped';
  skipped?: string;
}
interface Prediction {
  modelVersion: number;
  prediction: unknown;
}
interface Alert {
  ruleId: string;
  subject: string;
  model?: string;
  status: string;
  severity: string;
  message: string;
}
interface FeatureDrift {
  feature: string;
  status: 'drift' | 'no_drift' | 'insufficient_data';
}

/** One step of the narration: its number, title and how long it took. */
class Narrator {
  private readonly timings: Array<{ step: string; ms: number }> = [];
  private n = 0;
  constructor(
    private readonly ctx: CommandContext,
    private readonly total: number,
  ) {}

  async step<T>(title: string, work: () => Promise<T>): Promise<T> {
    this.n++;
    this.ctx.out.note(`\n[${this.n}/${this.total}] ${title}`);
    const t0 = Date.now();
    const r = await work();
    const ms = Date.now() - t0;
    this.timings.push({ step: title, ms });
    this.ctx.out.note(`      done in ${formatDuration(ms)}`);
    return r;
  }

  say(line: string): void {
    this.ctx.out.note(`      ${line}`);
  }

  get steps(): ReadonlyArray<{ step: string; ms: number }> {
    return this.timings;
  }
}

/** Runs `strata <args> --json` as its own process against the same app; resolves with its JSON. */
function strata(ctx: CommandContext, narrator: Narrator, args: string[]): Promise<unknown> {
  const main = path.resolve(__dirname, '..', 'main.js');
  narrator.say(`$ npx strata ${args.join(' ')}`);
  const env = {
    ...process.env,
    STRATA_URL: ctx.api.baseUrl,
    STRATA_ADMIN_KEY: ctx.api.adminKey,
    STRATA_FUNCTION_KEY: ctx.api.functionKey,
  };
  return new Promise((resolve, reject) => {
    // main.js runs the CLI when it is the process's entry (as bin/strata.js does).
    const child = spawn(process.execPath, [main, ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let value: unknown;
      try {
        value = JSON.parse(out);
      } catch {
        value = undefined;
      }
      if (code !== 0)
        reject(new Failed(`strata ${args[0]} exited with ${code}: ${JSON.stringify(value ?? out.slice(0, 500))}`));
      else resolve(value);
    });
  });
}

/** Starts (or joins) a train job and waits for its end; a failed job fails the demo. */
async function train(ctx: CommandContext, narrator: Narrator, body: Record<string, unknown>): Promise<Job> {
  narrator.say(`POST /api/jobs/train ${JSON.stringify(body)}`);
  const started = await ctx.api.json<Started>('POST', '/api/jobs/train', { key: 'admin', json: body });
  if (started.status === 'skipped') throw new Failed(`train job skipped: ${started.skipped}`);
  narrator.say(`job ${started.jobId} ${started.status}`);
  return waitForJob(ctx, narrator, started.jobId);
}

/** Follows a job with the CLI's one watch loop (cli/core/watch.ts) and its progress line. */
async function waitForJob(ctx: CommandContext, narrator: Narrator, id: string): Promise<Job> {
  const progress = startProgress(ctx.out, { title: `job ${id}`, total: 0, unit: 'steps' });
  let job: Job;
  try {
    job = await watchJob({
      read: () => ctx.api.json<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`),
      finished: (j) => j.status === 'COMPLETED' || j.status === 'FAILED',
      onStatus: (j) => progress.message(`${j.status.toLowerCase()}${j.step ? `: ${j.step}` : ''}`),
      progress,
      pollMs: 1000,
    });
  } finally {
    progress.stop();
  }
  if (job.status === 'FAILED') throw new Failed(`train job ${id} failed: ${job.error}`);
  narrator.say(
    `v${job.version}: AUC ${fmt(job.metrics?.candidate?.auc)}; gate ${job.gate?.action}: ${job.gate?.reason}`,
  );
  return job;
}

/**
 * `requests` predictions over the users, 8 at a time; latency per version as the client saw it.
 * A user with no features online yet (422: the signature requires them) is counted, not fatal.
 */
async function traffic(
  api: ApiClient,
  users: number,
  requests: number,
  seed: number,
): Promise<{ latencies: Map<number, number[]>; refused: number }> {
  const latencies = new Map<number, number[]>();
  let next = 0;
  let refused = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      const entityId = userId(((i * 7919 + seed) % users) + 1);
      const t0 = performance.now();
      const res = await api.request('POST', `/api/predict/${MODEL}`, { json: { entityId }, accept: [422] });
      const ms = performance.now() - t0;
      const p = (await res.json()) as Prediction;
      if (res.status === 422) {
        refused++;
        continue;
      }
      const list = latencies.get(p.modelVersion) ?? [];
      list.push(ms);
      latencies.set(p.modelVersion, list);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { latencies, refused };
}

const DAY = 86_400_000;
/**
 * The labels from a full day into the produced history up to this moment. Labels arrive at each
 * UTC midnight for the users seen so far; a midnight in the history's first day holds only the
 * users active in its first hours, with their 24 h windows partly filled, so mixed with later
 * midnights it teaches the model that small counts mean fewer churners (how many such hours
 * there are depends on the time of day the demo runs). Not `{last: ...}`: that window ends on
 * the hour, and the sample reads features as known at the window's end, so history produced
 * since the hour would not be known to it yet.
 */
const labelWindow = (historyFrom: number) => ({
  from: new Date(historyFrom + DAY).toISOString(),
  to: new Date().toISOString(),
});
const userId = (n: number) => `u${String(n).padStart(6, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: unknown) => (typeof x === 'number' ? x.toFixed(4) : '-');
function p95(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? NaN;
}
function merge(into: Map<number, number[]>, from: Map<number, number[]>): void {
  for (const [v, xs] of from) into.set(v, [...(into.get(v) ?? []), ...xs]);
}

/** The app at --url, or a local host started here when nothing answers there. */
async function ensureApp(ctx: CommandContext): Promise<ChildProcess | undefined> {
  const up = async () => {
    try {
      const r = await ctx.api.request('GET', '/api/health', { key: 'none', accept: [401, 503], timeoutMs: 5000 });
      await r.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  };
  if (await up()) return undefined;
  const port = new URL(ctx.api.baseUrl).port || '7071';
  ctx.out.note(`no app answers at ${ctx.api.baseUrl}: starting the local host (npm start) on port ${port}`);
  // The host's log goes to stderr with the narration: stdout is the demo's result (--json).
  const host = spawn(
    process.execPath,
    [path.resolve(__dirname, '..', '..', 'local', 'cli.js'), 'start', '--port', port],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  host.stdout!.pipe(process.stderr);
  const deadline = Date.now() + 180_000;
  while (!(await up())) {
    if (host.exitCode !== null) throw new Failed(`the local host exited with ${host.exitCode} before it answered`);
    if (Date.now() > deadline) throw new Failed(`the local host did not answer GET /api/health within 180 s`);
    await sleep(500);
  }
  return host;
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary:
    'the whole loop on the local host, narrated: events, features, train, canary, traffic, drift, alert, retrain, promote',
  description: [
    'Runs against the app at --url (default the local host); starts the local host itself when nothing answers',
    'there, and keeps it up at the end (Ctrl-C stops it) so the dashboard link keeps working. --quick runs a',
    'smaller loop (the CI smoke test); --exit ends when the summary is printed. Exit 1 when a step fails.',
  ].join('\n'),
  options: {
    quick: { type: 'boolean', description: 'fewer users, events, trees and requests (about a third of the time)' },
    exit: { type: 'boolean', description: 'end after the summary instead of keeping the local host up' },
  },
  examples: ['npm run demo', 'npx strata demo --quick --exit --json'],
  async run(ctx) {
    const sizes = ctx.flag('quick') ? QUICK : FULL;
    const started = Date.now();
    const host = await ensureApp(ctx);
    const api = ctx.api;
    const narrator = new Narrator(ctx, 10);
    try {
      await narrator.step('The app and its definitions', () => strata(ctx, narrator, ['apply']));
      const historyTo = Date.now();
      const historyFrom = historyTo - 3 * DAY;
      const produced = (await narrator.step(
        `Produce ${sizes.events.toLocaleString('en-US')} events and churn labels for ${sizes.users} users over 3 days`,
        () =>
          strata(ctx, narrator, [
            'produce',
            '--events',
            String(sizes.events),
            '--users',
            String(sizes.users),
            '--from',
            new Date(historyFrom).toISOString(),
            '--to',
            new Date(historyTo).toISOString(),
            '--rate',
            '50000/s',
            '--seed',
            '7',
            '--wait',
          ]),
      )) as { sent: number; records: { label: number } };
      const online = (await narrator.step(
        'Features online (Redis or the embedded store) and offline (Parquet)',
        async () => {
          const f = (await strata(ctx, narrator, ['features', userId(1), '--service', 'churn_v1'])) as {
            entities: Array<{ features: Record<string, unknown> }>;
          };
          const features = f.entities[0]?.features ?? {};
          const names = Object.keys(features);
          narrator.say(
            `${names.length} features of ${userId(1)}: ${names
              .slice(0, 3)
              .map((n) => `${n} = ${JSON.stringify(features[n])}`)
              .join(', ')}, ...`,
          );
          return names.length;
        },
      )) as number;

      const v1 = await narrator.step(
        'Train: a point-in-time training set from the labels, a logistic regression, evaluated and registered (the first version is production)',
        () =>
          train(ctx, narrator, {
            model: MODEL,
            trainer: 'logistic',
            window: labelWindow(historyFrom),
            gate: { policy: 'promote', metric: 'auc' },
          }),
      );
      const v2 = await narrator.step(
        'Train a second trainer (gradient-boosted trees), staged by its gate, then a 30% canary beside production',
        async () => {
          const job = await train(ctx, narrator, {
            model: MODEL,
            trainer: 'gbdt',
            params: { trees: sizes.trees },
            window: labelWindow(historyFrom),
            gate: { policy: 'register', metric: 'auc' },
          });
          // A canary by hand (the gate's `canary` policy does this only for a version that beats
          // production): live traffic then compares the two versions.
          await strata(ctx, narrator, ['models', 'alias', MODEL, 'canary', String(job.version)]);
          await strata(ctx, narrator, ['models', 'traffic', MODEL, '--canary', '30']);
          return job;
        },
      );

      const latencies = await narrator.step(
        `Traffic: ${sizes.requests} predictions by user id through POST /api/predict/${MODEL}`,
        async () => {
          const { latencies: l, refused } = await traffic(api, sizes.users, sizes.requests, 1);
          for (const [v, xs] of l) narrator.say(`v${v}: ${xs.length} requests, p95 ${p95(xs).toFixed(1)} ms`);
          if (refused)
            narrator.say(
              `${refused} refused with 422: users with no features online (no events in the views' windows)`,
            );
          return l;
        },
      );

      await narrator.step(
        'Inject drift: purchases amounts shifted by 1 standard deviation in the last hour, more traffic',
        async () => {
          await api.json('POST', '/api/alerts/rules', {
            key: 'admin',
            json: {
              id: DRIFT_RULE,
              model: MODEL,
              metric: 'drift_detected',
              comparison: '>=',
              threshold: 1,
              severity: 'warning',
              action: 'retrain',
              cooldown: '1m',
              description: 'demo: any drifted feature retrains the model',
            },
          });
          narrator.say(`alert rule ${DRIFT_RULE}: drift_detected >= 1 -> retrain`);
          const now = Date.now();
          await strata(ctx, narrator, [
            'produce',
            '--events',
            String(sizes.driftEvents),
            '--users',
            String(sizes.users),
            '--from',
            new Date(now - 3_600_000).toISOString(),
            '--to',
            new Date(now).toISOString(),
            '--rate',
            '50000/s',
            // The same users (their traits and labels come from --seed), new events of them.
            '--seed',
            '7',
            '--events-seed',
            '8',
            '--drift',
            'amount=shift:1',
            '--drift',
            'purchases=scale:3',
            '--wait',
          ]);
          const more = await traffic(api, sizes.users, sizes.requests * 2, 2);
          merge(latencies, more.latencies);
          narrator.say(`${sizes.requests * 2 - more.refused} more predictions on the drifted features`);
        },
      );

      const monitoring = await narrator.step(
        'Monitoring: close the window of these predictions against the training baseline',
        async () => {
          // The current window ends later; the run's clock `at` a window ahead closes it now (as the timer will).
          const report = await api.json<{ windows: Array<{ version: number; outcome: string }> }>(
            'POST',
            '/api/monitoring/run',
            { key: 'admin', json: { at: new Date(Date.now() + 3_600_000).toISOString(), settle: 0 } },
          );
          const drift = await api.json<{
            windows: Array<{ version: number; drift?: { features: FeatureDrift[]; prediction?: FeatureDrift } }>;
          }>('GET', `/api/models/${MODEL}/drift`);
          const drifted = new Set<string>();
          for (const w of drift.windows) {
            for (const f of w.drift?.features ?? []) if (f.status === 'drift') drifted.add(f.feature);
            if (w.drift?.prediction?.status === 'drift') drifted.add('prediction');
          }
          narrator.say(
            `windows: ${report.windows.map((w) => `v${w.version} ${w.outcome}`).join(', ') || 'none'}; drifted: ${[...drifted].join(', ') || 'none'}`,
          );
          return { drifted: [...drifted] };
        },
      );

      const retrained = await narrator.step(
        'Alert -> retrain: the open alert started a train job on the new data',
        async () => {
          const { alerts } = await api.json<{ alerts: Alert[] }>('GET', '/api/alerts', { query: { state: 'open' } });
          const mine = alerts.filter((a) => a.ruleId === DRIFT_RULE);
          if (!mine.length)
            throw new Failed(
              `no open ${DRIFT_RULE} alert (open alerts: ${alerts.map((a) => a.ruleId).join(', ') || 'none'})`,
            );
          for (const a of mine) narrator.say(`alert (${a.severity}): ${a.message}`);
          const job = await newestTrainJob(ctx, narrator, [v1.id, v2.id]);
          return { alerts: mine.length, job };
        },
      );

      const promoted = await narrator.step(
        `Promote the retrained version v${retrained.job.version} if its gate canaried it`,
        async () => {
          if (retrained.job.gate?.action !== 'canary') {
            narrator.say(
              `not promoted: the gate ${retrained.job.gate?.action ?? 'decided nothing'} (${retrained.job.gate?.reason ?? ''})`,
            );
            return false;
          }
          await strata(ctx, narrator, ['models', 'promote', MODEL]);
          return true;
        },
      );

      const runs = await api.json<{
        runs: Array<{
          id: string;
          version: number | null;
          params?: { trainer?: string };
          metrics?: { candidate?: { auc?: number } };
          gate?: { action: string } | null;
          reason?: string;
        }>;
      }>('GET', '/api/runs', { query: { model: MODEL } });
      const { model: state } = await api.json<{ model: { aliases: Record<string, number> } }>(
        'GET',
        `/api/models/${MODEL}`,
        { key: 'admin' },
      );
      const summary = {
        seconds: (Date.now() - started) / 1000,
        events: produced.sent,
        labels: produced.records.label,
        featuresOnline: online,
        versions: runs.runs
          .filter((r) => r.version !== null)
          .map((r) => ({
            version: r.version!,
            run: r.id,
            trainer: r.params?.trainer ?? null,
            auc: r.metrics?.candidate?.auc ?? null,
            gate: r.gate?.action ?? null,
            p95Ms: latencies.has(r.version!) ? Number(p95(latencies.get(r.version!)!).toFixed(2)) : null,
            requests: latencies.get(r.version!)?.length ?? 0,
          }))
          .sort((a, b) => a.version - b.version),
        aliases: state.aliases,
        drifted: monitoring.drifted,
        alerts: retrained.alerts,
        retrainJob: { id: retrained.job.id, version: retrained.job.version, gate: retrained.job.gate, promoted },
        steps: narrator.steps,
        dashboard: `${api.baseUrl}/api/dashboard/?code=${encodeURIComponent(api.functionKey)}`,
      };
      ctx.out.result(summary, () => [
        '',
        `Strata demo: the whole loop in ${formatDuration(summary.seconds * 1000)}`,
        `  ${summary.events.toLocaleString('en-US')} events and labels sent, ${summary.featuresOnline} features online per user`,
        ...table(summary.versions, [
          { title: 'version', value: (v) => `v${v.version}`, align: 'right' },
          { title: 'trainer', value: (v) => v.trainer ?? '' },
          { title: 'AUC', value: (v) => fmt(v.auc), align: 'right' },
          { title: 'gate', value: (v) => v.gate ?? '' },
          { title: 'requests', value: (v) => v.requests, align: 'right' },
          { title: 'p95 ms', value: (v) => (v.p95Ms === null ? '' : v.p95Ms.toFixed(1)), align: 'right' },
          {
            title: 'aliases',
            value: (v) =>
              Object.entries(summary.aliases)
                .filter(([, n]) => n === v.version)
                .map(([a]) => a)
                .join(', '),
          },
        ]).map((l) => `  ${l}`),
        `  drift detected in: ${summary.drifted.join(', ') || 'nothing'}; ${summary.alerts} alert(s) opened; retrain job ${summary.retrainJob.id} -> v${summary.retrainJob.version} (${promoted ? 'promoted to production' : `gate: ${summary.retrainJob.gate?.action}`})`,
        ...table(summary.steps, [
          { title: 'step', value: (s) => s.step.split(':')[0]!.slice(0, 70) },
          { title: 'took', value: (s) => formatDuration(s.ms), align: 'right' },
        ]).map((l) => `  ${l}`),
        '',
        `Dashboard: ${summary.dashboard}`,
      ]);
      if (host && !ctx.flag('exit')) {
        ctx.out.note('\nThe local host stays up for the dashboard; Ctrl-C stops it.');
        await new Promise<void>((resolve) => host.once('exit', () => resolve()));
      }
      return 0;
    } finally {
      if (host && host.exitCode === null && ctx.flag('exit')) {
        host.kill('SIGINT');
        await new Promise<void>((resolve) => host.once('exit', () => resolve()));
      }
    }
  },
};

/** The newest train job of the model other than the ones the demo started itself (the alert's). */
async function newestTrainJob(ctx: CommandContext, narrator: Narrator, mine: string[]): Promise<Job> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { jobs } = await ctx.api.json<{ jobs: Array<{ id: string; kind?: string; createdAt?: string }> }>(
      'GET',
      '/api/jobs',
      { query: { model: MODEL, kind: 'train' } },
    );
    const other = jobs.find((j) => !mine.includes(j.id));
    if (other) return waitForJob(ctx, narrator, other.id);
    if (Date.now() > deadline) throw new Failed('the alert started no train job within 60 s');
    await sleep(1000);
  }
}
