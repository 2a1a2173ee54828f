/**
 * The feature registry against Azurite: apply, re-apply (no-op), compatible changes recorded as new
 * versions, incompatible changes refused with what to do instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { storageFor, type Storage } from '../../shared/storage/clients';
import { ConflictError, NotFoundError } from '../../shared/errors';
import { defineRepo, entity, featureService, featureView, source, sliding } from '../../shared/features/definitions';
import { apply, definitionHistory, getDefinition, listDefinitions } from '../../shared/features/registry';
import { churnRepo } from '../../shared/definitions/churn';

let azurite: AzuriteHandle;
let storage: Storage;
let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-registry-'));
  azurite = await startAzurite({ location: dir });
  storage = storageFor(azurite.connectionString);
});
afterAll(async () => {
  await azurite?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

let tableSeq = 0;
/** Each test applies into its own table, so tests do not see each other. */
const freshTable = () => ({ table: `registry${++tableSeq}${Date.now() % 100000}` });

/** A small repo whose parts a test can change one at a time. */
function shop(change: {
  joinKey?: string;
  entityRevision?: number;
  spendType?: 'float' | 'int';
  viewRevision?: number;
  multiplier?: number;
  extraFeature?: boolean;
  dropSpend?: boolean;
  withService?: boolean;
} = {}) {
  const customer = entity({ name: 'customer', joinKey: change.joinKey ?? 'customer_id', revision: change.entityRevision ?? 1 });
  const orders = source({
    name: 'orders',
    schema: z.object({ customer_id: z.string(), cid: z.string(), amount: z.number(), ts: z.number() }),
    eventTime: 'ts',
    stream: { hub: 'orders' },
  });
  // Only the expression's text is versioned (a value captured from outside is not), so spell it out.
  const spend = change.multiplier === 2 ? (r: { amount: number }) => r.amount * 2 : (r: { amount: number }) => r.amount;
  const spending = featureView({
    name: 'spending',
    entity: customer,
    input: orders,
    revision: change.viewRevision ?? 1,
    features: (f) => ({
      orders_7d: f.count(sliding('7d')),
      ...(change.dropSpend ? {} : { spend: change.spendType === 'int' ? f.expr('int', (r) => Math.round(r.amount)) : f.expr('float', spend) }),
      ...(change.extraFeature ? { biggest_7d: f.max('amount', sliding('7d')) } : {}),
    }),
  });
  const services = change.withService === false ? [] : [featureService({ name: 'scoring', features: change.dropSpend ? ['spending:orders_7d'] : ['spending:orders_7d', 'spending:spend'] })];
  return defineRepo({ entities: [customer], sources: [orders], views: [spending], services });
}

async function refused(p: Promise<unknown>): Promise<ConflictError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConflictError);
  return e as ConflictError;
}

