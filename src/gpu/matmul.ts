// Fused dequant + matmul on the GPU: y = W·x with W still quantized in device memory.
import { UsageError } from '../errors.js';
import { tensorByteSize } from '../gguf/ggml-types.js';
import { checkRange, DeviceScope, disposeOnThrow, type DeviceBuffer, type Gpu } from './device.js';
import type { NativeLib } from './native.js';

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
  checkRange('packing weights', rawOffset, tensorByteSize(typeId, [rowLength, rows]), raw.bytes); // the raw blocks are all there
  const size = new BigUint64Array(1);
  gpu.check(gpu.lib.gg_matmul_packed_size(typeId, rows, rowLength, size), 'sizing packed weights');
  const packed = disposeOnThrow(gpu.alloc(Number(size[0]), 'allocating packed weights'), (p) =>
    gpu.check(gpu.lib.gg_matmul_pack(typeId, raw.ptr + BigInt(rawOffset), p.ptr, rows, rowLength), 'packing weights'),
  );
  return new PackedWeights(packed, typeId, rows, rowLength);
}

export interface MatmulRun {
  y: Float32Array;
  kernel: string;
  /** Kernel time measured with events around one launch after a warm-up launch. */
  microseconds: number;
}

/** The library's matmul kernels, by index (the `kernel` argument of gg_matmul). Host-side: no device needed. */
export function matmulKernelNames(lib: NativeLib): string[] {
  const names: string[] = [];
  const buf = new Uint8Array(64);
  while (names.length < 64 && lib.gg_matmul_kernel_info(names.length, buf, buf.length) === 0) {
    names.push(Buffer.from(buf.subarray(0, buf.indexOf(0))).toString('utf8'));
  }
  return names;
}

/** A kernel forced in place of the dispatch table's pick: its index (gg_matmul's `kernel`) and name. */
export interface ForcedKernel {
  index: number;
  name: string;
}

/** A kernel given by name or index (`--kernel`), among `names` (matmulKernelNames). */
export function resolveMatmulKernel(names: readonly string[], text: string): ForcedKernel {
  const t = text.trim();
  const index = /^\d+$/.test(t) ? Number(t) : names.indexOf(t);
  if (index < 0 || index >= names.length) throw new UsageError(`--kernel: no matmul kernel "${text}"; the kernels are ${names.map((n, i) => `${i} ${n}`).join(', ')}`);
  return { index, name: names[index]! };
}

/** y [batch][rows] = x [batch][rowLength] · Wᵀ, on the GPU. kernel -1: the dispatch table's pick. */
export function gpuMatmul(gpu: Gpu, w: PackedWeights, x: Float32Array, batch: number, kernel = -1): MatmulRun {
  if (x.length !== batch * w.rowLength) throw new Error(`x holds ${x.length} values, expected ${batch} x ${w.rowLength}`);
  const scope = new DeviceScope(gpu);
  try {
    const xDev = scope.alloc(x.byteLength, 'allocating activations');
    const yDev = scope.alloc(batch * w.rows * 4, 'allocating the output');
    gpu.upload(xDev, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    gpu.memsetPoison(yDev);
    gpu.matmul(w.typeId, w.buffer, xDev, yDev, w.rows, w.rowLength, batch, kernel);
    const y = new Float32Array(batch * w.rows);
    gpu.download(yDev, new Uint8Array(y.buffer));
    const us = new Float32Array(1);
    const ptrs = new BigUint64Array([w.buffer.ptr]);
    gpu.check(gpu.lib.gg_bench_matmul(w.typeId, ptrs, 1, xDev.ptr, yDev.ptr, w.rows, w.rowLength, batch, kernel, 1, 1, 1, us), 'timing matmul');
    return { y, kernel: kernel < 0 ? gpu.matmulKernelName(w.typeId, w.rows, w.rowLength, batch) : matmulKernelNames(gpu.lib)[kernel]!, microseconds: us[0]! };
  } finally {
    scope.dispose();
  }
}
