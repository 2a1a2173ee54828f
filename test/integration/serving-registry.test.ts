import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { storageFor } from '../../shared/azure/storage';
import { ModelRegistry } from '../../shared/serving/registry';
import { ConflictError, StrataError, ValidationError } from '../../shared/errors';
import { GraphBuilder, treeEnsembleClassifierModel } from '../../shared/onnx';
import { logistic, refused, signatureFor } from '../helpers/serving-fixtures';
import { ModelTable } from '../../shared/azure/model-table';
import { MemoryModelStore } from '../../shared/memory/models';

let azurite: AzuriteHandle;
let dir: string;
let registry: ModelRegistry;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-registry-'));
  azurite = await startAzurite({ location: dir });
});
afterAll(async () => {
  await azurite?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const refs = ['user:age', 'user:tenure', 'txn:count_7d'];
const model = (weights: number[], bias = 0) => logistic(refs, weights, bias);

/** The refusal a registration throws. */
const refusal = (p: Promise<unknown>) => refused(p, 'the registration');

// The same contract on both ModelStores: Azure Table + Blob (against Azurite) and memory.
const BACKENDS = {
  'Azure Table': () => new ModelTable(storageFor(azurite.connectionString)),
  memory: () => new MemoryModelStore(),
};

for (const [backend, makeStore] of Object.entries(BACKENDS))
  describe(`model registry (${backend})`, () => {
    beforeAll(() => {
      registry = new ModelRegistry(makeStore());
    });

    it('registers numbered versions, storing the artifact, its sha256 and what the check saw', async () => {
      const { version: v1, created } = await registry.register('churn', {
        ...model([0.1, 0.2, 0.3]),
        description: 'first',
      });
      const { version: v2 } = await registry.register('churn', model([0.4, 0.5, 0.6]));
      expect(created).toBe(true);
      expect([v1.version, v2.version]).toEqual([1, 2]);
      expect(v1.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(v1.check.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['N', 3] }]);
      expect(v1.check.sample.outputs.probability).toEqual([0.5, 0.5]); // all features 0 -> sigmoid(0)
      const stored = await registry.getVersion('churn', 1);
      expect(stored.signature.featureService.features.map((f) => `${f.view}:${f.feature}`)).toEqual(refs);
      expect(stored.description).toBe('first');
      const bytes = await registry.readArtifact(stored.artifact);
      expect(Buffer.from(bytes).equals(Buffer.from(model([0.1, 0.2, 0.3]).artifact))).toBe(true);
      expect((await registry.listVersions('churn')).map((v) => v.version)).toEqual([1, 2]);
      expect((await registry.listModels()).map((m) => [m.model, m.latestVersion])).toContainEqual(['churn', 2]);
    });

    it('returns the existing version when the same file and signature are registered again', async () => {
      const again = await registry.register('churn', model([0.1, 0.2, 0.3]));
      expect(again).toMatchObject({ created: false, version: { version: 1 } });
      expect((await registry.getModel('churn')).latestVersion).toBe(2);
    });

    it('refuses a file onnxruntime cannot load, saying so', async () => {
      const e = await refusal(
        registry.register('broken', {
          artifact: new TextEncoder().encode('not a model'),
          signature: signatureFor(refs),
        }),
      );
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.message).toBe('model broken: onnxruntime could not load the ONNX file');
      expect(e.details[0]!.where).toBe('artifact');
      await expect(registry.getModel('broken')).rejects.toThrow(/not registered/);
    });

    it('refuses a model whose input width differs from the feature service, naming both counts', async () => {
      const e = await refusal(
        registry.register('churn', { ...model([1, 2, 3]), signature: signatureFor(['user:age', 'user:tenure']) }),
      );
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.details).toEqual([
        {
          where: 'signature.featureService',
          problem:
            'input "features" takes 3 columns but feature service svc lists 2 features (user:age, user:tenure); the column order must match the model\'s training columns',
        },
      ]);
    });

    it('refuses a wrong input tensor name, listing the inputs the model has', async () => {
      const e = await refusal(
        registry.register('churn', { ...model([1, 2, 3]), signature: signatureFor(refs, { input: 'X' }) }),
      );
      expect(e.details).toEqual([
        {
          where: 'signature.input.name',
          problem: 'the model has no input named "X"; its inputs are: features float32[N, 3]',
        },
      ]);
    });

    it('refuses a wrong output name and an output column the model does not have', async () => {
      const e = await refusal(
        registry.register('churn', { ...model([1, 2, 3]), signature: signatureFor(refs, { output: 'prob' }) }),
      );
      expect(e.details[0]!.problem).toBe(
        'the model has no output named "prob"; its outputs are: probability float32[N, 1]',
      );
      const trees = treeEnsembleClassifierModel({
        nFeatures: 3,
        trees: [[{ feature: 0, threshold: 1, left: 1, right: 2 }, { value: -1 }, { value: 1 }]],
      });
      const sig = {
        ...signatureFor(refs),
        outputs: [{ name: 'probabilities', column: 2, meaning: 'probability of class 1' }],
      };
      const e2 = await refusal(registry.register('trees', { artifact: trees, signature: sig }));
      expect(e2.details[0]).toEqual({
        where: 'signature.outputs(probabilities)',
        problem: 'column 2 asked for, but the output has 2 column(s) (0..1)',
      });
    });

    it('accepts a tree ensemble whose probability of class 1 is column 1 of its probabilities', async () => {
      const trees = treeEnsembleClassifierModel({
        nFeatures: 3,
        trees: [[{ feature: 0, threshold: 1, left: 1, right: 2 }, { value: -1 }, { value: 1 }]],
      });
      const sig = {
        ...signatureFor(refs),
        outputs: [
          { name: 'probabilities', column: 1, meaning: 'probability of class 1' },
          { name: 'label', meaning: 'predicted class' },
        ],
      };
      const { version } = await registry.register('trees', { artifact: trees, signature: sig });
      expect(version.check.sample.outputs['probabilities[1]']![0]).toBeCloseTo(1 / (1 + Math.exp(1)), 5); // x0 = 0 < 1 -> leaf -1
      expect(version.check.sample.outputs.label).toEqual([0, 0]);
    });

    it('refuses a model that needs two inputs, or has a fixed batch size or integer input', async () => {
      const twoInputs = new GraphBuilder('two');
      twoInputs.input('features', ['N', 3]);
      twoInputs.input('mask', ['N', 3]);
      twoInputs.node('Mul', ['features', 'mask'], { outputs: ['probability'] });
      twoInputs.output('probability', ['N', 3]);
      const e1 = await refusal(
        registry.register('odd', { artifact: twoInputs.build(), signature: signatureFor(refs) }),
      );
      expect(e1.details[0]!.problem).toBe(
        'the model needs 2 inputs (features float32[N, 3], mask float32[N, 3]); Strata feeds exactly one float tensor [N, features]',
      );

      const fixed = new GraphBuilder('fixed');
      fixed.input('features', [1, 3]);
      fixed.node('Sigmoid', ['features'], { outputs: ['probability'] });
      fixed.output('probability', [1, 3]);
      const e2 = await refusal(registry.register('odd', { artifact: fixed.build(), signature: signatureFor(refs) }));
      expect(e2.details[0]!.problem).toBe(
        'input "features" has a fixed batch size 1; export it with a dynamic batch dimension (e.g. "N" or None)',
      );

      const ints = new GraphBuilder('ints');
      ints.input('features', ['N', 3], 'int64');
      ints.node('Cast', ['features'], { outputs: ['probability'], attrs: { to: 1 } });
      ints.output('probability', ['N', 3]);
      const e3 = await refusal(registry.register('odd', { artifact: ints.build(), signature: signatureFor(refs) }));
      expect(e3.details[0]!.problem).toBe(
        'input "features" is int64; Strata feeds float32 (cast the input to float in the exported graph)',
      );
    });

    it('refuses a model whose output is NaN on the sample input', async () => {
      const g = new GraphBuilder('nan');
      g.input('features', ['N', 3]);
      const [log] = g.node('Log', ['features']); // log(0) = -inf
      g.node('MatMul', [log!, g.constant('ones', [3, 1], [1, 1, 1])], { outputs: ['probability'] });
      g.output('probability', ['N', 1]);
      const e = await refusal(registry.register('odd', { artifact: g.build(), signature: signatureFor(refs) }));
      expect(e.message).toBe("model odd: the model's outputs on a sample input cannot be served");
      expect(e.details[0]!.problem).toMatch(/is NaN or infinite for the sample input/);
    });

    it('refuses an invalid signature with the path of each problem', async () => {
      const sig = signatureFor(['user:age', 'user:age'], { features: { 'user:nope': { onMissing: 'required' } } });
      const e = await refusal(registry.register('churn', { ...model([1, 2]), signature: sig }));
      expect(e.message).toBe('model churn: the signature is not valid');
      expect(e.details).toEqual([
        {
          where: 'signature.featureService.features[1]',
          problem: 'user:age is listed twice (also at features[0]); each input column must be a different feature',
        },
        {
          where: 'signature.policy.features.user:nope',
          problem: 'user:nope is not a feature of svc (its features: user:age)',
        },
      ]);
    });

    it('points aliases at versions and records each change in the history', async () => {
      await registry.setAlias('churn', 'production', 1);
      await registry.setAlias('churn', 'shadow', 2);
      const s = await registry.setAlias('churn', 'shadow', null);
      expect(s.aliases).toEqual({ production: 1 });
      const h = await registry.history('churn');
      expect(h.slice(-3).map((x) => [x.action, x.alias, x.from, x.to])).toEqual([
        ['alias', 'production', undefined, 1],
        ['alias', 'shadow', undefined, 2],
        ['alias', 'shadow', 2, undefined],
      ]);
      await expect(registry.setAlias('churn', 'canary', 99)).rejects.toThrow('model churn has no version 99');
      await expect(registry.setAlias('churn', 'Bad Alias', 1)).rejects.toBeInstanceOf(ValidationError);
      await expect(registry.setAlias('churn', 'production', null)).rejects.toBeInstanceOf(ConflictError);
    });

    it('sets traffic only toward aliases that exist, and in 0.01% steps summing to 100', async () => {
      await expect(registry.setTraffic('churn', { production: 90, canary: 10 })).rejects.toThrow(
        /no canary version to send 10%/,
      );
      await registry.setAlias('churn', 'canary', 2);
      await expect(registry.setTraffic('churn', { production: 90, canary: 20 })).rejects.toThrow(
        /invalid traffic policy/,
      );
      await expect(registry.setTraffic('churn', { production: 89.995, canary: 10.005 })).rejects.toBeInstanceOf(
        ValidationError,
      );
      const s = await registry.setTraffic('churn', { production: 87.5, canary: 12.5 });
      expect(s.traffic).toEqual({ production: 87.5, canary: 12.5 });
    });

    it('promotes the canary to production and resets traffic', async () => {
      const s = await registry.promote('churn');
      expect(s.aliases).toEqual({ production: 2 });
      expect(s.traffic).toEqual({ production: 100, canary: 0 });
      expect(s.productionHistory).toEqual([1, 2]);
      await expect(registry.promote('churn')).rejects.toThrow('model churn has no canary version to promote');
    });

    it('rolls production back to the previous production version, step by step', async () => {
      const { version: v3 } = await registry.register('churn', model([0.7, 0.8, 0.9]));
      await registry.setAlias('churn', 'production', v3.version);
      expect((await registry.rollback('churn')).aliases.production).toBe(2);
      expect((await registry.rollback('churn')).aliases.production).toBe(1);
      await expect(registry.rollback('churn')).rejects.toThrow(
        'model churn has no previous production version to roll back to',
      );
      const h = await registry.history('churn');
      expect(h.slice(-2).map((x) => [x.action, x.from, x.to])).toEqual([
        ['rollback', 3, 2],
        ['rollback', 2, 1],
      ]);
    });

    it('applies concurrent alias changes one after another without losing any', async () => {
      const before = (await registry.history('churn')).length;
      await Promise.all(['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((a, i) => registry.setAlias('churn', a, 1 + (i % 3))));
      const s = await registry.getModel('churn');
      expect(s.aliases).toMatchObject({ a1: 1, a2: 2, a3: 3, a4: 1, a5: 2, a6: 3 });
      const h = await registry.history('churn', 1000);
      expect(h.length - before).toBe(6);
      expect(h.map((x) => x.seq)).toEqual(h.map((_, i) => i + 1));
    });

    it('refuses model names that cannot be a URL segment or a Table key', async () => {
      await expect(registry.register('a/b', model([1, 2, 3]))).rejects.toThrow(/"a\/b" is not a valid model name/);
    });
  });
