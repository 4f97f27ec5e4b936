// Device memory and kernel calls, with typed errors. Every native status is checked here.
import {
  GpuError,
  GpuKernelError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
} from '../errors.js';
import { loadNative, type DevicePtr, type NativeLib } from './native.js';

/** Status codes of kernels/gguf_gpu.h. */
export const Status = { ok: 0, invalidArgument: 1, noDevice: 2, outOfMemory: 3, launch: 4, io: 5, unsupported: 6, runtime: 7 } as const;
export const DTYPE = { f32: 0, f16: 1, bf16: 2 } as const;

export interface DeviceInfo {
  name: string;
  computeCapability: string;
  smCount: number;
  l2Bytes: number;
  totalBytes: number;
  freeBytes: number;
  isHip: boolean;
  runtimeVersion: number;
  driverVersion: number;
}

const INFO_SIZE = 304;

/** A device allocation with an explicit lifetime; a finalizer frees it if dispose() is forgotten. */
export class DeviceBuffer {
  private static readonly registry = new FinalizationRegistry<{ lib: NativeLib; ptr: DevicePtr }>(({ lib, ptr }) => {
    lib.gg_free(ptr);
  });
  private live = true;

  constructor(
    private readonly gpu: Gpu,
    readonly ptr: DevicePtr,
    readonly bytes: number,
  ) {
    DeviceBuffer.registry.register(this, { lib: gpu.lib, ptr }, this);
  }

