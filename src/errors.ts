// Typed errors. Every failure the tool reports is one of these; src/cli/exit-codes.ts maps them to
// exit codes in one place, so library code never calls process.exit.

export abstract class GgufGpuError extends Error {
  /** The category that decides the exit code. */
  abstract readonly kind: 'usage' | 'input' | 'output' | 'gpu' | 'verification';
}

/** The command line was wrong: unknown option value, missing argument, conflicting flags. */
export class UsageError extends GgufGpuError {
  readonly kind = 'usage';
}

/** The input file is unreadable, truncated, hostile or holds something we cannot handle. */
export class InputError extends GgufGpuError {
  readonly kind = 'input';
  constructor(
    readonly file: string | undefined,
    readonly reason: string,
    readonly tensor?: string,
  ) {
    super([file, tensor === undefined ? undefined : `tensor ${tensor === '' ? '""' : tensor}`, reason].filter(Boolean).join(': '));
  }
}

/** An output file or directory cannot be created or written (a missing directory, no permission,
 * a full disk). */
export class OutputError extends GgufGpuError {
  readonly kind = 'output';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: cannot write: ${reason}`);
  }
}

/**
 * The reason in a Node fs error, without the call and path it repeats: "ENOENT: no such file or
 * directory, open '/x.npy.partial-7'" becomes "no such file or directory (ENOENT)".
 */
export function fsReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const m = typeof e?.code === 'string' ? /^[A-Z0-9]+: ([^,]+)/.exec(e.message) : null;
  return m ? `${m[1]} (${e.code})` : String(e?.message ?? error);
}

/** A header field exceeds a limit that real files never reach (see src/gguf/limits.ts). */
export class LimitError extends InputError {}

/** The GPU library, driver or device is missing, or a GPU call failed. */
export class GpuError extends GgufGpuError {
  readonly kind = 'gpu';
  constructor(
    message: string,
    /** The runtime's error name (e.g. cudaErrorMemoryAllocation), when there is one. */
    readonly runtimeError?: string,
  ) {
    super(message);
  }
}
export class GpuLibraryMissingError extends GpuError {}
export class GpuUnavailableError extends GpuError {}
export class GpuOutOfMemoryError extends GpuError {
  constructor(
    message: string,
    readonly requestedBytes: number,
    readonly freeBytes: number,
    runtimeError?: string,
  ) {
    super(message, runtimeError);
  }
}
export class GpuKernelError extends GpuError {}

/** A verification ran and found a mismatch. */
export class VerificationError extends GgufGpuError {
  readonly kind = 'verification';
}

/** Names the tensor in a GPU error (a native call knows what it did, not to which tensor), unless the
 * message names it already. Returns the error, for `throw withTensorName(error, name)`. */
export function withTensorName(error: unknown, tensor: string): unknown {
  if (error instanceof GpuError && !error.message.includes(tensor)) error.message = `tensor ${tensor}: ${error.message}`;
  return error;
}

/** Runs one tensor's GPU work (its upload included) so that a GPU error names the tensor. */
export async function namingTensor<T>(tensor: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw withTensorName(error, tensor);
  }
}
