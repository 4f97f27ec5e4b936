// Option values shared by the subcommands, parsed strictly: "1e3", "0x10" and "" are not batch sizes.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** The largest batch any command accepts (the GPU kernels' grids and the reference's memory). */
export const MAX_BATCH = 65536;

function integerIn(text: string, min: number, max: number): number | undefined {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** One batch size, 1 .. MAX_BATCH. */
export function parseBatch(text: string): number {
  const n = integerIn(text, 1, MAX_BATCH);
  if (n === undefined) throw new UsageError(`--batch must be an integer from 1 to ${MAX_BATCH}, got "${text}"`);
  return n;
}

/** A comma-separated list of batch sizes. */
export function parseBatches(text: string): number[] {
  const batches = text.split(',').map((s) => integerIn(s, 1, MAX_BATCH));
  if (batches.some((b) => b === undefined)) {
    throw new UsageError(`--batch takes a comma-separated list of integers from 1 to ${MAX_BATCH}, got "${text}"`);
  }
  return batches as number[];
}

/** The activations' seed: an unsigned 32-bit integer (the generator's state; larger values would wrap). */
export function parseSeed(text: string): number {
  const n = integerIn(text, 0, 2 ** 32 - 1);
  if (n === undefined) throw new UsageError(`--seed must be an integer from 0 to ${2 ** 32 - 1}, got "${text}"`);
  return n;
}

/** Options the user gave on the command line (not defaults) among `names` (commander's camelCase keys). */
export function givenOptions(command: Command, names: readonly string[]): string[] {
  return names.filter((name) => command.getOptionValueSource(name) === 'cli');
}

/** The long flags (--shape) of options named by commander's camelCase keys. */
export function longFlags(command: Command, names: readonly string[]): string[] {
  return names.map((name) => command.options.find((o) => o.attributeName() === name)?.long ?? name);
}

/** A UsageError when any of `names` was given where it would be ignored: `why` says why. */
export function refuseUnused(command: Command, names: readonly string[], why: string): void {
  const given = givenOptions(command, names);
  if (given.length === 0) return;
  const flags = longFlags(command, given);
  throw new UsageError(`${flags.join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply ${why}`);
}

/** `--out -`: outputs are .npy files at a path; `-` means standard input only for --input. */
export function refuseDashOut(out: string | undefined): void {
  if (out === '-') throw new UsageError('--out - would write to a file named "-": outputs go to a path (./- if that is what is meant)');
}

/** commander parser for an option that may be given once: a second value is a usage error, not a silent override. */
export function onlyOnce(flag: string, why: string): (value: string, previous: string | undefined) => string {
  return (value, previous) => {
    if (previous !== undefined) throw new UsageError(`${flag} given twice ("${previous}", "${value}"): ${why}`);
    return value;
  };
}

/** commander collector for repeatable options: `-t a -t b` gives ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Whether `name` matches `glob`, where * matches any text and ? one character. Not a RegExp of .*:
 * its backtracking takes minutes on a hostile name of thousands of dots; this takes at most
 * glob x name steps (a mismatch after a * retries from the character after the last * match).
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1; // the glob position after the last *, and where in the name that * took over
  let from = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === name[n]) && glob[g] !== '*') {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === '*') {
      star = ++g;
      from = n;
    } else if (star >= 0) {
      g = star;
      n = ++from;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}