describe('apply', () => {
  it('records every definition of a repo, and re-applying it is a no-op', async () => {
    const t = freshTable();
    const first = await apply(storage, churnRepo, t);
    expect([first.created, first.updated, first.unchanged]).toEqual([7, 0, 0]);
    const again = await apply(storage, churnRepo, t);
    expect([again.created, again.updated, again.unchanged]).toEqual([0, 0, 7]);
    expect(await definitionHistory(storage, 'view', 'user_clicks', t)).toHaveLength(1);

    const view = await getDefinition(storage, 'view', 'user_clicks', t);
    expect(view.version).toBe(churnRepo.view('user_clicks').version);
    expect(view.definition).toEqual(churnRepo.view('user_clicks').definition);
    expect((await listDefinitions(storage, { ...t, kind: 'service' })).map((d) => d.name)).toEqual(['churn_v1']);
    expect(await listDefinitions(storage, t)).toHaveLength(7);
  });

  it('records a changed expression as a new version, and the new versions downstream', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const r = await apply(storage, shop({ multiplier: 2 }), t);
    expect(r.changes.filter((c) => c.change === 'updated').map((c) => [c.kind, c.name, c.notes])).toEqual([
      ['view', 'spending', ['feature changed: spend (expression)']],
      ['service', 'scoring', ['a view it reads has a new version']],
    ]);
    const history = await definitionHistory(storage, 'view', 'spending', t);
    expect(history.map((h) => h.version)).toEqual([shop().view('spending').version, shop({ multiplier: 2 }).view('spending').version]);
  });

  it('records an added feature', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const r = await apply(storage, shop({ extraFeature: true }), t);
    expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({ change: 'updated', notes: ['feature added: biggest_7d'] });
  });

  it('refuses a feature type change, says why and how, and applies nothing', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const e = await refused(apply(storage, shop({ spendType: 'int', extraFeature: true }), t));
    expect(e.status).toBe(409);
    expect(e.details).toEqual([
      {
        where: 'views.spending.features.spend.type',
        problem:
          'feature view "spending": feature "spend" changes type from float to int. Stored rows and trained models read it as float. ' +
          'Add the new type under a new feature name (e.g. "spend_int"), or raise the view\'s revision (revision: 2) to declare the break, then backfill the view',
      },
    ]);
    expect((await getDefinition(storage, 'view', 'spending', t)).version).toBe(shop().view('spending').version);
  });

  it('accepts the type change when the view’s revision is raised, marked breaking', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const r = await apply(storage, shop({ spendType: 'int', viewRevision: 2 }), t);
    expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({
      change: 'updated',
      breaking: true,
      notes: ['feature "spend" changes type from float to int (accepted: revision 1 -> 2; backfill what it feeds)'],
    });
    await refused(apply(storage, shop({ spendType: 'int', viewRevision: 1 }), t)); // and never back
  });

  it('refuses a join key change unless the entity’s revision is raised', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const e = await refused(apply(storage, shop({ joinKey: 'cid' }), t));
    expect(e.details.map((d) => d.where)).toEqual(['entities.customer.joinKey']);
    expect(e.message).toMatch(/entity "customer": join key changes from "customer_id" to "cid"\. .*Define a new entity \(e\.g\. "customer_v2"\)/);
    const r = await apply(storage, shop({ joinKey: 'cid', entityRevision: 2 }), t);
    expect(r.changes.find((c) => c.kind === 'entity')).toMatchObject({ change: 'updated', breaking: true });
  });

  it('refuses to remove a feature that an applied service outside the repo still reads', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const e = await refused(apply(storage, shop({ dropSpend: true, withService: false }), t));
    expect(e.details).toEqual([
      {
        where: 'views.spending.features.spend',
        problem:
          'feature view "spending": feature "spend" is removed, but the applied feature service "scoring" (not in this repo) still reads it. Keep the feature, or first apply a version of "scoring" without it',
      },
    ]);
    // removing it together with the service's use of it is fine
    const r = await apply(storage, shop({ dropSpend: true }), t);
    expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({ change: 'updated', notes: ['feature removed: spend'] });
  });

  it('keeps definitions that are not in the repo, and says so', async () => {
    const t = freshTable();
    await apply(storage, shop(), t);
    const r = await apply(storage, shop({ withService: false }), t);
    expect(r.notInRepo).toEqual([{ kind: 'service', name: 'scoring' }]);
    expect((await getDefinition(storage, 'service', 'scoring', t)).name).toBe('scoring');
  });

  it('dry run reports without writing', async () => {
    const t = freshTable();
    const r = await apply(storage, shop(), { ...t, dryRun: true });
    expect([r.created, r.dryRun]).toEqual([4, true]);
    await expect(getDefinition(storage, 'view', 'spending', t)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('two processes applying the same repo at once both succeed, and it is recorded once', async () => {
    const t = freshTable();
    const [a, b] = await Promise.all([apply(storage, churnRepo, t), apply(storage, churnRepo, t)]);
    expect(a.created + b.created).toBe(7);
    expect(a.unchanged + b.unchanged).toBe(7);
    expect((await listDefinitions(storage, t)).map((d) => d.version).sort()).toEqual(churnRepo.definitions().map((d) => d.version).sort());
  });

  it('says a definition was never applied', async () => {
    await expect(getDefinition(storage, 'view', 'nope', freshTable())).rejects.toThrow('no feature view named "nope" has been applied; apply the repo that defines it first');
  });
});
