// Device memory and kernel calls, with typed errors. Every native status is checked here.
import { existsSync } from 'node:fs';
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
    private readonly address: DevicePtr,
    readonly bytes: number,
  ) {
    DeviceBuffer.registry.register(this, { lib: gpu.lib, ptr: address }, this);
  }

  /** The device address; a GpuError once disposed (cudaMalloc reuses freed addresses: a late write
   * would land in another live buffer). */
  get ptr(): DevicePtr {
    if (!this.live) throw new GpuError('a device buffer was used after it was freed');
    return this.address;
  }

  get disposed(): boolean {
    return !this.live;
  }

  /** Frees the memory. It does not throw: cudaFree fails only once the context has a sticky error,
   * which the next call reports, while a throw here, in a finally, would hide the error that got there. */
  dispose(): void {
    if (!this.live) return;
    this.live = false;
    DeviceBuffer.registry.unregister(this);
    this.gpu.lib.gg_free(this.address);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Returns `buffer` once `fill` has run on it; if `fill` throws, frees it first (the caller, getting
 * nothing back, could not). */
export function disposeOnThrow(buffer: DeviceBuffer, fill: (buffer: DeviceBuffer) => void): DeviceBuffer {
  try {
    fill(buffer);
  } catch (error) {
    buffer.dispose();
    throw error;
  }
  return buffer;
}

/** Buffers that live and die together: each alloc() is freed by the one dispose() in a finally, also
 * when a later allocation of the group fails. */
export class DeviceScope {
  private readonly buffers: DeviceBuffer[] = [];
  constructor(private readonly gpu: Gpu) {}
  alloc(bytes: number, what?: string): DeviceBuffer {
    const b = this.gpu.alloc(bytes, what);
    this.buffers.push(b);
    return b;
  }
  dispose(): void {
    for (const b of this.buffers.splice(0).reverse()) b.dispose();
  }
}

/** [offset, offset + bytes) inside a buffer of `size` bytes, in safe integers, or a GpuError: the C
 * side gets raw pointers and cannot check (koffi wraps a negative offset, truncates a fraction). */
export function checkRange(what: string, offset: number, bytes: number, size: number): void {
  const ok = Number.isSafeInteger(offset) && Number.isSafeInteger(bytes) && offset >= 0 && bytes >= 0 && offset + bytes <= size;
  if (!ok) throw new GpuError(`${what}: bytes [${offset}, ${offset + bytes}) are not inside the buffer's ${size}`);
}

/** A count passed as a C int32: a safe integer in [min, 2^31). */
function checkInt32(what: string, name: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min || value > 0x7fffffff) throw new GpuError(`${what}: ${name} ${value} is not an integer from ${min} to ${0x7fffffff}`);
}

/** The CUDA runtime says "driver version is insufficient" also where there is no driver at all. */
function driverHint(runtimeError: string): string {
  const noDriver = runtimeError === 'cudaErrorInsufficientDriver' && process.platform === 'linux' && !existsSync('/dev/nvidiactl');
  return noDriver ? ' (no NVIDIA driver is loaded on this machine: /dev/nvidiactl is missing)' : '';
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
    if (status !== Status.ok) {
      const name = lib.gg_last_error_name();
      throw new GpuUnavailableError(`no usable GPU: ${lib.gg_last_error()}${driverHint(name)}`, name);
    }
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
        // asked directly: through memInfo() a failing query would come back here, again and again
        const freeOut = new BigUint64Array(1);
        const free = this.lib.gg_mem_info(freeOut, new BigUint64Array(1)) === Status.ok ? Number(freeOut[0]) : 0;
        // requestedBytes is known for allocations; other calls run out of scratch or pinned host memory
        const asked = requestedBytes > 0 ? `asked for ${requestedBytes} bytes, ${free} bytes free` : `${free} bytes free`;
        throw new GpuOutOfMemoryError(`out of GPU memory ${what}: ${asked} (${detail})`, requestedBytes, free, name);
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
    this.check(this.lib.gg_mem_info(free, total), 'reading free GPU memory');
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  alloc(bytes: number, what = 'allocating device memory'): DeviceBuffer {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new GpuError(`${what}: ${bytes} is not a byte count`);
    const out = new BigUint64Array(1);
    this.check(this.lib.gg_malloc(out, Math.max(bytes, 1)), what, bytes);
    return new DeviceBuffer(this, out[0]!, bytes);
  }

  upload(dst: DeviceBuffer, src: Uint8Array, dstOffset = 0): void {
    checkRange('uploading to the GPU', dstOffset, src.byteLength, dst.bytes);
    this.check(this.lib.gg_upload(dst.ptr + BigInt(dstOffset), src, src.byteLength), 'uploading to the GPU');
  }

  /** File -> device through pinned double buffers: reading and copying overlap. */
  uploadFile(dst: DeviceBuffer, fd: number, fileOffset: number, bytes: number, dstOffset = 0): void {
    checkRange('uploading file data to the GPU', dstOffset, bytes, dst.bytes);
    checkRange('uploading file data to the GPU', fileOffset, bytes, Number.MAX_SAFE_INTEGER);
    checkInt32('uploading file data to the GPU', 'file descriptor', fd);
    this.check(this.lib.gg_upload_file(dst.ptr + BigInt(dstOffset), fd, fileOffset, bytes), 'uploading file data to the GPU');
  }

  download(src: DeviceBuffer, into: Uint8Array, srcOffset = 0): void {
    checkRange('downloading from the GPU', srcOffset, into.byteLength, src.bytes);
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
    const what = 'dequantizing on the GPU';
    checkRange(what, srcOffset, 0, src.bytes);
    checkRange(what, 0, rows * rowLength * (dtype === 'f32' ? 4 : 2), dst.bytes);
    this.check(this.lib.gg_dequantize(typeId, src.ptr + BigInt(srcOffset), dst.ptr, rows, rowLength, DTYPE[dtype]), what);
  }

  matmul(typeId: number, w: DeviceBuffer, x: DeviceBuffer, y: DeviceBuffer, rows: number, rowLength: number, batch: number, kernel = -1): void {
    const what = 'matmul on the GPU';
    checkInt32(what, 'batch', batch, 1);
    checkInt32(what, 'kernel', kernel, -1);
    checkRange(what, 0, batch * rowLength * 4, x.bytes);
    checkRange(what, 0, batch * rows * 4, y.bytes);
    this.check(this.lib.gg_matmul(typeId, w.ptr, x.ptr, y.ptr, rows, rowLength, batch, kernel), what);
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
