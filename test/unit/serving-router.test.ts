import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, murmur3, parsePin, resolvePin, route } from '../../shared/serving/router';
import type { Deployment, DeployedVersion } from '../../shared/serving/deployments';
import { compilePlan, SignatureSchema } from '../../shared/serving/signature';
import { signatureFor } from '../helpers/serving-fixtures';

function version(v: number): DeployedVersion {
  const signature = SignatureSchema.parse(signatureFor(['user:a']));
  return {
    model: 'churn',
    version: v,
    signature,
    plan: compilePlan(signature),
    artifact: { blob: `churn/${v}`, sha256: '', bytes: 0 },
    tensors: { inputs: [], outputs: [] },
  };
}

function deployment(canaryPercent: number, shadows: number[] = []): Deployment {
  const production = version(1);
  const canary = version(2);
  return {
    model: 'churn',
    aliases: { production: 1, canary: 2 },
    traffic: { production: 100 - canaryPercent, canary: canaryPercent },
    versions: new Map([
      [1, production],
      [2, canary],
    ]),
    production,
    canary,
    shadows: shadows.map(version),
    canaryBuckets: Math.round((canaryPercent / 100) * BUCKETS),
    refreshedAt: 0,
  };
}

const entities = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('sticky routing', () => {
  it('hashes with MurmurHash3 x86_32 (reference vectors), so every instance agrees', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('puts every entity in a bucket 0..9999 that depends on the model too', () => {
    const buckets = entities.map((e) => bucketOf('churn', e));
    expect(buckets.every((b) => Number.isInteger(b) && b >= 0 && b < BUCKETS)).toBe(true);
    const other = entities.map((e) => bucketOf('fraud', e));
    expect(other.filter((b, i) => b === buckets[i]).length).toBeLessThan(10);
  });

  it('sends the canary its share of 10k entities within 1.5 percentage points', () => {
    for (const pct of [5, 10, 25, 50]) {
      const d = deployment(pct);
      const canary = entities.filter((e) => route(d, e).routedBy === 'canary').length;
      expect(Math.abs((canary / entities.length) * 100 - pct)).toBeLessThan(1.5);
    }
  });

  it('routes one entity to the same version every time', () => {
    const d = deployment(30);
    const first = entities.map((e) => route(d, e).version.version);
    for (let i = 0; i < 3; i++) expect(entities.map((e) => route(d, e).version.version)).toEqual(first);
  });

  it('raising the canary share only moves entities from production to the canary', () => {
    const d10 = deployment(10);
    const d20 = deployment(20);
    const at10 = new Set(entities.filter((e) => route(d10, e).routedBy === 'canary'));
    const at20 = new Set(entities.filter((e) => route(d20, e).routedBy === 'canary'));
    expect([...at10].filter((e) => !at20.has(e))).toEqual([]);
    expect(at20.size).toBeGreaterThan(at10.size);
  });

  it('sends nobody to the canary at 0% and everybody at 100%', () => {
    const none = deployment(0);
    const all = deployment(100);
    expect(entities.every((e) => route(none, e).routedBy === 'production')).toBe(true);
    expect(entities.every((e) => route(all, e).routedBy === 'canary')).toBe(true);
  });

  it('reads a pin as a version number or an alias name', () => {
    expect(parsePin('3')).toEqual({ version: 3 });
    expect(parsePin('v12')).toEqual({ version: 12 });
    expect(parsePin('canary')).toEqual({ alias: 'canary' });
    expect(resolvePin(deployment(10), { alias: 'canary' })).toBe(2);
    expect(() => resolvePin(deployment(10), { alias: 'shadow' })).toThrowError(
      /has no alias "shadow".*production, canary/,
    );
  });
});
