import type { FaceSquare } from '../images/index.js';
import type { Style, Subject } from './styles.js';

/** A portrait of the person in 1–4 reference photos (normalized JPEG bytes). */
export interface PortraitTask {
  kind: 'portrait';
  photos: Buffer[];
  style: Style;
  subject: Subject;
  prompt?: string;
  variants: number;
  seed: number;
  /** 0..1; higher keeps the face closer to the references ("not them" re-rolls raise it). */
  identityStrength: number;
}

/** A faithful restoration of one old photo, optionally colorized. */
export interface RestoreTask {
  kind: 'restore';
  photo: Buffer;
  colorize: boolean;
  /** 0..1; higher stays closer to the original face. */
  fidelity: number;
}

/** One image enlarged to exactly `targetLongEdge` pixels on its long edge. */
export interface UpscaleTask {
  kind: 'upscale';
  image: Buffer;
  targetLongEdge: number;
}

export type GpuTask = PortraitTask | RestoreTask | UpscaleTask;

export interface GpuResult {
  /**
   * Encoded images, in variant order, as the model made them (JPEG, PNG or WebP) and not yet
   * labelled: the GPU handler labels every output once, with `credit` and `note`.
   */
  images: Buffer[];
  /** The model that made them, e.g. `black-forest-labs/flux-2-pro` or `local/preview`. */
  model: string;
  /** The credit line the files carry (XMP): who made them with what; absent, Likeness's own. */
  credit?: string;
  /** What the files must say of themselves (XMP), when the backend knows better than the job (a restoration). */
  note?: string;
  gpuSeconds: number;
  costUsd: number;
  /**
   * True when the images are placeholders that show no one (the `instant` backend's): the likeness
   * gate does not measure them. Backends that make real pictures leave it unset.
   */
  placeholders?: boolean;
  /**
   * Where the subject's face is in each image, by variant, when the backend placed it itself (the
   * local backend frames its crops around the face it found): the likeness gate then describes
   * that square instead of searching the image for a face. Backends that do not know leave it unset.
   */
  faces?: Array<FaceSquare | undefined>;
}

/**
 * Where pixels are made. Implementations throw `AppError` with `GPU_UNAVAILABLE`
 * (retryable: true) when trying again can help, and `GPU_FAILED` / `GPU_REJECTED_INPUT`
 * (retryable: false) when it cannot. They stop work and reject when `signal` aborts.
 */
export interface GpuBackend {
  readonly name: string;
  run(task: GpuTask, signal: AbortSignal): Promise<GpuResult>;
}
