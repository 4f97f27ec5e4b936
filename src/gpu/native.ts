// The koffi bindings of libgguf_gpu (kernels/gguf_gpu.h), typed by hand. This file is the only
// importer of koffi; it is loaded lazily, so inspect and CPU work never touch native code.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GpuLibraryMissingError } from '../errors.js';

/** A device pointer: koffi 3 passes and returns pointers as bigint. */
export type DevicePtr = bigint;
/** Host memory passed by reference. */
type HostMem = Uint8Array | Float32Array | Uint16Array | BigUint64Array | Int32Array | Float64Array;

export interface NativeLib {
  readonly path: string;
  gg_last_error(): string;
  gg_last_error_name(): string;
  gg_version(): number;
  gg_type_layout(type: number, blockSize: Int32Array, typeSize: Int32Array): number;
  gg_device_count(count: Int32Array): number;
  gg_device_get_info(device: number, info: Uint8Array): number;
  gg_set_device(device: number): number;
  gg_mem_info(free: BigUint64Array, total: BigUint64Array): number;
  gg_malloc(ptr: BigUint64Array, bytes: number): number;
  gg_free(ptr: DevicePtr): number;
  gg_memset(ptr: DevicePtr, value: number, bytes: number): number;
  gg_upload(dst: DevicePtr, src: HostMem, bytes: number): number;
  gg_upload_file(dst: DevicePtr, fd: number, offset: number, bytes: number): number;
  gg_download(dst: HostMem, src: DevicePtr, bytes: number): number;
  gg_synchronize(): number;
  gg_dequantize(type: number, src: DevicePtr, dst: DevicePtr, rows: number, rowLen: number, dtype: number): number;
  gg_matmul_packed_size(type: number, rows: number, rowLen: number, bytes: BigUint64Array): number;
  gg_matmul_pack(type: number, raw: DevicePtr, packed: DevicePtr, rows: number, rowLen: number): number;
  gg_matmul(type: number, w: DevicePtr, x: DevicePtr, y: DevicePtr, rows: number, rowLen: number, batch: number, kernel: number): number;
  gg_matmul_kernel_name(type: number, rows: number, rowLength: number, batch: number, buf: Uint8Array, len: number): number;
  gg_matmul_kernel_info(index: number, buf: Uint8Array, len: number): number;
  gg_bench_read(bufs: BigUint64Array, n: number, bytes: number, warmup: number, launches: number, samples: number, out: Float32Array): number;
  gg_bench_copy(dst: DevicePtr, src: DevicePtr, bytes: number, warmup: number, launches: number, samples: number, out: Float32Array): number;
  gg_bench_dequantize(type: number, srcs: BigUint64Array, n: number, dst: DevicePtr, rows: number, rowLen: number, dtype: number, warmup: number, launches: number, samples: number, out: Float32Array): number;
  gg_bench_matmul(type: number, ws: BigUint64Array, n: number, x: DevicePtr, y: DevicePtr, rows: number, rowLen: number, batch: number, kernel: number, warmup: number, launches: number, samples: number, out: Float32Array): number;
  gg_bench_blas(dtype: number, ws: BigUint64Array, n: number, x: DevicePtr, y: DevicePtr, rows: number, rowLen: number, batch: number, warmup: number, launches: number, samples: number, out: Float32Array): number;
  gg_bench_upload(bytes: number, samples: number, out: Float64Array): number;
  gg_debug_fail_launch(how: number): number;
}

