import { hwioToOihw, oihwDims } from './kernel-layouts.js';
import { TensorType, type OnnxGraph, type OnnxNode } from './onnx-proto.js';
import { UnsupportedGraphError, type TfjsWeight } from './tfjs-graph.js';
import { foldNearestUpsampleIntoConv } from './upsample-conv-fold.js';

/**
 * Rewrites a TensorFlow.js *layers* model (a Keras functional model as model.json stores it, e.g.
 * the ESRGAN upscaler) as an ONNX graph for onnxruntime. Like tfjs-graph-to-onnx.ts, activations
 * are NCHW inside the graph, the input is taken NCHW, the outputs leave NHWC (as tfjs returns
 * them), and any layer or setting not listed here is refused by name rather than approximated.
 *
 * Supported: InputLayer, Conv2D (linear/relu, same/valid padding, strides, dilation), Activation
 * (relu, sigmoid, linear), LeakyReLU, Add, Concatenate on the channel axis, UpSampling2D (nearest).
 */

/** One layer of a Keras functional model's config. */
export interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  /** [[[inbound layer name, node index, tensor index, kwargs], …]]: one list per call of the layer. */
  inbound_nodes: Array<Array<[string, number, number, unknown?]>>;
}

/** A Keras functional model's config, as model.json's `modelTopology.model_config` holds it. */
export interface KerasModelConfig {
  class_name: string;
  config: { name?: string; layers: KerasLayer[]; input_layers: Array<[string, number, number]>; output_layers: Array<[string, number, number]> };
}

export interface ConvertLayersOptions {
  model: KerasModelConfig;
  /** Weights by name (`<layer>/kernel`, `<layer>/bias`), as decodeTfjsWeights gives them. */
  weights: ReadonlyMap<string, TfjsWeight>;
  name: string;
  /** Fold a nearest UpSampling2D into the "same" Conv2D after it (upsample-conv-fold.ts). Default true. */
  foldUpsampling?: boolean;
}

export function convertKerasLayers({ model, weights, name, foldUpsampling = true }: ConvertLayersOptions): OnnxGraph {
  if (model.class_name !== 'Functional' && model.class_name !== 'Model') throw new UnsupportedGraphError(`${name}: a ${model.class_name} model is not supported`);
  const graph: OnnxGraph = { name, nodes: [], initializers: [], inputs: [], outputs: [] };
  const emit = (node: OnnxNode) => graph.nodes.push(node);
  const weight = (tensorName: string): TfjsWeight => {
    const found = weights.get(tensorName);
    if (!found) throw new UnsupportedGraphError(`${name}: weight ${tensorName} is missing`);
    return found;
  };
  const addInitializer = (tensorName: string, values: Float32Array | BigInt64Array, dims: number[]) => {
    graph.initializers.push({
      name: tensorName,
      dims,
      dataType: values instanceof Float32Array ? TensorType.FLOAT : TensorType.INT64,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    return tensorName;
  };

  const folds = foldUpsampling ? foldableUpsamplings(model.config.layers) : new Map<string, KerasLayer>();
  const foldedAway = new Set([...folds.values()].map((upsampling) => upsampling.name));

  for (const layer of model.config.layers) {
    if (foldedAway.has(layer.name)) continue;
    const calls = layer.inbound_nodes;
    if (calls.length > 1) throw new UnsupportedGraphError(`${name}: layer ${layer.name} is called more than once`);
    const inputs = (calls[0] ?? []).map(([inbound, nodeIndex, tensorIndex]) => {
      if (nodeIndex !== 0 || tensorIndex !== 0) throw new UnsupportedGraphError(`${name}: ${layer.name} reads output ${nodeIndex}/${tensorIndex} of ${inbound}`);
      return inbound;
    });
    const config = layer.config;
    const out = layer.name;
    const unsupported = (what: string) => new UnsupportedGraphError(`${name}: ${layer.class_name} ${layer.name}: ${what} is not supported`);
    if (config.data_format !== undefined && config.data_format !== 'channels_last') throw unsupported(`data_format ${String(config.data_format)}`);

    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = config.batch_input_shape as Array<number | null> | undefined;
        if (shape?.length !== 4 || typeof shape[3] !== 'number') throw unsupported('an input that is not an image batch with known channels');
        graph.inputs.push({ name: out, elemType: TensorType.FLOAT, shape: ['batch', shape[3], 'height', 'width'] });
        break;
      }
      case 'Conv2D': {
        if ((config.groups ?? 1) !== 1) throw unsupported('grouped convolution');
        const padding = config.padding;
        if (padding !== 'same' && padding !== 'valid') throw unsupported(`padding ${String(padding)}`);
        const kernel = weight(`${layer.name}/kernel`);
        const bias = config.use_bias !== false ? Float32Array.from(weight(`${layer.name}/bias`).values) : undefined;
        const activation = String(config.activation ?? 'linear');
        const convOut = activation === 'linear' ? out : `${out}__linear`;
        const upsampling = folds.get(layer.name);
        if (upsampling) {
          const [s] = upsamplingSize(upsampling);
          const fold = foldNearestUpsampleIntoConv(kernel, bias, s);
          const convInputs = [upsamplingInput(upsampling), addInitializer(`${layer.name}/kernel`, fold.kernel, fold.dims), addInitializer(`${layer.name}/bias`, fold.bias, [fold.dims[0]])];
          const lowRes = `${out}__low_res`;
          emit({ opType: 'Conv', inputs: convInputs, outputs: [lowRes], attributes: { kernel_shape: fold.dims.slice(2), auto_pad: 'SAME_UPPER' } });
          emit({ opType: 'DepthToSpace', inputs: [lowRes], outputs: [convOut], attributes: { blocksize: s, mode: 'DCR' } });
          if (activation !== 'linear') emit(activationNode(activation, convOut, out, unsupported));
          break;
        }
        const convInputs = [inputs[0]!, addInitializer(`${layer.name}/kernel`, hwioToOihw(kernel), oihwDims(kernel.shape))];
        if (bias) convInputs.push(addInitializer(`${layer.name}/bias`, bias, [kernel.shape[3]!]));
        emit({
          opType: 'Conv',
          inputs: convInputs,
          outputs: [convOut],
          attributes: {
            kernel_shape: kernel.shape.slice(0, 2),
            strides: (config.strides as number[] | undefined) ?? [1, 1],
            dilations: (config.dilation_rate as number[] | undefined) ?? [1, 1],
            // Keras' "same" puts the odd pixel at the end, as TensorFlow does: ONNX's SAME_UPPER.
            auto_pad: padding === 'same' ? 'SAME_UPPER' : 'VALID',
          },
        });
        if (activation !== 'linear') emit(activationNode(activation, convOut, out, unsupported));
        break;
      }
      case 'Activation':
        emit(activationNode(String(config.activation), inputs[0]!, out, unsupported));
        break;
      case 'LeakyReLU':
        emit({ opType: 'LeakyRelu', inputs: [inputs[0]!], outputs: [out], attributes: { alpha: { float: Number(config.alpha ?? 0.3) } } });
        break;
      case 'Add':
        if (inputs.length < 2) throw unsupported('an Add of fewer than two inputs');
        emit({ opType: 'Sum', inputs, outputs: [out] });
        break;
      case 'Concatenate': {
        const axis = Number(config.axis ?? -1);
        if (axis !== -1 && axis !== 3) throw unsupported(`concatenation on axis ${axis}`);
        emit({ opType: 'Concat', inputs, outputs: [out], attributes: { axis: 1 } });
        break;
      }
      case 'UpSampling2D': {
        if ((config.interpolation ?? 'nearest') !== 'nearest') throw unsupported(`${String(config.interpolation)} interpolation`);
        const [sh, sw] = upsamplingSize(layer);
        const scales = addInitializer(`${layer.name}/scales`, Float32Array.of(1, 1, sh, sw), [4]);
        // Keras repeats each pixel: output (y, x) reads input (floor(y / sh), floor(x / sw)).
        emit({
          opType: 'Resize',
          inputs: [inputs[0]!, '', scales],
          outputs: [out],
          attributes: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        });
        break;
      }
      default:
        throw new UnsupportedGraphError(`${name}: layer ${layer.class_name} (${layer.name}) is not supported`);
    }
  }

  for (const [output] of model.config.output_layers) {
    const nhwc = `${output}__nhwc`;
    emit({ opType: 'Transpose', inputs: [output], outputs: [nhwc], attributes: { perm: [0, 2, 3, 1] } });
    graph.outputs.push({ name: nhwc, elemType: TensorType.FLOAT });
  }
  return graph;
}

