import { GpuError } from '../errors.js';
import type { Gpu } from '../gpu/device.js';

/** Says what `--backend cpu` would do instead, on a GPU error from `open`. */
export async function withCpuHint<T>(cpuAlternative: string, open: () => T | Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof GpuError) error.message += `; \`--backend cpu\` ${cpuAlternative}`;
    throw error;
  }
}

/** Opens the GPU, loading the native library only now (inspect and CPU work never touch it). */
export async function openGpu(cpuAlternative: string): Promise<Gpu> {
  const { Gpu } = await import('../gpu/device.js');
  return withCpuHint(cpuAlternative, () => Gpu.open());
}
