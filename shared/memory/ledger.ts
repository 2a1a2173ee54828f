/**
 * The interval ledger's rows in memory (the LedgerStore of features/ledger/store.ts): for
 * tests of the rules above the store and for a process that needs no shared state. Every
 * update is applied whole within one turn of the event loop, so it is atomic and never loses
 * a race; rows go in and out as copies, as they would through a real store.
 */
import type { DayRow, HeadRow, LedgerStore } from '../features/ledger/store';
import { copyOf } from './copy';

export class MemoryLedgerStore implements LedgerStore {
  private readonly dayRows = new Map<string, Map<string, DayRow>>();
  private readonly headRows = new Map<string, HeadRow>();

  async updateDay(
    day: string,
    views: ReadonlySet<string>,
    next: (view: string, row: DayRow | undefined) => DayRow,
  ): Promise<void> {
    let rows = this.dayRows.get(day);
    if (!rows) this.dayRows.set(day, (rows = new Map()));
    update(rows, views, next, { day });
  }

  async updateHeads(
    views: ReadonlySet<string>,
    next: (view: string, head: HeadRow | undefined) => HeadRow,
  ): Promise<void> {
    update(this.headRows, views, next, {});
  }

  async days(range: { fromDay?: string; toDay?: string }): Promise<DayRow[]> {
    const out: DayRow[] = [];
    for (const [day, rows] of this.dayRows) {
      if ((range.fromDay && day < range.fromDay) || (range.toDay && day > range.toDay)) continue;
      for (const r of rows.values()) out.push(copyOf(r));
    }
    return out;
  }

  async heads(): Promise<HeadRow[]> {
    return [...this.headRows.values()].map(copyOf);
  }

  async forgetDays(afterDay: string, views: ReadonlySet<string>): Promise<void> {
    for (const [day, rows] of this.dayRows) if (day > afterDay) for (const v of views) rows.delete(v);
  }
}

/** Compute every row first, then store them: `next` throwing changes nothing. */
function update<R extends { view: string }>(
  rows: Map<string, R>,
  keys: ReadonlySet<string>,
  next: (key: string, row: R | undefined) => R,
  fixed: Partial<R>,
): void {
  const changed: Array<[string, R]> = [];
  for (const key of keys) {
    const stored = rows.get(key);
    const before = stored && copyOf(stored);
    const after = next(key, before);
    if (after !== before) changed.push([key, copyOf({ ...after, ...fixed, view: key })]);
  }
  for (const [key, row] of changed) rows.set(key, row);
}
