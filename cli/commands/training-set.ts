/**
 * `strata training-set`: build a point-in-time training set from a spine file and a feature
 * service (POST /api/training-sets; a large spine runs as a job there, which this follows to
 * its end) and download it (Parquet or CSV, in ranges with progress);
 * `strata training-set get <id>`: the record of a set built before, and its data with --out.
 */
import path from 'node:path';
import type { CommandContext, CommandSpec } from '../core/command';
import { Failed, UsageError } from '../core/errors';
import { formatBytes, table } from '../core/output';
import { parseTime } from '../core/values';

interface TrainingSet {
  id: string;
  rowCount: number;
  columnCount: number;
  columns: Array<{ name: string; type: string }>;
  views: Array<{ view: string; version: string; features: string[] }>;
  knownAt: string;
  asOf: number | null;
  builtAt: number;
}

/** The 202 of a set built as a Durable job (a spine above STRATA_TRAINING_SET_ASYNC_ROWS rows). */
interface TrainingSetJob {
  jobId: string;
  statusQueryGetUri: string;
  spineRows?: number;
}

interface JobStatus {
  runtimeStatus: string;
  output: unknown;
  customStatus: { phase?: string; status?: number; error?: string } | null;
}

const JOB_POLL_MS = 1000;

/** Follow the job's status link (it carries its key) until it ends; the set's record, or a failure saying why. */
async function followJob(ctx: CommandContext, job: TrainingSetJob): Promise<TrainingSet> {
  ctx.out.note(
    `training set job ${job.jobId} started${job.spineRows !== undefined ? ` (${job.spineRows} spine rows)` : ''}; waiting for it`,
  );
  // The link's path and query on this CLI's base URL (the app may sit behind another name).
  const link = new URL(job.statusQueryGetUri);
  const query = Object.fromEntries(link.searchParams);
  for (;;) {
    const s = await ctx.api.json<JobStatus>('GET', link.pathname, { key: 'none', query, accept: [202] });
    if (s.runtimeStatus === 'Completed') return s.output as TrainingSet;
    if (['Failed', 'Terminated', 'Canceled'].includes(s.runtimeStatus)) {
      const why = s.customStatus?.error
        ? `${s.customStatus.status ?? ''} ${s.customStatus.error}`.trim()
        : typeof s.output === 'string'
          ? s.output
          : JSON.stringify(s.output);
      throw new Failed(`training set job ${job.jobId} ended ${s.runtimeStatus}: ${why}`);
    }
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
  }
}

function formatFor(ctx: CommandContext, out: string | undefined): 'parquet' | 'csv' | undefined {
  const asked = ctx.string('format');
  if (asked !== undefined && asked !== 'parquet' && asked !== 'csv')
    throw new UsageError(`--format must be parquet or csv, got "${asked}"`);
  if (out === undefined) return undefined;
  const ext = path.extname(out).toLowerCase().slice(1);
  const fromName = ext === 'parquet' || ext === 'csv' ? ext : undefined;
  if (asked && fromName && asked !== fromName)
    throw new UsageError(`--out ${out} ends in .${fromName} but --format is ${asked}`);
  const format = (asked ?? fromName) as 'parquet' | 'csv' | undefined;
  if (!format)
    throw new UsageError(`cannot tell the format of --out ${out}: name it .parquet or .csv, or pass --format`);
  return format;
}

function describe(set: TrainingSet): string[] {
  return [
    `training set ${set.id}: ${set.rowCount} rows x ${set.columnCount} columns (known at: ${set.knownAt}${set.asOf !== null ? `, as of ${new Date(set.asOf).toISOString()}` : ''})`,
    ...table(set.views, [
      { title: 'view', value: (v) => v.view },
      { title: 'version', value: (v) => v.version.slice(0, 12) },
      { title: 'features', value: (v) => v.features.join(', ') },
    ]).map((l) => `  ${l}`),
  ];
}

async function download(
  ctx: CommandContext,
  set: TrainingSet,
  out: string | undefined,
  format: 'parquet' | 'csv' | undefined,
) {
  if (out === undefined || format === undefined) return undefined;
  const { downloadTrainingSet } = require('../core/download') as typeof import('../core/download');
  const { bytes } = await downloadTrainingSet(ctx.api, ctx.out, set.id, format, out);
  return { path: out, format, bytes };
}

const outputOptions = {
  out: { type: 'string', value: '<file.parquet|file.csv>', description: 'download the data to this file' },
  format: { type: 'string', value: '<parquet|csv>', description: 'the format of --out (default: from its name)' },
} as const;