const upsamplingSize = (layer: KerasLayer) => (layer.config.size as [number, number] | undefined) ?? [2, 2];
const upsamplingInput = (layer: KerasLayer) => layer.inbound_nodes[0]![0]![0];

/**
 * Conv2D layers whose only input is a nearest, square UpSampling2D read by nothing else, and that
 * are plain enough to fold it in (same padding, stride and dilation 1, odd square kernel): conv name -> upsampling.
 */
function foldableUpsamplings(layers: readonly KerasLayer[]): Map<string, KerasLayer> {
  const readers = new Map<string, number>();
  for (const layer of layers) for (const [inbound] of layer.inbound_nodes.flat()) readers.set(inbound, (readers.get(inbound) ?? 0) + 1);
  const byName = new Map(layers.map((layer) => [layer.name, layer]));
  const folds = new Map<string, KerasLayer>();
  for (const conv of layers) {
    const inbound = conv.inbound_nodes[0];
    if (conv.class_name !== 'Conv2D' || conv.inbound_nodes.length !== 1 || inbound?.length !== 1) continue;
    const upsampling = byName.get(inbound[0]![0]);
    if (upsampling?.class_name !== 'UpSampling2D' || readers.get(upsampling.name) !== 1 || upsampling.inbound_nodes.length !== 1) continue;
    const [sh, sw] = upsamplingSize(upsampling);
    const c = conv.config;
    const ones = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 1));
    const [kh, kw] = (c.kernel_size as [number, number] | undefined) ?? [0, 0];
    if ((upsampling.config.interpolation ?? 'nearest') !== 'nearest' || sh !== sw || c.padding !== 'same' || !ones(c.strides) || !ones(c.dilation_rate) || (c.groups ?? 1) !== 1 || kh !== kw || kh % 2 !== 1) continue;
    folds.set(conv.name, upsampling);
  }
  return folds;
}

function activationNode(activation: string, input: string, output: string, unsupported: (what: string) => Error): OnnxNode {
  const opType = { relu: 'Relu', sigmoid: 'Sigmoid', linear: 'Identity' }[activation];
  if (!opType) throw unsupported(`activation ${activation}`);
  return { opType, inputs: [input], outputs: [output] };
}