/** The C prototypes of kernels/gguf_gpu.h as koffi binds them (test/native-abi.test.ts compares the two). */
export const PROTOTYPES = [
  'const char *gg_last_error()',
  'const char *gg_last_error_name()',
  'int gg_version()',
  'int gg_type_layout(int32_t type, void *block_size, void *type_size)',
  'int gg_device_count(void *count)',
  'int gg_device_get_info(int32_t device, void *info)',
  'int gg_set_device(int32_t device)',
  'int gg_mem_info(void *free_bytes, void *total_bytes)',
  'int gg_malloc(void *ptr, uint64_t bytes)',
  'int gg_free(void *ptr)',
  'int gg_memset(void *ptr, int32_t value, uint64_t bytes)',
  'int gg_upload(void *dst, const void *src, uint64_t bytes)',
  'int gg_upload_file(void *dst, int32_t fd, uint64_t offset, uint64_t bytes)',
  'int gg_download(void *dst, const void *src, uint64_t bytes)',
  'int gg_synchronize()',
  'int gg_dequantize(int32_t type, const void *src, void *dst, int64_t rows, int64_t row_len, int32_t dtype)',
  'int gg_matmul_packed_size(int32_t type, int64_t rows, int64_t row_len, void *bytes)',
  'int gg_matmul_pack(int32_t type, const void *raw, void *packed, int64_t rows, int64_t row_len)',
  'int gg_matmul(int32_t type, const void *w, const void *x, void *y, int64_t rows, int64_t row_len, int32_t batch, int32_t kernel)',
  'int gg_matmul_kernel_name(int32_t type, int64_t rows, int64_t row_len, int32_t batch, void *buf, int32_t len)',
  'int gg_matmul_kernel_info(int32_t index, void *buf, int32_t len)',
  'int gg_bench_read(void *bufs, int32_t n, uint64_t bytes, int32_t warmup, int32_t launches, int32_t samples, void *out)',
  'int gg_bench_copy(void *dst, const void *src, uint64_t bytes, int32_t warmup, int32_t launches, int32_t samples, void *out)',
  'int gg_bench_dequantize(int32_t type, void *srcs, int32_t n, void *dst, int64_t rows, int64_t row_len, int32_t dtype, int32_t warmup, int32_t launches, int32_t samples, void *out)',
  'int gg_bench_matmul(int32_t type, void *ws, int32_t n, const void *x, void *y, int64_t rows, int64_t row_len, int32_t batch, int32_t kernel, int32_t warmup, int32_t launches, int32_t samples, void *out)',
  'int gg_bench_blas(int32_t dtype, void *ws, int32_t n, const void *x, void *y, int64_t rows, int64_t row_len, int32_t batch, int32_t warmup, int32_t launches, int32_t samples, void *out)',
  'int gg_bench_upload(uint64_t bytes, int32_t samples, void *out)',
  'int gg_debug_fail_launch(int32_t how)',
];

/** Where the library is looked for: $GGUF_GPU_LIB, then the package's build/ (CUDA, then HIP). */
export function libraryCandidates(): string[] {
  const fromEnv = process.env.GGUF_GPU_LIB;
  if (fromEnv) return [fromEnv];
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return [join(root, 'build', 'libgguf_gpu.so'), join(root, 'build', 'libgguf_gpu_hip.so')];
}

/** GG_ABI_VERSION in kernels/gguf_gpu.h: a library built from other sources is refused. */
export const EXPECTED_ABI_VERSION = 4;

let cached: NativeLib | undefined;

export function loadNative(): NativeLib {
  if (cached) return cached;
  const candidates = libraryCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new GpuLibraryMissingError(
      `the GPU library was not found (looked for ${candidates.join(', ')}); build it with \`npm run build:kernels\` or set GGUF_GPU_LIB`,
    );
  }
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new GpuLibraryMissingError(`cannot load koffi, the package that calls the GPU library (reinstall with \`npm install\`): ${reason}`);
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new GpuLibraryMissingError(`cannot load the GPU library ${path}: ${(error as Error).message}`);
  }
  // the version first: a library from other sources may lack or rename functions, and that is what to say
  let version: number | undefined;
  try {
    version = (lib.func('int gg_version()') as () => number)();
  } catch {}
  if (version !== EXPECTED_ABI_VERSION) {
    throw new GpuLibraryMissingError(
      `the GPU library ${path} has ABI version ${version ?? '(none)'}, this package needs ${EXPECTED_ABI_VERSION}; rebuild it with \`npm run build:kernels\``,
    );
  }
  const bound: Record<string, unknown> = { path };
  for (const proto of PROTOTYPES) {
    const name = /(gg_\w+)\(/.exec(proto)![1]!;
    try {
      bound[name] = lib.func(proto);
    } catch (error) {
      throw new GpuLibraryMissingError(`the GPU library ${path} lacks ${name} (rebuild it with \`npm run build:kernels\`): ${(error as Error).message}`);
    }
  }
  cached = bound as unknown as NativeLib;
  return cached;
}
