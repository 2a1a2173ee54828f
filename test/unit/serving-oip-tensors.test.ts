/**
 * The Open Inference Protocol's JSON tensors: data read against shape and datatype, as the
 * spec's "Tensor Data" section writes them (row-major, natural nesting or flat), and the
 * request schema's refusals.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import {
  InferenceRequestSchema,
  RequestInputSchema,
  datatypeOf,
  tensorElements,
} from '../../shared/serving/oip-tensors';

const input = (o: Record<string, unknown>) =>
  RequestInputSchema.parse({ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 4, 5], ...o });
function problem(o: Record<string, unknown>): { where: string; problem: string } {
  try {
    tensorElements(input(o), 'inputs[0]');
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details[0]!;
  }
  throw new Error('expected a refusal');
}

describe('tensor data', () => {
  it("the spec's 2x2 matrix, natural and flattened, is the same row-major elements", () => {
    // required_api.md, "Tensor Data": [[1, 2], [4, 5]] or [1, 2, 4, 5]
    expect(
      tensorElements(
        input({
          data: [
            [1, 2],
            [4, 5],
          ],
        }),
        'i',
      ),
    ).toEqual([1, 2, 4, 5]);
    expect(tensorElements(input({ data: [1, 2, 4, 5] }), 'i')).toEqual([1, 2, 4, 5]);
    expect(tensorElements(input({ shape: [2, 1, 2], data: [[[1, 2]], [[4, 5]]] }), 'i')).toEqual([1, 2, 4, 5]);
    expect(tensorElements(input({ shape: [], data: [7] }), 'i')).toEqual([7]);
  });

  it('nested data must follow the shape, level by level', () => {
    expect(problem({ data: [[1, 2, 3], [4]] })).toEqual({
      where: 'inputs[0].data[0]',
      problem: 'has 3 elements, shape [2, 2] needs 2 here',
    });
    expect(
      problem({
        data: [
          [1, [2]],
          [4, 5],
        ],
      }),
    ).toEqual({ where: 'inputs[0].data[0][1]', problem: 'is nested deeper than shape [2, 2]' });
    expect(problem({ data: [[1, 2], 4] })).toEqual({
      where: 'inputs[0].data[1]',
      problem: 'must be an array of 2 (shape [2, 2])',
    });
    expect(problem({ data: [1, 2, 3] }).problem).toBe(
      'has 3 elements, shape [2, 2] needs 4 (row-major, flat or nested as the shape)',
    );
  });

  it('each element must be of the datatype, in its range', () => {
    const at = 'inputs[0].data (element 1 in row-major order)';
    expect(problem({ data: [1, '2', 4, 5] })).toEqual({
      where: at,
      problem: 'is "2"; FP32 elements are finite JSON numbers',
    });
    expect(problem({ data: [1, null, 4, 5] }).problem).toMatch(/null/);
    expect(problem({ data: [1, 1e39, 4, 5] }).problem).toBe('is 1e+39, outside the range of FP32');
    expect(problem({ datatype: 'UINT8', data: [1, 256, 4, 5] }).problem).toBe("is 256, outside UINT8's range 0..255");
    expect(problem({ datatype: 'INT32', data: [1, 2.5, 4, 5] }).problem).toBe(
      'is 2.5; INT32 elements are whole numbers',
    );
    expect(problem({ datatype: 'BOOL', data: [true, 1, false, true] }).problem).toBe(
      'is 1; BOOL elements are true or false',
    );
    expect(problem({ datatype: 'BYTES', data: ['a', 1, 'c', 'd'] }).problem).toBe('is 1; BYTES elements are strings');
    expect(tensorElements(input({ datatype: 'FP64', data: [1e300, -1e300, 0, 1] }), 'i')).toEqual([
      1e300, -1e300, 0, 1,
    ]);
  });

  it('a tensor beyond a million elements is refused before its data is read', () => {
    expect(problem({ shape: [1001, 1000], data: [] }).where).toBe('inputs[0].shape');
  });
});

describe('the request schema', () => {
  it("takes the spec's example request as it is written", () => {
    const r = InferenceRequestSchema.safeParse({
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
      ],
      outputs: [{ name: 'output0' }],
    });
    expect(r.success).toBe(true);
  });

  it.each([
    ['no inputs', { inputs: [] }, 'inputs'],
    ['an unknown datatype', { inputs: [{ name: 'x', shape: [1], datatype: 'FLOAT', data: [1] }] }, 'inputs.0.datatype'],
    ['a negative dimension', { inputs: [{ name: 'x', shape: [-1], datatype: 'FP32', data: [1] }] }, 'inputs.0.shape.0'],
    ['base64 data', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: 'AAAA' }] }, 'inputs.0.data'],
    [
      'a parameter that is an object',
      { parameters: { a: { b: 1 } }, inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] },
      'parameters.a',
    ],
    ['an unknown field', { input: [], inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }, ''],
  ])('refuses %s', (_what, body, path) => {
    const r = InferenceRequestSchema.safeParse(body);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path.join('.')).toBe(path);
  });

  it('maps onnxruntime element types to protocol datatypes', () => {
    expect(['float32', 'float64', 'int64', 'int32', 'bool', 'string', 'uint8', 'float16'].map(datatypeOf)).toEqual([
      'FP32',
      'FP64',
      'INT64',
      'INT32',
      'BOOL',
      'BYTES',
      'UINT8',
      'FP16',
    ]);
  });
});
