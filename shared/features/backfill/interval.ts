/**
 * One backfill interval: recompute the views of one stage for [from, to) from the offline
 * store and commit their rows, exactly once.
 *
 *   runBackfillInterval(deps, task) -> IntervalResult
 *
 * Per view:
 *  1. list its inputs: the source's own records (`src.<source>`) from `from - warmUpMs`, or
 *     each input view's rows (at the app's version) from `from - ttl` (all, without a TTL);
 *  2. the work's identity: `backfill:<view>:<version>:<from>..<to>:inputs<=<newest created_ts>`
 *     — the interval and what it reads, never the attempt. Its segment ids follow
 *     (offline/segment-id.ts); if they are committed, the interval is done: skip it;
 *  3. read the inputs as of that created_ts (rows arriving meanwhile belong to a later run),
 *     warm the window state with everything before `from` (transform.ts: the first values
 *     equal those of a pass over the whole history), compute [from, to) and write the rows
 *     as a 'job' segment whose lineage lists the input segments and parameters. A source view
 *     whose features all map onto SQL is computed instead by one DuckDB query over the source's
 *     Parquet, written without the rows passing through JS (sql-windows.ts: the same rows, bit
 *     for bit), unless the interval's data needs the JS pipeline (sql-windows.ts says when);
 *  4. record the part in the interval ledger.
 * A retried activity finds the same ids committed, or commits the same segment: never twice.
 */
import type { FeatureRow } from '../definitions/values';
import type { ResolvedView } from '../definitions/repo';
import type { SegmentInput, SegmentLineage, SegmentRecord, WriteResult } from '../offline/types';
import { fileList, withConnection } from '../offline/duckdb';
import { checkInterval, sqlWindowPlan, windowSelect } from './sql-windows';
import { eventDaysIn } from '../offline/segment-id';
import { computeView, type ViewInput } from '../compute/transform';
import { sourceSegmentView, validRecordOf } from '../ingest/service';
import { DAY_MS, type BackfillPart } from '../ledger/ledger';
import { ConflictError } from '../../errors';
import { APP_VERSION } from '../../version';
import type { BackfillDeps, IntervalResult, IntervalTask, ViewIntervalResult } from './types';

/**
 * Input segment ids listed in a segment's lineage; beyond this only the range parameters
 * (lineage travels as blob metadata, which Azure caps at 8 KB).
 */
const MAX_INPUT_REFS = 48;

export async function runBackfillInterval(deps: BackfillDeps, task: IntervalTask): Promise<IntervalResult> {
  checkVersions(deps, task);
  const parts: BackfillPart[] = [];
  const views = await Promise.all(task.views.map((name) => backfillView(deps, task, name, parts)));
  if (deps.ledger && parts.length) await deps.ledger.recordBackfill(parts, (deps.now ?? Date.now)());
  return { stage: task.stage, from: task.from, to: task.to, views };
}

interface Inputs {
  /** `<view>@<version>` of each input (a source's records: `src.<source>@<version>`). */
  views: string[];
  /** Event time the inputs are read from (undefined: all history). */
  from?: number;
  segments: SegmentRecord[];
  /** Newest created_ts of any input row: the identity of what was read. */
  asOf: number;
  listedAt: number;
  /** Read the rows, split at `from` into warm-up history and input. */
  read(asOf: number): Promise<{ history: ViewInput; input: ViewInput }>;
  /** The interval's rows as one DuckDB query, when SQL gives the JS pipeline's values; else undefined. */
  sql?(asOf: number): Promise<string | undefined>;
}

async function backfillView(
  deps: BackfillDeps,
  task: IntervalTask,
  name: string,
  parts: BackfillPart[],
): Promise<ViewIntervalResult> {
  const { repo, offline } = deps;
  const view = repo.view(name);
  const inputs = await listInputs(deps, view, task);
  const key = `backfill:${name}:${view.version}:${iso(task.from)}..${iso(task.to)}:inputs<=${inputs.asOf}`;
  const refs = inputs.segments.map((s) => s.segmentId);
  const input: SegmentInput = { kind: 'job', key, ...(refs.length <= MAX_INPUT_REFS ? { inputs: refs } : {}) };
  const days = eventDaysIn(task.from, task.to);
  const record = (rowsByDay: ReadonlyMap<string, number>) => {
    for (const day of days) {
      const start = Date.parse(`${day}T00:00:00.000Z`);
      parts.push({
        view: name,
        version: view.version,
        day,
        from: Math.max(task.from, start),
        to: Math.min(task.to, start + DAY_MS),
        dayEnd: Math.min(start + DAY_MS, task.cap),
        closesAt: start + DAY_MS + view.latenessMs,
        rows: rowsByDay.get(day) ?? 0,
        inputsListedAt: inputs.listedAt,
        jobId: task.jobId,
      });
    }
  };
  const result = (
    status: ViewIntervalResult['status'],
    rowsByDay: ReadonlyMap<string, number>,
    segments: string[],
    problems: string[] = [],
  ): ViewIntervalResult => {
    record(rowsByDay);
    return { view: name, status, rows: [...rowsByDay.values()].reduce((a, b) => a + b, 0), segments, problems };
  };

  if (!inputs.segments.length) return result('empty', new Map(), []);
  const found = await offline.committedSegments(name, view.version, input, days);
  if (found.size === days.length)
    return result(
      'already-committed',
      new Map([...found.values()].map((s) => [s.day, s.rowCount])),
      [...found.values()].map((s) => s.segmentId),
    );

  const lineage: SegmentLineage = {
    input,
    jobId: task.jobId,
    params: {
      job: 'backfill',
      interval_from: iso(task.from),
      interval_to: iso(task.to),
      input_views: inputs.views.join(','),
      inputs_from: inputs.from === undefined ? 'all' : iso(inputs.from),
      inputs_asof: inputs.asOf,
      input_segments: inputs.segments.length,
      ...(refs.length > MAX_INPUT_REFS ? { inputs_truncated: true } : {}),
      definition_version: view.version,
      code_version: APP_VERSION,
    },
  };
  const spec = { view: name, version: view.version, columns: view.columns, lineage };

  // Set-at-a-time in DuckDB where the definitions and the data allow (sql-windows.ts): the same rows.
  const sql = inputs.sql ? await inputs.sql(inputs.asOf) : undefined;
  if (sql) {
    const written = await offline.writeQuery(spec, sql);
    if (!written.segments.length) return { ...result('empty', new Map(), []), computedBy: 'duckdb' };
    return { ...committed(written), computedBy: 'duckdb' };
  }

  const { history, input: current } = await inputs.read(inputs.asOf);
  const computed = computeView(repo, name, current, { from: task.from, to: task.to - 1, history });
  const rows = computed.rows.filter((r) => r.eventTs >= task.from);
  const problems = computed.problems
    .slice(0, 20)
    .map((p) => `${p.entityId}@${iso(p.eventTs)}${p.feature ? ` ${p.feature}` : ''}: ${p.message}`);
  if (!rows.length) return { ...result('empty', new Map(), [], problems), computedBy: 'js' };
  return { ...committed(await offline.writeRows(spec, rows), problems), computedBy: 'js' };

  function committed(written: WriteResult, problems: string[] = []): ViewIntervalResult {
    const byDay = new Map(written.segments.map((s) => [s.day, s.rowCount]));
    return result(
      written.rowsCommitted > 0 ? 'committed' : 'already-committed',
      byDay,
      written.segments.map((s) => s.segmentId),
      problems,
    );
  }
}

