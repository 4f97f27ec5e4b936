import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GpuError, GpuKernelError, GpuOutOfMemoryError, GpuUnavailableError } from '../src/errors.js';
import { Gpu } from '../src/gpu/device.js';
import { libraryCandidates, loadNative } from '../src/gpu/native.js';
import { cli, QUANTS } from './cli/helpers.js';

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
