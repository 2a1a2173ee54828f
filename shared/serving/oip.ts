/**
 * The Open Inference Protocol (v2, as KServe, Seldon MLServer and Triton serve it) over
 * Strata's serving: server and model metadata, readiness, and inference. It translates and
 * nothing else: an infer call is one `ServingService.predict`, so routing (canary, a version
 * in the URL as a pin), shadows, the missing/stale policy, metrics and the prediction log
 * are those of POST /api/predict.
 *
 * Two ways in:
 *   - the model's own input tensor, FP32 [N, features] in the signature's column order: the
 *     rows stand in for the online store (other versions pick their columns by feature name).
 *     A tensor request is routed as one unit by its `id` (random without one), so the canary
 *     share is a share of requests and one version answers the request.
 *   - `entity_id`, BYTES [N]: Strata's extension. Features are read from the online store as
 *     for predict, each entity routed sticky as for predict (one user, one version, on both
 *     APIs). When a batch is split between versions, the response has no `model_version`
 *     and carries the per-row `model_version` output instead.
 *
 * Outputs are the signature's outputs under their predict names (`probability`, or
 * `probabilities[1]` for one column), with the ONNX graph's datatypes and shapes.
 */
import { randomUUID } from 'node:crypto';
import { UnprocessableError, ValidationError } from '../errors';
import { checkName } from '../names';
import type { DeployedVersion } from './deployments';
import type { EntityPrediction, PredictResult } from './predictor';
import { mainRoute, parsePin, resolvePin, type RoutedBy } from './router';
import type { ServingService } from './service';
import type { OutputSpec } from './signature';
import { outputKey } from './tensors';
import { MAX_BATCH } from './api-schemas';
import {
  datatypeOf,
  tensorElements,
  type InferenceRequest,
  type InferenceResponse,
  type MetadataTensor,
  type ResponseOutput,
} from './oip-tensors';

/** The BYTES input that names entities whose features come from the online store. */
export const ENTITY_INPUT = 'entity_id';
/** The output holding, per row, the version that answered it. */
export const VERSION_OUTPUT = 'model_version';
/** Server metadata `extensions`: the entity input above. */
export const ENTITY_EXTENSION = 'strata_entity_id';
/** The protocol's platform name for ONNX Runtime models ("Platforms"; Triton says onnxruntime_onnx). */
export const PLATFORM = 'onnx_onnxv1';

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: MetadataTensor[];
  outputs: MetadataTensor[];
  /** Strata's additions: the version described, its features in column order, the entity input. */
  strata: { version: string; featureService: string; features: string[]; entityInput: MetadataTensor };
}

export class OpenInference {
  constructor(
    private readonly serving: ServingService,
    private readonly server: { name: string; version: string },
  ) {}

  serverMetadata(): ServerMetadata {
    return { name: this.server.name, version: this.server.version, extensions: [ENTITY_EXTENSION] };
  }

  /** GET v2/models/{model}[/versions/{version}]: without a version, the one unpinned traffic goes to (production). */
  async modelMetadata(model: string, version?: string): Promise<ModelMetadata> {
    const dv = await this.describing(model, version);
    const versions = (await this.serving.registry.listVersions(model)).map((v) => String(v.version));
    return {
      name: model,
      versions,
      platform: PLATFORM,
      inputs: [inputMetadata(dv)],
      outputs: dv.plan.outputs.map((o) => outputMetadata(dv, o)),
      strata: {
        version: String(dv.version),
        featureService: dv.signature.featureService.name,
        features: dv.plan.columns.map((c) => c.ref),
        entityInput: { name: ENTITY_INPUT, datatype: 'BYTES', shape: [-1] },
      },
    };
  }

  /** Ready when the version is registered and its session loads. */
  async modelReady(model: string, version?: string): Promise<{ name: string; ready: true }> {
    const dv = await this.describing(model, version);
    await this.serving.deployments.sessions.warm({ model, version: dv.version });
    return { name: model, ready: true };
  }

