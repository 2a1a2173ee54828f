/**
 * `npm run examples`: writes examples/ from the data generator (cli/generator), so the files the
 * README uses can always be rebuilt and never drift from the code:
 *
 *   clicks.csv, clicks.jsonl, clicks.parquet            one week of 100 users' clicks (2026-11-02 .. 2026-11-09),
 *   purchases.csv, purchases.jsonl, purchases.parquet   in consecutive slices: CSV Mon-Tue, JSONL Wed-Thu, Parquet Fri-Sun
 *   spine.csv                                            entity_id, ts, label: each user at each midnight after they were seen, churn label
 *   signature.json                                       the churn_v1 model signature (features in input order, missing-value policy)
 *   <label source>.csv, .jsonl                           the labels as records, when the repo defines the label source
 *   churn.onnx, churn.json                               the `churn` model trained on that week by Strata's own trainer, as the
 *                                                        train job would (scripts/example-model.ts), and its card: trainer,
 *                                                        params, seed, rows, holdout metrics, sha256 and registry signature
 *
 * Parquet is written by DuckDB with `ts` as a TIMESTAMP column (ingest reads it as UTC). The
 * test test/integration/examples.test.ts rebuilds everything and compares it with what is checked in.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateRecords, type GeneratedRecord, type GeneratorOptions } from '../cli/generator';
import { DEFAULT_LABEL_SOURCE, labelTarget } from '../cli/produce/labels';
import { featureRepo } from '../shared/definitions';
import { literal, withConnection } from '../shared/features/offline/duckdb';
import { exampleModelCard, trainExampleModel, type ExampleModel } from './example-model';
import { repoRoot } from './repo-root';

const DAY = 86_400_000;
export const EXAMPLE_FROM = Date.parse('2026-11-02T00:00:00Z');
export const EXAMPLE_OPTIONS: GeneratorOptions = {
  seed: 42,
  users: 100,
  events: 8_000,
  from: EXAMPLE_FROM,
  to: EXAMPLE_FROM + 7 * DAY,
  labels: true,
};

/** Which file format holds which days: consecutive slices, so uploading them in this order keeps event time moving forward. */
export const SLICES = [
  { format: 'csv', from: EXAMPLE_FROM, to: EXAMPLE_FROM + 2 * DAY },
  { format: 'jsonl', from: EXAMPLE_FROM + 2 * DAY, to: EXAMPLE_FROM + 4 * DAY },
  { format: 'parquet', from: EXAMPLE_FROM + 4 * DAY, to: EXAMPLE_FROM + 7 * DAY },
] as const;

type Row = Record<string, string | number | boolean>;

/** The columns of each sample source, in schema order; `ts` is the event time. */
const COLUMNS: Record<string, Array<{ name: string; duck: string }>> = {
  clicks: [
    { name: 'user_id', duck: 'VARCHAR' },
    { name: 'page', duck: 'VARCHAR' },
    { name: 'ts', duck: 'TIMESTAMP' },
    { name: 'session_ms', duck: 'BIGINT' },
  ],
  purchases: [
    { name: 'user_id', duck: 'VARCHAR' },
    { name: 'order_id', duck: 'VARCHAR' },
    { name: 'amount', duck: 'DOUBLE' },
    { name: 'currency', duck: 'VARCHAR' },
    { name: 'ts', duck: 'TIMESTAMP' },
  ],
};

function csvCell(v: string | number | boolean): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(rows: Row[], columns: string[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c]!)).join(','))].join('\n') + '\n';
}

