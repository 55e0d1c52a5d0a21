import { TensorType, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

/**
 * Rewrites a TensorFlow.js graph model (the model.json topology and its decoded weights) as an ONNX
 * graph for onnxruntime, which runs the same convolutions natively on every core, several times
 * faster than tfjs on WebAssembly. Only the operations of the convolutional face models we ship
 * are supported (MobileNet and BlazeFace blocks); anything else is refused by name, so a model
 * update fails loudly at load rather than computing something else.
 *
 * TensorFlow lays images out NHWC, onnxruntime's convolutions NCHW: the graph input is taken
 * NCHW, every 4-D activation stays NCHW, and weights and constants are transposed to match. Only
 * the nodes the requested outputs depend on are converted.
 */

/** One tfjs graph node, as model.json stores it. */
export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttr>;
}

interface TfjsAttr {
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  list?: { i?: string[]; s?: string[] };
}

/** A decoded weight: its values in TensorFlow's layout and its shape. */
export interface TfjsWeight {
  values: Float32Array | Int32Array;
  shape: number[];
}

export interface ConvertOptions {
  nodes: readonly TfjsNode[];
  weights: ReadonlyMap<string, TfjsWeight>;
  /** tfjs node names whose values are the graph's outputs, in order. */
  outputs: readonly string[];
  /** Name of the graph (for error messages and tools). */
  name: string;
}

/** Thrown for a graph this converter cannot express exactly. */
export class UnsupportedGraphError extends Error {}

/** Whether a value is a 4-D image-like activation (converted to NCHW) or anything else (kept as is). */
type Layout = 'nchw' | 'plain';

