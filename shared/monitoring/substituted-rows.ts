/**
 * The window's predictions that did not take every feature from the online store: some were
 * filled with their default (a missing or stale online value) or overridden by the caller. In
 * a healthy window they are few, so the scan only counts them and, when
 * there are any, one grouped query reads them by their (defaulted, overridden) lists: the
 * defaulted shares come from its counts, and freshness (freshness.ts) from its per-group age
 * counts and maxima, because a view's age is logged once per prediction and a feature
 * substituted in that prediction did not use it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * True for a prediction with a defaulted or overridden feature. Both fields are JSON lists as
 * text (JSON.stringify: `[]` when empty, any entry makes it at least `[""]`), so a length above
 * 2 says the list holds something: half the cost of comparing the strings, on every row of a
 * window. NULL (not logged) is no substitution.
 */
export const SUBSTITUTED_SQL = `coalesce(length(defaulted) > 2 OR length(overridden) > 2, false)`;
/**
 * The window relation's column holding SUBSTITUTED_SQL: computed once per row there, where each
 * aggregate's FILTER would compare the strings again.
 */
export const SUBSTITUTED = 'substituted';

export interface SubstitutedGroup {
  defaulted: string[];
  overridden: string[];
  rows: number;
  /** Per age expression (in the order given): the rows with an age, and the largest. */
  ages: Array<{ count: number; max: number | null }>;
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
      max: r[4 + 2 * k] === null || r[4 + 2 * k] === undefined ? null : Number(r[4 + 2 * k]),
    })),
  }));
}

/** A logged list of feature refs (JSON text, validated by ingest). */
export const parseList = (v: unknown): string[] =>
  v === null || v === undefined || v === '[]' ? [] : (JSON.parse(String(v)) as string[]);
