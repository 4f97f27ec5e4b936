import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor } from '../src/cli/exit-codes.js';
import {
  fsReason,
  GpuError,
  GpuKernelError,
  GpuLibraryMissingError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  InputError,
  LimitError,
  OutputError,
  UsageError,
  VerificationError,
} from '../src/errors.js';
import { tempDir } from './cli/helpers.js';

describe('exitCodeFor', () => {
  it('gives the exit codes the README documents', () => {
    expect(ExitCode).toEqual({ ok: 0, verificationFailed: 1, usage: 2, badInput: 3, gpu: 4, output: 5, interrupted: 130 });
  });

  it('maps each kind of error to its code', () => {
    expect(exitCodeFor(new VerificationError('mismatch'))).toBe(1);
    expect(exitCodeFor(new UsageError('bad flag'))).toBe(2);
    expect(exitCodeFor(new InputError('f.gguf', 'truncated'))).toBe(3);
    expect(exitCodeFor(new LimitError('f.gguf', 'too many tensors'))).toBe(3);
    expect(exitCodeFor(new OutputError('out/', 'no space left on device'))).toBe(5);
    for (const error of [
      new GpuError('failed'),
      new GpuLibraryMissingError('no library'),
      new GpuUnavailableError('no device'),
      new GpuOutOfMemoryError('oom', 2, 1),
      new GpuKernelError('launch failed'),
    ]) {
      expect(exitCodeFor(error), error.constructor.name).toBe(4);
    }
  });

  it("maps commander's own errors: help and version succeed, the rest are usage errors", () => {
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(0);
    expect(exitCodeFor(new CommanderError(0, 'commander.version', '0.1.0'))).toBe(0);
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))).toBe(2);
    expect(exitCodeFor(new CommanderError(1, 'commander.missingArgument', 'error: missing required argument'))).toBe(2);
  });

  it('reports anything else (a bug) as bad input', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(3);
    expect(exitCodeFor(new TypeError('x is undefined'))).toBe(3);
    expect(exitCodeFor('a thrown string')).toBe(3);
    expect(exitCodeFor(undefined)).toBe(3);
    expect(exitCodeFor({ kind: 'usage', exitCode: 0 })).toBe(3); // looks like one, is not one
  });
});

describe('error kinds and messages', () => {
  it('each class has its kind', () => {
    expect(new UsageError('x').kind).toBe('usage');
    expect(new InputError('f', 'r').kind).toBe('input');
    expect(new LimitError('f', 'r').kind).toBe('input');
    expect(new OutputError('p', 'r').kind).toBe('output');
    expect(new GpuError('x').kind).toBe('gpu');
    expect(new GpuKernelError('x').kind).toBe('gpu');
    expect(new VerificationError('x').kind).toBe('verification');
  });

  it('InputError names the file and the tensor it has, a nameless tensor quoted', () => {
    expect(new InputError('m.gguf', 'truncated').message).toBe('m.gguf: truncated');
    expect(new InputError('m.gguf', 'bad type', 'blk.0.w').message).toBe('m.gguf: tensor blk.0.w: bad type');
    expect(new InputError(undefined, 'bad type', 'blk.0.w').message).toBe('tensor blk.0.w: bad type');
    expect(new InputError(undefined, 'no file').message).toBe('no file');
    expect(new InputError('m.gguf', 'bad type', '').message).toBe('m.gguf: tensor "": bad type');
    const e = new InputError('m.gguf', 'bad type', 'w');
    expect([e.file, e.reason, e.tensor]).toEqual(['m.gguf', 'bad type', 'w']);
  });

  it('OutputError says the path cannot be written, and why', () => {
    const e = new OutputError('out/w.npy', 'no space left on device (ENOSPC)');
    expect(e.message).toBe('out/w.npy: cannot write: no space left on device (ENOSPC)');
    expect([e.path, e.reason]).toEqual(['out/w.npy', 'no space left on device (ENOSPC)']);
  });
});

describe('fsReason', () => {
  it("keeps a Node fs error's reason and code, not the call and path it repeats", () => {
    const missing = join(tempDir(), 'nonesuch, really.npy');
    let error: unknown;
    try {
      readFileSync(missing);
    } catch (e) {
      error = e;
    }
    expect(fsReason(error)).toBe('no such file or directory (ENOENT)');
    expect(fsReason(Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' }))).toBe('permission denied (EACCES)');
  });

  it('gives the whole message of an error without a code, or one not of the form "CODE: reason, call"', () => {
    // no code: a message that only looks like a Node fs error is kept whole
    expect(fsReason(new Error('ENOENT: no such file or directory, open x'))).toBe('ENOENT: no such file or directory, open x');
    expect(fsReason(Object.assign(new Error('ENOENT: x'), { code: 2 }))).toBe('ENOENT: x');
    expect(fsReason(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe('write EPIPE');
    // the code must open the message
    expect(fsReason(Object.assign(new Error('write failed: EPIPE: broken pipe, write'), { code: 'EPIPE' }))).toBe(
      'write failed: EPIPE: broken pipe, write',
    );
  });

  it('gives anything that is not an error as text', () => {
    expect(fsReason('disk on fire')).toBe('disk on fire');
    expect(fsReason(42)).toBe('42');
    expect(fsReason(undefined)).toBe('undefined');
    expect(fsReason(null)).toBe('null');
  });
});
