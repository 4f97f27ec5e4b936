import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GpuError, GpuKernelError, GpuOutOfMemoryError, GpuUnavailableError, UsageError, withTensorName } from '../src/errors.js';
import { Gpu } from '../src/gpu/device.js';
import { gpuMatmul, PackedWeights } from '../src/gpu/matmul.js';
import { libraryCandidates, loadNative } from '../src/gpu/native.js';
import { createGpuDequantBackend } from '../src/gpu/dequant-backend.js';
import { uploadSource } from '../src/gpu/loader.js';
import { fileTensor } from '../src/tensor-source.js';
import { GgufFile } from '../src/gguf/file.js';
import { writeGguf } from '../src/gguf/writer.js';
import { randomBlocks } from '../src/quant/random.js';
import { cli, QUANTS, tempDir } from './cli/helpers.js';

/** A Gpu over a stub library that reports `message` and `name` as its last error. */
function gpuWithError(message: string, name: string): Gpu {
  const lib = {
    gg_last_error: () => message,
    gg_last_error_name: () => name,
    gg_mem_info: (free: BigUint64Array, total: BigUint64Array) => {
      free[0] = 1000n;
      total[0] = 4000n;
      return 0;
    },
  };
  const gpu = Object.create(Gpu.prototype) as Gpu;
  Object.assign(gpu, { lib, device: 0, info: {} });
  return gpu;
}

describe('GPU status codes become typed errors', () => {
  it.each([
    [3, GpuOutOfMemoryError, 'cudaErrorMemoryAllocation', /out of GPU memory allocating: asked for 5000 bytes, 1000 bytes free/],
    [2, GpuUnavailableError, 'cudaErrorInsufficientDriver', /allocating: driver too old/],
    [4, GpuKernelError, 'cudaErrorLaunchOutOfResources', /allocating: launch failed/],
    [4, GpuKernelError, 'cudaErrorInvalidConfiguration', /allocating: launch failed/],
    [7, GpuError, 'cudaErrorUnknown', /allocating: something else/],
  ] as const)('status %i -> %s', (status, Type, name, pattern) => {
    const message = { 2: 'driver too old', 3: 'cudaMalloc failed', 4: 'launch failed', 7: 'something else' }[status];
    const gpu = gpuWithError(message, name);
    let caught: unknown;
    try {
      gpu.check(status, 'allocating', 5000);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Type);
    expect((caught as GpuError).runtimeError).toBe(name);
    expect((caught as Error).message).toMatch(pattern);
    if (caught instanceof GpuOutOfMemoryError) expect([caught.requestedBytes, caught.freeBytes]).toEqual([5000, 1000]);
  });
});

// Where the library is built but no GPU driver exists (CI, this project's own machines), every GPU
// command must exit 4 with one line that names the driver problem.
const built = libraryCandidates().some((p) => existsSync(p));
const gpuHost = existsSync('/dev/nvidia0') || existsSync('/dev/kfd');
describe.skipIf(!built || gpuHost)('with the library built but no GPU driver', () => {
  it('dequant exits 4 naming the runtime error and pointing at --backend cpu', () => {
    const r = cli(['dequant', QUANTS, '-t', 'blk.2.q4_0.edge', '-o', '/tmp']);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no usable GPU: .*cuda\w+|hip\w+/);
    expect(r.stderr).toMatch(/--backend cpu/);
    // the runtime blames the driver's version; the message says there is none
    if (/cudaErrorInsufficientDriver/.test(r.stderr) && !existsSync('/dev/nvidiactl')) expect(r.stderr).toMatch(/no NVIDIA driver is loaded on this machine/);
  });

  it('a kernel launch without a driver is "no usable GPU" (GpuUnavailableError), not a kernel error', () => {
    // test/gpu/faults.test.ts makes the same launch fail on a GPU, where it is a GpuKernelError
    const gpu = Object.create(Gpu.prototype) as Gpu;
    Object.assign(gpu, { lib: loadNative(), device: 0, info: {} });
    let caught: unknown;
    try {
      gpu.debugFailLaunch();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GpuUnavailableError);
    expect((caught as GpuError).runtimeError).toMatch(/^(cuda|hip)Error\w+$/);
    expect((caught as Error).message).toMatch(/k_debug_noop<<<1, 4096>>>.* failed: (cuda|hip)Error\w+ .* at capi\.cu:\d+/);
  });
});

