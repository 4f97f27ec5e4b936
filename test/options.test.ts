import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  collect,
  givenOptions,
  globMatch,
  longFlags,
  MAX_BATCH,
  onlyOnce,
  parseBatch,
  parseBatches,
  parseSeed,
  refuseDashOut,
  refuseUnused,
} from '../src/cli/options.js';

/** What `parse` throws: a UsageError, and its message. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error('expected a UsageError, got none');
}

describe('parseBatch', () => {
  it('takes a decimal integer from 1 to 65536, blanks around it allowed', () => {
    expect(MAX_BATCH).toBe(65536);
    expect(parseBatch('1')).toBe(1);
    expect(parseBatch('8')).toBe(8);
    expect(parseBatch('65536')).toBe(65536);
    expect(parseBatch(' 16 ')).toBe(16);
    expect(parseBatch('007')).toBe(7);
  });

  it('refuses 0, 65537 and whatever is not plain decimal digits, quoting what it got', () => {
    for (const text of ['0', '65537', '', ' ', '-1', '+1', '1.5', '1e3', '0x10', 'x8', '8x', '8 8', '1,2', 'NaN', 'Infinity']) {
      expect(refusal(() => parseBatch(text)), JSON.stringify(text)).toBe(`--batch must be an integer from 1 to 65536, got "${text}"`);
    }
  });
});

describe('parseBatches', () => {
  it('takes a comma-separated list, in the order given, repeats kept', () => {
    expect(parseBatches('1')).toEqual([1]);
    expect(parseBatches('1,8,65536')).toEqual([1, 8, 65536]);
    expect(parseBatches('4, 2 ,4')).toEqual([4, 2, 4]);
  });

  it('refuses the whole list when any entry is not a batch size', () => {
    for (const text of ['', ',', '1,', ',1', '1,,2', '1,0', '65537,1', '1;2', '1,2.5', '1e3']) {
      expect(refusal(() => parseBatches(text)), JSON.stringify(text)).toBe(
        `--batch takes a comma-separated list of integers from 1 to 65536, got "${text}"`,
      );
    }
  });
});

describe('parseSeed', () => {
  it('takes any unsigned 32-bit integer', () => {
    expect(parseSeed('0')).toBe(0);
    expect(parseSeed('42')).toBe(42);
    expect(parseSeed('4294967295')).toBe(4294967295);
  });

  it('refuses 2^32 and what is not plain decimal digits', () => {
    for (const text of ['4294967296', '99999999999', '-1', '', '1e3', '0x10', '1.0']) {
      expect(refusal(() => parseSeed(text)), JSON.stringify(text)).toBe(`--seed must be an integer from 0 to 4294967295, got "${text}"`);
    }
  });
});

/** A command with a defaulted option, two plain ones and a kebab-case one, parsed from `args`. */
function parsed(args: string[]): Command {
  const command = new Command('t')
    .exitOverride()
    .option('--batch <n>', 'batch', '1')
    .option('--seed <n>', 'seed')
    .option('-f, --force', 'force')
    .option('--no-check', 'no check')
    .option('--kernel-name <k>', 'kernel')
    .action(() => {});
  command.parse(args, { from: 'user' });
  return command;
}

describe('givenOptions and longFlags', () => {
  it('lists only the options given on the command line, not defaults, in the order asked', () => {
    expect(givenOptions(parsed([]), ['batch', 'seed', 'force', 'check'])).toEqual([]);
    expect(givenOptions(parsed(['--batch', '1']), ['batch', 'seed'])).toEqual(['batch']);
    expect(givenOptions(parsed(['--seed', '3', '-f', '--no-check']), ['check', 'batch', 'force', 'seed'])).toEqual(['check', 'force', 'seed']);
    expect(givenOptions(parsed(['--kernel-name', 'k']), ['kernelName'])).toEqual(['kernelName']);
  });

  it('gives the long flag of each camelCase key, or the key itself for one the command lacks', () => {
    const command = parsed([]);
    expect(longFlags(command, ['force', 'kernelName', 'check', 'batch'])).toEqual(['--force', '--kernel-name', '--no-check', '--batch']);
    expect(longFlags(command, ['nonesuch'])).toEqual(['nonesuch']);
    expect(longFlags(command, [])).toEqual([]);
  });
});