  get disposed(): boolean {
    return !this.live;
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    DeviceBuffer.registry.unregister(this);
    this.gpu.check(this.gpu.lib.gg_free(this.ptr), 'freeing device memory');
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export class Gpu {
  private constructor(
    readonly lib: NativeLib,
    readonly device: number,
    readonly info: DeviceInfo,
  ) {}

  /** Opens a device; GpuLibraryMissingError / GpuUnavailableError when there is none to use. */
  static open(device = 0): Gpu {
    const lib = loadNative();
    const count = new Int32Array(1);
    const status = lib.gg_device_count(count);
    if (status !== Status.ok) throw new GpuUnavailableError(`no usable GPU: ${lib.gg_last_error()}`, lib.gg_last_error_name());
    if (count[0]! <= device) {
      throw new GpuUnavailableError(count[0] === 0 ? 'no GPU found' : `GPU ${device} does not exist (${count[0]} found)`);
    }
    const gpu = new Gpu(lib, device, { name: '', computeCapability: '', smCount: 0, l2Bytes: 0, totalBytes: 0, freeBytes: 0, isHip: false, runtimeVersion: 0, driverVersion: 0 });
    gpu.check(lib.gg_set_device(device), `selecting GPU ${device}`);
    Object.assign(gpu.info, gpu.readInfo());
    return gpu;
  }

  private readInfo(): DeviceInfo {
    const raw = new Uint8Array(INFO_SIZE);
    this.check(this.lib.gg_device_get_info(this.device, raw), 'reading device properties');
    const view = new DataView(raw.buffer);
    const nul = raw.indexOf(0);
    return {
      name: Buffer.from(raw.subarray(0, nul < 0 ? 256 : Math.min(nul, 256))).toString('utf8'),
      computeCapability: `${view.getInt32(256, true)}.${view.getInt32(260, true)}`,
      smCount: view.getInt32(264, true),
      l2Bytes: view.getInt32(268, true),
      totalBytes: Number(view.getBigUint64(272, true)),
      freeBytes: Number(view.getBigUint64(280, true)),
      isHip: view.getInt32(288, true) === 1,
      runtimeVersion: view.getInt32(292, true),
      driverVersion: view.getInt32(296, true),
    };
  }

  /** Throws the typed error for a nonzero status; `what` says what we were doing. */
  check(status: number, what: string, requestedBytes = 0): void {
    if (status === Status.ok) return;
    const detail = this.lib.gg_last_error();
    const name = this.lib.gg_last_error_name() || undefined;
    const message = `${what}: ${detail}`;
    switch (status) {
      case Status.outOfMemory: {
        const free = this.memInfo().free;
        throw new GpuOutOfMemoryError(
          `out of GPU memory ${what}: asked for ${requestedBytes} bytes, ${free} bytes free (${detail})`,
          requestedBytes,
          free,
          name,
        );
      }
      case Status.noDevice:
        throw new GpuUnavailableError(message, name);
      case Status.launch:
        throw new GpuKernelError(message, name);
      default:
        throw new GpuError(message, name);
    }
  }

  memInfo(): { free: number; total: number } {
    const free = new BigUint64Array(1);
    const total = new BigUint64Array(1);
    const status = this.lib.gg_mem_info(free, total);
    if (status !== Status.ok) return { free: 0, total: 0 };
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  alloc(bytes: number, what = 'allocating device memory'): DeviceBuffer {
    const out = new BigUint64Array(1);
    this.check(this.lib.gg_malloc(out, Math.max(bytes, 1)), what, bytes);
    return new DeviceBuffer(this, out[0]!, bytes);
  }

  upload(dst: DeviceBuffer, src: Uint8Array, dstOffset = 0): void {
    this.check(this.lib.gg_upload(dst.ptr + BigInt(dstOffset), src, src.byteLength), 'uploading to the GPU');
  }

  /** File -> device through pinned double buffers: reading and copying overlap. */
  uploadFile(dst: DeviceBuffer, fd: number, fileOffset: number, bytes: number, dstOffset = 0): void {
    this.check(this.lib.gg_upload_file(dst.ptr + BigInt(dstOffset), fd, fileOffset, bytes), 'uploading file data to the GPU');
  }

  download(src: DeviceBuffer, into: Uint8Array, srcOffset = 0): void {
    this.check(this.lib.gg_download(into, src.ptr + BigInt(srcOffset), into.byteLength), 'downloading from the GPU');
  }

  /** Fills a buffer with 0xFF bytes (NaN as f32 and f16), so unwritten outputs show up in tests. */
  memsetPoison(buf: DeviceBuffer): void {
    this.check(this.lib.gg_memset(buf.ptr, 0xff, buf.bytes), 'filling device memory');
  }

  synchronize(): void {
    this.check(this.lib.gg_synchronize(), 'waiting for the GPU');
  }

  dequantize(typeId: number, src: DeviceBuffer, dst: DeviceBuffer, rows: number, rowLength: number, dtype: 'f32' | 'f16', srcOffset = 0): void {
    this.check(this.lib.gg_dequantize(typeId, src.ptr + BigInt(srcOffset), dst.ptr, rows, rowLength, DTYPE[dtype]), 'dequantizing on the GPU');
  }

  matmul(typeId: number, w: DeviceBuffer, x: DeviceBuffer, y: DeviceBuffer, rows: number, rowLength: number, batch: number, kernel = -1): void {
    this.check(this.lib.gg_matmul(typeId, w.ptr, x.ptr, y.ptr, rows, rowLength, batch, kernel), 'matmul on the GPU');
  }

  /** The kernel the dispatch table runs for this type, shape (rows x rowLength) and batch. */
  matmulKernelName(typeId: number, rows: number, rowLength: number, batch: number): string {
    const buf = new Uint8Array(128);
    this.check(this.lib.gg_matmul_kernel_name(typeId, rows, rowLength, batch, buf, buf.length), 'naming the matmul kernel');
    return Buffer.from(buf.subarray(0, buf.indexOf(0))).toString('utf8');
  }

  /**
   * For tests only: has the library launch a kernel with an invalid configuration (4096 threads per
   * block), so a real launch failure comes back through the normal path: a GpuKernelError naming
   * the runtime's error (cudaErrorInvalidConfiguration). The device stays usable.
   */
  debugFailLaunch(): void {
    this.check(this.lib.gg_debug_fail_launch(0), 'a deliberately invalid kernel launch (test)');
  }

  /** Block layout compiled into the library, or undefined if it cannot handle the type. */
  typeLayout(typeId: number): { blockSize: number; typeSize: number } | undefined {
    const b = new Int32Array(1);
    const t = new Int32Array(1);
    const status = this.lib.gg_type_layout(typeId, b, t);
    if (status === Status.unsupported) return undefined;
    this.check(status, `reading the layout of type ${typeId}`);
    return { blockSize: b[0]!, typeSize: t[0]! };
  }
}