const build: CommandSpec = {
  name: 'build',
  summary: 'build a point-in-time training set from a spine file and a feature service',
  description:
    "Each spine row (entity_id, ts[, label]) gets each feature's latest value with event time <= ts that had\n" +
    "arrived by ts, within the view's TTL. The same request builds the same set (same id).",
  options: {
    service: { type: 'string', value: '<service>', description: 'the feature service whose features to attach' },
    features: { type: 'string', value: '<view:feature,...>', description: 'or a list of features' },
    spine: {
      type: 'string',
      value: '<file>',
      description: 'CSV, JSONL or Parquet with entity_id, ts[, label] (required)',
    },
    from: { type: 'string', value: '<time>', description: 'only spine rows at or after this time' },
    to: { type: 'string', value: '<time>', description: 'only spine rows before this time' },
    'as-of': {
      type: 'string',
      value: '<time>',
      description: 'count only values that had arrived by this time (rebuild a set as it was then)',
    },
    id: { type: 'string', value: '<id>', description: 'name the set (default: a hash of the request)' },
    'full-feature-names': { type: 'boolean', description: 'name columns <view>__<feature>' },
    ...outputOptions,
  },
  examples: [
    'npx strata training-set --service churn_v1 --spine examples/spine.csv --out churn-train.parquet',
    'npx strata training-set --service churn_v1 --spine examples/spine.csv --from 2026-11-05 --to 2026-11-09 --out churn.csv',
  ],
  async run(ctx) {
    const service = ctx.string('service');
    const features = ctx.string('features');
    if ((service === undefined) === (features === undefined))
      throw new UsageError('give either --service or --features');
    const spineFile = ctx.required('spine');
    const out = ctx.string('out');
    const format = formatFor(ctx, out);
    const range = {
      ...(ctx.string('from') !== undefined ? { from: parseTime(ctx.string('from')!, 'from') } : {}),
      ...(ctx.string('to') !== undefined ? { to: parseTime(ctx.string('to')!, 'to') } : {}),
    };
    const { readSpine } = require('../core/spine') as typeof import('../core/spine'); // DuckDB: loaded only when a spine is read
    const rows = await readSpine(spineFile, range);
    if (!rows.length)
      throw new UsageError(
        `--spine ${spineFile} has no rows${range.from !== undefined || range.to !== undefined ? ' in --from/--to' : ''}`,
      );
    const asOf = ctx.string('as-of');
    const answer = await ctx.api.json<TrainingSet | TrainingSetJob>('POST', '/api/training-sets', {
      json: {
        spine: { rows },
        ...(service !== undefined ? { featureService: service } : { features: ctx.list('features')! }),
        ...(asOf !== undefined ? { asOf: new Date(parseTime(asOf, 'as-of')).toISOString() } : {}),
        ...(ctx.string('id') !== undefined ? { id: ctx.string('id') } : {}),
        ...(ctx.flag('full-feature-names') ? { fullFeatureNames: true } : {}),
      },
      timeoutMs: 30 * 60_000,
    });
    const set = 'statusQueryGetUri' in answer ? await followJob(ctx, answer) : answer;
    const file = await download(ctx, set, out, format);
    ctx.out.result({ ...set, ...(file ? { file } : {}) }, () => [
      ...describe(set),
      ...(file ? [`wrote ${file.path} (${file.format}, ${formatBytes(file.bytes)})`] : []),
    ]);
  },
};

const get: CommandSpec = {
  name: 'get',
  summary: 'the record of a training set built before, and its data with --out',
  positionals: [{ name: 'id', required: true }],
  options: { ...outputOptions },
  examples: ['npx strata training-set get 3f2a9c... --out churn.csv'],
  async run(ctx) {
    const id = ctx.positionals[0]!;
    const out = ctx.string('out');
    const format = formatFor(ctx, out);
    const set = await ctx.api.json<TrainingSet>('GET', `/api/training-sets/${encodeURIComponent(id)}`);
    const file = await download(ctx, set, out, format);
    ctx.out.result({ ...set, ...(file ? { file } : {}) }, () => [
      ...describe(set),
      ...(file ? [`wrote ${file.path} (${file.format}, ${formatBytes(file.bytes)})`] : []),
    ]);
  },
};

export const trainingSetCommand: CommandSpec = {
  name: 'training-set',
  summary: 'build a point-in-time training set and download it (Parquet or CSV); get one built before',
  subcommands: [build, get],
};