describe('refuseUnused', () => {
  it('passes when none of the options was given (defaults do not count)', () => {
    expect(() => refuseUnused(parsed([]), ['batch', 'seed'], 'here')).not.toThrow();
    expect(() => refuseUnused(parsed(['--seed', '1']), ['batch', 'force'], 'here')).not.toThrow();
  });

  it('names the one option given, or all of them, and says why', () => {
    expect(refusal(() => refuseUnused(parsed(['-f']), ['force'], 'without --out (nothing is written)'))).toBe(
      '--force does not apply without --out (nothing is written)',
    );
    expect(refusal(() => refuseUnused(parsed(['--seed', '2', '--batch', '4']), ['batch', 'seed', 'force'], 'to --input'))).toBe(
      '--batch, --seed do not apply to --input',
    );
  });
});

describe('refuseDashOut', () => {
  it('refuses exactly "-", passing no --out and any real path', () => {
    expect(refusal(() => refuseDashOut('-'))).toBe('--out - would write to a file named "-": outputs go to a path (./- if that is what is meant)');
    for (const out of [undefined, '', './-', '--', 'out', '-x']) expect(() => refuseDashOut(out), String(out)).not.toThrow();
  });
});

describe('onlyOnce and collect', () => {
  it('onlyOnce passes the first value through and refuses a second, quoting both', () => {
    const parse = onlyOnce('--tensor', 'matmul takes one tensor');
    expect(parse('a', undefined)).toBe('a');
    expect(parse('', undefined)).toBe('');
    expect(refusal(() => parse('b', 'a'))).toBe('--tensor given twice ("a", "b"): matmul takes one tensor');
    // an empty first value is still a value given
    expect(refusal(() => parse('b', ''))).toBe('--tensor given twice ("", "b"): matmul takes one tensor');
  });

  it('onlyOnce, as a commander parser, refuses a repeated option', () => {
    const command = () => new Command('t').exitOverride().option('-t, --tensor <name>', 'tensor', onlyOnce('--tensor', 'one only')).action(() => {});
    expect(command().parse(['-t', 'x'], { from: 'user' }).opts().tensor).toBe('x');
    expect(refusal(() => command().parse(['-t', 'x', '--tensor', 'y'], { from: 'user' }))).toBe('--tensor given twice ("x", "y"): one only');
  });

  it('collect appends to a new list, leaving the previous one as it was', () => {
    expect(collect('a', undefined)).toEqual(['a']);
    const previous = ['a'];
    expect(collect('b', previous)).toEqual(['a', 'b']);
    expect(previous).toEqual(['a']);
    const command = new Command('t').option('-t, --tensor <name>', 'tensor', collect).action(() => {});
    expect(command.parse(['-t', 'a', '-t', 'b', '-t', 'a'], { from: 'user' }).opts().tensor).toEqual(['a', 'b', 'a']);
  });
});

describe('globMatch', () => {
  const cases: [glob: string, name: string, matches: boolean][] = [
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    ['output.weight', 'output.weight', true],
    ['output.weight', 'output.weights', false],
    ['output.weights', 'output.weight', false],
    ['Output.weight', 'output.weight', false],
    ['?', 'x', true],
    ['?', '', false],
    ['?', 'xy', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*', '', true],
    ['*', 'anything at all', true],
    ['**', 'x', true],
    ['*?', '', false],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ba', false],
    ['*a', 'ba', true],
    ['*a', 'ab', false],
    ['*ab', 'aab', true], // the * must give back what it first left to the literal
    ['*ab', 'abab', true],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXbYbZ', false],
    ['a*b', 'a*b', true], // a * in the name is a plain character
    ['a*', 'a*b', true], // a * in the glob matches a * in the name as any text, to the end
    ['a?b', 'a*b', true],
    ['blk.*.attn_q.weight', 'blk.0.attn_q.weight', true],
    ['blk.*.attn_q.weight', 'blk.12.attn_q.weight', true],
    ['blk.*.attn_q.weight', 'blk.12.attn_k.weight', false],
    ['blk.?.ffn_*', 'blk.3.ffn_down.weight', true],
    ['blk.?.ffn_*', 'blk.13.ffn_down.weight', false],
    ['*.weight', 'token_embd.weight', true],
    ['*.weight', 'token_embd.bias', false],
  ];
  it.each(cases)('%j against %j: %s', (glob, name, matches) => {
    expect(globMatch(glob, name)).toBe(matches);
  });

  // a hang guard, not a speed test: naive backtracking takes ~n^8 steps here and never ends
  it('ends on a hostile name of many dots against a glob of many stars', { timeout: 20_000 }, () => {
    const name = '.'.repeat(20_000);
    expect(globMatch('*.*.*.*.*.*.*.*x', name)).toBe(false);
    expect(globMatch('*.*.*.*.*.*.*.*.', name)).toBe(true);
  });
});
