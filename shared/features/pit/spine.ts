/**
 * The spine of a training set: the (entity, time[, label]) rows to attach features to,
 * given inline or as a Parquet/CSV blob. Loaded into a DuckDB temp table
 *   spine(row_id BIGINT, entity_id VARCHAR, ts BIGINT [, label])
 * where row_id is the row's position in the input: the output keeps that order and that
 * identity, one output row per spine row, duplicates included.
 */
import { createHash } from 'node:crypto';
import { BOOLEAN, DOUBLE, VARCHAR, DuckDBDataChunk, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { NotFoundError, ValidationError } from '../../errors';
import { blobPathProblem, checkBlobPath } from '../../names';
import type { BlobCache } from '../offline/cache';
import { canonicalJson } from '../../canonical-json';
import { ident, literal, num } from '../offline/duckdb';
import type { FeatureValue } from '../definitions/values';
import { isNotFound } from '../../azure/status';

export interface SpineRow {
  entityId: string;
  /** Epoch ms: the moment the features must be as of. */
  ts: number;
  label?: FeatureValue;
}

/** Inline rows, or `<container>/<path>` of a .parquet or .csv blob with columns entity_id, ts[, label]. */
export type SpineSource = { rows: readonly SpineRow[] } | { blobPath: string };

/** The containers a spine blob may be read from: never the stores' own (models, offline, dead letters). */
export const SPINE_CONTAINERS: readonly string[] = ['spines', 'uploads', 'training-sets'];
const SPINE_FORMAT = /\.(parquet|csv|csv\.gz)$/i;

/** What is wrong with a spine blob path, or undefined (container allowed, no dot segments, a known format). */
export function spineBlobProblem(blobPath: unknown): string | undefined {
  const problem = blobPathProblem(blobPath, SPINE_CONTAINERS);
  if (problem !== undefined) return problem;
  return SPINE_FORMAT.test(blobPath as string) ? undefined : 'must name a .parquet, .csv or .csv.gz blob';
}

export interface LoadedSpine {
  rowCount: number;
  minTs: number;
  maxTs: number;
  /** DuckDB type of the label column; undefined when the spine has no label. */
  labelType: string | undefined;
  /** What identifies this spine's content (for training set ids and lineage). */
  identity: string;
}

const CHUNK_ROWS = 2048;

/** Load the spine into temp table `table` on connection `c` (blobs are fetched through `cache`). */
export async function loadSpine(
  c: DuckDBConnection,
  table: string,
  source: SpineSource,
  cache?: BlobCache,
): Promise<LoadedSpine> {
  let identity: string;
  if ('rows' in source) identity = await loadInline(c, table, source.rows);
  else if (cache) identity = await loadBlob(c, table, source.blobPath, cache);
  else throw new RangeError('a spine blob needs a blob cache');
  const r = await c.runAndReadAll(
    `SELECT count(*), min(ts), max(ts), count(*) FILTER (WHERE entity_id IS NULL OR ts IS NULL) FROM ${ident(table)}`,
  );
  const [n, minTs, maxTs, nulls] = r.getRows()[0]!;
  if (num(nulls) > 0) {
    throw new ValidationError('spine rows need an entity_id and a ts', [
      { where: 'spine', problem: `${num(nulls)} rows have a null entity_id or ts` },
    ]);
  }
  const cols = await c.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ${literal(table)} AND column_name = 'label'`,
  );
  const label = cols.getRows()[0];
  const empty = num(n) === 0;
  return {
    rowCount: num(n),
    minTs: empty ? 0 : num(minTs),
    maxTs: empty ? 0 : num(maxTs),
    labelType: label ? String(label[1]) : undefined,
    identity,
  };
}

function labelTypeOf(rows: readonly SpineRow[]): { type: DuckDBType; sql: string } | undefined {
  let kind: string | undefined;
  rows.forEach((r, i) => {
    if (r.label === undefined || r.label === null) return;
    const k = typeof r.label;
    if (kind !== undefined && kind !== k) {
      throw new ValidationError('spine labels must all have one type', [
        { where: `spine.rows[${i}].label`, problem: `is a ${k}, earlier labels are ${kind}s` },
      ]);
    }
    kind = k;
  });
  if (kind === undefined) return undefined;
  return kind === 'number'
    ? { type: DOUBLE, sql: 'DOUBLE' }
    : kind === 'boolean'
      ? { type: BOOLEAN, sql: 'BOOLEAN' }
      : { type: VARCHAR, sql: 'VARCHAR' };
}

async function loadInline(c: DuckDBConnection, table: string, rows: readonly SpineRow[]): Promise<string> {
  const label = labelTypeOf(rows);
  const hash = createHash('sha256');
  await c.run(
    `CREATE TEMP TABLE ${ident(table)} (row_id BIGINT, entity_id VARCHAR, ts BIGINT${label ? `, label ${label.sql}` : ''})`,
  );
  // Staged as DOUBLE (no BigInt per value), cast to BIGINT by the table on append.
  await c.run(
    `CREATE TEMP TABLE ${ident(`${table}_in`)} (row_id DOUBLE, entity_id VARCHAR, ts DOUBLE${label ? `, label ${label.sql}` : ''})`,
  );
  const types = [DOUBLE, VARCHAR, DOUBLE, ...(label ? [label.type] : [])];
  const appender = await c.createAppender(`${table}_in`, 'main', 'temp');
  try {
    for (let off = 0; off < rows.length; off += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows.length - off);
      const cols: Array<Array<string | number | boolean | null>> = types.map(() => new Array(n));
      for (let j = 0; j < n; j++) {
        const r = rows[off + j]!;
        cols[0]![j] = off + j;
        cols[1]![j] = r.entityId;
        cols[2]![j] = r.ts;
        if (label) cols[3]![j] = r.label ?? null;
        hash.update(canonicalJson([r.entityId, r.ts, r.label ?? null]));
      }
      const chunk = DuckDBDataChunk.create(types, n);
      chunk.setColumns(cols);
      appender.appendDataChunk(chunk);
    }
  } finally {
    appender.closeSync();
  }
  await c.run(`INSERT INTO ${ident(table)} SELECT * FROM ${ident(`${table}_in`)}`);
  await c.run(`DROP TABLE ${ident(`${table}_in`)}`);
  return `inline:sha256:${hash.digest('hex')}`;
}

/** How a spine file's ts column becomes epoch ms, by its type. */
function tsExpression(type: string): string {
  const t = type.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DOUBLE|FLOAT|DECIMAL)/.test(t))
    return 'CAST(ts AS BIGINT)';
  if (t.startsWith('TIMESTAMP') || t === 'DATE') return `epoch_ms(CAST(ts AS ${t === 'DATE' ? 'TIMESTAMP' : t}))`;
  if (t === 'VARCHAR') return 'epoch_ms(CAST(ts AS TIMESTAMPTZ))';
  throw new ValidationError(`spine column ts has type ${type}`, [
    { where: 'spine.ts', problem: 'must be epoch milliseconds, a timestamp, a date or an ISO-8601 string' },
  ]);
}

interface SpineBlob {
  container: string;
  name: string;
  etag: string;
  bytes: number;
  /** The DuckDB table function reading it, once fetched. */
  reader(file: string): string;
}

/** A spine blob's properties (a missing blob or container is a NotFoundError; reading never creates a container). */
async function spineBlob(blobPath: string, cache: BlobCache): Promise<SpineBlob> {
  const problem = spineBlobProblem(blobPath);
  if (problem !== undefined)
    throw new ValidationError(`spine blob path: ${problem}`, [{ where: 'spine.blobPath', problem }]);
  const { container, name } = checkBlobPath(blobPath, SPINE_CONTAINERS, 'spine.blobPath');
  const props = await cache
    .readClient(container)
    .getBlockBlobClient(name)
    .getProperties()
    .catch((e: unknown) => {
      if (isNotFound(e)) throw new NotFoundError(`spine blob ${blobPath} does not exist`);
      throw e;
    });
  const parquet = /\.parquet$/i.test(name);
  return {
    container,
    name,
    etag: props.etag!,
    bytes: props.contentLength ?? 0,
    reader: (file) => (parquet ? `read_parquet(${literal(file)})` : `read_csv(${literal(file)}, header = true)`),
  };
}

/**
 * How many rows a spine has, to decide whether building its set fits a request: inline, its
 * length; a blob, counted by DuckDB from the cached file (the build reads the same copy), or
 * Infinity for a blob larger than `maxBlobBytes` (too big to fetch on a request path at all).
 * Undefined when the blob cannot be read as a table: building it reports why.
 */
export async function spineRowCount(
  c: DuckDBConnection,
  source: SpineSource,
  cache: BlobCache,
  maxBlobBytes: number,
): Promise<number | undefined> {
  if ('rows' in source) return source.rows.length;
  const blob = await spineBlob(source.blobPath, cache);
  if (blob.bytes > maxBlobBytes) return Number.POSITIVE_INFINITY;
  const file = await cache.fetch(blob.container, blob.name, blob.etag);
  try {
    return num((await c.runAndReadAll(`SELECT count(*) FROM ${blob.reader(file)}`)).getRows()[0]![0]);
  } catch {
    return undefined;
  }
}

async function loadBlob(c: DuckDBConnection, table: string, blobPath: string, cache: BlobCache): Promise<string> {
  const blob = await spineBlob(blobPath, cache);
  const file = await cache.fetch(blob.container, blob.name, blob.etag);
  const reader = blob.reader(file);
  const src = `${table}_src`;
  // Materialised first: its rowid is the file's row order.
  await c.run(`CREATE TEMP TABLE ${ident(src)} AS SELECT * FROM ${reader}`);
  const described = await c.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ${literal(src)}`,
  );
  const columns = new Map(described.getRows().map(([n, t]) => [String(n), String(t)]));
  const missing = ['entity_id', 'ts'].filter((k) => !columns.has(k));
  if (missing.length) {
    throw new ValidationError(`spine ${blobPath} lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, [
      { where: 'spine', problem: `needs columns entity_id, ts[, label]; found ${[...columns.keys()].join(', ')}` },
    ]);
  }
  try {
    await c.run(
      `CREATE TEMP TABLE ${ident(table)} AS SELECT rowid AS row_id, CAST(entity_id AS VARCHAR) AS entity_id, ${tsExpression(columns.get('ts')!)} AS ts${columns.has('label') ? ', label' : ''} FROM ${ident(src)} ORDER BY rowid`,
    );
  } catch (e) {
    throw new ValidationError(`spine ${blobPath}: column ts could not be read as a time`, [
      { where: 'spine.ts', problem: (e as Error).message },
    ]);
  }
  await c.run(`DROP TABLE ${ident(src)}`);
  return `blob:${blobPath}@${blob.etag}`;
}
