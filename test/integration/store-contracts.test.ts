/**
 * The storage contracts of issue 12, each run against both of its implementations: the Azure
 * one (shared/azure/, against one Azurite for the file) and the in-memory one (shared/memory/).
 * What a contract promises (copies out, all-or-nothing updates, write-once records, conditional
 * changes that lose to a change made after the read) must hold for both, so core tests may use
 * either. Training runs and files, baselines, window results, store summaries and alerts are
 * here too (issue 12's remainder). The definition and model stores have their contract suites in registry.test.ts and
 * serving-registry.test.ts; the online store's is online-store.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { storageFor, type Storage } from '../../shared/azure/storage';
import { LedgerTable } from '../../shared/azure/ledger-table';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { OnlineBacklogTable } from '../../shared/azure/online-backlog-table';
import { DeadLetterBlobs } from '../../shared/azure/dead-letter-blobs';
import { TrainingSetBlobs } from '../../shared/azure/training-set-blobs';
import { MemoryLedgerStore } from '../../shared/memory/ledger';
import { MemoryManifestStore } from '../../shared/memory/manifest';
import { MemoryBacklogStore } from '../../shared/memory/online-backlog';
import { MemoryDeadLetterStore } from '../../shared/memory/dead-letters';
import { MemoryTrainingSetStore } from '../../shared/memory/training-sets';
import type { DayRow, HeadRow, LedgerStore } from '../../shared/features/ledger/store';
import type { ManifestStore } from '../../shared/features/offline/manifest';
import type { SegmentRecord } from '../../shared/features/offline/types';
import type { BacklogStore } from '../../shared/features/ingest/online-backlog';
import type { DeadLetter, DeadLetterStore } from '../../shared/features/ingest/dead-letter';
import type { TrainingSetStore } from '../../shared/features/pit/training-set-store';
import type { TrainingSetResult } from '../../shared/features/pit/training-set';
import { TableRunStore } from '../../shared/azure/run-table';
import { BlobFileStore } from '../../shared/azure/file-blobs';
import { BlobBaselineStore } from '../../shared/azure/baseline-blobs';
import { TableMonitoringResultStore } from '../../shared/azure/monitoring-results-table';
import { TableSummaryStore } from '../../shared/azure/summary-table';
import { TableAlertStore } from '../../shared/azure/alert-table';
import { MemoryRunStore } from '../../shared/memory/runs';
import { MemoryFileStore } from '../../shared/memory/files';
import { MemoryBaselineStore } from '../../shared/memory/baselines';
import { MemoryMonitoringResultStore } from '../../shared/memory/monitoring-results';
import { MemorySummaryStore } from '../../shared/memory/summaries';
import { MemoryAlertStore } from '../../shared/memory/alerts';
import type { RunStore, TrainingRun } from '../../shared/training/runs';
import { pathOf, type FileStore } from '../../shared/file-store';
import type { BaselineStore } from '../../shared/monitoring/store/baselines';
import type { Baseline } from '../../shared/training/baseline';
import type { MonitoringResultStore } from '../../shared/monitoring/store/results';
import type { WindowResult } from '../../shared/monitoring/window-result';
import type { StoredSummary, SummaryStore } from '../../shared/monitoring/store-summaries';
import type { AlertStore } from '../../shared/monitoring/alerts/store';
import type { AlertState } from '../../shared/monitoring/alerts/engine';
import { AlertRuleSchema } from '../../shared/monitoring/alerts/rules';
import { ConflictError, NotFoundError } from '../../shared/errors';

let azurite: AzuriteHandle;
let storage: Storage;
let dir: string;
let seq = 0;
/** A fresh table name per suite, so the suites of one Azurite do not see each other's rows. */
const fresh = (prefix: string) => `${prefix}${++seq}x${Date.now() % 100000}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-contracts-'));
  azurite = await startAzurite({ location: path.join(dir, 'azurite') });
  storage = storageFor(azurite.connectionString);
});
afterAll(async () => {
  await azurite?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const day = (d: string, view: string, fields: Partial<DayRow> = {}): DayRow => ({
  day: d,
  view,
  version: 'v1',
  status: 'open',
  watermark: 0,
  rows: 0,
  backfillRows: 0,
  lateRecords: 0,
  closesAt: 0,
  updatedAt: 1,
  updatedBy: 'test',
  ...fields,
});

const ledgers: Record<string, () => Promise<LedgerStore>> = {
  'Azure Table': () => LedgerTable.open(storage, fresh('ledger')),
  memory: async () => new MemoryLedgerStore(),
};

for (const [backend, make] of Object.entries(ledgers)) {
  describe(`LedgerStore (${backend})`, () => {
    it('updates the named views of a day, lists days in a range, and forgets days after one', async () => {
      const s = await make();
      await s.updateDay('2024-08-01', new Set(['a', 'b']), (view, row) => {
        expect(row).toBeUndefined();
        return day('2024-08-01', view, { rows: view === 'a' ? 3 : 4 });
      });
      await s.updateDay('2024-08-02', new Set(['a']), (view) => day('2024-08-02', view, { rows: 5 }));
      await s.updateDay('2024-08-01', new Set(['a', 'b']), (view, row) =>
        view === 'a' ? { ...row!, rows: row!.rows + 10 } : row!,
      );
      const all = (await s.days({})).map((r) => [r.day, r.view, r.rows]).sort();
      expect(all).toEqual([
        ['2024-08-01', 'a', 13],
        ['2024-08-01', 'b', 4],
        ['2024-08-02', 'a', 5],
      ]);
      expect((await s.days({ fromDay: '2024-08-02' })).map((r) => r.day)).toEqual(['2024-08-02']);
      expect((await s.days({ toDay: '2024-08-01' })).map((r) => r.view).sort()).toEqual(['a', 'b']);
      await s.forgetDays('2024-08-01', new Set(['a']));
      expect((await s.days({})).map((r) => `${r.day}/${r.view}`).sort()).toEqual(['2024-08-01/a', '2024-08-01/b']);
    });

    it('an update whose next() throws writes nothing; rows read are copies', async () => {
      const s = await make();
      await s.updateDay('2024-08-01', new Set(['a', 'b']), (view) => day('2024-08-01', view));
      await expect(
        s.updateDay('2024-08-01', new Set(['a', 'b']), (view, row) => {
          if (view === 'b') throw new Error('refused');
          return { ...row!, rows: 99 };
        }),
      ).rejects.toThrow('refused');
      const [first] = await s.days({});
      first!.rows = 1234;
      expect((await s.days({})).map((r) => r.rows)).toEqual([0, 0]);
    });

    it('racing updates of the same rows are each applied once (none lost)', async () => {
      const s = await make();
      await s.updateDay('2024-08-01', new Set(['a']), (view) => day('2024-08-01', view));
      await Promise.all(
        Array.from({ length: 5 }, () =>
          s.updateDay('2024-08-01', new Set(['a']), (_v, row) => ({ ...row!, rows: row!.rows + 1 })),
        ),
      );
      expect((await s.days({}))[0]!.rows).toBe(5);
    });

    it('keeps heads apart from days', async () => {
      const s = await make();
      const head = (view: string, watermark: number): HeadRow => ({ view, version: 'v1', watermark, updatedAt: 1 });
      await s.updateHeads(new Set(['a', 'b']), (view) => head(view, 10));
      await s.updateHeads(new Set(['b']), (view, h) => head(view, h!.watermark + 5));
      expect((await s.heads()).map((h) => [h.view, h.watermark]).sort()).toEqual([
        ['a', 10],
        ['b', 15],
      ]);
      expect(await s.days({})).toEqual([]);
    });
  });
}

const segment = (id: string, d = '2024-08-01'): SegmentRecord => ({
  view: 'clicks',
  version: 'v1',
  day: d,
  segmentId: id,
  blobPath: `clicks/v1/${d}/${id}.parquet`,
  etag: '"e"',
  sizeBytes: 10,
  rowCount: 2,
  minEventTs: 0,
  maxEventTs: 1,
  minCreatedTs: 0,
  maxCreatedTs: 1,
  minLagMs: 0,
  maxLagMs: 0,
  lineage: { input: { kind: 'job', key: id } },
  committedAt: 100,
  state: 'live',
});

const manifests: Record<string, () => Promise<ManifestStore>> = {
  'Azure Table': () => ManifestTable.open(storage, fresh('manifest')),
  memory: async () => new MemoryManifestStore(),
};

for (const [backend, make] of Object.entries(manifests)) {
  describe(`ManifestStore (${backend})`, () => {
    it('inserts once, gets and lists by view and day', async () => {
      const s = await make();
      expect(await s.insert(segment('s1'))).toBe('committed');
      expect(await s.insert(segment('s1'))).toBe('already-committed');
      await s.insert(segment('s2', '2024-08-02'));
      expect(await s.get('clicks', 'v1', '2024-08-01', 's1')).toMatchObject({
        segmentId: 's1',
        rowCount: 2,
        state: 'live',
      });
      expect(await s.get('clicks', 'v1', '2024-08-01', 'nope')).toBeUndefined();
      expect((await s.list({ view: 'clicks', fromDay: '2024-08-02' })).map((r) => r.segmentId)).toEqual(['s2']);
      expect((await s.list({ segmentId: 's1' })).map((r) => r.day)).toEqual(['2024-08-01']);
    });

    it('a replacement supersedes its inputs at once; a change of a record read before it is a conflict', async () => {
      const s = await make();
      await s.insert(segment('a'));
      await s.insert(segment('b'));
      const inputs = await s.list({ view: 'clicks' });
      const merged = {
        ...segment('m'),
        rowCount: 4,
        lineage: { input: { kind: 'compaction' as const, inputs: ['a', 'b'] } },
      };
      expect(await s.replace(merged, inputs, 200)).toBe('committed');
      const after = await s.list({ view: 'clicks' });
      expect(after.map((r) => [r.segmentId, r.state]).sort()).toEqual([
        ['a', 'superseded'],
        ['b', 'superseded'],
        ['m', 'live'],
      ]);
      expect(await s.retract(inputs[0]!, 'stale read', 300)).toBe('conflict');
      expect(await s.setLineage(inputs[1]!, { input: { kind: 'job', key: 'x' } })).toBe('conflict');
      const m = after.find((r) => r.segmentId === 'm')!;
      expect(await s.retract(m, 'bad rows', 300)).toBe('committed');
      expect(await s.get('clicks', 'v1', '2024-08-01', 'm')).toMatchObject({
        state: 'superseded',
        retracted: 'bad rows',
      });
    });
  });
}

const backlogs: Record<string, () => Promise<BacklogStore>> = {
  'Azure Table': () => OnlineBacklogTable.open(storage, fresh('backlog')),
  memory: async () => new MemoryBacklogStore(),
};

for (const [backend, make] of Object.entries(backlogs)) {
  describe(`BacklogStore (${backend})`, () => {
    it('put replaces an entry of the same key; remove of a missing key is a no-op', async () => {
      const s = await make();
      const seg = { view: 'clicks', version: 'v1', day: '2024-08-01', segmentId: 's1' };
      await s.put({ key: 'k1', segments: [seg], addedAt: 1 });
      await s.put({ key: 'k1', segments: [seg, { ...seg, segmentId: 's2' }], addedAt: 2 });
      await s.put({ key: 'k2', segments: [], addedAt: 3 });
      expect((await s.all()).map((e) => [e.key, e.segments.length, e.addedAt]).sort()).toEqual([
        ['k1', 2, 2],
        ['k2', 0, 3],
      ]);
      await s.remove('k1');
      await s.remove('never');
      expect((await s.all()).map((e) => e.key)).toEqual(['k2']);
    });
  });
}

const letter = (n: number): DeadLetter => ({
  source: 'clicks',
  record: { n },
  reason: `bad ${n}`,
  position: `line ${n}`,
  receivedAt: '2024-08-01T00:00:00.000Z',
});

const deadLetterStores: Record<string, () => DeadLetterStore> = {
  'Azure Blob': () => new DeadLetterBlobs(storage),
  memory: () => new MemoryDeadLetterStore(),
};

for (const [backend, make] of Object.entries(deadLetterStores)) {
  describe(`DeadLetterStore (${backend})`, () => {
    it('keeps each batch once under its path, counts by day, lists the newest batch first', async () => {
      const s = make();
      const source = fresh('src');
      const of = (n: number) => ({ ...letter(n), source });
      expect(await s.write(source, 'b0', [])).toBeUndefined();
      expect(await s.write(source, 'b1', [of(1), of(2)], new Date('2024-08-01T10:00:00Z'))).toEqual({
        blobPath: `${source}/2024-08-01/b1.jsonl`,
        count: 2,
      });
      await new Promise((r) => setTimeout(r, 1100)); // blob last-modified has one-second resolution
      await s.write(source, 'b2', [of(3)], new Date('2024-08-02T10:00:00Z'));
      expect(await s.countsByDay(source, '2024-08-01')).toEqual({ '2024-08-01': 2, '2024-08-02': 1 });
      expect(await s.countsByDay(source, '2024-08-02')).toEqual({ '2024-08-02': 1 });
      expect((await s.list(source)).map((l) => l.reason)).toEqual(['bad 3', 'bad 1', 'bad 2']);
      expect((await s.list(source, 2)).map((l) => l.reason)).toEqual(['bad 3', 'bad 1']);
    });
  });
}

const record = (id: string): TrainingSetResult => ({ id, rows: 3 }) as unknown as TrainingSetResult;

const trainingSetStores: Record<string, () => TrainingSetStore> = {
  'Azure Blob': () => new TrainingSetBlobs(storage),
  memory: () => new MemoryTrainingSetStore(),
};

for (const [backend, make] of Object.entries(trainingSetStores)) {
  describe(`TrainingSetStore (${backend})`, () => {
    it('records are write-once and replaced only under the token they were read with', async () => {
      const s = make();
      const id = fresh('set');
      expect(await s.readRecord(id)).toBeUndefined();
      expect(await s.createRecord(record(id))).toBe('created');
      expect(await s.createRecord({ ...record(id), rows: 4 } as TrainingSetResult)).toBe('taken');
      expect(await s.readRecord(id)).toMatchObject({ id, rows: 3 });
      const { token } = (await s.records()).find((r) => r.record.id === id)!;
      const replaced = await s.replaceRecord({ id, params: { loader: 'eh-1' } }, token);
      expect(replaced).not.toBe('conflict');
      expect(await s.replaceRecord({ id, params: { loader: 'late' } }, token)).toBe('conflict');
      expect((await s.records()).find((r) => r.record.id === id)!.record.params).toEqual({ loader: 'eh-1' });
    });

    it('a data file is written once, read whole or by range while unchanged', async () => {
      const s = make();
      const name = `${fresh('file')}.csv`;
      const local = path.join(dir, name);
      fs.writeFileSync(local, 'a,b\n1,2\n');
      expect(await s.fileInfo(name)).toBeUndefined();
      await s.putFileOnce(name, local);
      fs.writeFileSync(local, 'changed\n');
      await s.putFileOnce(name, local); // a second upload of the name leaves the first
      const info = (await s.fileInfo(name))!;
      expect(info.size).toBe(8);
      expect((await s.readRange(name, 4, 3, info.etag)).toString()).toBe('1,2');
      expect(await s.readRange(name, 0, 3, '"not-it"')).toBe('changed');
      const back = path.join(dir, `back-${name}`);
      await s.downloadFile(name, back, info.etag);
      expect(fs.readFileSync(back, 'utf8')).toBe('a,b\n1,2\n');
    });
  });
}

const run = (id: string, model: string, createdAt: number, status: TrainingRun['status'] = 'RUNNING'): TrainingRun =>
  ({
    id,
    model,
    status,
    reason: 'http',
    createdAt,
    updatedAt: createdAt,
    steps: {},
    window: { from: 0, to: 1 },
    definitionVersions: {},
    codeVersion: 'test',
  }) as unknown as TrainingRun;

const runStores: Record<string, () => RunStore> = {
  'Azure Table': () => new TableRunStore(storage, fresh('runs')),
  memory: () => new MemoryRunStore(),
};

for (const [backend, make] of Object.entries(runStores)) {
  describe(`RunStore (${backend})`, () => {
    it("creates a run once, lists a model's runs newest first by status and limit", async () => {
      const s = make();
      expect((await s.create(run('r1', 'churn', 100))).created).toBe(true);
      const again = await s.create({ ...run('r1', 'churn', 100), reason: 'second' });
      expect([again.created, again.run.reason]).toEqual([false, 'http']);
      await s.create(run('r2', 'churn', 300, 'COMPLETED'));
      await s.create(run('r3', 'churn', 200));
      await s.create(run('r4', 'fraud', 400));
      expect((await s.list({ model: 'churn' })).map((r) => r.id)).toEqual(['r2', 'r3', 'r1']);
      expect((await s.list({ model: 'churn', status: 'RUNNING' })).map((r) => r.id)).toEqual(['r3', 'r1']);
      expect((await s.list({ limit: 2 })).map((r) => r.id)).toEqual(['r4', 'r2']);
      expect(await s.get('nope')).toBeUndefined();
    });

    it('racing updates are each applied once; an update of a missing run is a NotFoundError', async () => {
      const s = make();
      await s.create(run('r1', 'churn', 100));
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          s.update('r1', (r) => ({ ...r, tags: [...((r as { tags?: number[] }).tags ?? []), i] }) as TrainingRun),
        ),
      );
      const tags = ((await s.get('r1')) as unknown as { tags: number[] }).tags;
      expect([...tags].sort()).toEqual([0, 1, 2, 3, 4]);
      expect((await s.get('r1'))!.updatedAt).toBeGreaterThan(100);
      await expect(s.update('nope', (r) => r)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a run longer than one Table property reads back whole; triggers are kept apart from runs', async () => {
      const s = make();
      const big = { ...run('big', 'churn', 100), summary: { text: 'x'.repeat(70_000) } };
      await s.create(big);
      expect((await s.get('big'))!.summary).toEqual({ text: 'x'.repeat(70_000) });
      expect(await s.getTrigger('churn')).toBeUndefined();
      await s.setTrigger({ model: 'churn', lastStartAt: 5, lastRunId: 'big', reason: 'schedule' });
      await s.setTrigger({ model: 'churn', lastStartAt: 9, lastRunId: 'big', reason: 'alert:drift' });
      expect(await s.getTrigger('churn')).toEqual({
        model: 'churn',
        lastStartAt: 9,
        lastRunId: 'big',
        reason: 'alert:drift',
      });
      expect((await s.list()).map((r) => r.id)).toEqual(['big']);
    });
  });
}

const fileStores: Record<string, (container: string) => FileStore> = {
  'Azure Blob': (container) => new BlobFileStore(storage, container),
  memory: (container) => new MemoryFileStore(container),
};

for (const [backend, make] of Object.entries(fileStores)) {
  describe(`FileStore (${backend})`, () => {
    it('puts bytes, strings and local files by name, replacing; names its files <container>/<name>', async () => {
      const container = fresh('files');
      const s = make(container);
      expect(await s.read('job/model.onnx')).toBeUndefined();
      await s.put('job/model.onnx', new Uint8Array([1, 2, 3]), { contentType: 'application/octet-stream' });
      await s.put('job/baseline.json', '{"é":1}', { contentType: 'application/json', metadata: { sha256: 'x' } });
      const local = path.join(dir, `${container}.parquet`);
      fs.writeFileSync(local, 'PAR1');
      await s.putFile('train/j.parquet', local, 'application/vnd.apache.parquet');
      expect([...(await s.read('job/model.onnx'))!]).toEqual([1, 2, 3]);
      expect((await s.read('job/baseline.json'))!.toString('utf8')).toBe('{"é":1}');
      expect((await s.read('train/j.parquet'))!.toString()).toBe('PAR1');
      await s.put('job/model.onnx', new Uint8Array([9]), { contentType: 'application/octet-stream' });
      const back = (await s.read('job/model.onnx'))!;
      expect([...back]).toEqual([9]);
      back[0] = 7; // a read is a copy
      expect([...(await s.read('job/model.onnx'))!]).toEqual([9]);
      expect(pathOf(s, 'job/model.onnx')).toBe(`${container}/job/model.onnx`);
    });
  });
}

const baselineOf = (rows: number): Baseline => ({ schema: 'test', rows, features: [] }) as unknown as Baseline;

const baselineStores: Record<string, () => Promise<BaselineStore>> = {
  'Azure Blob': () => BlobBaselineStore.open(storage),
  memory: async () => new MemoryBaselineStore(),
};

for (const [backend, make] of Object.entries(baselineStores)) {
  describe(`BaselineStore (${backend})`, () => {
    it("a version's baseline is written once: the same again is a no-op, another a ConflictError", async () => {
      const s = await make();
      const model = fresh('model');
      expect(await s.get(model, 1)).toBeUndefined();
      await s.put(model, 1, baselineOf(10));
      await s.put(model, 1, baselineOf(10));
      await expect(s.put(model, 1, baselineOf(11))).rejects.toBeInstanceOf(ConflictError);
      await s.put(model, 2, baselineOf(20));
      expect((await s.get(model, 1))!.rows).toBe(10);
      expect((await s.get(model, 2))!.rows).toBe(20);
    });
  });
}

const H = 3_600_000;
const windowOf = (model: string, version: number, start: number, rows = 1): WindowResult =>
  ({
    model,
    version,
    start,
    end: start + H,
    status: 'computed',
    computedAt: 1,
    inputs: `in${rows}`,
    rows,
  }) as WindowResult;

const resultStores: Record<string, () => Promise<MonitoringResultStore>> = {
  'Azure Table': () => TableMonitoringResultStore.open(storage),
  memory: async () => new MemoryMonitoringResultStore(),
};

for (const [backend, make] of Object.entries(resultStores)) {
  describe(`MonitoringResultStore (${backend})`, () => {
    it("keeps one result per (version, window), lists a model's windows oldest first, states without reports", async () => {
      const s = await make();
      const model = fresh('model');
      const T = Date.UTC(2024, 7, 1);
      await s.putWindow(windowOf(model, 2, T + H), [{ metric: 'rows', subject: '', value: 1 }]);
      await s.putWindow(windowOf(model, 1, T + H), []);
      await s.putWindow(windowOf(model, 1, T), []);
      await s.putWindow(windowOf(model, 1, T, 5), [{ metric: 'drift', subject: 'f/x', value: 0.2, method: 'ks' }]);
      await s.putWindow(windowOf(`${model}b`, 1, T), []);
      expect((await s.listWindows(model)).map((w) => [w.start - T, w.version, w.rows])).toEqual([
        [0, 1, 5],
        [H, 1, 1],
        [H, 2, 1],
      ]);
      expect((await s.listWindows(model, { from: T + H, version: 2 })).map((w) => w.version)).toEqual([2]);
      expect((await s.listWindows(model, { to: T + H })).map((w) => w.start - T)).toEqual([0]);
      expect(await s.getWindow({ model, version: 1, start: T })).toMatchObject({ rows: 5, inputs: 'in5' });
      expect(await s.getWindow({ model, version: 3, start: T })).toBeUndefined();
      const states = await s.windowStates(model, 1, { from: T, to: T + 2 * H });
      expect([...states.entries()].sort(([a], [b]) => a - b)).toEqual([
        [T, { start: T, version: 1, status: 'computed', inputs: 'in5', computedAt: 1, rows: 5 }],
        [T + H, { start: T + H, version: 1, status: 'computed', inputs: 'in1', computedAt: 1, rows: 1 }],
      ]);
      // A model with labels: the window's label count and its predictions' fingerprint come back with its state.
      await s.putWindow({ ...windowOf(model, 3, T, 4), labelRows: 2, predictionInputs: 'p4', computedAt: 7 }, []);
      expect((await s.windowStates(model, 3, { from: T, to: T + H })).get(T)).toEqual({
        start: T,
        version: 3,
        status: 'computed',
        inputs: 'in4',
        computedAt: 7,
        predictionInputs: 'p4',
        rows: 4,
        labelRows: 2,
      });
    });

    it("stores a window's metric points, a recompute's replacing them, deletes included, across transactions", async () => {
      const s = await make();
      const model = fresh('model');
      const T = Date.UTC(2024, 7, 2);
      const many = Array.from({ length: 150 }, (_, i) => ({
        metric: 'null_rate',
        subject: `user_clicks:f${String(i).padStart(3, '0')}`,
        value: i / 1000,
      }));
      const drift = { metric: 'drift_score', subject: 'user_clicks:clicks_1h', value: 0.2, method: 'ks' };
      await s.putWindow(windowOf(model, 1, T), [...many, drift]);
      await s.putWindow(windowOf(model, 1, T + H), [{ metric: 'rows', subject: '', value: 7 }]);
      expect(await s.metricPoints({ model, version: 1, start: T })).toEqual([drift, ...many]);
      // Recomputed with fewer points (late data): only the new ones are stored; the next window keeps its own.
      const again = [{ ...drift, value: 0.3 }, ...many.slice(0, 10)];
      await s.putWindow(windowOf(model, 1, T, 9), again);
      expect(await s.metricPoints({ model, version: 1, start: T })).toEqual(again);
      expect(await s.metricPoints({ model, version: 1, start: T + H })).toEqual([
        { metric: 'rows', subject: '', value: 7 },
      ]);
      expect(await s.metricPoints({ model, version: 2, start: T })).toEqual([]);
      // Two runs storing the same recompute at once (both delete the same stale rows): both succeed.
      await s.putWindow(windowOf(model, 1, T), [...many, drift]);
      await Promise.all([1, 2].map(() => s.putWindow(windowOf(model, 1, T, 9), again)));
      expect(await s.metricPoints({ model, version: 1, start: T })).toEqual(again);
    });

    it('refreshes a window under a new fingerprint and leaves its metric points as they are', async () => {
      const s = await make();
      const model = fresh('model');
      const T = Date.UTC(2024, 7, 3);
      const points = [{ metric: 'rows', subject: '', value: 3 }];
      await s.putWindow(windowOf(model, 1, T, 3), points);
      const refreshed = { ...windowOf(model, 1, T, 3), inputs: 'merged', predictionInputs: 'merged-p', computedAt: 2 };
      await s.refreshWindow(refreshed);
      expect(await s.getWindow({ model, version: 1, start: T })).toEqual(refreshed);
      expect((await s.windowStates(model, 1, { from: T, to: T + H })).get(T)).toMatchObject({
        inputs: 'merged',
        predictionInputs: 'merged-p',
        computedAt: 2,
      });
      expect(await s.metricPoints({ model, version: 1, start: T })).toEqual(points);
    });
  });
}

const summaryOf = (view: string, day: string, rows: number): StoredSummary => ({
  view,
  version: 'v1',
  day,
  inputs: `i${rows}`,
  computedAt: 1,
  summary: { rows, features: { x: { nullRate: 0, mean: rows } } },
  score: { status: 'insufficient_history', history: 0, score: 0, metrics: [] },
});

const summaryStores: Record<string, () => Promise<SummaryStore>> = {
  'Azure Table': () => TableSummaryStore.open(storage),
  memory: async () => new MemorySummaryStore(),
};

for (const [backend, make] of Object.entries(summaryStores)) {
  describe(`SummaryStore (${backend})`, () => {
    it('keeps one summary per (view, day), a put replacing it, and lists a range of days in order', async () => {
      const s = await make();
      const view = `${fresh('view')}/odd name`;
      await s.put(summaryOf(view, '2024-08-03', 3));
      await s.put(summaryOf(view, '2024-08-01', 1));
      await s.put(summaryOf(view, '2024-08-02', 2));
      await s.put(summaryOf(view, '2024-08-02', 22));
      expect((await s.list(view)).map((x) => [x.day, x.summary.rows])).toEqual([
        ['2024-08-01', 1],
        ['2024-08-02', 22],
        ['2024-08-03', 3],
      ]);
      expect((await s.list(view, { fromDay: '2024-08-02', toDay: '2024-08-03' })).map((x) => x.day)).toEqual([
        '2024-08-02',
      ]);
      expect(await s.get(view, '2024-08-01')).toEqual(summaryOf(view, '2024-08-01', 1));
      expect(await s.get(view, '2024-08-09')).toBeUndefined();
    });
  });
}

const alertOf = (ruleId: string, subject: string, status: AlertState['status']): AlertState =>
  ({
    ruleId,
    subject,
    status,
    severity: 'warning',
    metric: 'drift',
    value: 1,
    at: 1,
    streak: 1,
    streakBefore: 0,
    delivered: false,
  }) as AlertState;

const alertStores: Record<string, () => Promise<AlertStore>> = {
  'Azure Table': () => TableAlertStore.open(storage),
  memory: async () => new MemoryAlertStore(),
};

for (const [backend, make] of Object.entries(alertStores)) {
  describe(`AlertStore (${backend})`, () => {
    it('rules are put, replaced and deleted by id', async () => {
      const s = await make();
      const id = fresh('rule');
      const rule = AlertRuleSchema.parse({ id, metric: 'psi', comparison: '>', threshold: 0.2, severity: 'warning' });
      await s.putRule(rule);
      await s.putRule({ ...rule, threshold: 0.3 });
      expect((await s.listRules()).filter((r) => r.id === id).map((r) => r.threshold)).toEqual([0.3]);
      expect(await s.deleteRule(id)).toBe(true);
      expect(await s.deleteRule(id)).toBe(false);
      expect((await s.listRules()).some((r) => r.id === id)).toBe(false);
    });

    it('one alert per (rule, subject), each change conditional on the version read', async () => {
      const s = await make();
      const rule = fresh('rule');
      await s.putAlert(alertOf(rule, 'churn/x', 'open'), undefined);
      await expect(s.putAlert(alertOf(rule, 'churn/x', 'open'), undefined)).rejects.toBeInstanceOf(ConflictError);
      const read = (await s.getAlert(rule, 'churn/x'))!;
      expect(read.state.status).toBe('open');
      await s.putAlert({ ...read.state, status: 'resolved' }, read.etag);
      await expect(s.putAlert({ ...read.state, streak: 9 }, read.etag)).rejects.toBeInstanceOf(ConflictError);
      await s.putAlert(alertOf(rule, 'churn/y', 'open'), undefined);
      const mine = (xs: AlertState[]) => xs.filter((a) => a.ruleId === rule).map((a) => `${a.subject}:${a.status}`);
      expect(mine(await s.listAlerts()).sort()).toEqual(['churn/x:resolved', 'churn/y:open']);
      expect(mine(await s.listAlerts({ status: 'open' }))).toEqual(['churn/y:open']);
      expect(await s.getAlert(rule, 'churn/z')).toBeUndefined();
    });
  });
}