function jsonl(rows: Row[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** Parquet through DuckDB: rows staged as JSON lines with times as epoch ms, `timeColumn` a TIMESTAMP. */
async function parquet(
  file: string,
  rows: Row[],
  columns: Array<{ name: string; duck: string }>,
  timeColumn: string,
): Promise<void> {
  const staged = `${file}.staging.jsonl`;
  fs.writeFileSync(staged, jsonl(rows.map((r) => ({ ...r, [timeColumn]: Date.parse(String(r[timeColumn])) }))));
  try {
    const types = columns.map((c) => `${c.name}: '${c.name === timeColumn ? 'BIGINT' : c.duck}'`).join(', ');
    const select = columns.map((c) => (c.name === timeColumn ? `epoch_ms(${c.name}) AS ${c.name}` : c.name)).join(', ');
    await withConnection((c) =>
      c.run(
        `COPY (SELECT ${select} FROM read_json(${literal(staged)}, format = 'newline_delimited', columns = {${types}})) TO ${literal(file)} (FORMAT parquet)`,
      ),
    );
  } finally {
    fs.rmSync(staged, { force: true });
  }
}

/** The churn_v1 signature: the service's features in input order; a missing value counts as 0 (no clicks, no orders). */
export function churnSignature(): unknown {
  return {
    featureService: 'churn_v1',
    input: { name: 'features' },
    outputs: [{ name: 'probability', meaning: 'probability that the user churns' }],
    policy: {
      default: { onMissing: { default: 0 } },
      features: { 'user_clicks:clicks_1h': { onMissing: { default: 0 }, maxStalenessMs: 2 * DAY } },
    },
  };
}

export interface ExamplesBuild {
  /** The file names written. */
  files: string[];
  /** The example model as trained (its split and the trainer's own holdout predictions). */
  model: ExampleModel;
  /** Scratch files of the model's training set (the split's Parquet): delete when done. */
  workDir: string;
}

/** Write every example file into `dir`. */
export async function writeExamples(dir: string): Promise<ExamplesBuild> {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, text: string | Uint8Array) => {
    fs.writeFileSync(path.join(dir, name), text);
    written.push(name);
  };
  const records = [...generateRecords(EXAMPLE_OPTIONS)];
  const bySource = (source: 'clicks' | 'purchases') =>
    records
      .filter((r): r is Extract<GeneratedRecord, { source: typeof source }> => r.source === source)
      .map((r) => r.record as unknown as Row);

  for (const source of ['clicks', 'purchases'] as const) {
    const rows = bySource(source);
    const columns = COLUMNS[source]!;
    for (const slice of SLICES) {
      const part = rows.filter((r) => Date.parse(String(r.ts)) >= slice.from && Date.parse(String(r.ts)) < slice.to);
      const name = `${source}.${slice.format}`;
      if (slice.format === 'csv')
        put(
          name,
          csv(
            part,
            columns.map((c) => c.name),
          ),
        );
      else if (slice.format === 'jsonl') put(name, jsonl(part));
      else {
        await parquet(path.join(dir, name), part, columns, 'ts');
        written.push(name);
      }
    }
  }

  const labels = records.filter((r): r is Extract<GeneratedRecord, { source: 'labels' }> => r.source === 'labels');
  put(
    'spine.csv',
    csv(
      labels.map((l) => ({ entity_id: l.entityId, ts: new Date(l.ts).toISOString(), label: l.label })),
      ['entity_id', 'ts', 'label'],
    ),
  );

  const target = labelTarget(featureRepo, DEFAULT_LABEL_SOURCE);
  if (target) {
    const rows = labels.map((l) => target.toRecord(l) as Row);
    const columns = Object.keys(rows[0] ?? {});
    put(`${target.source}.csv`, csv(rows, columns));
    put(`${target.source}.jsonl`, jsonl(rows));
  }
  put('signature.json', `${JSON.stringify(churnSignature(), null, 2)}\n`);

  const window = { from: EXAMPLE_FROM, to: EXAMPLE_FROM + 7 * DAY };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-example-model-'));
  const model = await trainExampleModel(records, window, workDir);
  const sha256 = createHash('sha256').update(model.outcome.onnx).digest('hex');
  put('churn.onnx', model.outcome.onnx);
  put('churn.json', `${JSON.stringify(exampleModelCard(model, window, sha256), null, 2)}\n`);
  return { files: written, model, workDir };
}

if (require.main === module) {
  const dir = path.join(repoRoot(), 'examples');
  writeExamples(dir).then(
    ({ files, workDir }) => {
      fs.rmSync(workDir, { recursive: true, force: true });
      console.log(`wrote ${files.length} files to ${path.relative(process.cwd(), dir) || dir}: ${files.join(', ')}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