describe('device buffers: ranges, lifetimes and cleanup, over a stub library', () => {
  /** A Gpu whose allocations are tracked and whose allocation number `failAt` runs out of memory. */
  /** failAt: the allocation that runs out of memory; uploadsFail: every upload reports an error */
  function stubGpu(failAt = Infinity, uploadsFail = false) {
    const live = new Set<bigint>();
    const calls: string[] = [];
    const first = 4096n;
    let next = first;
    let allocs = 0;
    const lib = {
      gg_last_error: () => 'stub',
      gg_last_error_name: () => '',
      gg_mem_info: (free: BigUint64Array, total: BigUint64Array) => ((free[0] = 1n << 30n), (total[0] = 1n << 30n), 0),
      gg_malloc: (out: BigUint64Array) => {
        if (++allocs === failAt) return 3;
        out[0] = next;
        live.add(next);
        next += 1n << 20n;
        return 0;
      },
      gg_free: (ptr: bigint) => (live.delete(ptr), 0),
      gg_upload: () => (calls.push('upload'), uploadsFail ? 1 : 0),
      gg_upload_file: () => (calls.push('upload file'), uploadsFail ? 1 : 0),
      gg_download: () => (calls.push('download'), 0),
      gg_memset: () => 0,
      gg_matmul: () => (calls.push('matmul'), 0),
      gg_dequantize: (_type: number, src: bigint, _dst: bigint, rows: number, rowLength: number) =>
        (calls.push(`dequantize +${src - first} ${rows}x${rowLength}`), 0),
      gg_bench_matmul: () => 0,
      gg_matmul_kernel_name: () => 0,
    };
    const gpu = Object.create(Gpu.prototype) as Gpu;
    Object.assign(gpu, { lib, device: 0, info: {} });
    return { gpu, live, calls };
  }

  it('refuses a range outside a buffer, or a bad count, before the native call, and a buffer used after dispose', () => {
    const { gpu, calls } = stubGpu();
    const buf = gpu.alloc(64);
    expect(() => gpu.upload(buf, new Uint8Array(64), 8)).toThrow(/bytes \[8, 72\) are not inside the buffer's 64/);
    expect(() => gpu.download(buf, new Uint8Array(8), -8)).toThrow(GpuError);
    expect(() => gpu.download(buf, new Uint8Array(8), 0.5)).toThrow(GpuError);
    expect(() => gpu.matmul(2, buf, buf, buf, 4, 32, 1)).toThrow(/matmul on the GPU: bytes \[0, 128\)/); // x of 1 x 32 floats
    expect(() => gpu.alloc(Number.NaN)).toThrow(/NaN is not a byte count/);
    expect(calls).toEqual([]);
    gpu.upload(buf, new Uint8Array(64));
    buf.dispose();
    buf.dispose(); // twice is fine
    expect(() => gpu.upload(buf, new Uint8Array(8))).toThrow(/used after it was freed/);
    expect(calls).toEqual(['upload']);
  });

  it('gpuMatmul frees what it allocated when a later allocation fails', () => {
    const { gpu, live } = stubGpu(3); // the weights, x, then y runs out
    const w = new PackedWeights(gpu.alloc(1024), 2, 8, 32);
    expect(() => gpuMatmul(gpu, w, new Float32Array(32), 1)).toThrow(GpuOutOfMemoryError);
    expect(live.size).toBe(1); // the weights alone
    w.dispose();
    expect(live.size).toBe(0);
  });

  it('uploads nothing of a tensor whose data lies past the end of a truncated file', () => {
    const path = join(tempDir(), 'cut.gguf');
    const whole = writeGguf({ tensors: [{ name: 'w', typeId: 2, shape: [32, 64], data: randomBlocks(2, 32 * 64, 3) }] });
    writeFileSync(path, whole.subarray(0, whole.length - 100));
    const file = GgufFile.open(path, { keepTruncated: true });
    const { gpu, live, calls } = stubGpu();
    try {
      expect(() => uploadSource(gpu, fileTensor(file, file.tensor('w')))).toThrow(/tensor w: Q4_0 data of 1152 bytes is larger than the whole file/);
    } finally {
      file.close();
    }
    expect(live.size).toBe(0);
    expect(calls).toEqual([]);
  });

  it("names the tensor when its upload fails, and frees what it took", async () => {
    const path = join(tempDir(), 'named.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 'blk.7.w', typeId: 2, shape: [64, 2], data: randomBlocks(2, 128, 4) }] }));
    const file = GgufFile.open(path);
    const { gpu, live } = stubGpu(Infinity, true);
    const backend = createGpuDequantBackend({ gpu });
    try {
      await expect(backend.dequantizeTensor(file, file.tensor('blk.7.w'), 'f32', () => {})).rejects.toThrow(/^tensor blk\.7\.w: /);
    } finally {
      backend.dispose();
      file.close();
    }
    expect(live.size).toBe(0);
  });

  it('dequantizes in chunks of blocks: a single long row is cut at block boundaries, each source 16-byte aligned', async () => {
    const typeId = 2; // Q4_0: 18 bytes per 32 weights
    const rowLength = 32 * 100;
    const path = join(tempDir(), 'one-row.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 'row', typeId, shape: [rowLength, 1], data: randomBlocks(typeId, rowLength, 1) }] }));
    const file = GgufFile.open(path);
    const { gpu, live, calls } = stubGpu();
    const backend = createGpuDequantBackend({ gpu, outputChunkBytes: 32 * 4 * 40 }); // 40 blocks of f32: 32 per chunk
    const chunks: number[] = [];
    let progressed = 0;
    try {
      await backend.dequantizeTensor(file, file.tensor('row'), 'f32', (c) => chunks.push(c.length), (n) => (progressed += n));
    } finally {
      backend.dispose();
      file.close();
    }
    expect(calls.filter((c) => c.startsWith('dequantize'))).toEqual([
      'dequantize +0 1x1024', // 32 blocks
      `dequantize +${32 * 18} 1x1024`,
      `dequantize +${64 * 18} 1x1024`,
      `dequantize +${96 * 18} 1x128`,
    ]);
    expect(chunks).toEqual([4096, 4096, 4096, 512]);
    expect(progressed).toBe(100 * 18);
    expect(live.size).toBe(0);
  });
});

describe('withTensorName', () => {
  it('names the tensor in a GPU error once, and leaves other errors alone', () => {
    const e = withTensorName(new GpuError('matmul on the GPU: bad'), 'blk.0.w') as GpuError;
    expect(e.message).toBe('tensor blk.0.w: matmul on the GPU: bad');
    expect((withTensorName(e, 'blk.0.w') as GpuError).message).toBe('tensor blk.0.w: matmul on the GPU: bad');
    expect((withTensorName(new GpuError('allocating blk.0.w: out'), 'blk.0.w') as GpuError).message).toBe('allocating blk.0.w: out');
    expect((withTensorName(new UsageError('x'), 'blk.0.w') as Error).message).toBe('x');
  });
});
