import { GpuError } from '../errors.js';
import type { Gpu } from '../gpu/device.js';
import type { ForcedKernel } from '../gpu/matmul.js';

/** Says what `--backend cpu` would do instead, on a GPU error from `open`. */
export async function withCpuHint<T>(cpuAlternative: string, open: () => T | Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof GpuError) error.message += `; \`--backend cpu\` ${cpuAlternative}`;
    throw error;
  }
}

/** Opens the GPU, loading the native library only now (inspect and CPU work never touch it). Without
 * `cpuAlternative`, a GPU error keeps its own message (for callers that fall back or report it themselves). */
export async function openGpu(cpuAlternative?: string): Promise<Gpu> {
  const { Gpu } = await import('../gpu/device.js');
  return cpuAlternative === undefined ? Gpu.open() : withCpuHint(cpuAlternative, () => Gpu.open());
}

/** `--kernel NAME` checked against the library's kernel names before any GPU is opened (the names are
 * host-side), so that a mistyped name is a usage error (exit 2) on a machine without a GPU too. A missing
 * library stays a GPU error. */
export async function resolveForcedKernel(text: string | undefined, cpuAlternative: string): Promise<ForcedKernel | undefined> {
  if (text === undefined) return undefined;
  const { loadNative } = await import('../gpu/native.js');
  const { matmulKernelNames, resolveMatmulKernel } = await import('../gpu/matmul.js');
  const lib = await withCpuHint(cpuAlternative, () => loadNative());
  return resolveMatmulKernel(matmulKernelNames(lib), text);
}
