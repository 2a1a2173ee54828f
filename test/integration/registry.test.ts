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
import { storageFor, type Storage } from '../../shared/azure/storage';
import { ConflictError, NotFoundError } from '../../shared/errors';
import {
  defineRepo,
  entity,
  featureService,
  featureView,
  source,
  sliding,
} from '../../shared/features/definitions/language';
import {
  apply,
  definitionHistory,
  getDefinition,
  listDefinitions,
  type DefinitionStore,
} from '../../shared/features/definitions/registry';
import { DefinitionsTable } from '../../shared/azure/definitions-table';
import { MemoryDefinitionStore } from '../../shared/memory/definitions';
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
const BACKENDS: Record<string, () => Promise<DefinitionStore>> = {
  'Azure Table': () => DefinitionsTable.open(storage, `registry${++tableSeq}${Date.now() % 100000}`),
  memory: async () => new MemoryDefinitionStore(),
};

/** A small repo whose parts a test can change one at a time. */
function shop(
  change: {
    joinKey?: string;
    entityRevision?: number;
    spendType?: 'float' | 'int';
    viewRevision?: number;
    multiplier?: number;
    extraFeature?: boolean;
    dropSpend?: boolean;
    withService?: boolean;
  } = {},
) {
  const customer = entity({
    name: 'customer',
    joinKey: change.joinKey ?? 'customer_id',
    revision: change.entityRevision ?? 1,
  });
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
      ...(change.dropSpend
        ? {}
        : { spend: change.spendType === 'int' ? f.expr('int', (r) => Math.round(r.amount)) : f.expr('float', spend) }),
      ...(change.extraFeature ? { biggest_7d: f.max('amount', sliding('7d')) } : {}),
    }),
  });
  const services =
    change.withService === false
      ? []
      : [
          featureService({
            name: 'scoring',
            features: change.dropSpend ? ['spending:orders_7d'] : ['spending:orders_7d', 'spending:spend'],
          }),
        ];
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

// The same contract on both DefinitionStores: Azure Table (against Azurite) and memory.
for (const [backend, freshTable] of Object.entries(BACKENDS))
  describe(backend, () => {
    describe('apply', () => {
      it('records every definition of a repo, and re-applying it is a no-op', async () => {
        const t = await freshTable();
        const first = await apply(t, churnRepo);
        expect([first.created, first.updated, first.unchanged]).toEqual([8, 0, 0]);
        const again = await apply(t, churnRepo);
        expect([again.created, again.updated, again.unchanged]).toEqual([0, 0, 8]);
        expect(await definitionHistory(t, 'view', 'user_clicks')).toHaveLength(1);

        const view = await getDefinition(t, 'view', 'user_clicks');
        expect(view.version).toBe(churnRepo.view('user_clicks').version);
        expect(view.definition).toEqual(churnRepo.view('user_clicks').definition);
        expect((await listDefinitions(t, { kind: 'service' })).map((d) => d.name)).toEqual(['churn_v1']);
        expect(await listDefinitions(t)).toHaveLength(8);
      });

      it('records a changed expression as a new version, and the new versions downstream', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const r = await apply(t, shop({ multiplier: 2 }));
        expect(r.changes.filter((c) => c.change === 'updated').map((c) => [c.kind, c.name, c.notes])).toEqual([
          ['view', 'spending', ['feature changed: spend (expression)']],
          ['service', 'scoring', ['a view it reads has a new version']],
        ]);
        const history = await definitionHistory(t, 'view', 'spending');
        expect(history.map((h) => h.version)).toEqual([
          shop().view('spending').version,
          shop({ multiplier: 2 }).view('spending').version,
        ]);
      });

      it('records an added feature', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const r = await apply(t, shop({ extraFeature: true }));
        expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({
          change: 'updated',
          notes: ['feature added: biggest_7d'],
        });
      });

      it('refuses a feature type change, says why and how, and applies nothing', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const e = await refused(apply(t, shop({ spendType: 'int', extraFeature: true })));
        expect(e.status).toBe(409);
        expect(e.details).toEqual([
          {
            where: 'views.spending.features.spend.type',
            problem:
              'feature view "spending": feature "spend" changes type from float to int. Stored rows and trained models read it as float. ' +
              'Add the new type under a new feature name (e.g. "spend_int"), or raise the view\'s revision (revision: 2) to declare the break, then backfill the view',
          },
        ]);
        expect((await getDefinition(t, 'view', 'spending')).version).toBe(shop().view('spending').version);
      });

      it('accepts the type change when the view’s revision is raised, marked breaking', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const r = await apply(t, shop({ spendType: 'int', viewRevision: 2 }));
        expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({
          change: 'updated',
          breaking: true,
          notes: ['feature "spend" changes type from float to int (accepted: revision 1 -> 2; backfill what it feeds)'],
        });
        await refused(apply(t, shop({ spendType: 'int', viewRevision: 1 }))); // and never back
      });

      it('refuses a join key change unless the entity’s revision is raised', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const e = await refused(apply(t, shop({ joinKey: 'cid' })));
        expect(e.details.map((d) => d.where)).toEqual(['entities.customer.joinKey']);
        expect(e.message).toMatch(
          /entity "customer": join key changes from "customer_id" to "cid"\. .*Define a new entity \(e\.g\. "customer_v2"\)/,
        );
        const r = await apply(t, shop({ joinKey: 'cid', entityRevision: 2 }));
        expect(r.changes.find((c) => c.kind === 'entity')).toMatchObject({ change: 'updated', breaking: true });
      });

      it('refuses to remove a feature that an applied service outside the repo still reads', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const e = await refused(apply(t, shop({ dropSpend: true, withService: false })));
        expect(e.details).toEqual([
          {
            where: 'views.spending.features.spend',
            problem:
              'feature view "spending": feature "spend" is removed, but the applied feature service "scoring" (not in this repo) still reads it. Keep the feature, or first apply a version of "scoring" without it',
          },
        ]);
        // removing it together with the service's use of it is fine
        const r = await apply(t, shop({ dropSpend: true }));
        expect(r.changes.find((c) => c.name === 'spending')).toMatchObject({
          change: 'updated',
          notes: ['feature removed: spend'],
        });
      });

      it('keeps definitions that are not in the repo, and says so', async () => {
        const t = await freshTable();
        await apply(t, shop());
        const r = await apply(t, shop({ withService: false }));
        expect(r.notInRepo).toEqual([{ kind: 'service', name: 'scoring' }]);
        expect((await getDefinition(t, 'service', 'scoring')).name).toBe('scoring');
      });

      it('dry run reports without writing', async () => {
        const t = await freshTable();
        const r = await apply(t, shop(), { dryRun: true });
        expect([r.created, r.dryRun]).toEqual([4, true]);
        await expect(getDefinition(t, 'view', 'spending')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('two processes applying the same repo at once both succeed, and it is recorded once', async () => {
        const t = await freshTable();
        const [a, b] = await Promise.all([apply(t, churnRepo), apply(t, churnRepo)]);
        expect(a.created + b.created).toBe(8);
        expect(a.unchanged + b.unchanged).toBe(8);
        expect((await listDefinitions(t)).map((d) => d.version).sort()).toEqual(
          churnRepo
            .definitions()
            .map((d) => d.version)
            .sort(),
        );
      });

      it('says a definition was never applied', async () => {
        await expect(getDefinition(await freshTable(), 'view', 'nope')).rejects.toThrow(
          'no feature view named "nope" has been applied; apply the repo that defines it first',
        );
      });
    });
  });