export function convertTfjsGraph({ nodes, weights, outputs, name }: ConvertOptions): OnnxGraph {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const needed = reachableFrom(outputs, byName);
  const graph: OnnxGraph = { name, nodes: [], initializers: [], inputs: [], outputs: [] };
  const layouts = new Map<string, Layout>();
  let counter = 0;
  const fresh = (hint: string) => `${hint}__${counter++}`;

  const weight = (tensorName: string): TfjsWeight => {
    const found = weights.get(stripOutputIndex(tensorName));
    if (!found) throw new UnsupportedGraphError(`${name}: ${tensorName} is not a weight`);
    return found;
  };
  const isConst = (tensorName: string) => byName.get(stripOutputIndex(tensorName))?.op === 'Const';
  const addInitializer = (hint: string, values: Float32Array | Int32Array | BigInt64Array, dims: number[]): string => {
    const tensorName = fresh(hint);
    graph.initializers.push(initializer(tensorName, values, dims));
    return tensorName;
  };
  const emit = (node: OnnxNode, layout: Layout) => {
    graph.nodes.push(node);
    for (const output of node.outputs) layouts.set(output, layout);
  };
  /** An operand of an elementwise op: constants are shaped to broadcast against NCHW activations. */
  const operand = (tensorName: string, against: Layout): string => {
    if (!isConst(tensorName)) return tensorName;
    const { values, shape } = weight(tensorName);
    const floats = Float32Array.from(values);
    if (against === 'nchw' && shape.length === 1 && shape[0]! > 1) return addInitializer('channel_constant', floats, [shape[0]!, 1, 1]);
    if (against === 'nchw' && shape.length > 1) throw new UnsupportedGraphError(`${name}: constant ${tensorName} of shape [${shape}] against an image`);
    return addInitializer('constant', floats, shape);
  };

  const clips = clampPairs(nodes, byName, needed);

  for (const node of nodes) {
    if (!needed.has(node.name) || node.op === 'Const' || clips.folded.has(node.name)) continue;
    const inputs = node.input ?? [];
    const x = inputs[0]!;
    const layoutOf = (tensorName: string): Layout => layouts.get(tensorName) ?? 'plain';
    const clip = clips.byMaximum.get(node.name);
    if (clip) {
      // [relu then] min(x, upper) then max(., lower): one Clip, which onnxruntime fuses into the convolution before it.
      const lower = clip.afterRelu ? addInitializer('lower', Float32Array.of(Math.max(0, weight(clip.lower).values[0]!)), []) : operand(clip.lower, 'plain');
      const bounds = [lower, operand(clip.upper, 'plain')];
      emit({ opType: 'Clip', inputs: [clip.input, ...bounds], outputs: [node.name] }, layoutOf(clip.input));
      continue;
    }
    switch (node.op) {
      case 'Placeholder': {
        const dims = (node.attr as { shape?: { shape?: { dim?: Array<{ size: string }> } } } | undefined)?.shape?.shape?.dim;
        if (dims?.length !== 4) throw new UnsupportedGraphError(`${name}: input ${node.name} is not an image batch`);
        graph.inputs.push({ name: node.name, elemType: TensorType.FLOAT, shape: ['batch', Number(dims[3]!.size), 'height', 'width'] });
        layouts.set(node.name, 'nchw');
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D': {
        const fused = listStrings(node.attr?.fused_ops);
        if (fused.some((op) => op !== 'BiasAdd' && op !== 'Relu')) throw new UnsupportedGraphError(`${name}: ${node.name} fuses ${fused.join(', ')}`);
        const kernel = weight(inputs[1]!);
        const convInputs = [x, addInitializer('kernel', hwioToOihw(kernel), oihwDims(kernel.shape))];
        if (fused.includes('BiasAdd')) convInputs.push(addInitializer('bias', Float32Array.from(weight(inputs[2]!).values), [kernel.shape[3]!]));
        const relu = fused.includes('Relu');
        const convOut = relu ? fresh(node.name) : node.name;
        emit({ opType: 'Conv', inputs: convInputs, outputs: [convOut], attributes: { ...windowAttributes(node, name), kernel_shape: kernel.shape.slice(0, 2) } }, 'nchw');
        if (relu) emit({ opType: 'Relu', inputs: [convOut], outputs: [node.name] }, 'nchw');
        break;
      }
      case 'DepthwiseConv2dNative': {
        const kernel = weight(inputs[1]!);
        const [h, w, channels, multiplier] = kernel.shape as [number, number, number, number];
        emit(
          {
            opType: 'Conv',
            inputs: [x, addInitializer('depthwise_kernel', depthwiseToOihw(kernel), [channels * multiplier, 1, h, w])],
            outputs: [node.name],
            attributes: { ...windowAttributes(node, name), kernel_shape: [h, w], group: channels },
          },
          'nchw',
        );
        break;
      }
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'Minimum':
      case 'Maximum': {
        const layout = isConst(x) ? layoutOf(inputs[1]!) : layoutOf(x);
        const opType = { Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', Minimum: 'Min', Maximum: 'Max' }[node.op];
        emit({ opType, inputs: [operand(x, layout), operand(inputs[1]!, layout)], outputs: [node.name] }, layout);
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Identity':
        emit({ opType: node.op, inputs: [x], outputs: [node.name] }, layoutOf(x));
        break;
      case 'MaxPool':
        emit(
          { opType: 'MaxPool', inputs: [x], outputs: [node.name], attributes: { ...windowAttributes(node, name, false), kernel_shape: spatial(listInts(node.attr?.ksize)) } },
          'nchw',
        );
        break;
      case 'Pad': {
        const paddings = Array.from(weight(inputs[1]!).values);
        if (layoutOf(x) !== 'nchw' || paddings.length !== 8) throw new UnsupportedGraphError(`${name}: ${node.name} pads something other than an image`);
        // [[n0,n1],[h0,h1],[w0,w1],[c0,c1]] (NHWC) -> begins then ends, in NCHW order.
        const [n0, n1, h0, h1, w0, w1, c0, c1] = paddings as [number, number, number, number, number, number, number, number];
        const pads = addInitializer('pads', BigInt64Array.from([n0, c0, h0, w0, n1, c1, h1, w1].map(BigInt)), [8]);
        emit({ opType: 'Pad', inputs: [x, pads], outputs: [node.name] }, 'nchw');
        break;
      }
      case 'Mean': {
        const axes = Array.from(weight(inputs[1]!).values);
        const keep = node.attr?.keep_dims?.b === true ? 1 : 0;
        if (layoutOf(x) !== 'nchw' || axes.join() !== '1,2') throw new UnsupportedGraphError(`${name}: ${node.name} is not a spatial mean`);
        emit({ opType: 'ReduceMean', inputs: [x], outputs: [node.name], attributes: { axes: [2, 3], keepdims: keep } }, keep ? 'nchw' : 'plain');
        break;
      }
      case 'Reshape': {
        // The shape is meant for NHWC data: put the activation back in that order first.
        let source = x;
        if (layoutOf(x) === 'nchw') {
          source = fresh(`${node.name}_nhwc`);
          emit({ opType: 'Transpose', inputs: [x], outputs: [source], attributes: { perm: [0, 2, 3, 1] } }, 'plain');
        }
        const shape = addInitializer('shape', BigInt64Array.from(Array.from(weight(inputs[1]!).values, BigInt)), [weight(inputs[1]!).shape[0]!]);
        emit({ opType: 'Reshape', inputs: [source, shape], outputs: [node.name] }, 'plain');
        break;
      }
      default:
        throw new UnsupportedGraphError(`${name}: operation ${node.op} (${node.name}) is not supported`);
    }
  }

  for (const output of outputs) {
    // Outputs leave in TensorFlow's layout, so callers read them as the tfjs model returns them.
    let tensorName = output;
    if (layouts.get(output) === 'nchw') {
      tensorName = `${output}__nhwc`;
      emit({ opType: 'Transpose', inputs: [output], outputs: [tensorName], attributes: { perm: [0, 2, 3, 1] } }, 'plain');
    }
    graph.outputs.push({ name: tensorName, elemType: TensorType.FLOAT });
  }
  return graph;
}

/**
 * A Minimum with a scalar bound feeding only a Maximum with a scalar bound (TensorFlow's
 * clip_by_value), and the Relu before it when it feeds only the Minimum (Keras' ReLU6).
 */
interface ClampPair {
  input: string;
  lower: string;
  upper: string;
  /** The input went through a Relu, folded in: the lower bound is at least 0. */
  afterRelu: boolean;
}

/** Finds clip_by_value pairs: `byMaximum` maps each Maximum to its pair, `folded` lists the nodes it absorbs. */
function clampPairs(nodes: readonly TfjsNode[], byName: ReadonlyMap<string, TfjsNode>, needed: ReadonlySet<string>) {
  const consumers = new Map<string, number>();
  for (const node of nodes) if (needed.has(node.name)) for (const input of node.input ?? []) consumers.set(stripOutputIndex(input), (consumers.get(stripOutputIndex(input)) ?? 0) + 1);
  const scalarConst = (tensorName: string | undefined) => {
    const node = tensorName === undefined ? undefined : byName.get(stripOutputIndex(tensorName));
    const dims = (node?.attr as { value?: { tensor?: { tensorShape?: { dim?: unknown[] } } } } | undefined)?.value?.tensor?.tensorShape?.dim;
    return node?.op === 'Const' && (dims === undefined || dims.length === 0);
  };
  const byMaximum = new Map<string, ClampPair>();
  const folded = new Set<string>();
  for (const node of nodes) {
    if (!needed.has(node.name) || node.op !== 'Maximum') continue;
    const [source, lower] = node.input ?? [];
    const minimum = source === undefined ? undefined : byName.get(stripOutputIndex(source));
    if (minimum?.op !== 'Minimum' || consumers.get(minimum.name) !== 1 || !scalarConst(lower)) continue;
    const [input, upper] = minimum.input ?? [];
    if (input === undefined || !scalarConst(upper)) continue;
    folded.add(minimum.name);
    const relu = byName.get(stripOutputIndex(input));
    if (relu?.op === 'Relu' && consumers.get(relu.name) === 1 && relu.input?.[0] !== undefined) {
      folded.add(relu.name);
      byMaximum.set(node.name, { input: relu.input[0], lower: lower!, upper: upper!, afterRelu: true });
    } else {
      byMaximum.set(node.name, { input, lower: lower!, upper: upper!, afterRelu: false });
    }
  }
  return { byMaximum, folded };
}

/** The nodes the outputs depend on. */
function reachableFrom(outputs: readonly string[], byName: ReadonlyMap<string, TfjsNode>): Set<string> {
  const seen = new Set<string>();
  const stack = outputs.map(stripOutputIndex);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    const node = byName.get(name);
    if (!node) throw new UnsupportedGraphError(`no node named ${name}`);
    seen.add(name);
    for (const input of node.input ?? []) if (!input.startsWith('^')) stack.push(stripOutputIndex(input));
  }
  return seen;
}

/** `node:0` names a node's first output; these graphs use single-output nodes only. */
function stripOutputIndex(tensorName: string): string {
  return tensorName.replace(/:0$/, '');
}

function windowAttributes(node: TfjsNode, graphName: string, withDilations = true) {
  const format = decode(node.attr?.data_format?.s) || 'NHWC';
  if (format !== 'NHWC') throw new UnsupportedGraphError(`${graphName}: ${node.name} is ${format}`);
  const padding = decode(node.attr?.padding?.s);
  if (padding !== 'SAME' && padding !== 'VALID') throw new UnsupportedGraphError(`${graphName}: ${node.name} pads ${padding}`);
  const attributes: Record<string, number[] | string> = {
    strides: spatial(listInts(node.attr?.strides)),
    // TensorFlow's SAME puts the odd pixel at the end: ONNX's SAME_UPPER.
    auto_pad: padding === 'SAME' ? 'SAME_UPPER' : 'VALID',
  };
  if (withDilations) attributes.dilations = spatial(listInts(node.attr?.dilations) ?? [1, 1, 1, 1]);
  return attributes;
}

const spatial = (nhwc: number[]): number[] => (nhwc.length === 4 ? [nhwc[1]!, nhwc[2]!] : [1, 1]);
const listInts = (attr: TfjsAttr | undefined): number[] => (attr?.list?.i ?? []).map(Number);
const listStrings = (attr: TfjsAttr | undefined): string[] => (attr?.list?.s ?? []).map(decode);
const decode = (base64: string | undefined): string => (base64 ? Buffer.from(base64, 'base64').toString('utf8') : '');

function oihwDims(hwio: number[]): number[] {
  const [h, w, i, o] = hwio as [number, number, number, number];
  return [o, i, h, w];
}

/** TensorFlow's conv kernel [H, W, In, Out] as ONNX's [Out, In, H, W]. */
function hwioToOihw({ values, shape }: TfjsWeight): Float32Array {
  const [h, w, i, o] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < i; c++)
        for (let k = 0; k < o; k++) out[((k * i + c) * h + y) * w + x] = values[((y * w + x) * i + c) * o + k]!;
  return out;
}

/** TensorFlow's depthwise kernel [H, W, C, M] as ONNX's grouped [C*M, 1, H, W]. */
function depthwiseToOihw({ values, shape }: TfjsWeight): Float32Array {
  const [h, w, c, m] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++)
        for (let k = 0; k < m; k++) out[((ch * m + k) * h + y) * w + x] = values[((y * w + x) * c + ch) * m + k]!;
  return out;
}

function initializer(name: string, values: Float32Array | Int32Array | BigInt64Array, dims: number[]): OnnxTensor {
  const dataType = values instanceof Float32Array ? TensorType.FLOAT : values instanceof Int32Array ? TensorType.INT32 : TensorType.INT64;
  return { name, dims, dataType, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}
