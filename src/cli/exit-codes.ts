import { CommanderError } from 'commander';
import { GgufGpuError } from '../errors.js';

/** The tool's exit codes: the only place they are defined. */
export const ExitCode = {
  ok: 0,
  verificationFailed: 1,
  usage: 2,
  badInput: 3,
  gpu: 4,
  output: 5,
  /** 128 + SIGINT, as shells report a process ended by a signal (SIGTERM too: one code for "stopped") */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const BY_KIND = {
  verification: ExitCode.verificationFailed,
  usage: ExitCode.usage,
  input: ExitCode.badInput,
  output: ExitCode.output,
  gpu: ExitCode.gpu,
} as const satisfies Record<GgufGpuError['kind'], ExitCodeValue>;

/** A pure function of the error: typed errors by kind, commander's own (help and version are
 * successes); anything else is a bug, reported as bad input. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof GgufGpuError) return BY_KIND[error.kind];
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  return ExitCode.badInput;
}
