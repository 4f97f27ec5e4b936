import { describe, expect, it } from 'vitest';
import { GpuKernelError, GpuOutOfMemoryError } from '../../src/errors.js';
import type { Gpu } from '../../src/gpu/device.js';
import { GgufFile } from '../../src/gguf/file.js';
import { uploadTensors } from '../../src/gpu/loader.js';
import { cli, QUANTS, tempDir } from '../cli/helpers.js';
import { openGpuOrReason } from './gpu-helpers.js';

const { gpu, reason } = openGpuOrReason();

/** Allocates, uploads a Q4_0 block, dequantizes it and reads it back: the device still works. */
function expectDeviceWorks(g: Gpu): void {
  const src = g.alloc(18);
  const dst = g.alloc(32 * 4);
  try {
    const block = new Uint8Array(18);
    block[1] = 0x38; // d = 0.5 (fp16 0x3800)
    block.fill(0x98, 2); // nibbles 8 (low) and 9 (high): weights 0 and 0.5
    g.upload(src, block);
    g.dequantize(2, src, dst, 1, 32, 'f32');
    const out = new Float32Array(32);
    g.download(dst, new Uint8Array(out.buffer));
    expect([out[0], out[16]]).toEqual([0, 0.5]);
  } finally {
    src.dispose();
    dst.dispose();
  }
}

describe.skipIf(!gpu)(`GPU faults${reason ? ` (${reason})` : ''}`, () => {
  // These make the runtime fail on purpose; scripts/gpu-session.sh runs them under memcheck on
  // their own (with API errors not reported) by this describe's name, and the rest without them.
  describe('provoking runtime errors on purpose', () => {
    it('reports out of memory with the sizes, and the device works afterwards in the same process', () => {
      const g = gpu!;
      const { total } = g.memInfo();
      let caught: unknown;
      try {
        g.alloc(total * 2);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(GpuOutOfMemoryError);
      const oom = caught as GpuOutOfMemoryError;
      expect(oom.requestedBytes).toBe(total * 2);
      expect(oom.freeBytes).toBeGreaterThan(0);
      expect(oom.message).toMatch(/out of GPU memory/);
      expectDeviceWorks(g);
    });

    it('reports a failed kernel launch as a GpuKernelError naming the runtime error, and the device works afterwards', () => {
      const g = gpu!;
      let caught: unknown;
      try {
        g.debugFailLaunch();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(GpuKernelError);
      const err = caught as GpuKernelError;
      // CUDA 13 on the H100 names a block of 4096 threads cudaErrorInvalidValue (seen on the GPU
      // host); older runtimes and HIP say InvalidConfiguration.
      expect(err.runtimeError).toMatch(/^(cuda|hip)ErrorInvalid(Value|Configuration)$/);
      expect(err.message).toMatch(/k_debug_noop<<<1, 4096>>>.* failed: (cuda|hip)ErrorInvalid(Value|Configuration) .* at capi\.cu:\d+/);
      expectDeviceWorks(g);
      g.synchronize();
    });
  });

  it('checks VRAM before uploading a model that cannot fit', () => {
    const file = GgufFile.open(QUANTS);
    try {
      const t = file.tensors[0]!;
      const many = Array.from({ length: Math.ceil((gpu!.memInfo().total * 1.5) / t.nbytes!) }, () => t);
      expect(() => uploadTensors(gpu!, file, many)).toThrow(GpuOutOfMemoryError);
    } finally {
      file.close();
    }
  });

  it('rejects invalid launches with a typed error instead of crashing', () => {
    const g = gpu!;
    const buf = g.alloc(1024);
    try {
      expect(() => g.dequantize(99, buf, buf, 1, 32, 'f32')).toThrow(/type|unsupported|invalid/i);
      expect(() => g.dequantize(2, buf, buf, 1, 33, 'f32')).toThrow(/multiple|invalid/i);
    } finally {
      buf.dispose();
    }
  });

  it('exits 4 with a clear message when the library is missing', () => {
    const r = cli(['dequant', QUANTS, '-t', 'blk.2.q4_0.edge', '-o', tempDir()], { GGUF_GPU_LIB: '/nonexistent.so' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/GPU library was not found/);
  });
});
