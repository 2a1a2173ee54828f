/**
 * A small ONNX graph writer over the `onnx-proto` schema: float tensors, nodes with
 * attributes, a model with opset imports, serialised to the bytes onnxruntime loads.
 * The model builders (logistic, mlp, trees) are thin layers over this.
 */
import { onnx } from 'onnx-proto';

/** ONNX IR version 8 (ONNX 1.10) with ai.onnx 13: what onnx-proto carries and onnxruntime reads. */
export const IR_VERSION = 8;
export const DEFAULT_OPSET = 13;
export const ML_DOMAIN = 'ai.onnx.ml';
export const ML_OPSET = 3;

export type ElemType = 'float' | 'int64';
/** A dimension: a size, or a symbolic name (the batch dimension is `N`). */
export type Dim = number | string;
/** number = INT; floats, lists and strings are tagged so an integral float (1.0) keeps its type. */
export type AttributeValue = number | string | string[] | { float: number } | { ints: number[] } | { floats: number[] };

const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

export interface ModelMetadata {
  producer?: string;
  doc?: string;
  /** Free key/value pairs stored in the model (e.g. feature names, training run id). */
  props?: Record<string, string>;
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly opsets = new Map<string, number>([['', DEFAULT_OPSET]]);
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, shape: Dim[], type: ElemType = 'float'): string {
    this.inputs.push(valueInfo(name, shape, type));
    return name;
  }

  output(name: string, shape: Dim[], type: ElemType = 'float'): string {
    this.outputs.push(valueInfo(name, shape, type));
    return name;
  }

  /** A constant float tensor (weights), stored as raw little-endian float32. */
  constant(hint: string, dims: number[], values: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size)
      throw new Error(`constant ${hint}: ${values.length} values for shape [${dims.join(', ')}] (needs ${size})`);
    const name = this.fresh(hint);
    const raw = new Float32Array(values);
    this.initializers.push({
      name,
      dims,
      dataType: ELEM.float,
      rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
    });
    return name;
  }

  /** Add a node; returns its output names (fresh names unless given). */
  node(
    op: string,
    inputs: string[],
    opts: { outputs?: string[] | number; attrs?: Record<string, AttributeValue>; domain?: string } = {},
  ): string[] {
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(op.toLowerCase()));
    const domain = opts.domain ?? '';
    if (domain && !this.opsets.has(domain)) this.opsets.set(domain, domain === ML_DOMAIN ? ML_OPSET : 1);
    this.nodes.push({
      opType: op,
      domain,
      name: this.fresh(`${op}_node`),
      input: inputs,
      output: outs,
      attribute: Object.entries(opts.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** The serialised ModelProto. */
  build(meta: ModelMetadata = {}): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: IR_VERSION,
      producerName: meta.producer ?? 'strata',
      producerVersion: '1',
      docString: meta.doc ?? '',
      opsetImport: [...this.opsets].map(([domain, version]) => ({ domain, version })),
      metadataProps: Object.entries(meta.props ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }
}

function valueInfo(name: string, shape: Dim[], type: ElemType): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; give floats as { float }`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.STRINGS, strings: v.map((s) => new TextEncoder().encode(s)) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.FLOATS, floats: v.floats };
}
