/**
 * The check a version passes before it is registered: onnxruntime loads the file, its
 * input and outputs match the signature, and one run on a sample input gives readable,
 * finite outputs. Every refusal says what was found and how to fix it, in the words a
 * data scientist uses when exporting a model.
 */
import * as ort from 'onnxruntime-node';
import { ValidationError, type ErrorDetail } from '../errors';
import { fillFor, refKey, type ModelSignature } from './signature';
import { inputTensor, outputKey, readOutputs, type OutputValue } from './tensors';
import { createSession } from './sessions';

export interface TensorInfo {
  name: string;
  type: string;
  shape: Array<number | string>;
}

export interface ArtifactCheck {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** The sample rows (each feature's default, else 0) and what the model answered for them. */
  sample: { rows: number[][]; outputs: Record<string, OutputValue[]> };
}

const SAMPLE_ROWS = 2;

export async function checkArtifact(model: string, bytes: Uint8Array, sig: ModelSignature): Promise<ArtifactCheck> {
  const refuse = (message: string, details: ErrorDetail[]) =>
    new ValidationError(`model ${model}: ${message}`, details);
  if (bytes.byteLength === 0)
    throw refuse('the ONNX file is empty', [{ where: 'artifact', problem: 'has 0 bytes; upload the .onnx file' }]);

  let session: ort.InferenceSession;
  try {
    session = await createSession(bytes);
  } catch (e) {
    throw refuse('onnxruntime could not load the ONNX file', [
      {
        where: 'artifact',
        problem: `${firstLine(e)} (is it an .onnx model exported with opset <= 21, not a pickle or a zip?)`,
      },
    ]);
  }
  try {
    const inputs = session.inputMetadata.map(info);
    const outputs = session.outputMetadata.map(info);
    const problems = [...checkInputs(sig, inputs), ...checkOutputNames(sig, outputs)];
    if (problems.length) throw refuse('the ONNX file does not match the signature', problems);

    const width = sig.featureService.features.length;
    const row = sig.featureService.features.map((f) => {
      const p = sig.policy.features[refKey(f)] ?? sig.policy.default;
      return fillFor(p.onMissing) ?? 0;
    });
    const rows = Array.from({ length: SAMPLE_ROWS }, () => row);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(
        { [sig.input.name]: inputTensor(Float32Array.from(rows.flat()), SAMPLE_ROWS, width) },
        [...new Set(sig.outputs.map((o) => o.name))],
      );
    } catch (e) {
      throw refuse('the model failed on a sample input', [
        {
          where: 'artifact',
          problem: `running it on ${SAMPLE_ROWS} rows of ${width} features failed: ${firstLine(e)}`,
        },
      ]);
    }
    const read = readOutputs(results, sig.outputs, SAMPLE_ROWS);
    const outProblems: ErrorDetail[] = read.problems.map((p) => ({
      where: `signature.outputs(${p.output})`,
      problem: p.problem,
    }));
    sig.outputs.forEach((o, i) => {
      const bad = read.values[i]!.flat().some((v) => !Number.isFinite(v));
      if (bad)
        outProblems.push({
          where: `signature.outputs(${o.name})`,
          problem:
            'is NaN or infinite for the sample input (each feature at its default, NaN where onMissing is "model", else 0)',
        });
    });
    if (outProblems.length) throw refuse("the model's outputs on a sample input cannot be served", outProblems);
    const sampleOutputs: Record<string, OutputValue[]> = {};
    sig.outputs.forEach((o, i) => (sampleOutputs[outputKey(o)] = read.values[i]!));
    return { inputs, outputs, sample: { rows, outputs: sampleOutputs } };
  } finally {
    await session.release();
  }
}

function checkInputs(sig: ModelSignature, inputs: TensorInfo[]): ErrorDetail[] {
  const listed = inputs.map(describe).join(', ') || 'none';
  const want = sig.input.name;
  const width = sig.featureService.features.length;
  const found = inputs.find((i) => i.name === want);
  if (!found) {
    return [
      { where: 'signature.input.name', problem: `the model has no input named "${want}"; its inputs are: ${listed}` },
    ];
  }
  const out: ErrorDetail[] = [];
  const others = inputs.filter((i) => i !== found);
  if (others.length) {
    out.push({
      where: 'artifact',
      problem: `the model needs ${inputs.length} inputs (${listed}); Strata feeds exactly one float tensor [N, features]`,
    });
  }
  if (found.type !== 'float32') {
    out.push({
      where: 'signature.input',
      problem: `input "${want}" is ${found.type}; Strata feeds float32 (cast the input to float in the exported graph)`,
    });
  }
  if (found.shape.length !== 2) {
    out.push({
      where: 'signature.input',
      problem: `input "${want}" has shape [${found.shape.join(', ')}]; Strata feeds a 2-D tensor [N, ${width}]`,
    });
    return out;
  }
  const [batch, cols] = found.shape;
  if (typeof batch === 'number' && batch !== -1) {
    out.push({
      where: 'signature.input',
      problem: `input "${want}" has a fixed batch size ${batch}; export it with a dynamic batch dimension (e.g. "N" or None)`,
    });
  }
  if (typeof cols === 'number' && cols !== -1 && cols !== width) {
    const names = sig.featureService.features.map(refKey);
    out.push({
      where: 'signature.featureService',
      problem: `input "${want}" takes ${cols} columns but feature service ${sig.featureService.name} lists ${width} features (${abbreviate(names)}); the column order must match the model's training columns`,
    });
  }
  return out;
}

function checkOutputNames(sig: ModelSignature, outputs: TensorInfo[]): ErrorDetail[] {
  const listed = outputs.map(describe).join(', ');
  const out: ErrorDetail[] = [];
  sig.outputs.forEach((o, i) => {
    const found = outputs.find((x) => x.name === o.name);
    if (!found)
      out.push({
        where: `signature.outputs[${i}].name`,
        problem: `the model has no output named "${o.name}"; its outputs are: ${listed}`,
      });
    else if (found.type === 'non-tensor') {
      out.push({
        where: `signature.outputs[${i}].name`,
        problem: `output "${o.name}" is not a tensor (a ZipMap of class -> probability?); export with zipmap=False and use the probabilities tensor`,
      });
    } else if (!['float32', 'float64', 'int64', 'int32', 'bool'].includes(found.type)) {
      out.push({
        where: `signature.outputs[${i}].name`,
        problem: `output "${o.name}" is ${found.type}; Strata serves numeric outputs`,
      });
    }
  });
  return out;
}

function info(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] };
}

const describe = (t: TensorInfo) => `${t.name} ${t.type}[${t.shape.map((d) => (d === -1 ? '?' : d)).join(', ')}]`;

function abbreviate(xs: string[]): string {
  return xs.length <= 6 ? xs.join(', ') : `${xs.slice(0, 5).join(', ')}, ... ${xs.length - 5} more`;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim()) ?? msg).trim().slice(0, 400);
}
