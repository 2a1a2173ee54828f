import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../../shared/onnx';
import { NotFoundError, UnprocessableError, ValidationError, type StrataError } from '../../shared/errors';
import { PredictionRecordSchema, sampleKeyOf } from '../../shared/serving/prediction-log';
import { bucketOf } from '../../shared/serving/router';
import {
  logistic,
  refused,
  row,
  sigmoid,
  signatureFor,
  startServingStack,
  type CountingStore,
  type ServingStack,
} from '../helpers/serving-fixtures';

describe.each(['redis', 'embedded'] as const)('serving on the %s online store', (kind) => {
  let stack: ServingStack;
  let store: CountingStore;

  beforeAll(async () => {
    stack = await startServingStack({ store: kind });
    store = stack.store;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const refs = ['user:age', 'user:tenure', 'txn:count_7d', 'txn:amount_avg'];
  const W = [0.03, -0.2, 0.5, 0.01];
  const B = -1.5;
  const users: Record<string, number[]> = {
    u1: [35, 2, 4, 80],
    u2: [22, 0.5, 11, 15.5],
    u3: [61, 10, 0, 240],
  };

  async function writeUsers(ids: Record<string, number[]>, eventTs = Date.now()) {
    const entries = Object.entries(ids);
    await store.write(
      'user',
      entries.map(([id, x]) => row(id, { age: x[0]!, tenure: x[1]! }, eventTs)),
    );
    await store.write(
      'txn',
      entries.map(([id, x]) => row(id, { count_7d: x[2]!, amount_avg: x[3]! }, eventTs)),
    );
  }

  describe('predict', () => {
    beforeAll(async () => {
      await writeUsers(users);
      await stack.serving.register('churn', { ...logistic(refs, W, B), alias: 'production' });
    });

    it('answers sigmoid(w·x + b) of the online features, with version and timing', async () => {
      const r = await stack.serving.predict('churn', { entityId: 'u1' });
      const p = r.predictions[0]!;
      expect(p.prediction as number).toBeCloseTo(sigmoid(W.reduce((s, w, i) => s + w * users.u1![i]!, B)), 6);
      expect(p).toMatchObject({
        entityId: 'u1',
        modelVersion: 1,
        routedBy: 'production',
        meaning: 'probability of class 1',
      });
      expect(r.timing.totalMs).toBeGreaterThanOrEqual(r.timing.hydrateMs + r.timing.inferMs);
      expect(r.timing.hydrateMs).toBeGreaterThan(0);
    });

    it('without a prediction log answers the same, features on request, and logs nothing', async () => {
      const quiet = stack.another({ sink: undefined });
      const ids = ['u3', 'u1'];
      const r = await quiet.predict('churn', { entityIds: ids }, { includeFeatures: true });
      const plain = await quiet.predict('churn', { entityId: 'u2' });
      r.predictions.forEach((p) => {
        const x = users[p.entityId]!;
        expect(p.prediction as number).toBeCloseTo(sigmoid(W.reduce((s, w, i) => s + w * x[i]!, B)), 6);
        expect(p.features).toEqual(Object.fromEntries(refs.map((ref, i) => [ref, x[i]])));
      });
      expect(plain.predictions[0]!.features).toBeUndefined();
      expect(plain.predictions[0]!.prediction as number).toBeCloseTo(
        sigmoid(W.reduce((s, w, i) => s + w * users.u2![i]!, B)),
        6,
      );
      expect(quiet.log).toBeUndefined();
      await new Promise((done) => setTimeout(done, 50)); // past the stack log's 5 ms batching delay
      const asked = new Set([r.requestId, plain.requestId]);
      expect(stack.sink.records.filter((x) => asked.has(x.requestId))).toEqual([]);
    });

    it('answers a batch in the order asked, reading the online store once', async () => {
      const before = store.reads;
      const ids = ['u3', 'u1', 'u2', 'u1'];
      const r = await stack.serving.predict('churn', { entityIds: ids }, { includeFeatures: true });
      expect(store.reads - before).toBe(1);
      expect(r.predictions.map((p) => p.entityId)).toEqual(ids);
      r.predictions.forEach((p) => {
        const x = users[p.entityId]!;
        expect(p.prediction as number).toBeCloseTo(sigmoid(W.reduce((s, w, i) => s + w * x[i]!, B)), 6);
        expect(p.features).toEqual(Object.fromEntries(refs.map((ref, i) => [ref, x[i]])));
      });
    });

    it('serves an MLP exactly as its hand-computed forward pass', async () => {
      const l0 = {
        weights: [
          [0.1, -0.2],
          [0.3, 0.1],
          [-0.05, 0.2],
          [0.01, -0.01],
        ],
        bias: [0.5, -0.5],
        activation: 'tanh' as const,
      };
      const l1 = { weights: [[1.2], [-0.7]], bias: [0.1] };
      await stack.serving.register('churn-mlp', {
        artifact: mlpModel({ layers: [l0, l1], head: 'sigmoid' }),
        signature: signatureFor(refs),
        alias: 'production',
      });
      const r = await stack.serving.predict('churn-mlp', { entityIds: Object.keys(users) });
      r.predictions.forEach((p) => {
        const x = users[p.entityId]!;
        const h = l0.bias.map((b, j) => Math.tanh(x.reduce((s, xi, i) => s + xi * l0.weights[i]![j]!, b)));
        expect(p.prediction as number).toBeCloseTo(sigmoid(h[0]! * 1.2 + h[1]! * -0.7 + 0.1), 5);
      });
    });

    it('overrides replace online values for the request', async () => {
      const r = await stack.serving.predict('churn', { entityId: 'u1' }, { overrides: { 'txn:count_7d': 40 } });
      const x = [...users.u1!];
      x[2] = 40;
      expect(r.predictions[0]!.prediction as number).toBeCloseTo(sigmoid(W.reduce((s, w, i) => s + w * x[i]!, B)), 6);
      const e = await refused(stack.serving.predict('churn', { entityId: 'u1' }, { overrides: { 'txn:nope': 1 } }));
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.details[0]).toEqual({
        where: 'overrides.txn:nope',
        problem: 'is not an input of model churn (its features: user:age, user:tenure, txn:count_7d, txn:amount_avg)',
      });
    });

    it('refuses with 422 naming each required feature and entity that has no value', async () => {
      await store.write('user', [row('u-new', { age: 40, tenure: 1 })]); // no txn row at all
      const e = await refused(stack.serving.predict('churn', { entityIds: ['u1', 'u-new'] }));
      expect(e).toBeInstanceOf(UnprocessableError);
      expect(e.status).toBe(422);
      expect(e.details).toEqual([
        { where: 'entity u-new / txn:count_7d', problem: 'no value in the online store (nothing stored for view txn)' },
        {
          where: 'entity u-new / txn:amount_avg',
          problem: 'no value in the online store (nothing stored for view txn)',
        },
      ]);
      expect(e.message).toMatch(
        /^model churn \(version 1\) cannot predict: 2 required feature values are missing or unusable: txn:count_7d for entity u-new/,
      );
    });

    it('fills missing and stale features with their defaults and says which', async () => {
      const sig = signatureFor(refs, {
        onMissing: { default: 0 },
        features: { 'user:age': { onMissing: { default: 30 }, maxStalenessMs: 60_000 } },
      });
      await stack.serving.register('churn-lenient', { ...logistic(refs, W, B), signature: sig, alias: 'production' });
      await store.write('user', [row('u-old', { age: 99, tenure: 3 }, Date.now() - 3_600_000)]);
      const r = await stack.serving.predict('churn-lenient', { entityId: 'u-old' }, { includeFeatures: true });
      const p = r.predictions[0]!;
      expect(p.defaulted).toEqual(['user:age', 'txn:count_7d', 'txn:amount_avg']);
      expect(p.features).toEqual({ 'user:age': 30, 'user:tenure': 3, 'txn:count_7d': 0, 'txn:amount_avg': 0 });
      expect(p.prediction as number).toBeCloseTo(sigmoid(W[0]! * 30 + W[1]! * 3 + B), 6);
    });

    it('refuses onMissing "model" for a model that cannot take a missing value, naming the output', async () => {
      // The plain logistic graph has no missing-value handling: NaN in, NaN out.
      const e = await refused(
        stack.serving.register('churn-nan', {
          ...logistic(refs, W, B),
          signature: signatureFor(refs, { onMissing: 'model' }),
        }),
      );
      expect(e.status).toBe(400);
      expect(JSON.stringify(e.details)).toContain('NaN or infinite for the sample input');
    });

    it('treats a stale required feature as missing and says how old it is', async () => {
      const sig = signatureFor(refs, {
        features: { 'user:tenure': { onMissing: 'required', maxStalenessMs: 60_000 } },
      });
      await stack.serving.register('churn-fresh', { ...logistic(refs, W, B), signature: sig, alias: 'production' });
      const old = Date.now() - 3_600_000;
      await writeUsers({ 'u-stale': [1, 2, 3, 4] }, old);
      const e = await refused(stack.serving.predict('churn-fresh', { entityId: 'u-stale' }));
      expect(e.details).toEqual([
        {
          where: 'entity u-stale / user:tenure',
          problem: `stale: last event ${new Date(old).toISOString()} is older than maxStalenessMs 60000`,
        },
      ]);
    });

    it('refuses a feature value that is not a number, naming it', async () => {
      await store.write('user', [row('u-str', { age: 'old', tenure: 1 })]);
      await store.write('txn', [row('u-str', { count_7d: true, amount_avg: '12.5' })]);
      const e = await refused(stack.serving.predict('churn', { entityId: 'u-str' }));
      expect(e.details).toEqual([
        {
          where: 'entity u-str / user:age',
          problem: 'is "old", not a number; the model\'s input is float (encode it in the feature view)',
        },
      ]);
    });

    it('says which model is unknown, and when a model has no production version', async () => {
      await expect(stack.serving.predict('nope', { entityId: 'u1' })).rejects.toThrow(NotFoundError);
      await stack.serving.register('unaliased', logistic(refs, W, B));
      await expect(stack.serving.predict('unaliased', { entityId: 'u1' })).rejects.toThrow(/has no production version/);
    });

    it('logs every prediction with its features, output and latency', async () => {
      const r = await stack.serving.predict('churn', { entityIds: ['u1', 'u2'] });
      await stack.serving.log!.flush();
      const logged = stack.sink.records.filter((x) => x.requestId === r.requestId);
      expect(logged.map((x) => [x.entityId, x.version, x.shadow, x.routedBy])).toEqual([
        ['u1', 1, false, 'production'],
        ['u2', 1, false, 'production'],
      ]);
      expect(logged[0]!.prediction).toBe(r.predictions[0]!.prediction);
      expect(logged[0]!.features['txn:amount_avg']).toBe(80);
      expect(logged[0]!.latencyMs).toBe(r.timing.totalMs);
      for (const x of logged) expect(PredictionRecordSchema.parse(x)).toEqual(x);
    });

    it('logs the age of each online record it used, once per view (prediction time minus the event time stored with it), and its number', async () => {
      const t = Date.now();
      await store.write('user', [row('fresh1', { age: 40, tenure: 3 }, t - 60_000)]);
      await store.write('txn', [row('fresh1', { count_7d: 2, amount_avg: 10 }, t - 5_000)]);
      const r = await stack.serving.predict('churn', { entityId: 'fresh1' }, { overrides: { 'txn:count_7d': 7 } });
      const elapsed = Date.now() - t;
      await stack.serving.log!.flush();
      const [logged] = stack.sink.records.filter((x) => x.requestId === r.requestId);
      const ages = logged!.viewAgeMs!;
      expect(Object.keys(ages).sort()).toEqual(['txn', 'user']);
      for (const [view, lag] of [
        ['user', 60_000],
        ['txn', 5_000],
      ] as const) {
        expect(ages[view]).toBeGreaterThanOrEqual(lag);
        expect(ages[view]).toBeLessThanOrEqual(lag + elapsed);
      }
      expect(logged!.predictionNumber).toBe(r.predictions[0]!.prediction);
      expect(logged!.sampleKey).toBe(sampleKeyOf(logged!.predictionId));
      expect(PredictionRecordSchema.parse(logged)).toEqual(logged);
    });
  });

  describe('canary, pins and shadows', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
    const v1 = logistic(['user:age'], [0.1], 0);
    const v2 = logistic(['user:age'], [-0.1], 0);

    beforeAll(async () => {
      await store.write(
        'user',
        ids.map((id, i) => row(id, { age: i % 90, tenure: 1 })),
      );
      await stack.serving.register('ab', { ...v1, alias: 'production' });
      await stack.serving.register('ab', { ...v2, alias: 'canary' });
      await stack.serving.setTraffic('ab', { production: 80, canary: 20 });
    });

    const predictAll = async () => {
      const out: Array<{ entityId: string; modelVersion: number; prediction: number }> = [];
      for (let i = 0; i < ids.length; i += 1000) {
        const r = await stack.serving.predict('ab', { entityIds: ids.slice(i, i + 1000) });
        out.push(
          ...r.predictions.map((p) => ({
            entityId: p.entityId,
            modelVersion: p.modelVersion,
            prediction: p.prediction as number,
          })),
        );
      }
      return out;
    };

    it('sends the canary 20% of 10k entities (±1.5 points), sticky per entity, each answered by its version', async () => {
      const first = await predictAll();
      const share = first.filter((p) => p.modelVersion === 2).length / ids.length;
      expect(Math.abs(share - 0.2)).toBeLessThan(0.015);
      first.forEach((p, i) => {
        expect(p.modelVersion).toBe(bucketOf('ab', p.entityId) < 2000 ? 2 : 1);
        expect(p.prediction).toBeCloseTo(p.modelVersion === 1 ? v1.expected([i % 90]) : v2.expected([i % 90]), 6);
      });
      const second = await predictAll();
      expect(second.map((p) => p.modelVersion)).toEqual(first.map((p) => p.modelVersion));
      const stats = stack.serving.stats('ab');
      const share2 = stats.versions.find((v) => v.version === 2 && !v.shadow)!.share;
      expect(Math.abs(share2 - 0.2)).toBeLessThan(0.015);
      expect(stats.versions.find((v) => v.version === 1)!.latencyMs.p95).toBeGreaterThan(0);
    });

    it('a pin answers with the pinned version or alias for every entity', async () => {
      const r = await stack.serving.predict('ab', { entityIds: ids.slice(0, 50) }, { pin: 'v2' });
      expect(new Set(r.predictions.map((p) => `${p.modelVersion}/${p.routedBy}`))).toEqual(new Set(['2/pinned']));
      const c = await stack.serving.predict('ab', { entityId: 'c1' }, { pin: 'production' });
      expect(c.predictions[0]).toMatchObject({ modelVersion: 1, routedBy: 'pinned' });
      await expect(stack.serving.predict('ab', { entityId: 'c1' }, { pin: '7' })).rejects.toThrow(
        'model ab has no version 7',
      );
    });

    it('a shadow never changes the answer, and its predictions are logged with shadow=true', async () => {
      const before = await stack.serving.predict('ab', { entityIds: ids.slice(0, 200) });
      const v3 = logistic(['user:age', 'user:tenure'], [0.5, 0.5], 1);
      const { version } = await stack.serving.register('ab', { ...v3, alias: 'shadow' });
      const after = await stack.serving.predict('ab', { entityIds: ids.slice(0, 200) });
      expect(after.predictions.map((p) => [p.modelVersion, p.prediction])).toEqual(
        before.predictions.map((p) => [p.modelVersion, p.prediction]),
      );
      await stack.serving.predictor.idle();
      await stack.serving.log!.flush();
      const shadows = stack.sink.records.filter((x) => x.requestId === after.requestId && x.shadow);
      expect(shadows.length).toBe(200);
      shadows.forEach((s) => {
        expect(s).toMatchObject({ version: version.version, routedBy: 'shadow', shadow: true });
        expect(s.prediction as number).toBeCloseTo(v3.expected([s.features['user:age']!, 1]), 6);
      });
      const stats = stack.serving.stats('ab');
      expect(stats.versions.find((v) => v.version === version.version)).toMatchObject({
        shadow: true,
        share: 0,
        predictions: 200,
      });
    });

    it('a failing shadow is counted and reported but the caller still gets the live answer', async () => {
      const broken = logistic(['user:age', 'nowhere:x'], [1, 1], 0); // needs a view nobody writes
      await stack.serving.register('ab', { ...broken, alias: 'shadow-broken' });
      const errorsBefore = stack.serving.stats('ab').versions.find((v) => v.shadow && v.errors > 0)?.errors ?? 0;
      const r = await stack.serving.predict('ab', { entityId: 'c5' });
      expect(r.predictions[0]!.modelVersion).toBeLessThan(3);
      await stack.serving.predictor.idle();
      const errs = stack.serving.stats('ab').versions.filter((v) => v.shadow && v.errors > 0);
      expect(errs.reduce((a, v) => a + v.errors, 0)).toBe(errorsBefore + 1);
      await stack.serving.setAlias('ab', 'shadow-broken', null);
    });

    it('rollback answers with the previous production version again', async () => {
      await stack.serving.promote('ab');
      const promoted = await stack.serving.predict('ab', { entityId: 'c10' });
      expect(promoted.predictions[0]).toMatchObject({ modelVersion: 2, routedBy: 'production' });
      await stack.serving.rollback('ab');
      const back = await stack.serving.predict('ab', { entityId: 'c10' });
      expect(back.predictions[0]).toMatchObject({ modelVersion: 1, routedBy: 'production' });
      expect(back.predictions[0]!.prediction as number).toBeCloseTo(v1.expected([10]), 6);
    });

    it('another instance picks up an admin change within its refresh interval, warm', async () => {
      const other = stack.another({ refreshMs: 50 });
      expect((await other.predict('ab', { entityId: 'c10' })).predictions[0]!.modelVersion).toBe(1);
      await stack.serving.setAlias('ab', 'production', 2);
      // Once refreshMs has passed, the other instance's snapshot is too old to serve: its next
      // request waits for the refresh, however slow the machine.
      await new Promise((r) => setTimeout(r, 80));
      const r = await other.predict('ab', { entityId: 'c10' });
      expect(r.predictions[0]!.modelVersion).toBe(2);
      expect(other.deployments.sessions.loadCount({ model: 'ab', version: 2 })).toBe(1);
    });
  });
});
