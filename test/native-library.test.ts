import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ggmlTypeById } from '../src/gguf/ggml-types.js';
import { matmulKernelNames, resolveMatmulKernel } from '../src/gpu/matmul.js';
import { EXPECTED_ABI_VERSION, libraryCandidates, loadNative } from '../src/gpu/native.js';
import { SUPPORTED_TYPE_IDS } from '../src/quant/index.js';
import { cli, QUANTS } from './cli/helpers.js';

// The built library's host-side facts need no GPU: CI builds it with nvcc and checks them here.
const built = libraryCandidates().find((p) => existsSync(p));

describe.skipIf(!built)(`the built kernel library (${built ?? 'not built: run npm run build:kernels'})`, () => {
  it('binds every C ABI function and has the expected ABI version', () => {
    const lib = loadNative();
    expect(lib.gg_version()).toBe(EXPECTED_ABI_VERSION);
  });

  it('was compiled with the same block layouts as the TypeScript table', () => {
    const lib = loadNative();
    for (const id of SUPPORTED_TYPE_IDS) {
      const b = new Int32Array(1);
      const t = new Int32Array(1);
      expect(lib.gg_type_layout(id, b, t), lib.gg_last_error()).toBe(0);
      const info = ggmlTypeById(id)!;
      expect([b[0], t[0]], info.name).toEqual([info.blockSize, info.typeSize]);
    }
    // A type it cannot decode is refused with a message, not a crash.
    expect(lib.gg_type_layout(19, new Int32Array(1), new Int32Array(1))).toBe(6);
    expect(lib.gg_last_error()).toMatch(/not supported/);
  });

  it('names its matmul kernels, and --kernel takes a name or an index', () => {
    const names = matmulKernelNames(loadNative());
    expect(names[0]).toBe('generic_gemv');
    expect(names).toContain('imma_decode_n4');
    expect(names).toContain('imma_gemv_n1');
    expect(names).toContain('imma_gemv_n4');
    expect(names).toContain('imma_gemv_n8');
    expect(names).toContain('mma_gemv_n1');
    expect(names).toContain('mma_gemv_n4');
    expect(names).toContain('mma_gemv_n8');
    expect(names).toContain('mma_gemv_n16');
    expect(names).toContain('wgmma_ws_128x256');
    expect(new Set(names).size).toBe(names.length);
    expect(resolveMatmulKernel(names, 'imma_decode_n4')).toEqual({ index: names.indexOf('imma_decode_n4'), name: 'imma_decode_n4' });
    expect(resolveMatmulKernel(names, '1')).toEqual({ index: 1, name: 'generic_gemm' });
    expect(() => resolveMatmulKernel(names, String(names.length))).toThrow(/no matmul kernel/);
    expect(() => resolveMatmulKernel(names, 'fastest')).toThrow(/0 generic_gemv, 1 generic_gemm/);
  });

  it('refuses a mistyped --kernel before opening the GPU: exit 2 on any machine, with the list', () => {
    const bench = cli(['bench', '--types', 'q4_0', '--batch', '1', '--kernel', 'fastest']);
    expect(bench.code, bench.stderr).toBe(2);
    expect(bench.stderr).toMatch(/--kernel: no matmul kernel "fastest"; the kernels are 0 generic_gemv/);
    const matmul = cli(['matmul', QUANTS, '--tensor', 'blk.0.q4_0.small', '--batch', '2', '--kernel', '99']);
    expect(matmul.code, matmul.stderr).toBe(2);
    expect(matmul.stderr).toMatch(/no matmul kernel "99"/);
  });
});
