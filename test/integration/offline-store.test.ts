import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { OFFLINE_CONTAINER, segmentId, type OfflineStore } from '../../shared/features/offline';
import { CLICK_COLUMNS, hubBatch, row, sorted, spec, startOfflineEnv, t, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
beforeAll(async () => {
  env = await startOfflineEnv();
});
afterAll(async () => {
  await env?.stop();
});

describe('offline store: segments and the manifest', () => {
  it('writes a batch as one segment per event day and reads the rows back with their types', async () => {
    const store = await env.store();
    const rows = [
      row('u1', '2024-03-01T10:00:00', '2024-03-01T10:00:05', { clicks: 3, spend: 1.5, country: 'NL', active: true }),
      row('u2', '2024-03-01T23:59:59.999', '2024-03-02T00:00:01', {
        clicks: 0,
        spend: null,
        country: null,
        active: false,
      }),
      row('u1', '2024-03-02T00:00:00', '2024-03-02T00:00:02', {
        clicks: 9007199254740991,
        spend: -0.25,
        country: 'DE',
        active: null,
      }),
    ];
    const res = await store.writeRows(spec('days', hubBatch(1, 3)), rows);

    expect(res.rowsCommitted).toBe(3);
    expect(res.segments.map((s) => [s.day, s.rowCount, s.status])).toEqual([
      ['2024-03-01', 2, 'committed'],
      ['2024-03-02', 1, 'committed'],
    ]);
    // A batch over several days is one claimed rendering: every segment's blob names the same claim and rendering.
    for (const s of res.segments)
      expect(s.blobPath).toMatch(new RegExp(`^days/v1/${s.day}/${s.segmentId}\\.[0-9a-f]{32}-[0-9a-f]{16}\\.parquet$`));
    expect(new Set(res.segments.map((s) => s.blobPath.split('.')[1])).size).toBe(1);

    expect(await store.readRows('days')).toEqual(sorted(rows));
    const segs = await store.listSegments('days');
    expect(segs.map((s) => [s.day, s.rowCount, s.minEventTs, s.maxEventTs, s.maxCreatedTs])).toEqual([
      ['2024-03-01', 2, t('2024-03-01T10:00:00'), t('2024-03-01T23:59:59.999'), t('2024-03-02T00:00:01')],
      ['2024-03-02', 1, t('2024-03-02T00:00:00'), t('2024-03-02T00:00:00'), t('2024-03-02T00:00:02')],
    ]);
    expect(segs[0]!.lineage).toEqual(hubBatch(1, 3));
  });

  it('derives segment ids from the input, view, version and day only', () => {
    const a = segmentId(hubBatch(1, 3).input, 'v', '1', '2024-03-01');
    expect(
      segmentId(
        { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: 1, lastSeq: 3 },
        'v',
        '1',
        '2024-03-01',
      ),
    ).toBe(a);
    expect(segmentId(hubBatch(1, 4).input, 'v', '1', '2024-03-01')).not.toBe(a);
    expect(segmentId(hubBatch(1, 3, '1').input, 'v', '1', '2024-03-01')).not.toBe(a);
    expect(segmentId(hubBatch(1, 3).input, 'v', '2', '2024-03-01')).not.toBe(a);
    expect(segmentId(hubBatch(1, 3).input, 'v', '1', '2024-03-02')).not.toBe(a);
    const file = (name: string) =>
      segmentId({ kind: 'file', source: 'clicks', sha256: 'AB12', name }, 'v', '1', '2024-03-01');
    expect(file('a.csv')).toBe(file('renamed.csv'));
  });

  it('a redelivered batch (same input, new ingest time) commits nothing new', async () => {
    const store = await env.store();
    const first = [
      row('u1', '2024-03-05T10:00:00', '2024-03-05T10:00:01', { clicks: 1, spend: 1, country: 'NL', active: true }),
    ];
    const again = [
      row('u1', '2024-03-05T10:00:00', '2024-03-05T11:00:00', { clicks: 1, spend: 1, country: 'NL', active: true }),
    ];
    const a = await store.writeRows(spec('redeliver', hubBatch(10, 10)), first);
    const before = await store.listSegments('redeliver');
    const b = await store.writeRows(spec('redeliver', hubBatch(10, 10)), again);

    expect(a.segments[0]!.status).toBe('committed');
    expect(b.segments[0]!.status).toBe('already-committed');
    expect(b.rowsCommitted).toBe(0);
    expect(await store.listSegments('redeliver')).toEqual(before);
    expect(await store.readRows('redeliver')).toEqual(first);
    // A different store (another process) sees the same.
    const other = await env.store();
    expect((await other.writeRows(spec('redeliver', hubBatch(10, 10)), again)).rowsCommitted).toBe(0);
  });

  it('a re-uploaded file (same content hash) commits nothing new', async () => {
    const store = await env.store();
    const lineage = (name: string) => ({ input: { kind: 'file' as const, source: 'clicks', sha256: 'f00d', name } });
    const rows = [
      row('u9', '2024-03-06T01:00:00', '2024-03-06T02:00:00', { clicks: 2, spend: 0, country: 'FR', active: true }),
    ];
    expect((await store.writeRows(spec('files', lineage('a.csv')), rows)).rowsCommitted).toBe(1);
    expect((await store.writeRows(spec('files', lineage('copy of a.csv')), rows)).rowsCommitted).toBe(0);
    expect(await store.readRows('files')).toHaveLength(1);
  });

  it('reads a range of event time, and only rows that had arrived by asOf', async () => {
    const store = await env.store();
    await store.writeRows(spec('ranges', hubBatch(1, 4)), [
      row('a', '2024-03-01T00:00:00', '2024-03-01T00:00:00', { clicks: 1 }),
      row('a', '2024-03-02T00:00:00', '2024-03-05T00:00:00', { clicks: 2 }),
      row('a', '2024-03-03T00:00:00', '2024-03-03T00:00:00', { clicks: 3 }),
      row('a', '2024-03-04T00:00:00', '2024-03-04T00:00:00', { clicks: 4 }),
    ]);
    const clicks = (rs: { values: Record<string, unknown> }[]) => rs.map((r) => r.values.clicks);
    expect(clicks(await store.readRows('ranges', { from: t('2024-03-02'), to: t('2024-03-04') }))).toEqual([2, 3]);
    expect(clicks(await store.readRows('ranges', { asOf: t('2024-03-04') }))).toEqual([1, 3, 4]);
    expect(
      (await store.listSegments('ranges', { from: t('2024-03-02'), to: t('2024-03-04') })).map((s) => s.day),
    ).toEqual(['2024-03-02', '2024-03-03']);
  });

  it('reads only each entity’s rows at its newest event time in the range, every version of them', async () => {
    const store = await env.store();
    await store.writeRows(spec('newest', hubBatch(1, 7)), [
      row('a', '2024-03-01T00:00:00', '2024-03-01T00:00:00', { clicks: 1 }),
      row('a', '2024-03-02T00:00:00', '2024-03-02T00:00:00', { clicks: 2 }),
      row('a', '2024-03-02T00:00:00', '2024-03-02T05:00:00', { clicks: 20 }), // a correction at the same time
      row('a', '2024-03-04T00:00:00', '2024-03-04T00:00:00', { clicks: 4 }), // after the range
      row('b', '2024-03-01T12:00:00', '2024-03-01T12:00:00', { clicks: 5 }),
      row('b', '2024-03-01T06:00:00', '2024-03-01T06:00:00', { clicks: 6 }),
      row('c', '2024-02-27T00:00:00', '2024-02-27T00:00:00', { clicks: 7 }), // before the range
    ]);
    const got = await store.readRows('newest', { from: t('2024-03-01'), to: t('2024-03-03'), newestPerEntity: true });
    expect(got.map((r) => [r.entityId, r.values.clicks])).toEqual([
      ['a', 2],
      ['a', 20],
      ['b', 5],
    ]);
  });

  it('reads the newest definition version unless one is named', async () => {
    const store = await env.store();
    await store.writeRows(spec('versions', hubBatch(1, 1), CLICK_COLUMNS, 'old'), [
      row('a', '2024-03-01T00:00:00', 1, { clicks: 1 }),
    ]);
    await store.writeRows(spec('versions', hubBatch(1, 1), [{ name: 'clicks', type: 'float' }], 'new'), [
      row('a', '2024-03-01T00:00:00', 2, { clicks: 1.5 }),
    ]);
    expect(await store.latestVersion('versions')).toBe('new');
    expect((await store.readRows('versions')).map((r) => r.values)).toEqual([{ clicks: 1.5 }]);
    expect((await store.readRows('versions', { version: 'old' })).map((r) => r.values.clicks)).toEqual([1]);
  });

  it('refuses rows that do not match the view columns, naming the row and the column', async () => {
    const store = await env.store();
    const bad = [
      row('a', '2024-03-01T00:00:00', 1, { clicks: 1.5 }),
      row('b', '2024-03-01T00:00:00', 1, { country: 7 }),
    ];
    const err = await store.writeRows(spec('bad', hubBatch(1, 2)), bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details).toEqual([
      { where: 'rows[0].values.clicks', problem: 'must be an integer or null, got 1.5' },
      { where: 'rows[1].values.country', problem: 'must be a string or null, got 7' },
    ]);
    await expect(store.writeRows(spec('bad', hubBatch(1, 2)), [row('a', Number.NaN, 1, {})])).rejects.toThrow(
      ValidationError,
    );
    await expect(store.writeRows(spec('bad', hubBatch(1, 2), [{ name: 'event_ts', type: 'int' }]), [])).rejects.toThrow(
      /reserved/,
    );
    await expect(store.writeRows(spec('bad/view', hubBatch(1, 2)), [])).rejects.toThrow(
      /"bad\/view" is not a valid view name/,
    );
    expect(await store.listSegments('bad')).toEqual([]);
  });

  it('keeps segment blobs write-once: the committed ETag is the blob ETag', async () => {
    const store: OfflineStore = await env.store();
    await store.writeRows(spec('etags', hubBatch(1, 1)), [row('a', '2024-03-01T00:00:00', 1, { clicks: 1 })]);
    const [seg] = await store.listSegments('etags');
    const props = await store.container.getBlockBlobClient(seg!.blobPath).getProperties();
    expect(props.etag).toBe(seg!.etag);
    expect(store.container.containerName).toBe(OFFLINE_CONTAINER);
  });

  it('holds the commit back until beforeCommit settles, and commits nothing when it fails', async () => {
    const store = await env.store();
    const rows = [
      row('u1', '2024-03-07T10:00:00', '2024-03-07T10:00:01', { clicks: 2, spend: 3, country: 'NL', active: true }),
    ];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let settled = false;
    const writing = store
      .writeRows(spec('gated', hubBatch(20, 20)), rows, { beforeCommit: () => gate })
      .then((w) => ((settled = true), w));
    // Staged and uploaded, but not visible while the gate is closed.
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(await store.listSegments('gated')).toEqual([]);
    release();
    expect((await writing).segments.map((s) => s.status)).toEqual(['committed']);
    expect(await store.readRows('gated')).toEqual(rows);

    await expect(
      store.writeRows(spec('gated', hubBatch(21, 21)), rows, {
        beforeCommit: () => Promise.reject(new Error('the views failed')),
      }),
    ).rejects.toThrow('the views failed');
    expect((await store.listSegments('gated')).map((s) => s.segmentId)).toEqual([
      segmentId(hubBatch(20, 20).input, 'gated', 'v1', '2024-03-07'),
    ]);
    // The same input again, gate open: its orphaned upload is committed (or replaced) once.
    expect((await store.writeRows(spec('gated', hubBatch(21, 21)), rows)).segments.map((s) => s.status)).toEqual([
      'committed',
    ]);
    expect(await store.listSegments('gated')).toHaveLength(2);
  });

  it('takes days the caller has looked up as known and looks up only the others', async () => {
    const store = await env.store();
    const input = hubBatch(30, 31);
    const rows = [
      row('u1', '2024-03-08T10:00:00', '2024-03-08T10:00:01', { clicks: 1, spend: 1, country: 'NL', active: true }),
    ];
    expect(await store.lookUpDays('known', 'v1', input.input, ['2024-03-08'])).toEqual(
      new Map([['2024-03-08', false]]),
    );
    await store.writeRows(spec('known', input), rows);
    expect(await store.lookUpDays('known', 'v1', input.input, ['2024-03-08', '2024-03-09'])).toEqual(
      new Map([
        ['2024-03-08', true],
        ['2024-03-09', false],
      ]),
    );
    // Told the day is committed: nothing is staged or written.
    expect(
      (await store.writeRows(spec('known', input), rows, { committed: new Map([['2024-03-08', true]]) })).segments.map(
        (s) => s.status,
      ),
    ).toEqual(['already-committed']);
  });
});
