import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../../src/bench/gpu.js';
import { scalingSummary, type GpuBenchReport } from '../../src/cli/commands/bench.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeGguf } from '../../src/gguf/writer.js';
import { cli, QUANTS, tempDir } from './helpers.js';

const NO_GPU = { GGUF_GPU_LIB: '/nonexistent/libgguf_gpu.so' };

describe('gguf-gpu bench without a GPU', () => {
  it('refuses the GPU bench options on the CPU bench instead of ignoring them', () => {
    const r = cli(['bench', '--backend', 'cpu', '--shape', '64x256', '--batch', '0', '--plot', 'x.svg']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shape, --batch, --plot do not apply to the CPU bench/);
    const file = cli(['bench', QUANTS, '--backend', 'cpu', '--types', 'q4_0']);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/--types does not apply to a file/);
  });

  it('exits 4 with a pointer to --backend cpu where GPU options were given, rather than benching the CPU', () => {
    const r = cli(['bench', '--types', 'q4_0', '--batch', '1'], NO_GPU);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/`--backend cpu` without --batch benches the CPU decoders instead/); // the hint that works
    expect(cli(['bench', '--backend', 'gpu'], NO_GPU).stderr).toMatch(/`--backend cpu` benches the CPU decoders instead/);
    expect(r.stdout).toBe('');
  });

  it('checks its options before the GPU: a mistyped one is exit 2, a plot path that cannot be written exit 5', () => {
    const shapes = [['--shape', 'abc'], ['--shape', '4096x100'], ['--shape', '0x4096'], ['--shape', '99999999999999999999x256'], ['--shape', '262144x16384']];
    for (const args of [...shapes, ['--batch', '0'], ['--batch', '1,99999999'], ['--types', 'q9']]) {
      const r = cli(['bench', ...args], NO_GPU);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).not.toMatch(/GPU/);
    }
    expect(cli(['bench', '--shape', '0x4096'], NO_GPU).stderr).toMatch(/at least one row/);
    expect(cli(['bench', '--shape', '262144x16384', '--types', 'q8_0'], NO_GPU).stderr).toMatch(/--shape 262144x16384 is 4\.25 GiB as Q8_0, over the 4\.00 GiB/);
    expect(cli(['bench', '--shape', '152064x8192', '--types', 'q4_K'], NO_GPU).code).toBe(4); // Qwen2.5-72B's output: a real shape
    expect(cli(['bench', '--plot', '/nonexistent/dir/a.svg'], NO_GPU).code).toBe(5);
  });

  it('says which of a file\'s types it does not bench (no decoder)', () => {
    const path = join(tempDir(), 'mixed.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 'ok', typeId: 0, shape: [4], data: new Uint8Array(16) }, { name: 'ints', typeId: 26, shape: [4], data: new Uint8Array(16) }] }));
    const r = cli(['bench', path, '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('not benched (no decoder): I32\n');
    expect(JSON.parse(r.stdout).decoders.map((d: { type: string }) => d.type)).toEqual(['F32']);
  });

  it('benches a type given twice in --types once', () => {
    const r = cli(['bench', '--backend', 'cpu', '--types', 'q4_0,q4_0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).decoders.map((d: { type: string }) => d.type)).toEqual(['Q4_0']);
  });

  it('says once that it benches the CPU decoders when there is no GPU and nothing asked for one', () => {
    const r = cli(['bench', QUANTS], NO_GPU);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^No GPU \(the GPU library was not found .*\): benching the CPU decoders instead\.\n$/);
    expect(r.stdout).toMatch(/M weights\/s \(\d+ cores?, worker pool\)/);
  });
});

describe('the bench summary', () => {
  it('puts n = 1 against the floor, n <= 16 against n = 1, and larger n against bf16 BLAS at that n', () => {
    const row = (type: string, batch: number, us: number, fraction = 0): BenchRow =>
      ({ type, tensor: `${type.toLowerCase()}[14336,4096]`, batch, us, fraction } as BenchRow);
    const report = {
      device: { runtime: 'CUDA' },
      peaks: { blas: [{ dtype: 'bf16', batch: 512, us: 81.4, tflops: 0 }, { dtype: 'f16', batch: 512, us: 84, tflops: 0 }] },
      results: [row('Q4_0', 1, 12.15, 0.883), row('Q4_0', 16, 18.49), row('Q4_0', 512, 101.75), row('Q6_K', 1, 15, 0.933), row('Q6_K', 512, 115.26)],
    } as unknown as GpuBenchReport;
    const lines = scalingSummary(report)!.split('\n');
    expect(lines[0]).toMatch(/^Against the floor and n = 1 .*bf16 cuBLAS\):$/);
    expect(lines[2]).toMatch(/^Q4_0\s+12\.15 \(88%\)\s+18\.49 \(1\.52x\)\s+101\.75 \(0\.80x bf16\)$/);
    expect(lines[3]).toMatch(/^Q6_K\s+15\.00 \(93%\)\s+-\s+115\.26 \(0\.71x bf16\)$/);
    expect(scalingSummary({ ...report, results: report.results.filter((x) => x.batch === 1) })).toBeUndefined();
  });
});
