/**
 * Expected failures, by code. Each maps to exactly one friendly message in
 * `bots/core/messages.ts`; anything that is not an {@link AppError} is unexpected.
 */
export const ERROR_CODES = [
  'NO_PHOTO',
  'TOO_MANY_PHOTOS',
  'FILE_EMPTY',
  'FILE_TOO_LARGE',
  'IMAGE_TOO_LARGE',
  /** Decoding it would cost more time or memory than one photo may use (see images/decode-limits.ts). */
  'IMAGE_TOO_COSTLY',
  'UNSUPPORTED_FORMAT',
  'CORRUPT_IMAGE',
  'NO_FACE_FOUND',
  'UNKNOWN_STYLE',
  'BAD_OPTION',
  'CONSENT_REQUIRED',
  'BANNED',
  'QUOTA_EXCEEDED',
  'TOO_MANY_ACTIVE_JOBS',
  'RESULT_NOT_FOUND',
  'JOB_NOT_FOUND',
  'NOT_YOURS',
  'ALREADY_REFUNDED',
  'GPU_UNAVAILABLE',
  'GPU_FAILED',
  'GPU_REJECTED_INPUT',
  'SERVICE_UNAVAILABLE',
  'UNKNOWN_COMMAND',
  'RESULT_EXPIRED',
  'INPUTS_EXPIRED',
  'LINK_CODE_INVALID',
  'LINK_SAME_PLATFORM',
  'PRIVATE_ONLY',
  'SLOW_DOWN',
  'INTAKE_BUSY',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppErrorOptions {
  /** Whether trying the same thing again later can succeed (a GPU hiccup: yes; a corrupt photo: no). */
  retryable?: boolean;
  /** Values the friendly message may mention, e.g. `{ photo: 2 }`. */
  details?: Record<string, string | number>;
  cause?: unknown;
}

/** An expected failure with a code the user is told about in plain words. */
export class AppError extends Error {
  readonly retryable: boolean;
  readonly details: Record<string, string | number>;

  constructor(
    readonly code: ErrorCode,
    message: string = code,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
