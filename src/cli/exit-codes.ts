import { GgufGpuError } from '../errors.js';

/** The tool's exit codes: the only place they are defined. */
export const ExitCode = {
  ok: 0,
  verificationFailed: 1,
  usage: 2,
  badInput: 3,
  gpu: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const BY_KIND = {
  verification: ExitCode.verificationFailed,
  usage: ExitCode.usage,
  input: ExitCode.badInput,
  gpu: ExitCode.gpu,
} as const satisfies Record<GgufGpuError['kind'], ExitCodeValue>;

/** A pure function of the error: typed errors by kind; anything else is a bug, reported as input. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof GgufGpuError) return BY_KIND[error.kind];
  const code = (error as { code?: string } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return ExitCode.usage;
  return ExitCode.badInput;
}
