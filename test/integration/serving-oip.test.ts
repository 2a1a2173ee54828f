/**
 * The Open Inference Protocol over Strata's serving, on real Azurite, Redis and onnxruntime:
 * the protocol's documented requests and responses (test/helpers/oip-fixtures.ts cites them),
 * tensors and entity ids as inputs, canary routing by request, shadows and the prediction
 * log on tensor rows, and the refusals a client can act on. Outputs are computed by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../../shared/onnx';
import { NotFoundError, UnprocessableError, ValidationError } from '../../shared/errors';
import { OpenInference } from '../../shared/serving/oip';
import { InferenceRequestSchema, type InferenceRequest } from '../../shared/serving/oip-tensors';
import { bucketOf, BUCKETS } from '../../shared/serving/router';
import {
  logistic,
  refused,
  row,
  sigmoid,
  dot,
  startServingStack,
  type ServingStack,
} from '../helpers/serving-fixtures';
import {
  KSERVE_IRIS_REQUEST,
  KSERVE_IRIS_RESPONSE,
  SPEC_EXAMPLE_REQUEST,
  SPEC_EXAMPLE_RESPONSE,
  irisClass,
  irisModel,
  irisProbabilities,
  irisSignature,
} from '../helpers/oip-fixtures';

let stack: ServingStack;
let oip: OpenInference;
const IRIS = ['flower:sepal_length', 'flower:sepal_width', 'flower:petal_length', 'flower:petal_width'];
const request = (body: unknown): InferenceRequest => InferenceRequestSchema.parse(body);

beforeAll(async () => {
  stack = await startServingStack();
  oip = new OpenInference(stack.serving, { name: 'strata', version: '0.1.0' });
  // KServe's example model name; only `predict` in the signature, as their sklearn model answers.
  const sig = irisSignature(IRIS);
  await stack.serving.register('sklearn-v2-iris', {
    artifact: irisModel(),
    signature: { ...sig, outputs: [sig.outputs[0]!] },
    alias: 'production',
  });
  await stack.serving.register('iris', { artifact: irisModel(), signature: sig, alias: 'production' });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the documented examples', () => {
  it("KServe's sklearn iris request gets KServe's documented response", async () => {
    const r = await oip.infer('sklearn-v2-iris', undefined, request(KSERVE_IRIS_REQUEST));
    expect(r).toMatchObject({ ...KSERVE_IRIS_RESPONSE, model_version: '1', id: expect.any(String) });
    expect(r.outputs).toEqual(KSERVE_IRIS_RESPONSE.outputs);
  });

  it('flat data is the same tensor as nested data (row-major)', async () => {
    const flat = { inputs: [{ ...KSERVE_IRIS_REQUEST.inputs[0]!, data: KSERVE_IRIS_REQUEST.inputs[0]!.data.flat() }] };
    expect((await oip.infer('sklearn-v2-iris', undefined, request(flat))).outputs).toEqual(
      KSERVE_IRIS_RESPONSE.outputs,
    );
  });

  it("the protocol's example output: a [3, 2] FP32 tensor comes back flat, row-major, with its shape", async () => {
    // An identity layer answers exactly the documented output0 for these rows.
    await stack.serving.register('mymodel', {
      artifact: mlpModel({
        layers: [
          {
            weights: [
              [1, 0],
              [0, 1],
            ],
            bias: [0, 0],
          },
        ],
        head: 'none',
        inputName: 'input0',
        outputName: 'output0',
      }),
      signature: {
        featureService: {
          name: 'mymodel',
          features: [
            { view: 'm', feature: 'a' },
            { view: 'm', feature: 'b' },
          ],
        },
        input: { name: 'input0' },
        outputs: [{ name: 'output0', meaning: 'the input, as the spec example answers' }],
      },
      alias: 'production',
    });
    const rows = [
      [1.0, 1.1],
      [2.0, 2.1],
      [3.0, 3.1],
    ];
    const r = await oip.infer(
      'mymodel',
      undefined,
      request({
        id: '42',
        inputs: [{ name: 'input0', shape: [3, 2], datatype: 'FP32', data: rows }],
        outputs: [{ name: 'output0' }],
      }),
    );
    const want = SPEC_EXAMPLE_RESPONSE.outputs[0]!;
    expect(r.id).toBe(SPEC_EXAMPLE_RESPONSE.id);
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]).toMatchObject({ name: want.name, shape: want.shape, datatype: want.datatype });
    r.outputs[0]!.data.forEach((v, i) => expect(v as number).toBeCloseTo(want.data[i]!, 6));
  });

  it("the protocol's two-input example request is refused by a one-input model, naming what it takes", async () => {
    const e = await refused(oip.infer('mymodel', undefined, request(SPEC_EXAMPLE_REQUEST)));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.details[0]).toMatchObject({ where: 'inputs', problem: expect.stringContaining('"input0" (FP32 [N, 2])') });
    const one = await refused(
      oip.infer('mymodel', undefined, request({ ...SPEC_EXAMPLE_REQUEST, inputs: [SPEC_EXAMPLE_REQUEST.inputs[0]] })),
    );
    expect(one.details[0]).toMatchObject({
      where: 'inputs[0].datatype',
      problem: expect.stringMatching(/FP32.*UINT32/),
    });
  });
});

describe('tensors', () => {
  it('answers every output of the signature by default, with the ONNX datatypes and shapes', async () => {
    const rows = KSERVE_IRIS_REQUEST.inputs[0]!.data;
    const r = await oip.infer('iris', undefined, request({ id: 'req-1', ...KSERVE_IRIS_REQUEST }));
    expect(r).toMatchObject({
      model_name: 'iris',
      model_version: '1',
      id: 'req-1',
      parameters: { routed_by: 'production' },
    });
    expect(r.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['predict', 'INT64', [2]],
      ['probabilities', 'FP32', [2, 3]],
    ]);
    expect(r.outputs[0]!.data).toEqual(rows.map(irisClass));
    const probs = rows.flatMap(irisProbabilities);
    r.outputs[1]!.data.forEach((v, i) => expect(v as number).toBeCloseTo(probs[i]!, 6));
  });

  it('returns only the outputs asked for, in the order asked', async () => {
    const r = await oip.infer(
      'iris',
      undefined,
      request({ ...KSERVE_IRIS_REQUEST, outputs: [{ name: 'probabilities' }, { name: 'predict' }] }),
    );
    expect(r.outputs.map((o) => o.name)).toEqual(['probabilities', 'predict']);
  });

  it('a version in the URL pins it; an alias works as a version', async () => {
    const sig = irisSignature(IRIS);
    const v2 = await stack.serving.register('iris', {
      artifact: irisModel(),
      signature: { ...sig, outputs: [{ ...sig.outputs[0]!, meaning: 'the class' }, sig.outputs[1]!] },
    });
    expect(v2.version.version).toBe(2);
    const v = await oip.infer('iris', '1', request(KSERVE_IRIS_REQUEST));
    expect(v).toMatchObject({ model_version: '1', parameters: { routed_by: 'pinned' } });
    const alias = await oip.infer('iris', 'production', request(KSERVE_IRIS_REQUEST));
    expect(alias).toMatchObject({ model_version: '1', parameters: { routed_by: 'pinned' } });
  });
});

describe('refusals a client can act on', () => {
  const input = (o: Record<string, unknown>) => ({ inputs: [{ ...KSERVE_IRIS_REQUEST.inputs[0]!, ...o }] });
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['a wrong datatype', { datatype: 'FP64' }, 'inputs[0].datatype', /must be FP32.*FP64/],
    [
      'a wrong width',
      {
        shape: [2, 3],
        data: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      'inputs[0].shape',
      /\[N, 4\]/,
    ],
    ['a shape the data does not fill', { shape: [3, 4] }, 'inputs[0].data', /has 2 elements, shape \[3, 4\] needs 3/],
    ['a flat tensor of the wrong size', { data: [1, 2, 3] }, 'inputs[0].data', /3 elements, shape \[2, 4\] needs 8/],
    [
      'a ragged row',
      {
        data: [
          [1, 2, 3, 4],
          [1, 2, 3],
        ],
      },
      'inputs[0].data[1]',
      /3 elements.*needs 4/,
    ],
    [
      'a string in an FP32 tensor',
      {
        data: [
          [1, 2, 'x', 4],
          [1, 2, 3, 4],
        ],
      },
      'inputs[0].data (element 2 in row-major order)',
      /"x".*finite JSON numbers/,
    ],
    ['an unknown input name', { name: 'features' }, 'inputs[0].name', /"input-0"/],
    [
      'more rows than a request may hold',
      { shape: [1001, 4], data: Array.from({ length: 1001 }, () => [1, 2, 3, 4]) },
      'inputs[0].shape[0]',
      /1 to 1000/,
    ],
  ];
  it.each(cases)('%s is a 400 naming the field', async (_what, patch, where, problem) => {
    const e = await refused(oip.infer('iris', undefined, request(input(patch))));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.status).toBe(400);
    expect(e.details[0]).toMatchObject({ where, problem: expect.stringMatching(problem) });
  });

  it('an unknown output is a 400 listing the outputs', async () => {
    const e = await refused(
      oip.infer('iris', undefined, request({ ...KSERVE_IRIS_REQUEST, outputs: [{ name: 'label' }] })),
    );
    expect(e.details[0]).toMatchObject({
      where: 'outputs',
      problem: expect.stringContaining('"predict", "probabilities", "model_version"'),
    });
  });

  it('an unknown model, version or alias is a 404', async () => {
    for (const [model, version] of [
      ['nope', undefined],
      ['iris', '99'],
      ['iris', 'canary'],
    ] as const) {
      const e = await refused(oip.infer(model, version, request(KSERVE_IRIS_REQUEST)));
      expect(e, `${model} ${version}`).toBeInstanceOf(NotFoundError);
      expect((await refused(oip.modelMetadata(model, version))).status).toBe(404);
      expect((await refused(oip.modelReady(model, version))).status).toBe(404);
    }
  });

  it('a model without a production version is not ready', async () => {
    await stack.serving.register('unrouted', { artifact: irisModel(), signature: irisSignature(IRIS) });
    const e = await refused(oip.modelReady('unrouted'));
    expect(e.status).toBe(404);
    expect(e.message).toMatch(/no production version/);
    expect(await oip.modelReady('unrouted', '1')).toEqual({ name: 'unrouted', ready: true });
  });
});

describe('metadata', () => {
  it("describes production's tensors from the signature and the ONNX graph", async () => {
    expect(await oip.modelMetadata('iris')).toEqual({
      name: 'iris',
      versions: ['1', '2'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'predict', datatype: 'INT64', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ],
      strata: {
        version: '1',
        featureService: 'iris',
        features: IRIS,
        entityInput: { name: 'entity_id', datatype: 'BYTES', shape: [-1] },
      },
    });
    expect((await oip.modelMetadata('iris', 'v2')).strata.version).toBe('2');
    expect(await oip.modelReady('iris')).toEqual({ name: 'iris', ready: true });
    expect(oip.serverMetadata()).toEqual({ name: 'strata', version: '0.1.0', extensions: ['strata_entity_id'] });
  });

  it('a one-column output is named as predict names it, shape [-1]', async () => {
    const m = logistic(['u:a', 'u:b'], [1, 2], 0);
    await stack.serving.register('col', {
      artifact: mlpModel({
        layers: [
          {
            weights: [
              [1, -1],
              [2, -2],
            ],
            bias: [0, 0],
          },
        ],
        head: 'softmax',
      }),
      signature: { ...m.signature, outputs: [{ name: 'probabilities', column: 1, meaning: 'p1' }] },
      alias: 'production',
    });
    expect((await oip.modelMetadata('col')).outputs).toEqual([
      { name: 'probabilities[1]', datatype: 'FP32', shape: [-1] },
    ]);
    const r = await oip.infer(
      'col',
      undefined,
      request({ inputs: [{ name: 'features', shape: [1, 2], datatype: 'FP32', data: [0.5, 0.25] }] }),
    );
    // softmax([1a+2b, -(1a+2b)])[1] = sigmoid(-2(a+2b))
    expect(r.outputs[0]!.shape).toEqual([1]);
    expect(r.outputs[0]!.data[0] as number).toBeCloseTo(sigmoid(-2 * (0.5 + 2 * 0.25)), 6);
  });
});

describe('routing, shadows, metrics and the prediction log, as for predict', () => {
  const refs = ['user:age', 'user:tenure', 'txn:count_7d'];
  const A = { w: [0.03, -0.2, 0.5], b: -1 };
  // The canary reads the same features in another order, and one the tensor does not carry (default 2).
  const canaryRefs = ['txn:count_7d', 'user:age', 'txn:refunds'];
  const C = { w: [0.1, -0.01, -0.4], b: 0.2 };
  const S = { w: [-0.05, 0.3, 0.1], b: 0.5 };
  const x = [35, 2, 4];

  beforeAll(async () => {
    await stack.serving.register('ab', { ...logistic(refs, A.w, A.b), alias: 'production' });
    await stack.serving.register('ab', {
      ...logistic(canaryRefs, C.w, C.b, { features: { 'txn:refunds': { onMissing: { default: 2 } } } }),
      alias: 'canary',
    });
    await stack.serving.setTraffic('ab', { production: 50, canary: 50 });
  });

  it('a tensor request is routed as one unit by its id: the canary gets the buckets below its share', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `req-${i}`);
    for (const id of ids) {
      const r = await oip.infer(
        'ab',
        undefined,
        request({ id, inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [x, x] }] }),
      );
      const canary = bucketOf('ab', id) < BUCKETS / 2;
      expect(r.model_version, id).toBe(canary ? '2' : '1');
      expect(r.parameters).toEqual({ routed_by: canary ? 'canary' : 'production', request_id: expect.any(String) });
      // The canary takes its columns from the tensor by feature name; the one it lacks is its default.
      const want = canary ? sigmoid(dot(C.w, [x[2]!, x[0]!, 2]) + C.b) : sigmoid(dot(A.w, x) + A.b);
      expect(r.outputs[0]!.shape).toEqual([2, 1]);
      for (const v of r.outputs[0]!.data) expect(v as number).toBeCloseTo(want, 6);
    }
  });

  it('entity ids read the online store and route each entity sticky, as predict does', async () => {
    const users: Record<string, number[]> = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`e${i}`, [20 + i, i / 2, i % 5]]),
    );
    const rows = Object.entries(users);
    await stack.store.write(
      'user',
      rows.map(([id, v]) => row(id, { age: v[0]!, tenure: v[1]! })),
    );
    await stack.store.write(
      'txn',
      rows.map(([id, v]) => row(id, { count_7d: v[2]! })),
    );
    const ids = Object.keys(users);
    const r = await oip.infer(
      'ab',
      undefined,
      request({ inputs: [{ name: 'entity_id', shape: [ids.length], datatype: 'BYTES', data: ids }] }),
    );
    const routed = ids.map((id) => (bucketOf('ab', id) < BUCKETS / 2 ? 2 : 1));
    expect(new Set(routed).size, 'the batch spans both versions').toBe(2);
    // Split between versions: no single model_version; each row's version is an output.
    expect(r.model_version).toBeUndefined();
    expect(r.parameters).toEqual({ routed_by: 'mixed', request_id: r.id });
    expect(r.outputs.map((o) => o.name)).toEqual(['probability', 'model_version']);
    expect(r.outputs[1]).toEqual({ name: 'model_version', datatype: 'INT64', shape: [ids.length], data: routed });
    ids.forEach((id, i) => {
      const v = users[id]!;
      const want = routed[i] === 2 ? sigmoid(dot(C.w, [v[2]!, v[0]!, 2]) + C.b) : sigmoid(dot(A.w, v) + A.b);
      expect(r.outputs[0]!.data[i] as number, id).toBeCloseTo(want, 6);
    });
    const pinned = await oip.infer(
      'ab',
      '1',
      request({ inputs: [{ name: 'entity_id', shape: [2, 1], datatype: 'BYTES', data: [['e1'], ['e2']] }] }),
    );
    expect(pinned).toMatchObject({ model_version: '1', parameters: { routed_by: 'pinned' } });
  });

  it('an entity without features is a 422 naming the feature, as predict answers', async () => {
    const e = await refused(
      oip.infer(
        'ab',
        '1',
        request({ inputs: [{ name: 'entity_id', shape: [1], datatype: 'BYTES', data: ['nobody'] }] }),
      ),
    );
    expect(e).toBeInstanceOf(UnprocessableError);
    expect(e.details[0]!.where).toBe('entity nobody / user:age');
  });

  it('entity ids follow the entity name rule; BYTES elements are strings', async () => {
    const bad = await refused(
      oip.infer(
        'ab',
        undefined,
        request({ inputs: [{ name: 'entity_id', shape: [1], datatype: 'BYTES', data: ['a\u0000b'] }] }),
      ),
    );
    expect(bad.details[0]!.where).toBe('inputs[0].data[0]');
    const num = await refused(
      oip.infer(
        'ab',
        undefined,
        request({ inputs: [{ name: 'entity_id', shape: [1], datatype: 'BYTES', data: [7] }] }),
      ),
    );
    expect(num.details[0]!.problem).toMatch(/BYTES elements are strings/);
  });

  it('a shadow runs on the tensor rows; every row reaches the prediction log and the metrics', async () => {
    await stack.serving.setTraffic('ab', { production: 100, canary: 0 });
    await stack.serving.register('ab', { ...logistic(refs, S.w, S.b), alias: 'shadow' });
    await stack.serving.predictor.idle();
    await stack.serving.log!.flush();
    const before = stack.sink.records.length;
    const statsBefore = stack.serving.stats('ab');
    const r = await oip.infer(
      'ab',
      undefined,
      request({ id: 'shadowed', inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [x] }] }),
    );
    expect(r.model_version).toBe('1');
    await stack.serving.predictor.idle();
    await stack.serving.log!.flush();
    const records = stack.sink.records.slice(before);
    expect(records.map((p) => [p.version, p.routedBy, p.shadow, p.entityId])).toEqual([
      [1, 'production', false, 'oip:shadowed:0'],
      [3, 'shadow', true, 'oip:shadowed:0'],
    ]);
    expect(records[0]!.features).toEqual({ 'user:age': 35, 'user:tenure': 2, 'txn:count_7d': 4 });
    expect(records[1]!.prediction as number).toBeCloseTo(sigmoid(dot(S.w, x) + S.b), 6);
    expect(records.map((p) => p.requestId)).toEqual([r.parameters!.request_id, r.parameters!.request_id]);
    const stats = stack.serving.stats('ab');
    const live = (s: typeof stats, v: number, shadow: boolean) =>
      s.versions.find((e) => e.version === v && e.shadow === shadow)?.predictions ?? 0;
    expect(live(stats, 1, false) - live(statsBefore, 1, false)).toBe(1);
    expect(live(stats, 3, true) - live(statsBefore, 3, true)).toBe(1);
  });
});