  async infer(model: string, version: string | undefined, req: InferenceRequest): Promise<InferenceResponse> {
    const dv = await this.describing(model, version);
    if (req.inputs.length !== 1) {
      throw new ValidationError(`model ${model} takes one input tensor, got ${req.inputs.length}`, [
        {
          where: 'inputs',
          problem: `send either "${dv.plan.inputName}" (FP32 [N, ${dv.plan.width}]) or "${ENTITY_INPUT}" (BYTES [N]), not ${req.inputs.map((i) => `"${i.name}"`).join(' and ')}`,
        },
      ]);
    }
    const input = req.inputs[0]!;
    const known = [...dv.plan.outputs.map(outputKey), VERSION_OUTPUT];
    const asked = (req.outputs ?? []).map((o) => o.name);
    const unknown = asked.filter((n) => !known.includes(n));
    if (unknown.length) {
      throw new ValidationError(`model ${model} has no output ${unknown.map((n) => `"${n}"`).join(', ')}`, [
        { where: 'outputs', problem: `its outputs are ${known.map((n) => `"${n}"`).join(', ')}` },
      ]);
    }
    const pin = version !== undefined ? { pin: version } : {};
    let result: PredictResult;
    if (input.name === ENTITY_INPUT && input.datatype === 'BYTES') {
      const entityIds = this.entityIds(input);
      result = await this.serving.predict(model, { entityIds }, pin);
    } else {
      const rows = this.rows(dv, input);
      const key = req.id ?? randomUUID();
      const ids = Array.from({ length: rows }, (_, i) => `oip:${key}:${i}`);
      const values = tensorElements(input, 'inputs[0]') as number[];
      result = await this.serving.predict(
        model,
        { rows: { refs: dv.plan.columns.map((c) => c.ref), values, ids } },
        { ...pin, routingKey: key },
      );
    }
    return this.response(model, req, asked.length ? asked : dv.plan.outputs.map(outputKey), result);
  }

  /** The version a request for (model, version) is about: the pinned one, or where unpinned traffic goes. */
  private async describing(model: string, version: string | undefined): Promise<DeployedVersion> {
    const d = await this.serving.deployments.get(model);
    if (version === undefined) return mainRoute(d).version;
    const n = resolvePin(d, parsePin(version));
    return d.versions.get(n) ?? (await this.serving.deployments.version(model, n));
  }

  private entityIds(input: InferenceRequest['inputs'][number]): string[] {
    const [n, extra] = input.shape;
    if (input.shape.length < 1 || input.shape.length > 2 || (input.shape.length === 2 && extra !== 1)) {
      throw new ValidationError(`input "${ENTITY_INPUT}" has shape [${input.shape.join(', ')}]`, [
        { where: 'inputs[0].shape', problem: 'must be [N] (or [N, 1]): one entity id per row' },
      ]);
    }
    checkRows(n!, 'inputs[0].shape[0]');
    return (tensorElements(input, 'inputs[0]') as string[]).map((id, i) =>
      checkName('entityId', id, `inputs[0].data[${i}]`),
    );
  }

  /** Checks a feature tensor against the version's input; returns its row count. */
  private rows(dv: DeployedVersion, input: InferenceRequest['inputs'][number]): number {
    const want = dv.plan.inputName;
    if (input.name !== want) {
      throw new ValidationError(`model ${dv.model} has no input "${input.name}"`, [
        {
          where: 'inputs[0].name',
          problem: `the model's input is "${want}" (FP32 [N, ${dv.plan.width}]); or send "${ENTITY_INPUT}" (BYTES [N]) to read features from the online store`,
        },
      ]);
    }
    if (input.datatype !== 'FP32') {
      throw new ValidationError(`input "${want}" is FP32, got ${input.datatype}`, [
        { where: 'inputs[0].datatype', problem: `must be FP32 (the model's input type), got ${input.datatype}` },
      ]);
    }
    const [n, width] = input.shape;
    if (input.shape.length !== 2 || width !== dv.plan.width) {
      throw new ValidationError(`input "${want}" has shape [${input.shape.join(', ')}]`, [
        {
          where: 'inputs[0].shape',
          problem: `must be [N, ${dv.plan.width}]: one row per prediction, the columns ${abbreviate(dv.plan.columns.map((c) => c.ref))}`,
        },
      ]);
    }
    checkRows(n!, 'inputs[0].shape[0]');
    return n!;
  }

