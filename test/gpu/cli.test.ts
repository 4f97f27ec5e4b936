import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { GgufFile } from '../../src/gguf/file.js';
import { parseNpy } from '../../src/npy.js';
import { decoderFor, replaceDecoderForTesting } from '../../src/quant/index.js';
import { cli, QUANTS, REFS, tempDir } from '../cli/helpers.js';
import { openGpuOrReason } from './gpu-helpers.js';

const { gpu, reason } = openGpuOrReason();

describe.skipIf(!gpu)(`CLI end to end on the GPU${reason ? ` (${reason})` : ''}`, () => {
  it('dequant --backend gpu writes every fixture tensor bit-exactly', () => {
    const out = tempDir();
    const r = cli(['dequant', QUANTS, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const refs = GgufFile.open(REFS);
    try {
      for (const name of readdirSync(out)) {
        const npy = parseNpy(readFileSync(join(out, name)));
        expect(Buffer.compare(Buffer.from(npy.data), refs.readTensorBytes(refs.tensor(name.replace(/\.npy$/, '')))), name).toBe(0);
      }
    } finally {
      refs.close();
    }
  });

  it('verify passes on the fixtures with dequant exact and NMSE under the bar', () => {
    const r = cli(['verify', QUANTS, '--batch', '1,3,8,512', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.pass).toBe(true);
    for (const t of report.tensors.filter((v: { skipped?: string }) => !v.skipped)) {
      expect(t.dequant.mismatches, t.tensor).toBe(0);
      expect(t.matmul.map((m: { batch: number }) => m.batch)).toEqual([1, 3, 8, 512]);
    }
  });

  it('verify fails with exit 1 and names the tensor when the CPU decoder is broken', async () => {
    const q6k = decoderFor(14)!;
    const restore = replaceDecoderForTesting(14, (src, dst, n) => {
      q6k.decode(src, dst, n);
      dst[0] = -dst[0]! - 1;
    });
    let stdout = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: unknown) => ((stdout += String(c)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'gguf-gpu', 'verify', QUANTS, '-t', 'blk.1.*'])).toBe(1);
    } finally {
      out.mockRestore();
      err.mockRestore();
      restore();
    }
    expect(stdout).toMatch(/FAILED: .*blk\.1\.q6_K\.wide/);
  });

  it('matmul exits 1 naming the tensor when the NMSE against the reference is over the bar, after its report', async () => {
    const q6k = decoderFor(14)!;
    const restore = replaceDecoderForTesting(14, (src, dst, n) => {
      q6k.decode(src, dst, n);
      for (let i = 0; i < n * q6k.info.blockSize; ++i) dst[i] = -dst[i]!; // the reference's W is -W (n counts blocks)
    });
    let stdout = '';
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: unknown) => ((stdout += String(c)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: unknown) => ((stderr += String(c)), true));
    try {
      expect(await main(['node', 'gguf-gpu', 'matmul', QUANTS, '-t', 'blk.1.q6_K.wide', '--batch', '3', '--json'])).toBe(1);
    } finally {
      out.mockRestore();
      err.mockRestore();
      restore();
    }
    expect(JSON.parse(stdout).nmse).toBeGreaterThan(1); // one report: y = W x against -W x
    expect(stderr).toMatch(/tensor blk\.1\.q6_K\.wide: .* over the 0\.000001 bar/);
  });

  it('bench reports ceilings, fractions of the floor and baselines as JSON', () => {
    const r = cli(['bench', '--types', 'q4_0,q6_K', '--shape', '1024x4096', '--batch', '1,8,512', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.peaks.copyGBps).toBeGreaterThan(100);
    // The loader's file -> GPU upload of the same weights, as raw blocks (f32 would be ~7x more).
    expect(report.upload.bytes).toBe(1024 * 4096 * (18 / 32) + 1024 * 4096 * (210 / 256));
    expect(report.upload.f32Bytes).toBe(2 * 1024 * 4096 * 4);
    expect(report.upload.gbps).toBeGreaterThan(0);
    expect(report.results).toHaveLength(6);
    for (const x of report.results) {
      expect(x).toMatchObject({ shape: [1024, 4096] });
      expect(x.us).toBeGreaterThan(0);
      expect(x.fraction).toBeGreaterThan(0);
      expect(x.kernel.length).toBeGreaterThan(0);
      expect(x.nmse).toBeLessThanOrEqual(1e-6);
    }
    // Decode batches only: no cuBLAS row (it starts at 8 columns), dequantization still timed.
    const decode = cli(['bench', '--types', 'q4_0', '--shape', '1024x4096', '--batch', '1', '--json']);
    expect(decode.code, decode.stderr).toBe(0);
    const peaks = JSON.parse(decode.stdout).peaks;
    expect(peaks.blas).toEqual([]);
    expect(peaks.dequant.map((d: { dtype: string }) => d.dtype).sort()).toEqual(['f16', 'f32']);
  });

  it('bench --kernel times the forced kernel and names it; one the type cannot take is refused', () => {
    const r = cli(['bench', '--types', 'q4_0', '--shape', '1024x4096', '--batch', '8', '--kernel', 'imma_decode_n8', '--no-baselines', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [row] = JSON.parse(r.stdout).results;
    expect(row.kernel).toBe('imma_decode_n8');
    expect(row.nmse).toBeLessThanOrEqual(1e-6);
    const refused = cli(['bench', '--types', 'q6_K', '--shape', '1024x4096', '--batch', '8', '--kernel', 'imma_decode_n8', '--no-baselines']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/int8 decode kernels do not take Q6_K/);
  });

  it('bench over a file sums per type and estimates a decode step', () => {
    const r = cli(['bench', QUANTS, '--json', '--cache', 'warm']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.perType.map((p: { type: string }) => p.type)).toContain('Q4_K');
    expect(report.decodeStepEstimateUs).toBeGreaterThan(0);
  });
});
