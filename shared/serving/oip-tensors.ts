/**
 * The Open Inference Protocol's JSON tensors (REST, v2: KServe, Seldon MLServer, Triton):
 * the inference request as zod schemas, and the one place where a tensor's `data` is read
 * against its `shape` and `datatype` (row-major, flat or nested in the shape's own nesting)
 * and where ONNX element types become protocol datatypes. Pure: no serving state.
 *
 * Spec: https://github.com/kserve/open-inference-protocol (specification/protocol/inference_rest.md)
 * and kserve/kserve docs/predict-api/v2/required_api.md ("Tensor Data", "Tensor Data Types").
 */
import { z } from 'zod';
import { ValidationError, type ErrorDetail } from '../errors';

/** The protocol's tensor datatypes. */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

/** The most elements one request tensor may hold (a batch of 1,000 rows of 1,000 features). */
export const MAX_ELEMENTS = 1_000_000;

/** `$parameters`: name -> string | number | boolean. */
export const ParametersSchema = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean()], { message: 'parameter values are strings, numbers or booleans' }),
);

const tensorName = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const RequestInputSchema = z
  .object({
    name: tensorName,
    shape: z
      .array(z.number().int('dimensions are whole numbers').nonnegative('dimensions are 0 or more'), {
        message: 'must be an array of dimensions, e.g. [2, 4]',
      })
      .max(8, 'at most 8 dimensions'),
    datatype: z.enum(DATATYPES, { message: `must be one of ${DATATYPES.join(', ')}` }),
    parameters: ParametersSchema.optional(),
    data: z.array(z.unknown(), {
      message:
        'must be a JSON array of the tensor elements in row-major order (flat or nested); binary tensor data is not supported',
    }),
  })
  .strict();
export type RequestInput = z.infer<typeof RequestInputSchema>;

export const RequestOutputSchema = z.object({ name: tensorName, parameters: ParametersSchema.optional() }).strict();

/** `$inference_request`. */
export const InferenceRequestSchema = z
  .object({
    id: z.string().max(256, 'must be at most 256 characters').optional(),
    parameters: ParametersSchema.optional(),
    inputs: z
      .array(RequestInputSchema, { message: 'must be an array of input tensors' })
      .min(1, 'must hold at least one input tensor'),
    outputs: z.array(RequestOutputSchema).optional(),
  })
  .strict();
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

export interface MetadataTensor {
  name: string;
  datatype: Datatype;
  /** -1 for a variable-size dimension. */
  shape: number[];
}

export interface ResponseOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Array<number | boolean | string>;
}

/** `$inference_response`. */
export interface InferenceResponse {
  model_name: string;
  model_version?: string;
  id: string;
  parameters?: Record<string, string | number | boolean>;
  outputs: ResponseOutput[];
}

const ONNX_TO_DATATYPE: Record<string, Datatype> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

/** The protocol datatype of an onnxruntime element type (`float32` -> FP32); FP32 when unknown. */
export function datatypeOf(onnxType: string | undefined): Datatype {
  return (onnxType !== undefined ? ONNX_TO_DATATYPE[onnxType] : undefined) ?? 'FP32';
}

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65_535],
  UINT32: [0, 4_294_967_295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32_768, 32_767],
  INT32: [-2_147_483_648, 2_147_483_647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const FLOAT_MAX: Partial<Record<Datatype, number>> = {
  FP16: 65_504,
  FP32: 3.4028234663852886e38,
  FP64: Number.MAX_VALUE,
};

/** Why `v` is not an element of `datatype`, or undefined. */
function elementProblem(v: unknown, datatype: Datatype): string | undefined {
  if (datatype === 'BOOL')
    return typeof v === 'boolean' ? undefined : `is ${JSON.stringify(v)}; BOOL elements are true or false`;
  if (datatype === 'BYTES')
    return typeof v === 'string' ? undefined : `is ${JSON.stringify(v)}; BYTES elements are strings`;
  if (typeof v !== 'number' || !Number.isFinite(v))
    return `is ${JSON.stringify(v)}; ${datatype} elements are finite JSON numbers`;
  const range = INT_RANGE[datatype];
  if (range) {
    if (!Number.isInteger(v)) return `is ${v}; ${datatype} elements are whole numbers`;
    if (v < range[0] || v > range[1]) return `is ${v}, outside ${datatype}'s range ${range[0]}..${range[1]}`;
    return undefined;
  }
  return Math.abs(v) > FLOAT_MAX[datatype]! ? `is ${v}, outside the range of ${datatype}` : undefined;
}

/**
 * The elements of a request tensor in row-major order, checked against its shape (their
 * count, or the nesting of nested data) and its datatype. Throws a ValidationError whose
 * details name `where` and the element (`inputs[0].data[1][3]`).
 */
export function tensorElements(input: RequestInput, where: string): unknown[] {
  const count = input.shape.reduce((a, b) => a * b, 1);
  const shape = `[${input.shape.join(', ')}]`;
  const fail = (at: string, problem: string): never => {
    throw new ValidationError(`input "${input.name}": ${at}: ${problem}`, [{ where: at, problem }]);
  };
  if (count > MAX_ELEMENTS)
    fail(`${where}.shape`, `${shape} holds ${count} elements; at most ${MAX_ELEMENTS} per request`);
  const nested = input.data.some(Array.isArray);
  let flat: unknown[];
  if (!nested) {
    flat = input.data;
    if (flat.length !== count)
      fail(
        `${where}.data`,
        `has ${flat.length} elements, shape ${shape} needs ${count} (row-major, flat or nested as the shape)`,
      );
  } else {
    flat = [];
    const walk = (node: unknown, depth: number, at: string): void => {
      if (depth === input.shape.length) {
        if (Array.isArray(node)) fail(at, `is nested deeper than shape ${shape}`);
        flat.push(node);
        return;
      }
      if (!Array.isArray(node)) return fail(at, `must be an array of ${input.shape[depth]} (shape ${shape})`);
      if (node.length !== input.shape[depth])
        fail(at, `has ${node.length} elements, shape ${shape} needs ${input.shape[depth]} here`);
      node.forEach((child, i) => walk(child, depth + 1, `${at}[${i}]`));
    };
    walk(input.data, 0, `${where}.data`);
  }
  const problems: ErrorDetail[] = [];
  for (let i = 0; i < flat.length && problems.length < 5; i++) {
    const p = elementProblem(flat[i], input.datatype);
    if (p) problems.push({ where: `${where}.data (element ${i} in row-major order)`, problem: p });
  }
  if (problems.length)
    throw new ValidationError(
      `input "${input.name}": ${problems.map((p) => `${p.where}: ${p.problem}`).join('; ')}`,
      problems,
    );
  return flat;
}
