import { afterEach, describe, expect, it } from 'vitest';
import { logisticRegressionModel } from '../../shared/onnx';
import { SessionCache, type VersionKey } from '../../shared/serving/sessions';
import { inputTensor } from '../../shared/serving/tensors';

const artifacts = new Map<number, Uint8Array>([
  [1, logisticRegressionModel({ weights: [1, 2], bias: 0 })],
  [2, logisticRegressionModel({ weights: [-1, 0.5], bias: 1 })],
]);

let cache: SessionCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
});

function sessions(graceMs: number, delayMs = 0): SessionCache {
  cache = new SessionCache(
    async (k: VersionKey) => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const a = artifacts.get(k.version);
      if (!a) throw new Error(`no artifact for version ${k.version}`);
      return a;
    },
    { graceMs },
  );
  return cache;
}

const v = (version: number): VersionKey => ({ model: 'churn', version });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stateOf = (c: SessionCache, version: number) => c.status().find((s) => s.version === version);

describe('session cache', () => {
  it('loads a version once even when many requests ask for it at the same time', async () => {
    const c = sessions(10_000, 20);
    c.setActive('churn', [1]);
    const leases = await Promise.all(Array.from({ length: 50 }, () => c.acquire(v(1))));
    expect(c.loadCount(v(1))).toBe(1);
    expect(new Set(leases.map((l) => l.session)).size).toBe(1);
    leases.forEach((l) => l.release());
  });

  it('runs the model it leased', async () => {
    const c = sessions(10_000);
    const lease = await c.acquire(v(2));
    const out = await lease.session.run({ features: inputTensor(Float32Array.from([2, 4]), 1, 2) });
    expect((out.probability!.data as Float32Array)[0]).toBeCloseTo(1 / (1 + Math.exp(-(-2 + 2 + 1))), 6);
    lease.release();
  });

  it('a version warmed after setActive named it starts live: no grace timer while the refresh loads the others', async () => {
    const c = sessions(50);
    c.setActive('churn', [1, 2]); // what a deployment refresh does before loading the versions it references
    await c.warm(v(2)); // loaded first; version 1 (below) takes longer than the grace period
    await sleep(120);
    await c.warm(v(1));
    expect(stateOf(c, 2)).toMatchObject({ state: 'ready', active: true });
    expect(stateOf(c, 2)?.releaseAt).toBeUndefined();
    expect(c.loadCount(v(2))).toBe(1);
  });

  it('releases a retired version only after its last lease ends and the grace period passes', async () => {
    const c = sessions(50);
    c.setActive('churn', [1, 2]);
    await c.warm(v(1));
    const held = c.tryAcquire(v(1))!;
    c.setActive('churn', [2]); // version 1 retired while a request holds it
    await sleep(120);
    expect(stateOf(c, 1)).toMatchObject({ state: 'ready', leases: 1, active: false });
    held.release();
    expect(stateOf(c, 1)?.releaseAt).toBeGreaterThan(Date.now());
    await sleep(120);
    expect(stateOf(c, 1)).toBeUndefined();
    expect(c.tryAcquire(v(1))).toBeUndefined();
  });

  it('keeps a retired version that becomes active again within the grace period', async () => {
    const c = sessions(60);
    c.setActive('churn', [1]);
    await c.warm(v(1));
    c.setActive('churn', []);
    await sleep(20);
    c.setActive('churn', [1]); // e.g. a rollback right after a promote
    await sleep(100);
    expect(stateOf(c, 1)).toMatchObject({ state: 'ready', active: true });
    expect(c.loadCount(v(1))).toBe(1);
  });

  it('a lease released twice counts once', async () => {
    const c = sessions(10_000);
    c.setActive('churn', [1]);
    const a = await c.acquire(v(1));
    const b = await c.acquire(v(1));
    a.release();
    a.release();
    expect(stateOf(c, 1)!.leases).toBe(1);
    b.release();
    expect(stateOf(c, 1)!.leases).toBe(0);
  });

  it('forgets a failed load so the next request tries again', async () => {
    const c = sessions(10_000);
    await expect(c.acquire(v(9))).rejects.toThrow(/no artifact for version 9/);
    expect(stateOf(c, 9)).toBeUndefined();
    await expect(c.acquire(v(9))).rejects.toThrow(/no artifact/);
    expect(c.loadCount(v(9))).toBe(2);
  });
});
