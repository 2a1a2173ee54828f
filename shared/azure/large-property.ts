/**
 * JSON values larger than one Table property: a string property holds at most 32K UTF-16
 * characters (64 KiB), so a long value (a definition with a large schema, a model signature)
 * is split over numbered properties with a count beside them. Each store names its properties
 * (the layout) as its rows have always been written, so stored rows read back unchanged.
 *
 *   packJson(value, layout)       -> properties to spread into an entity
 *   unpackJson(entity, layout)    -> the value
 */
export interface PropertyLayout {
  /** The property holding how many parts there are (absent in old rows: one part). */
  count: string;
  /** The property holding part i (0-based). */
  part(i: number): string;
}

const CHUNK = 30_000;

export function packJson(value: unknown, layout: PropertyLayout): Record<string, string | number> {
  const s = JSON.stringify(value);
  const parts = Math.max(1, Math.ceil(s.length / CHUNK));
  const out: Record<string, string | number> = { [layout.count]: parts };
  for (let i = 0; i < parts; i++) out[layout.part(i)] = s.slice(i * CHUNK, (i + 1) * CHUNK);
  return out;
}

export function unpackJson(entity: Record<string, unknown>, layout: PropertyLayout): unknown {
  const parts = Number(entity[layout.count] ?? 1);
  let s = '';
  for (let i = 0; i < parts; i++) s += String(entity[layout.part(i)] ?? '');
  return JSON.parse(s);
}