  private async response(
    model: string,
    req: InferenceRequest,
    names: string[],
    result: PredictResult,
  ): Promise<InferenceResponse> {
    const ps = result.predictions;
    const versions = [...new Set(ps.map((p) => p.modelVersion))];
    const routedBy = [...new Set(ps.map((p) => p.routedBy))];
    const single = versions.length === 1;
    // The first answering version's graph gives datatypes and shapes.
    const dv = await this.serving.deployments.version(model, ps[0]!.modelVersion);
    const wanted = single || names.includes(VERSION_OUTPUT) ? names : [...names, VERSION_OUTPUT];
    return {
      model_name: model,
      ...(single ? { model_version: String(versions[0]) } : {}),
      id: req.id ?? result.requestId,
      // request_id: the prediction log's requestId (the client's `id` need not be unique).
      parameters: {
        routed_by: routedBy.length === 1 ? (routedBy[0] as RoutedBy) : 'mixed',
        request_id: result.requestId,
      },
      outputs: wanted.map((name) => (name === VERSION_OUTPUT ? versionOutput(ps) : output(dv, name, ps))),
    };
  }
}

function checkRows(n: number, where: string): void {
  if (n < 1 || n > MAX_BATCH)
    throw new ValidationError(`a request holds 1 to ${MAX_BATCH} rows, got ${n}`, [
      { where, problem: `must be 1 to ${MAX_BATCH} rows` },
    ]);
}

function inputMetadata(dv: DeployedVersion): MetadataTensor {
  return { name: dv.plan.inputName, datatype: 'FP32', shape: [-1, dv.plan.width] };
}

/** A signature output as the protocol describes it: the ONNX output's type, and its shape (one column: [-1]). */
function outputMetadata(dv: DeployedVersion, spec: OutputSpec): MetadataTensor {
  const onnx = dv.tensors.outputs.find((t) => t.name === spec.name);
  // The batch dimension, and any symbolic one, is variable (-1).
  const dims = (onnx?.shape ?? [-1]).map((d, i) => (i > 0 && typeof d === 'number' && d >= 0 ? d : -1));
  return {
    name: outputKey(spec),
    datatype: datatypeOf(onnx?.type),
    shape: spec.column !== undefined || !dims.length ? [-1] : dims,
  };
}

function output(dv: DeployedVersion, name: string, ps: EntityPrediction[]): ResponseOutput {
  const spec = dv.plan.outputs.find((o) => outputKey(o) === name);
  const meta: MetadataTensor = spec ? outputMetadata(dv, spec) : { name, datatype: 'FP32', shape: [-1] };
  const data: Array<number | boolean> = [];
  let width = 1;
  for (const p of ps) {
    const v = (p.outputs ?? { [name]: p.prediction })[name];
    if (v === undefined) {
      throw new UnprocessableError(
        `version ${p.modelVersion} of model ${dv.model} answered entity ${p.entityId} but has no output "${name}"`,
        [
          {
            where: 'outputs',
            problem: `"${name}" is not an output of version ${p.modelVersion}; ask for its outputs or pin a version in the URL`,
          },
        ],
      );
    }
    const values = Array.isArray(v) ? v : [v];
    width = values.length;
    for (const x of values) data.push(meta.datatype === 'BOOL' ? x !== 0 : x);
  }
  // The batch dimension is the row count; a variable inner dimension is what the model gave.
  const shape = meta.shape.map((d, i) => (i === 0 ? ps.length : d === -1 ? width : d));
  if (shape.length === 1 && width > 1) shape.push(width);
  return { name, datatype: meta.datatype, shape, data };
}

function versionOutput(ps: EntityPrediction[]): ResponseOutput {
  return { name: VERSION_OUTPUT, datatype: 'INT64', shape: [ps.length], data: ps.map((p) => p.modelVersion) };
}

function abbreviate(xs: string[]): string {
  return xs.length <= 6 ? xs.join(', ') : `${xs.slice(0, 5).join(', ')}, ... ${xs.length - 5} more`;
}
