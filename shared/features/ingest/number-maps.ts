/**
 * A source field whose schema is a record of numbers (`z.record(z.string(), z.number())`, the
 * prediction log's `features` and `viewAgeMs`) is stored as one DOUBLE column per key,
 * named `<field>.<key>`, instead of one JSON text column: readers of one key then scan one
 * typed Parquet column rather than parse every record's JSON (monitoring's window over a
 * million predictions was dominated by that parse). The keys are those of the batch, so
 * segments of one source may have different columns; every reader of source segments reads
 * them with `union_by_name` (a key a segment lacks reads as NULL, i.e. absent).
 *
 * Column names are case-insensitive in DuckDB, so a key whose column would collide with an
 * earlier one (another key differing only in case, or another field's name) stays in the
 * field's own column as JSON text of the leftover keys, which readers merge back; that column
 * is also what segments written before this layout hold.
 */
import type { FeatureColumn, FeatureValue } from '../definitions/values';
import type { ResolvedSource } from '../definitions/repo';

/** The column of one key of a number-map field. */
export const mapColumn = (field: string, key: string): string => `${field}.${key}`;

/** The fields of a source stored this way. */
export const numberMapFields = (source: ResolvedSource): string[] =>
  Object.entries(source.fields)
    .filter(([, f]) => f.numberMap)
    .map(([name]) => name);

/**
 * Per number-map field: the columns of this batch's keys (first seen first), and the keys that
 * collide and stay in the field's JSON column.
 */
export function mapLayout(
  source: ResolvedSource,
  records: ReadonlyArray<{ data: Record<string, unknown> }>,
): { columns: FeatureColumn[]; keyColumns: Map<string, Map<string, string>> } {
  const taken = new Set(Object.keys(source.fields).map((n) => n.toLowerCase()));
  const columns: FeatureColumn[] = [];
  const keyColumns = new Map<string, Map<string, string>>();
  for (const field of numberMapFields(source)) {
    const keys = new Map<string, string>();
    keyColumns.set(field, keys);
    for (const r of records) {
      const m = r.data[field];
      if (!m || typeof m !== 'object') continue;
      for (const key of Object.keys(m)) {
        if (keys.has(key)) continue;
        const name = mapColumn(field, key);
        if (taken.has(name.toLowerCase())) continue; // stays in the JSON column
        taken.add(name.toLowerCase());
        keys.set(key, name);
        columns.push({ name, type: 'float' });
      }
    }
  }
  return { columns, keyColumns };
}

/** One record's map as its key columns, and the JSON text of its leftover keys (null when none). */
export function flattenMap(
  map: unknown,
  keys: ReadonlyMap<string, string>,
  values: Record<string, FeatureValue>,
): string | null {
  if (!map || typeof map !== 'object') return null;
  let rest: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(map as Record<string, unknown>)) {
    const column = keys.get(key);
    if (column !== undefined && typeof v === 'number') values[column] = v;
    else (rest ??= {})[key] = v;
  }
  return rest ? JSON.stringify(rest) : null;
}

/** A stored row's map back: its key columns (non-null) and the leftover JSON, or undefined when it had none. */
export function gatherMap(
  field: string,
  values: Readonly<Record<string, FeatureValue>>,
  leftover: unknown,
): Record<string, unknown> | undefined {
  const prefix = `${field}.`;
  let out: Record<string, unknown> | undefined;
  for (const [name, v] of Object.entries(values)) {
    if (v === null || v === undefined || !name.startsWith(prefix)) continue;
    (out ??= {})[name.slice(prefix.length)] = v;
  }
  if (leftover && typeof leftover === 'object') out = { ...(leftover as Record<string, unknown>), ...out };
  return out;
}