async function listInputs(deps: BackfillDeps, view: ResolvedView, task: IntervalTask): Promise<Inputs> {
  const { repo, offline } = deps;
  if (view.input.kind === 'source') {
    const source = repo.source(view.input.source);
    const srcView = sourceSegmentView(source.name);
    const from = task.from - view.warmUpMs!;
    const segments = await offline.listSegments(srcView, { version: source.version, from, to: task.to });
    const plan = sqlWindowPlan(repo, view);
    return {
      views: [`${srcView}@${source.version}`],
      from,
      segments,
      asOf: newestCreated(segments),
      listedAt: (deps.now ?? Date.now)(),
      async read(asOf) {
        const records = (await offline.readRows(srcView, { version: source.version, from, to: task.to, asOf })).map(
          (r) => validRecordOf(source, r),
        );
        return {
          history: records.filter((r) => r.eventTs < task.from),
          input: records.filter((r) => r.eventTs >= task.from),
        };
      },
      ...(plan && {
        async sql(asOf: number) {
          const { files } = await offline.localFiles(srcView, {
            version: source.version,
            from,
            to: task.to,
            arrivedBy: asOf,
          });
          if (!files.length) return undefined;
          const range = {
            from: `read_parquet(${fileList(files)}, union_by_name = true)`,
            start: task.from,
            to: task.to,
            asOf,
          };
          const check = await withConnection((c) => checkInterval(c, plan, range));
          return check.fallback === null ? windowSelect(plan, range, check) : undefined;
        },
      }),
    };
  }
  const inputViews = view.input.views.map((n) => repo.view(n));
  const lists = await Promise.all(
    inputViews.map((iv) =>
      offline.listSegments(iv.name, {
        version: iv.version,
        to: task.to,
        ...(iv.ttlMs !== undefined ? { from: task.from - iv.ttlMs } : {}),
      }),
    ),
  );
  const segments = lists.flat();
  const lookbacks = inputViews.map((iv) => (iv.ttlMs === undefined ? undefined : task.from - iv.ttlMs));
  return {
    views: inputViews.map((iv) => `${iv.name}@${iv.version}`),
    ...(lookbacks.every((x) => x !== undefined) ? { from: Math.min(...(lookbacks as number[])) } : {}),
    segments,
    asOf: newestCreated(segments),
    listedAt: (deps.now ?? Date.now)(),
    async read(asOf) {
      const history: Record<string, FeatureRow[]> = {};
      const input: Record<string, FeatureRow[]> = {};
      await Promise.all(
        inputViews.map(async (iv) => {
          // Before `from` only each entity's row in force then counts (a derived value reads the
          // latest row of each input): DuckDB picks it instead of the whole TTL coming into JS.
          [history[iv.name], input[iv.name]] = await Promise.all([
            offline.readRows(iv.name, {
              version: iv.version,
              to: task.from,
              asOf,
              ...(iv.ttlMs !== undefined ? { from: task.from - iv.ttlMs } : {}),
              newestPerEntity: true,
            }),
            offline.readRows(iv.name, { version: iv.version, from: task.from, to: task.to, asOf }),
          ]);
        }),
      );
      return { history, input };
    },
  };
}

function checkVersions(deps: BackfillDeps, task: IntervalTask): void {
  const changed = task.views.filter((v) => deps.repo.views.get(v)?.version !== task.versions[v]);
  if (changed.length) {
    throw new ConflictError(
      `backfill ${task.jobId}: the definitions of ${changed.join(', ')} changed since it was planned (the app was redeployed); start the backfill again to compute the new versions`,
    );
  }
}

function newestCreated(segments: readonly SegmentRecord[]): number {
  return segments.reduce((m, s) => Math.max(m, s.maxCreatedTs), 0);
}

const iso = (ms: number) => new Date(ms).toISOString();
