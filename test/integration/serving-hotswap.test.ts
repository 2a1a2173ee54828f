import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../../shared/serving/router';
import type { PredictResult } from '../../shared/serving/predictor';
import { logistic, row, startServingStack, type CountingStore, type ServingStack } from '../helpers/serving-fixtures';
import { eventually, WAIT_MS } from '../helpers/wait';

// Long enough that a busy machine checks version 1 before its grace runs out.
const GRACE_MS = 3_000;
let stack: ServingStack;
let store: CountingStore;

beforeAll(async () => {
  stack = await startServingStack({ graceMs: GRACE_MS });
  store = stack.store;
});
afterAll(async () => {
  await stack?.stop();
});

const ids = Array.from({ length: 2000 }, (_, i) => `e${i}`);
const age = (id: string) => Number(id.slice(1)) % 70;
const versions = {
  1: logistic(['user:age'], [0.05], -1),
  2: logistic(['user:age'], [-0.05], 1),
  3: logistic(['user:age'], [0.02], 0),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hot swap', () => {
  beforeAll(async () => {
    await store.write(
      'user',
      ids.map((id) => row(id, { age: age(id) })),
    );
    await stack.serving.register('swap', { ...versions[1], alias: 'production' });
    await stack.serving.register('swap', { ...versions[2], alias: 'canary' });
    await stack.serving.setTraffic('swap', { production: 70, canary: 30 });
  });

  it('promoting during 200+ concurrent predictions: each request sees one version, consistent with its routing', async () => {
    const sessions = stack.serving.deployments.sessions;
    const inFlight: Array<Promise<PredictResult>> = [];
    const fire = (n: number) => {
      for (let i = 0; i < n; i++) {
        const start = Math.floor(Math.random() * (ids.length - 8));
        inFlight.push(stack.serving.predict('swap', { entityIds: ids.slice(start, start + 8) }));
      }
    };
    fire(100);
    let promoted = false;
    const promotion = stack.serving.promote('swap').then(() => (promoted = true));
    while (!promoted && inFlight.length < 1500) {
      fire(20);
      await sleep(1);
    }
    await promotion;
    fire(100);
    const results = await Promise.all(inFlight);
    expect(results.length).toBeGreaterThanOrEqual(200);

    let sawOld = 0;
    let sawNew = 0;
    for (const r of results) {
      // Entities outside the canary buckets went to production: v1 before the swap, v2 after.
      const productionRouted = r.predictions.filter((p) => bucketOf('swap', p.entityId) >= 3000);
      const seen = new Set(productionRouted.map((p) => p.modelVersion));
      expect(seen.size).toBeLessThanOrEqual(1);
      for (const p of r.predictions) {
        if (bucketOf('swap', p.entityId) < 3000) expect(p.modelVersion).toBe(2); // canary before, production after
        const v = versions[p.modelVersion as 1 | 2];
        expect(p.prediction as number).toBeCloseTo(v.expected([age(p.entityId)]), 6);
      }
      if (seen.has(1)) sawOld++;
      if (seen.has(2)) sawNew++;
    }
    expect(sawOld).toBeGreaterThan(0);
    expect(sawNew).toBeGreaterThan(0);

    // The log agrees with every response.
    await stack.serving.log!.flush();
    const logged = new Map(stack.sink.records.map((rec) => [rec.predictionId, rec.version]));
    for (const r of results) {
      expect(r.predictions.map((_, i) => logged.get(`${r.requestId}:${i}`))).toEqual(
        r.predictions.map((p) => p.modelVersion),
      );
    }

    // Version 1 is retired: released once the grace period has passed with no request on it.
    expect(sessions.status().find((s) => s.version === 1)).toMatchObject({ active: false, leases: 0 });
    await eventually(
      () => (sessions.status().length === 1 ? true : undefined),
      WAIT_MS,
      'version 1 to be released after its grace period',
    );
    expect(sessions.status().map((s) => s.version)).toEqual([2]);
    expect(sessions.loadCount({ model: 'swap', version: 2 })).toBe(1);
  });

  it('loads a new version before traffic moves to it', async () => {
    const sessions = stack.serving.deployments.sessions;
    const { version } = await stack.serving.register('swap', versions[3]);
    expect(sessions.loadCount({ model: 'swap', version: version.version })).toBe(0); // the registration check used its own session
    await stack.serving.setAlias('swap', 'production', version.version);
    const ready = sessions.status().find((s) => s.version === version.version);
    expect(ready).toMatchObject({ state: 'ready', active: true });
    const r = await stack.serving.predict('swap', { entityId: 'e1999' });
    expect(r.predictions[0]!.modelVersion).toBe(version.version);
    expect(sessions.loadCount({ model: 'swap', version: version.version })).toBe(1);
  });
});
