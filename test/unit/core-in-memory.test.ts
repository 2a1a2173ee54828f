/**
 * The core's rules on the in-memory stores (shared/memory/), with no Azurite: what the storage
 * contracts make possible for tests that are about the rules, not the backend. The same rules
 * run on the Azure stores in the integration suites (registry, serving-registry, ingest, plan).
 */
import { describe, expect, it } from 'vitest';
import { apply, listDefinitions } from '../../shared/features/definitions/registry';
import { churnRepo } from '../../shared/definitions/churn';
import { IntervalLedger } from '../../shared/features/ledger/ledger';
import { ModelRegistry } from '../../shared/serving/registry';
import { MemoryDefinitionStore } from '../../shared/memory/definitions';
import { MemoryLedgerStore } from '../../shared/memory/ledger';
import { MemoryModelStore } from '../../shared/memory/models';
import { logistic } from '../helpers/serving-fixtures';

const DAY = 86_400_000;
const D = Date.parse('2024-08-01T00:00:00Z');

describe('the core on memory stores', () => {
  it('apply records every definition once; a second apply changes nothing', async () => {
    const store = new MemoryDefinitionStore();
    const first = await apply(store, churnRepo);
    expect([first.created, first.updated, first.unchanged]).toEqual([8, 0, 0]);
    const again = await apply(store, churnRepo);
    expect([again.created, again.updated, again.unchanged]).toEqual([0, 0, 8]);
    expect((await listDefinitions(store, { kind: 'service' })).map((d) => d.name)).toEqual(['churn_v1']);
  });

  it('the ledger adds up a day over batches and keeps the newest watermark of a view', async () => {
    const ledger = new IntervalLedger(new MemoryLedgerStore());
    const day = '2024-08-01';
    const delta = (rows: number, late: number, maxEventTs: number) => ({
      view: 'clicks',
      version: 'v1',
      day,
      closesAt: D + DAY + 3_600_000,
      rows,
      maxEventTs,
      late,
    });
    await ledger.recordStream({
      at: D + 10 * 3_600_000,
      days: [delta(3, 0, D + 9 * 3_600_000)],
      heads: [{ view: 'clicks', version: 'v1', watermark: D + 9 * 3_600_000 }],
    });
    await ledger.recordStream({
      at: D + 12 * 3_600_000,
      days: [delta(2, 1, D + 11 * 3_600_000)],
      heads: [{ view: 'clicks', version: 'v1', watermark: D + 11 * 3_600_000 }],
    });
    const [entry] = await ledger.entries({ views: ['clicks'], now: D + 12 * 3_600_000 });
    expect(entry).toMatchObject({ view: 'clicks', version: 'v1', day, rows: 5, lateRecords: 1 });
    expect((await ledger.heads()).get('clicks')).toMatchObject({ version: 'v1', watermark: D + 11 * 3_600_000 });
  });

  it('the model registry gives the same content one version, however often it is registered', async () => {
    const registry = new ModelRegistry(new MemoryModelStore(), { now: () => 1_000 });
    const m = logistic(['user:age', 'user:tenure'], [0.5, -0.25], 0.1);
    const [a, b] = await Promise.all([registry.register('churn', m), registry.register('churn', m)]);
    expect([a.version.version, b.version.version]).toEqual([1, 1]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    await registry.setAlias('churn', 'production', 1);
    expect((await registry.getModel('churn')).aliases).toEqual({ production: 1 });
    expect((await registry.history('churn')).map((h) => h.action)).toEqual(['register', 'alias']);
  });
});
