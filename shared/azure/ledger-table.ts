/**
 * The interval ledger's rows in an Azure Table (the LedgerStore of features/ledger/store.ts).
 *
 * Table `featureledger`: PartitionKey = day (yyyy-mm-dd), RowKey = view, the other properties
 * as the DayRow names them. Heads live in PartitionKey `head` (RowKey = view). An update reads
 * the partition's rows it changes and writes them in one entity-group transaction, each
 * existing row only if its ETag is unchanged; a lost race is read and computed again
 * (concurrency/retry-on-conflict.ts), up to 8 times.
 */
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { DependencyError } from '../errors';
import type { DayRow, HeadRow, LedgerStore } from '../features/ledger/store';
import { forEachLimit } from '../concurrency';
import { LOST_RACE, retryOnConflict } from '../concurrency/retry-on-conflict';
import { isNotFound, isTaken } from './status';
import type { Storage } from './storage';

export const LEDGER_TABLE = 'featureledger';
const HEAD = 'head';
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_ATTEMPTS = 8;

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

export class LedgerTable implements LedgerStore {
  constructor(private readonly table: TableClient) {}

  static async open(storage: Storage, table = LEDGER_TABLE): Promise<LedgerTable> {
    return new LedgerTable(await storage.table(table));
  }

  updateDay(
    day: string,
    views: ReadonlySet<string>,
    next: (view: string, row: DayRow | undefined) => DayRow,
  ): Promise<void> {
    return this.mutate(day, views, dayRow, next, (row) => entity(day, row.view, row, ['day', 'view']));
  }

  updateHeads(views: ReadonlySet<string>, next: (view: string, head: HeadRow | undefined) => HeadRow): Promise<void> {
    return this.mutate(HEAD, views, headRow, next, (row) => entity(HEAD, row.view, row, ['view']));
  }

  async days(range: { fromDay?: string; toDay?: string }): Promise<DayRow[]> {
    const filters = [`PartitionKey ne '${HEAD}'`];
    if (range.fromDay) filters.push(`PartitionKey ge '${range.fromDay}'`);
    if (range.toDay) filters.push(`PartitionKey le '${range.toDay}'`);
    return (await this.list(filters.join(' and '))).filter((e) => DAY.test(e.partitionKey)).map(dayRow);
  }

  async heads(): Promise<HeadRow[]> {
    return (await this.list(`PartitionKey eq '${HEAD}'`)).map(headRow);
  }

  async forgetDays(afterDay: string, views: ReadonlySet<string>): Promise<void> {
    const later = await this.list(`PartitionKey gt '${afterDay}' and PartitionKey ne '${HEAD}'`);
    await forEachLimit(
      later.filter((e) => DAY.test(e.partitionKey) && views.has(e.rowKey)),
      4,
      async (e) => {
        try {
          await this.table.deleteEntity(e.partitionKey, e.rowKey, { etag: e.etag });
        } catch (err) {
          if (!isNotFound(err) && !isTaken(err)) throw err;
        }
      },
    );
  }

  // -------------------------------------------------------------------------------------------

  private async list(filter: string): Promise<Array<TableEntityResult<Entity>>> {
    const out: Array<TableEntityResult<Entity>> = [];
    for await (const e of this.table.listEntities<Entity>({ queryOptions: { filter } })) out.push(e);
    return out;
  }

  /**
   * Read the partition's rows with these keys, compute their new state and write them in one
   * transaction (each existing row only if unchanged since read); on a lost race, read again
   * and recompute. `next` returning the row it was given (same object) skips it.
   */
  private mutate<R>(
    pk: string,
    keys: ReadonlySet<string>,
    read: (e: TableEntityResult<Entity>) => R,
    next: (key: string, row: R | undefined) => R,
    toEntity: (row: R) => Entity,
  ): Promise<void> {
    return retryOnConflict(
      async () => {
        const current = new Map<string, TableEntityResult<Entity>>();
        for (const e of await this.list(`PartitionKey eq '${pk}'`)) if (keys.has(e.rowKey)) current.set(e.rowKey, e);
        const actions: TransactionAction[] = [];
        for (const key of keys) {
          const e = current.get(key);
          const before = e && read(e);
          const updated = next(key, before);
          if (updated === before) continue;
          const row = toEntity(updated);
          actions.push(e ? ['update', row, 'Replace', { etag: e.etag }] : ['create', row]);
        }
        if (!actions.length) return undefined;
        try {
          await this.table.submitTransaction(actions);
          return undefined;
        } catch (err) {
          if (isTaken(err)) return LOST_RACE;
          throw err;
        }
      },
      {
        attempts: MAX_ATTEMPTS,
        exhausted: () =>
          new DependencyError(
            `interval ledger: partition ${pk} kept changing under ${MAX_ATTEMPTS} attempts to update it; retry`,
          ),
      },
    );
  }
}

function properties(e: TableEntityResult<Entity>): Record<string, unknown> {
  const {
    etag: _etag,
    timestamp: _timestamp,
    partitionKey: _pk,
    rowKey: _rk,
    ...rest
  } = e as TableEntityResult<Entity> & { timestamp?: string };
  return rest;
}

function dayRow(e: TableEntityResult<Entity>): DayRow {
  return { ...properties(e), day: e.partitionKey, view: e.rowKey } as DayRow;
}

function headRow(e: TableEntityResult<Entity>): HeadRow {
  return { ...properties(e), view: e.rowKey } as HeadRow;
}

/** The entity of a row: its keys, and its other fields but those the keys carry (Table entities cannot hold undefined). */
function entity(pk: string, rk: string, row: object, keyFields: readonly string[]): Entity {
  const props = Object.entries(row).filter(([k, v]) => v !== undefined && !keyFields.includes(k));
  return { partitionKey: pk, rowKey: rk, ...Object.fromEntries(props) };
}
