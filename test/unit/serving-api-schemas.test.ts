import { describe, expect, it } from 'vitest';
import {
  PredictBodySchema,
  RegisterVersionBodySchema,
  RegisterVersionFieldsSchema,
  SetAliasBodySchema,
  SetTrafficBodySchema,
  ModelNameSchema,
  predictResponseBody,
} from '../../shared/serving/api-schemas';
import { SignatureSchema, compilePlan } from '../../shared/serving/signature';
import { detailsFromZod } from '../../shared/errors';
import { signatureFor } from '../helpers/serving-fixtures';

const problems = (r: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
  r.success ? [] : detailsFromZod(r.error!.issues, 'body');

describe('serving request schemas', () => {
  it('a predict body names exactly one of entityId or entityIds', () => {
    expect(PredictBodySchema.safeParse({ entityId: 'u1' }).success).toBe(true);
    expect(
      PredictBodySchema.safeParse({ entityIds: ['u1', 'u2'], overrides: { 'user:age': 3, 'user:vip': true } }).success,
    ).toBe(true);
    expect(problems(PredictBodySchema.safeParse({ entityId: 'u1', entityIds: ['u2'] }))).toEqual([
      { where: 'body.entityId', problem: 'give exactly one of entityId or entityIds' },
    ]);
    expect(problems(PredictBodySchema.safeParse({}))).toEqual([
      { where: 'body.entityId', problem: 'give exactly one of entityId or entityIds' },
    ]);
    expect(problems(PredictBodySchema.safeParse({ entityIds: [] }))[0]!.problem).toBe(
      'must list at least one entity id',
    );
    expect(problems(PredictBodySchema.safeParse({ entityId: 'u1', overrides: { age: 3 } }))[0]).toEqual({
      where: 'body.overrides.age',
      problem: 'keys are view:feature (e.g. user_profile:age)',
    });
  });

  it('a JSON registration carries the ONNX file base64-encoded and a valid signature', () => {
    const r = RegisterVersionBodySchema.safeParse({
      onnxBase64: Buffer.from([8, 7, 6]).toString('base64'),
      signature: signatureFor(['user:age']),
      alias: 'canary',
    });
    expect(r.success && Array.from(r.data.artifact)).toEqual([8, 7, 6]);
    const bad = RegisterVersionBodySchema.safeParse({
      onnxBase64: 'not base64!',
      signature: { featureService: { name: 'x', features: [] } },
    });
    expect(problems(bad).map((d) => d.where)).toEqual([
      'body.onnxBase64',
      'body.signature.featureService.features',
      'body.signature.input',
      'body.signature.outputs',
    ]);
  });

  it('multipart registration fields carry the signature as JSON text', () => {
    const r = RegisterVersionFieldsSchema.safeParse({
      signature: JSON.stringify(signatureFor(['user:age'])),
      tags: '{"run":"42"}',
    });
    expect(r.success && r.data.tags).toEqual({ run: '42' });
    expect(problems(RegisterVersionFieldsSchema.safeParse({ signature: '{oops' }))).toEqual([
      { where: 'body.signature', problem: 'must be the signature as JSON text' },
    ]);
  });

  it('alias, traffic and model names follow the registry rules', () => {
    expect(SetAliasBodySchema.safeParse({ alias: 'shadow-xgb', version: 3 }).success).toBe(true);
    expect(SetAliasBodySchema.safeParse({ alias: 'canary', version: null }).success).toBe(true);
    expect(SetAliasBodySchema.safeParse({ alias: 'Canary', version: 3 }).success).toBe(false);
    expect(problems(SetTrafficBodySchema.safeParse({ production: 90, canary: 20 }))).toEqual([
      { where: 'body.canary', problem: 'production + canary must be 100' },
    ]);
    expect(ModelNameSchema.safeParse('churn.v2_eu-west').success).toBe(true);
    expect(ModelNameSchema.safeParse('../etc').success).toBe(false);
  });

  it('a signature defaults to every feature required and compiles to flat columns', () => {
    const sig = SignatureSchema.parse({
      featureService: {
        name: 'svc',
        features: [
          { view: 'a', feature: 'x' },
          { view: 'b', feature: 'y' },
          { view: 'a', feature: 'z' },
        ],
      },
      input: { name: 'features', shape: [-1, 3] },
      outputs: [{ name: 'probability', meaning: 'p1' }],
      policy: { features: { 'b:y': { onMissing: { default: 1.5 }, maxStalenessMs: 1000 } } },
    });
    expect(sig.policy.default).toEqual({ onMissing: 'required' });
    const plan = compilePlan(sig);
    expect(plan.views).toEqual(['a', 'b']);
    expect(plan.columns.map((c) => [c.ref, c.view, c.fill, c.maxStalenessMs])).toEqual([
      ['a:x', 0, undefined, undefined],
      ['b:y', 1, 1.5, 1000],
      ['a:z', 0, undefined, undefined],
    ]);
    const wrongShape = SignatureSchema.safeParse({ ...sig, input: { name: 'features', shape: [-1, 4] } });
    expect(problems(wrongShape)).toEqual([
      { where: 'body.input.shape[1]', problem: 'says 4 columns but feature service svc lists 3 features' },
    ]);
  });

  it('shapes a single-entity answer flat and a batch as a list', () => {
    const result = {
      model: 'churn',
      requestId: 'r',
      timing: { hydrateMs: 0.12345, inferMs: 0.0456, totalMs: 0.3 },
      predictions: [
        { entityId: 'u1', prediction: 0.2, meaning: 'p1', modelVersion: 1, routedBy: 'production' as const },
      ],
    };
    expect(predictResponseBody(result, true)).toEqual({
      model: 'churn',
      entityId: 'u1',
      prediction: 0.2,
      meaning: 'p1',
      modelVersion: 1,
      routedBy: 'production',
      timing: { hydrateMs: 0.123, inferMs: 0.046, totalMs: 0.3 },
      requestId: 'r',
    });
    expect(predictResponseBody(result, false)).toMatchObject({ predictions: result.predictions });
  });
});
