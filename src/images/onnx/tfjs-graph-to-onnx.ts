import { depthwiseToOihw, hwioToOihw, oihwDims } from './kernel-layouts.js';
import { TensorType, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
import { clampPairs, decodeString, listInts, listStrings, reachableFrom, stripOutputIndex, UnsupportedGraphError, type TfjsNode, type TfjsWeight } from './tfjs-graph.js';

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

export interface ConvertOptions {
  nodes: readonly TfjsNode[];
  weights: ReadonlyMap<string, TfjsWeight>;
  /** tfjs node names whose values are the graph's outputs, in order. */
  outputs: readonly string[];
  /** Name of the graph (for error messages and tools). */
  name: string;
}

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

function windowAttributes(node: TfjsNode, graphName: string, withDilations = true) {
  const format = decodeString(node.attr?.data_format?.s) || 'NHWC';
  if (format !== 'NHWC') throw new UnsupportedGraphError(`${graphName}: ${node.name} is ${format}`);
  const padding = decodeString(node.attr?.padding?.s);
  if (padding !== 'SAME' && padding !== 'VALID') throw new UnsupportedGraphError(`${graphName}: ${node.name} pads ${padding}`);
  const attributes: Record<string, number[] | string> = {
    strides: spatial(listInts(node.attr?.strides)),
    // TensorFlow's SAME puts the odd pixel at the end: ONNX's SAME_UPPER.
    auto_pad: padding === 'SAME' ? 'SAME_UPPER' : 'VALID',
  };
  if (withDilations) attributes.dilations = spatial(listInts(node.attr?.dilations));
  return attributes;
}

const spatial = (nhwc: number[]): number[] => (nhwc.length === 4 ? [nhwc[1]!, nhwc[2]!] : [1, 1]);
function initializer(name: string, values: Float32Array | Int32Array | BigInt64Array, dims: number[]): OnnxTensor {
  const dataType = values instanceof Float32Array ? TensorType.FLOAT : values instanceof Int32Array ? TensorType.INT32 : TensorType.INT64;
  return { name, dims, dataType, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}
