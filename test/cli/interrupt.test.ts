import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeGguf } from '../../src/gguf/writer.js';
import { randomBlocks } from '../../src/quant/random.js';
import { ROOT, tempDir } from './helpers.js';

describe('dequant writes safely', () => {
  it('leaves no partial .npy when interrupted mid-tensor', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.gguf');
    // Two Q4_K tensors, 64 MiB of f32 output each: long enough to interrupt the first one.
    const shape = [4096, 4096];
    writeFileSync(
      file,
      writeGguf({
        tensors: [
          { name: 'first', typeId: 12, shape, data: randomBlocks(12, 4096 * 4096, 1) },
          { name: 'second', typeId: 12, shape, data: randomBlocks(12, 4096 * 4096, 2) },
        ],
      }),
    );
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'dequant', file, '-b', 'cpu', '-o', out], { stdio: 'ignore' });
    // Interrupt as soon as the first temporary file appears.
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      if (existsSync(out) && readdirSync(out).some((f) => f.includes('.partial-'))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const left = existsSync(out) ? readdirSync(out) : [];
    expect(left.filter((f) => f.includes('.partial-'))).toEqual([]);
    // Whatever was completed before the signal is whole; the interrupted tensor is not there.
    expect(code).toBe(130);
    expect(left.length).toBeLessThan(2);
  });
});
