// Fused dequant + matmul on the GPU: y = W·x with W still quantized in device memory.
import type { DeviceBuffer, Gpu } from './device.js';

/** Weights in the matmul kernels' layout: the raw blocks re-laid out once on the GPU, same bits per weight. */
export class PackedWeights {
  constructor(
    readonly buffer: DeviceBuffer,
    readonly typeId: number,
    readonly rows: number,
    readonly rowLength: number,
  ) {}
  dispose(): void {
    this.buffer.dispose();
  }
}

/** Re-lays out raw blocks already on the GPU into a new buffer for the matmul kernels. */
export function packWeights(gpu: Gpu, raw: DeviceBuffer, typeId: number, rows: number, rowLength: number, rawOffset = 0): PackedWeights {
  const size = new BigUint64Array(1);
  gpu.check(gpu.lib.gg_matmul_packed_size(typeId, rows, rowLength, size), 'sizing packed weights');
  const packed = gpu.alloc(Number(size[0]), 'allocating packed weights');
  try {
    gpu.check(gpu.lib.gg_matmul_pack(typeId, raw.ptr + BigInt(rawOffset), packed.ptr, rows, rowLength), 'packing weights');
  } catch (error) {
    packed.dispose();
    throw error;
  }
  return new PackedWeights(packed, typeId, rows, rowLength);
}

export interface MatmulRun {
  y: Float32Array;
  kernel: string;
  /** Kernel time measured with events around one launch after a warm-up launch. */
  microseconds: number;
}

/** y [batch][rows] = x [batch][rowLength] · Wᵀ, on the GPU. */
export function gpuMatmul(gpu: Gpu, w: PackedWeights, x: Float32Array, batch: number, kernel = -1): MatmulRun {
  if (x.length !== batch * w.rowLength) throw new Error(`x holds ${x.length} values, expected ${batch} x ${w.rowLength}`);
  const xDev = gpu.alloc(x.byteLength, 'allocating activations');
  const yDev = gpu.alloc(batch * w.rows * 4, 'allocating the output');
  try {
    gpu.upload(xDev, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    gpu.memsetPoison(yDev);
    gpu.matmul(w.typeId, w.buffer, xDev, yDev, w.rows, w.rowLength, batch, kernel);
    const y = new Float32Array(batch * w.rows);
    gpu.download(yDev, new Uint8Array(y.buffer));
    const us = new Float32Array(1);
    const ptrs = new BigUint64Array([w.buffer.ptr]);
    gpu.check(gpu.lib.gg_bench_matmul(w.typeId, ptrs, 1, xDev.ptr, yDev.ptr, w.rows, w.rowLength, batch, kernel, 1, 1, 1, us), 'timing matmul');
    return { y, kernel: gpu.matmulKernelName(w.typeId, w.rows, batch), microseconds: us[0]! };
  } finally {
    xDev.dispose();
    yDev.dispose();
  }
}
