/**
 * The window's predictions that did not take every feature from the online store: some were
 * filled with their default (a missing or stale online value) or overridden by the caller. In
 * a healthy window they are few. The scan counts them by their (defaulted, overridden) lists
 * (a histogram over just those rows, which gives the defaulted shares) with, per age, how many
 * carry it and its largest value among them all (scanAggregates). Freshness (freshness.ts)
 * needs per group the count and max of each age, because a view's age is logged once per
 * prediction and a feature substituted in that prediction did not use it: the counts are
 * exact from the scan, and the one max stands for every group whenever each feature's groups
 * are all or none of those carrying its age (freshness.ts: maximaSettled), as when one kind of
 * substitution happens or a missing view logs no age. Otherwise one grouped query reads the
 * substituted rows again (substitutedGroups); it cost about 5% of a window as a second pass
 * over the files.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { asNumber, histogramEntries, type ExtraAggregates } from './window-query';

/**
 * True for a prediction with a defaulted or overridden feature. Both fields are JSON lists as
 * text (JSON.stringify: `[]` when empty, any entry makes it at least `[""]`), so a length above
 * 2 says the list holds something: half the cost of comparing the strings, on every row of a
 * window. NULL (not logged) is no substitution.
 */
export const SUBSTITUTED_SQL = `coalesce(length(defaulted) > 2 OR length(overridden) > 2, false)`;
/**
 * The window relation's column holding SUBSTITUTED_SQL: computed once per row there, where each
 * aggregate's CASE would measure the lists again.
 */
export const SUBSTITUTED = 'substituted';

export interface SubstitutedGroup {
  defaulted: string[];
  overridden: string[];
  rows: number;
  /** Per age expression (in the order given): the rows with an age, and the largest. */
  ages: Array<{ count: number; max: number | null }>;
}

/** A group's key in the scan's histograms: JSON text never holds a raw newline. */
const groupKey = `coalesce(defaulted, '[]') || chr(10) || coalesce(overridden, '[]')`;

/**
 * The scan's share (over a relation with the SUBSTITUTED column and the age expressions
 * `ages`): each row's group key, built only for the substituted rows (a CASE; as an
 * aggregate's input it was built on every row, which cost as much as the grouped query it
 * replaces), and the aggregates over it. An aggregate over some rows takes a CASE that is NULL
 * on the others rather than a FILTER clause: a FILTER slices the aggregate's input chunk by
 * chunk, and the four of a window's freshness and substitutions cost 3% of it.
 */
export function scanAggregates(ages: readonly string[]): Required<Pick<ExtraAggregates, 'project' | 'aggregates'>> {
  const aggregates: Record<string, string> = { subst_rows: `histogram(subst_key)` };
  ages.forEach((e, k) => {
    aggregates[`subst_n${k}`] = `histogram(CASE WHEN ${e} IS NOT NULL THEN subst_key END)`;
    aggregates[`subst_max${k}`] = `max(CASE WHEN ${SUBSTITUTED} THEN ${e} END)`;
  });
  return { project: { subst_key: `CASE WHEN ${SUBSTITUTED} THEN ${groupKey} END` }, aggregates };
}

/**
 * The groups as the scan counted them (`row` holds scanAggregates' values, histograms in
 * their JSON form): exact rows and age counts, and as each age's max the largest over every
 * substituted prediction, which is each group's only where maximaSettled says so.
 */
export function scannedGroups(row: Record<string, unknown>, ages: number): SubstitutedGroup[] {
  const counts = (v: unknown) => new Map(histogramEntries(v).map(([k, n]) => [String(k), n]));
  const perAge = Array.from({ length: ages }, (_, k) => ({
    counts: counts(row[`subst_n${k}`]),
    max: asNumber(row[`subst_max${k}`]),
  }));
  return [...counts(row.subst_rows)].map(([key, rows]) => {
    const [d, o] = key.split('\n');
    return {
      defaulted: parseList(d),
      overridden: parseList(o),
      rows,
      ages: perAge.map((a) => {
        const count = a.counts.get(key) ?? 0;
        return { count, max: count > 0 ? a.max : null };
      }),
    };
  });
}

/** The substituted predictions of the relation `rel` (with the SUBSTITUTED column) grouped by their lists, with the ages `ages` (SQL over `rel`). */
export async function substitutedGroups(
  conn: DuckDBConnection,
  rel: string,
  ages: readonly string[],
): Promise<SubstitutedGroup[]> {
  const perAge = ages.flatMap((e) => [`count(${e})`, `max(${e})`]);
  const rows = (
    await conn.runAndReadAll(
      `SELECT coalesce(defaulted, '[]'), coalesce(overridden, '[]'), count(*)${perAge.map((a) => `, ${a}`).join('')}
       FROM ${rel} WHERE ${SUBSTITUTED} GROUP BY ALL`,
    )
  ).getRowsJson();
  return rows.map((r) => ({
    defaulted: parseList(r[0]),
    overridden: parseList(r[1]),
    rows: Number(r[2]),
    ages: ages.map((_, k) => ({
      count: Number(r[3 + 2 * k]),
      max: asNumber(r[4 + 2 * k]),
    })),
  }));
}

/** A logged list of feature refs (JSON text, validated by ingest). */
export const parseList = (v: unknown): string[] =>
  v === null || v === undefined || v === '[]' ? [] : (JSON.parse(String(v)) as string[]);
