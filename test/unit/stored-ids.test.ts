/**
 * Stored ids never change by accident. Every id Strata writes into storage is a hash of a
 * canonical JSON form of what it identifies: definition versions (ledger, registry, segment
 * paths), segment ids and batch claims (offline store), batch ids (dead letters, online
 * backlog), backfill instance ids (Durable), training set ids, spine identities, model content
 * claims (model registry) and routing buckets. The expected values below were computed by the
 * code on main before the storage refactor of issue 12; a change that moves any of them breaks
 * idempotency against data already stored (a redelivered batch would commit again, a second
 * apply would see every definition as changed), so it must be a deliberate migration, never a
 * side effect.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { featureRepo } from '../../shared/definitions';
import { defineRepo, entity, featureView, source, tumbling } from '../../shared/features/definitions/language';
import { versionOf } from '../../shared/features/definitions/version';
import { canonicalJson } from '../../shared/canonical-json';
import { segmentId } from '../../shared/features/offline/segment-id';
import { flushBatchId, ingestBatchId, repairBatchId } from '../../shared/features/ingest/batch-id';
import { claimId } from '../../shared/features/offline/batch-claim';
import { backfillInstanceId } from '../../shared/features/backfill/request';
import { trainingSetIdentity } from '../../shared/features/pit/training-set';
import { loadSpine } from '../../shared/features/pit/spine';
import { withConnection } from '../../shared/features/offline/duckdb';
import { contentClaimKey } from '../../shared/serving/registry';
import type { ModelSignature } from '../../shared/serving/signature';
import { bucketOf } from '../../shared/serving/router';
import type { SegmentInput } from '../../shared/features/offline/types';

const INPUTS: Record<string, SegmentInput> = {
  eventhub: { kind: 'eventhub', source: 'clicks', partition: '3', firstSeq: 1200, lastSeq: 1299 },
  file: { kind: 'file', source: 'purchases', sha256: 'AB'.repeat(32), name: 'ignored.csv' },
  job: { kind: 'job', key: 'backfill:user_clicks:1700000000000..1700086400000:abc', inputs: ['x', 'y'] },
  compaction: { kind: 'compaction', inputs: ['ffff', '0001', 'a0a0'] },
};

describe('stored ids are those main wrote before the refactor', () => {
  it('definition versions of the sample repo', () => {
    const versions = Object.fromEntries(featureRepo.definitions().map((d) => [`${d.kind}:${d.name}`, d.version]));
    expect(versions).toEqual(EXPECTED.definitions);
  });

  it('definition versions with integer-like and unusual field names (key order as JSON.stringify gives it)', () => {
    const odd = defineRepo({
      entities: [entity({ name: 'thing', joinKey: 'id' })],
      sources: [
        source({
          name: 'odd',
          schema: z.object({
            id: z.string(),
            ts: z.number(),
            '10': z.number().optional(),
            '2': z.string().optional(),
            Zed: z.boolean().optional(),
            é: z.number().optional(),
          }),
          eventTime: 'ts',
          file: true,
        }),
      ],
      views: [
        featureView({
          name: 'odd_counts',
          entity: 'thing',
          input: 'odd',
          features: (f) => ({ n_1h: f.count(tumbling('1h')) }),
        }),
      ],
      services: [],
    });
    expect(Object.fromEntries(odd.definitions().map((d) => [`${d.kind}:${d.name}`, d.version]))).toEqual(
      EXPECTED.oddDefinitions,
    );
  });

  it('versions of normalised values (undefined dropped, keys sorted at every level)', () => {
    expect(versionOf({ b: 1, a: { d: [1, 'x', null, true], c: undefined }, '10': 0, '9': 0 })).toBe(
      EXPECTED.versionOfValue,
    );
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null, true], c: undefined }, '10': 0, '9': 0 })).toBe(
      EXPECTED.definitionJsonOfValue,
    );
  });

  it('segment ids of every kind of input, and their batch claims', () => {
    const ids = Object.fromEntries(
      Object.entries(INPUTS).map(([k, input]) => [k, segmentId(input, 'user_clicks', 'v'.repeat(8), '2026-11-02')]),
    );
    expect(ids).toEqual(EXPECTED.segments);
    const claims = Object.fromEntries(
      Object.entries(INPUTS).map(([k, input]) => [k, claimId(input, 'src.clicks', 'abc123')]),
    );
    expect(claims).toEqual(EXPECTED.claims);
  });

  it('ingest batch ids (dead letters, online backlog): hash of the batch input, of a flush, of a repair', () => {
    const ingestBatch = Object.fromEntries(Object.entries(INPUTS).map(([k, input]) => [k, ingestBatchId(input)]));
    expect(ingestBatch).toEqual(EXPECTED.ingestBatchIds);
    expect(flushBatchId(1764547200000)).toBe(EXPECTED.flushBatchId);
    expect(repairBatchId('retract-future:clicks:1764547200000', ['b'.repeat(32), 'a'.repeat(32)])).toBe(
      EXPECTED.repairBatchId,
    );
  });

  it('backfill instance ids', () => {
    const req = {
      views: ['user_engagement', 'user_clicks'],
      from: Date.UTC(2026, 10, 2),
      to: Date.UTC(2026, 10, 9),
      intervalMs: 86_400_000,
      maxParallel: 4,
    };
    expect(backfillInstanceId(featureRepo, req)).toBe(EXPECTED.backfill);
  });

  it('training set identities and spine identities', async () => {
    const what = {
      spine: 'inline:sha256:' + '0'.repeat(64),
      views: [{ view: 'user_clicks', version: 'v1', features: ['clicks_1h', 'clicks_24h'], ttlMs: null }],
      knownAt: 'asOf' as const,
      asOf: 1764547200000,
      full: false,
    };
    expect(trainingSetIdentity(what)).toBe(EXPECTED.trainingSet);
    const rows = [
      { entityId: 'u1', ts: 1764547200000, label: 1 },
      { entityId: 'u2', ts: 1764550800000 },
      { entityId: 'u1', ts: 1764554400000, label: 0 },
    ];
    const spine = await withConnection((c) => loadSpine(c, 'spine', { rows }));
    expect(spine.identity).toBe(EXPECTED.spine);
  });

  it('model content claims (signature JSON with sorted keys) and routing buckets', () => {
    const signature = {
      inputs: [{ view: 'user_clicks', feature: 'clicks_1h' }],
      output: { name: 'p', type: 'float' },
      features: { b: { default: 0 }, a: { default: 1 } },
    };
    expect(canonicalJson(signature)).toBe(EXPECTED.signatureJson);
    expect(contentClaimKey('c'.repeat(64), signature as unknown as ModelSignature)).toBe(EXPECTED.modelClaim);
    expect(['u000001', 'u000002', 'ü-ß', ''].map((e) => bucketOf('churn', e))).toEqual(EXPECTED.buckets);
  });
});

const EXPECTED = {
  definitions: {
    'entity:user': '7266ae5dac81488f42430d990ae4c411a6ef5fd4b0c81c554c14d815085927a6',
    'source:clicks': 'd6678fc59b3fa519ba6f65219648c74a21b716f35dd5eca54a2a4c9de97c547f',
    'source:purchases': '96a7856bad785517eed33bc5e4b07a74f1e35290292e01b45ba405aede7aa09e',
    // Added to the sample repo on main after the freeze (h13j's label source); the value main's build writes.
    'source:churn_labels': '34eb3261d9a4cb8d121df7941f0388c1feb7244ba5653c8e550577e4bf23f71f',
    // The prediction record gained featureAgeMs (issue 14, freshness at prediction time), then viewAgeMs and
    // predictionNumber (typed columns monitoring scans), then sampleKey (the sample's key as a number): each a
    // new schema, a new version.
    'source:predictions': 'd2e795c24497039ef06738fd783d88f3ae6b76f66a2f4097dd6dbd20d29d111c',
    'view:user_clicks': 'f6e490e7a04aa5b5bbf25ade99c92a82bae7edf8171f8ff6abfe59e705d382ad',
    'view:user_purchases': '15e51faf00fa4fdbb804fc3b8e8459970844aa5227342bee2715ecc6163752c5',
    'view:user_engagement': 'd0395455ba45bc888f7127d5866a4e2d7e9b65dd266189be9ad1c5a9d9ffc226',
    'service:churn_v1': '1e25e47927e50c29129149c7a0fa272f2195ab7b03d738aa0db488d003368999',
  },
  oddDefinitions: {
    'entity:thing': '1a729b3b115157652f0ad50d1629342999f2f3aad5baaa07f21449555b6e216c',
    'source:odd': 'ca1c8c2c47413f8c9372ef1c43b2b82c8961cee53f98a3665b78010ae665250d',
    'view:odd_counts': 'c3c5732ac6eee8a951790d98ffdeff9df301702afcfb1fe730fbbb0a6f6de962',
  },
  versionOfValue: '9ae0e29a5cf9b5a4b22be1e87f25cfbbe6a367b8f1a1f19002a28befecdf53de',
  definitionJsonOfValue: '{"9":0,"10":0,"a":{"d":[1,"x",null,true]},"b":1}',
  segments: {
    eventhub: 'b57551c309a7c7c478a1767f77ab8475',
    file: 'a5550facc23696471f57f9e3ef1f5102',
    job: '1aa18d1fab3385d96bf633eb53379270',
    compaction: 'b90f380fba18e717f8bb8b97344bfc78',
  },
  claims: {
    eventhub: 'c1842130ba9b48069fa2de8ae6a2be83',
    file: '2a3babe38d1778a8e063a47f82fa28a0',
    job: '6ec8991f577d45c79f6504a6fa7f0ab5',
    compaction: 'd648434a77eb7edadea3e81bb5ddc4a4',
  },
  ingestBatchIds: {
    eventhub: '1f11a18f1aec5bc9c5728bb8bb95b52c',
    file: '8ea9e54367a94e90e24182b75a93e23a',
    job: '21db7024ca6cb655254bf04926cd76b6',
    compaction: '0685e9cfa4392c5f7257d8f3feb04bb7',
  },
  flushBatchId: '07104b84e91628eb8da9cc11c9e2afbb',
  repairBatchId: '07c025f450dd861dd9cd0814da11769a',
  backfill: 'backfill-29f95977384fa5ce4c1af26e',
  trainingSet: '59d695a6a0482e41707ae4ab9b4a087d7943fb0425a929f94ee7403cdb4ccea6',
  spine: 'inline:sha256:b5ba42e0e99d9de4cac300283d3d434e91e5c0581b642e2dc5604ae722c95f16',
  signatureJson:
    '{"features":{"a":{"default":1},"b":{"default":0}},"inputs":[{"feature":"clicks_1h","view":"user_clicks"}],"output":{"name":"p","type":"float"}}',
  modelClaim: 'xea2d7c61b80ea223b8bf77a1002f8016aee6edda35fd622a4fea4a3579197f29',
  buckets: [440, 2548, 4337, 2349],
};
