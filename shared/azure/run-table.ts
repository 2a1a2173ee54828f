/**
 * The RunStore of training/runs.ts on Azure Table storage (table `strataTrainingRuns`): one row per run, partition =
 * model, row key = run id; the run's JSON split over string properties of at most 30,000
 * characters (large-property.ts; a property holds 64 KiB, UTF-16), beside plain `status` and `createdAt` columns
 * that list queries filter on. Trigger state rows live in partition `~trigger`. Updates are
 * read-modify-write under the row's ETag, retried on a conflict, so the fit's progress and a
 * step's record never overwrite each other (concurrency/retry-on-conflict.ts).
 */
import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { Storage } from './storage';
import { statusOf } from './status';
import { LOST_RACE, retryOnConflict } from '../concurrency/retry-on-conflict';
import { packJson, unpackJson, type PropertyLayout } from './large-property';
import { DependencyError, NotFoundError } from '../errors';
import type { RunQuery, RunStore, TrainingRun, TriggerState } from '../training/runs';

export const RUNS_TABLE = 'strataTrainingRuns';
const TRIGGER_PK = '~trigger';
const MAX_PARTS = 30;
const MAX_ATTEMPTS = 11;
/** The run's JSON as the rows have always held it: `parts` and `j0`, `j1`, ... */
const LAYOUT: PropertyLayout = { count: 'parts', part: (i) => `j${i}` };

type Row = Record<string, unknown>;

function encode(run: TrainingRun): Row & { partitionKey: string; rowKey: string } {
  const body = packJson(run, LAYOUT);
  if (Number(body.parts) > MAX_PARTS)
    throw new Error(
      `run ${run.id} is ${JSON.stringify(run).length} characters of JSON; at most ${MAX_PARTS * 30_000} fit a row`,
    );
  return { partitionKey: run.model, rowKey: run.id, status: run.status, createdAt: run.createdAt, ...body };
}

const decode = (row: Row): TrainingRun => unpackJson(row, LAYOUT) as TrainingRun;

export class TableRunStore implements RunStore {
  constructor(
    private readonly storage: Storage,
    private readonly tableName = RUNS_TABLE,
  ) {}

  private table(): Promise<TableClient> {
    return this.storage.table(this.tableName);
  }

  private async row(id: string): Promise<TableEntityResult<Row> | undefined> {
    const t = await this.table();
    for await (const e of t.listEntities<Row>({
      queryOptions: { filter: odata`RowKey eq ${id} and PartitionKey ne ${TRIGGER_PK}` },
    }))
      return e;
    return undefined;
  }

  async create(run: TrainingRun): Promise<{ run: TrainingRun; created: boolean }> {
    const t = await this.table();
    try {
      await t.createEntity(encode(run));
      return { run, created: true };
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
      return { run: (await this.get(run.id))!, created: false };
    }
  }

  async get(id: string): Promise<TrainingRun | undefined> {
    const r = await this.row(id);
    return r ? decode(r) : undefined;
  }

  async update(id: string, change: (run: TrainingRun) => TrainingRun): Promise<TrainingRun> {
    const t = await this.table();
    return retryOnConflict(
      async () => {
        const r = await this.row(id);
        if (!r) throw new NotFoundError(`no training run "${id}"`);
        const next = { ...change(decode(r)), updatedAt: Date.now() };
        try {
          // Replace, so a run that got shorter leaves no stale parts behind.
          await t.updateEntity(encode(next), 'Replace', { etag: r.etag });
          return next;
        } catch (e) {
          if (statusOf(e) === 412) return LOST_RACE;
          throw e;
        }
      },
      {
        attempts: MAX_ATTEMPTS,
        exhausted: () =>
          new DependencyError(`training run ${id} kept changing under ${MAX_ATTEMPTS} attempts to update it; retry`),
      },
    );
  }

  async list(q: RunQuery = {}): Promise<TrainingRun[]> {
    const t = await this.table();
    const filters = [q.model !== undefined ? odata`PartitionKey eq ${q.model}` : odata`PartitionKey ne ${TRIGGER_PK}`];
    if (q.status) filters.push(odata`status eq ${q.status}`);
    const runs: TrainingRun[] = [];
    for await (const e of t.listEntities<Row>({ queryOptions: { filter: filters.join(' and ') } }))
      runs.push(decode(e));
    runs.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    return q.limit ? runs.slice(0, q.limit) : runs;
  }

  async getTrigger(model: string): Promise<TriggerState | undefined> {
    try {
      const e = await (await this.table()).getEntity<Row>(TRIGGER_PK, model);
      return { model, lastStartAt: Number(e.lastStartAt), lastRunId: String(e.lastRunId), reason: String(e.reason) };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async setTrigger(s: TriggerState): Promise<void> {
    await (
      await this.table()
    ).upsertEntity(
      {
        partitionKey: TRIGGER_PK,
        rowKey: s.model,
        lastStartAt: s.lastStartAt,
        lastRunId: s.lastRunId,
        reason: s.reason,
      },
      'Replace',
    );
  }
}
