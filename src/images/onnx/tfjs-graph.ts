/**
 * Reading a TensorFlow.js graph model (model.json's topology): its node and weight shapes, the
 * nodes an output depends on, attribute values, and the clip_by_value pairs the converter folds.
 */

/** One tfjs graph node, as model.json stores it. */
export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttr>;
}

export interface TfjsAttr {
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

/** Thrown for a graph this converter cannot express exactly. */
export class UnsupportedGraphError extends Error {}

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
export function clampPairs(nodes: readonly TfjsNode[], byName: ReadonlyMap<string, TfjsNode>, needed: ReadonlySet<string>) {
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
export function reachableFrom(outputs: readonly string[], byName: ReadonlyMap<string, TfjsNode>): Set<string> {
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
export function stripOutputIndex(tensorName: string): string {
  return tensorName.replace(/:0$/, '');
}

export const listInts = (attr: TfjsAttr | undefined): number[] => (attr?.list?.i ?? []).map(Number);
export const listStrings = (attr: TfjsAttr | undefined): string[] => (attr?.list?.s ?? []).map(decodeString);

export const decodeString = (base64: string | undefined): string => (base64 ? Buffer.from(base64, 'base64').toString('utf8') : '');
