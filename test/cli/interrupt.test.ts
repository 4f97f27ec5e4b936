import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeGguf } from '../../src/gguf/writer.js';
import { randomBlocks } from '../../src/quant/random.js';
import { ROOT, tempDir } from './helpers.js';

describe('dequant writes safely', () => {
  it('leaves no partial .npy when terminated mid-tensor, exits 130, and with --json says so in its one document', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.gguf');
    // Eight Q4_K tensors, 64 MiB of f32 output each: the run lasts long enough to be interrupted
    // even when the test's own polling is slowed down by a loaded machine.
    const shape = [4096, 4096];
    const data = randomBlocks(12, 4096 * 4096, 1);
    const count = 8;
    writeFileSync(file, writeGguf({ tensors: Array.from({ length: count }, (_, i) => ({ name: `t${i}`, typeId: 12, shape, data })) }));
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'dequant', file, '-b', 'cpu', '-o', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // Interrupt as soon as the first temporary file appears.
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      if (existsSync(out) && readdirSync(out).some((f) => f.includes('.partial-'))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGTERM'); // not SIGINT: a test runner's children may inherit SIGINT as ignored
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const left = existsSync(out) ? readdirSync(out) : [];
    expect(left.filter((f) => f.includes('.partial-'))).toEqual([]);
    // Whatever was completed before the signal is whole; the interrupted tensor is not there.
    expect(code).toBe(130);
    expect(left.length).toBeLessThan(count);
    // with --json, the one document says why there is no report
    expect(JSON.parse(stdout)).toEqual({ error: { kind: 'interrupted', exitCode: 130, message: 'stopped by SIGTERM' } });
    expect(stderr).toBe('gguf-gpu: stopped by SIGTERM\n');
  });

  it('other commands stop at once on a signal, even in the middle of synchronous work', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'bench', '-b', 'cpu', '--json'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000)); // the CPU bench runs for several seconds, mostly without yielding
    const sent = Date.now();
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    expect(Date.now() - sent).toBeLessThan(2000);
    expect([code, signal]).toEqual([null, 'SIGTERM']);
  });
});
