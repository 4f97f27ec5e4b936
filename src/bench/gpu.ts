// GPU benchmark: ceilings first (streaming floor for the same bytes, device copy, dense cuBLAS,
// upload), then fused matmul per type and batch against those ceilings and two baselines.
import { DeviceScope, DTYPE, Status, type DeviceBuffer, type Gpu } from '../gpu/device.js';
import { uploadSource, uploadTensors, type UploadReport } from '../gpu/loader.js';
import { packWeights, type ForcedKernel, type PackedWeights } from '../gpu/matmul.js';
import type { GgufFile } from '../gguf/file.js';
import type { GgufTensorInfo } from '../gguf/types.js';
import { f32ArrayToF16, nmse, referenceMatmul } from '../quant/index.js';
import { randomNormal, seededRandom } from '../quant/random.js';
import type { TensorSource } from '../tensor-source.js';
import { cpuRows } from '../verify.js';
import { timing, type Timing } from './stats.js';

export type CacheMode = 'cold' | 'warm';

export interface GpuBenchOptions {
  batches: number[];
  cache: CacheMode;
  /** Rows of W used for the NMSE check (a subset keeps the float64 reference cheap). */
  nmseRows?: number;
  /** Whether to time the dense and unfused cuBLAS baselines. */
  baselines?: boolean;
  /** A kernel forced in place of the dispatch table's pick. */
  kernel?: ForcedKernel;
  onStep?: (label: string) => void;
}

export interface BenchRow {
  type: string;
  tensor: string;
  batch: number;
  /** [rows, rowLength] = [ne1, ne0]. */
  shape: [number, number];
  bytes: number;
  us: number;
  spread: { min: number; max: number };
  gbps: number;
  /** floor / time: 1.0 means as fast as a pure 16-byte-load read of the same bytes. */
  fraction: number;
  floorUs: number;
  tflops: number;
  kernel: string;
  nmse: number | null;
  baselines: { cublasF16Us: number | null; unfusedUs: number | null };
}

export interface Peaks {
  copyGBps: number;
  uploadGBps: number;
  dequant: { type: string; dtype: 'f16' | 'f32'; us: number; gbps: number; fractionOfCopy: number }[];
  blas: { dtype: 'bf16' | 'f16'; batch: number; us: number; tflops: number }[];
}

const ITER = {
  small: { warmup: 20, launches: 20, samples: 21 },
  large: { warmup: 3, launches: 5, samples: 11 },
};

function iters(estimatedUs: number) {
  return estimatedUs > 200 ? ITER.large : ITER.small;
}

/** Buffers to rotate over so the L2 holds none of them when cold (3x the L2 in total). */
function rotationCount(gpu: Gpu, bytes: number, cache: CacheMode): number {
  if (cache === 'warm') return 1;
  // Capped: a tiny matrix cannot be made L2-cold by rotation without absurd numbers of copies.
  return Math.min(256, Math.max(2, Math.ceil((3 * gpu.info.l2Bytes) / Math.max(1, bytes))));
}

function ptrs(bufs: readonly DeviceBuffer[]): BigUint64Array {
  return new BigUint64Array(bufs.map((b) => b.ptr));
}

function benchRead(gpu: Gpu, bufs: readonly DeviceBuffer[], bytes: number): Timing {
  const it = ITER.small;
  const out = new Float32Array(it.samples);
  gpu.check(gpu.lib.gg_bench_read(ptrs(bufs), bufs.length, bytes, it.warmup, it.launches, it.samples, out), 'timing the streaming floor');
  return timing(out);
}

export function measurePeaks(gpu: Gpu, onStep: (s: string) => void = () => {}): Omit<Peaks, 'dequant' | 'blas'> {
  onStep('device copy bandwidth');
  const bytes = 1 << 30;
  const scope = new DeviceScope(gpu);
  let copyGBps: number;
  try {
    const a = scope.alloc(bytes);
    const b = scope.alloc(bytes);
    gpu.check(gpu.lib.gg_memset(a.ptr, 0x3c, bytes), 'filling');
    const out = new Float32Array(11);
    gpu.check(gpu.lib.gg_bench_copy(b.ptr, a.ptr, bytes, 2, 3, out.length, out), 'timing device copies');
    copyGBps = (2 * bytes) / timing(out).us / 1e3;
  } finally {
    scope.dispose();
  }
  onStep('upload bandwidth');
  const up = new Float64Array(1);
  gpu.check(gpu.lib.gg_bench_upload(256 << 20, 5, up), 'timing uploads');
  return { copyGBps, uploadGBps: up[0]! / 1e9 };
}

/** Random bf16 or f16 bits (standard normal scaled like real weights), on the host. */
function randomHalfBits(n: number, dtype: 'bf16' | 'f16', seed: number): Uint16Array {
  const f = randomNormal(seededRandom(seed), n, 0.02);
  if (dtype === 'f16') return f32ArrayToF16(f);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = u[i]!;
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // round to nearest even
  }
  return out;
}

function benchBlas(gpu: Gpu, dtype: 'bf16' | 'f16', ws: readonly DeviceBuffer[], x: DeviceBuffer, y: DeviceBuffer, rows: number, rowLength: number, batch: number): Timing | null {
  const it = iters((2 * rows * rowLength * batch) / 3e8);
  const out = new Float32Array(it.samples);
  const status = gpu.lib.gg_bench_blas(DTYPE[dtype], ptrs(ws), ws.length, x.ptr, y.ptr, rows, rowLength, batch, it.warmup, it.launches, it.samples, out);
  if (status === Status.unsupported) return null; // no cuBLAS / hipBLAS library found at run time
  gpu.check(status, `timing the dense ${dtype} GEMM (${gpu.info.isHip ? 'hipBLAS' : 'cuBLAS'})`);
  return timing(out);
}

/** Everything needed to time one weight matrix: packed copies for rotation, activations, output. */
interface Prepared {
  source: TensorSource;
  raw: DeviceBuffer;
  packed: PackedWeights[];
  x: DeviceBuffer;
  y: DeviceBuffer;
  dispose(): void;
}

function prepare(gpu: Gpu, t: TensorSource, cache: CacheMode, maxBatch: number): Prepared {
  const owned: { dispose(): void }[] = [];
  try {
    const raw = uploadSource(gpu, t);
    owned.push(raw);
    const packed: PackedWeights[] = [];
    const copies = rotationCount(gpu, t.nbytes, cache);
    for (let i = 0; i < copies; i++) {
      const p = packWeights(gpu, raw, t.typeId, t.rows, t.rowLength);
      owned.push(p);
      packed.push(p);
    }
    const x = gpu.alloc(maxBatch * t.rowLength * 4, 'allocating activations');
    owned.push(x);
    const xs = randomNormal(seededRandom(99), maxBatch * t.rowLength);
    gpu.upload(x, new Uint8Array(xs.buffer));
    const y = gpu.alloc(maxBatch * t.rows * 4, 'allocating the output');
    owned.push(y);
    return { source: t, raw, packed, x, y, dispose: () => owned.reverse().forEach((o) => o.dispose()) };
  } catch (error) {
    owned.reverse().forEach((o) => o.dispose());
    throw error;
  }
}

function timeMatmul(gpu: Gpu, p: Prepared, batch: number, kernel: number): Timing {
  const t = p.source;
  const it = iters((t.nbytes / 2.5e6) * Math.max(1, batch / 64));
  const out = new Float32Array(it.samples);
  gpu.check(
    gpu.lib.gg_bench_matmul(t.typeId, ptrs(p.packed.map((w) => w.buffer)), p.packed.length, p.x.ptr, p.y.ptr, t.rows, t.rowLength, batch, kernel, it.warmup, it.launches, it.samples, out),
    `timing ${t.typeName} matmul at batch ${batch}`,
  );
  return timing(out);
}

/** NMSE of the GPU output on the first `rows` rows against the float64 reference. */
function checkNmse(gpu: Gpu, p: Prepared, batch: number, rows: number, kernel: number): number {
  const t = p.source;
  const n = Math.min(rows, t.rows);
  gpu.memsetPoison(p.y);
  gpu.matmul(t.typeId, p.packed[0]!.buffer, p.x, p.y, t.rows, t.rowLength, batch, kernel);
  const y = new Float32Array(batch * t.rows);
  gpu.download(p.y, new Uint8Array(y.buffer));
  const x = new Float32Array(batch * t.rowLength);
  gpu.download(p.x, new Uint8Array(x.buffer));
  const ref = referenceMatmul(cpuRows(t, 0, n), n, t.rowLength, x, batch);
  const got = new Float32Array(batch * n);
  for (let j = 0; j < batch; j++) got.set(y.subarray(j * t.rows, j * t.rows + n), j * n);
  return nmse(got, ref);
}

/** Dequantization time per output dtype, L2-cold: launches rotate over copies of the raw blocks. */
function benchDequant(gpu: Gpu, p: Prepared, copyGBps: number): Peaks['dequant'] {
  const t = p.source;
  const out: Peaks['dequant'] = [];
  const extra: DeviceBuffer[] = [];
  try {
    const host = t.read(0, t.nbytes);
    for (let i = 1; i < rotationCount(gpu, t.nbytes, 'cold'); i++) {
      extra.push(gpu.alloc(t.nbytes, `allocating a copy of ${t.name}`));
      gpu.upload(extra[extra.length - 1]!, host);
    }
    for (const dtype of ['f16', 'f32'] as const) out.push(timeDequant(gpu, t, [p.raw, ...extra], dtype, copyGBps));
  } finally {
    for (const b of extra) b.dispose();
  }
  return out;
}

function timeDequant(gpu: Gpu, t: TensorSource, srcs: DeviceBuffer[], dtype: 'f16' | 'f32', copyGBps: number): Peaks['dequant'][number] {
  const outBytes = t.rows * t.rowLength * (dtype === 'f16' ? 2 : 4);
  const dst = gpu.alloc(outBytes, 'allocating dequantization output');
  try {
    const it = iters(outBytes / 2.5e6);
    const s = new Float32Array(it.samples);
    gpu.check(gpu.lib.gg_bench_dequantize(t.typeId, ptrs(srcs), srcs.length, dst.ptr, t.rows, t.rowLength, DTYPE[dtype], it.warmup, it.launches, it.samples, s), 'timing dequantization');
    const us = timing(s).us;
    const gbps = (t.nbytes + outBytes) / us / 1e3;
    return { type: t.typeName, dtype, us, gbps, fractionOfCopy: gbps / copyGBps };
  } finally {
    dst.dispose();
  }
}

/** Dense and unfused baselines for a shape: W in f16 (from the real dequantized weights) and bf16. */
class Baselines {
  private wF16: DeviceBuffer[] = [];
  private xHalf!: DeviceBuffer; // set by prepare(), which the constructor runs
  private yOut!: DeviceBuffer;
  private dequantF16Us: number | null = null;

  constructor(
    private readonly gpu: Gpu,
    private readonly p: Prepared,
    maxBatch: number,
  ) {
    try {
      this.prepare(maxBatch);
    } catch (error) {
      this.dispose(); // a constructor that throws returns nothing its caller could dispose
      throw error;
    }
  }

  private prepare(maxBatch: number): void {
    const { gpu, p } = this;
    const t = p.source;
    const bytes = t.rows * t.rowLength * 2;
    for (let i = 0; i < Math.max(1, rotationCount(gpu, bytes, 'cold')); i++) {
      const w = gpu.alloc(bytes, 'allocating f16 weights for the cuBLAS baseline');
      this.wF16.push(w);
      gpu.dequantize(t.typeId, p.raw, w, t.rows, t.rowLength, 'f16');
    }
    this.xHalf = gpu.alloc(maxBatch * t.rowLength * 2, 'allocating f16 activations');
    gpu.upload(this.xHalf, new Uint8Array(randomHalfBits(maxBatch * t.rowLength, 'f16', 5).buffer));
    this.yOut = gpu.alloc(maxBatch * t.rows * 4, 'allocating the baseline output'); // cuBLAS writes f32
    const it = iters(bytes / 2.5e6);
    const s = new Float32Array(it.samples);
    gpu.check(gpu.lib.gg_bench_dequantize(t.typeId, ptrs([p.raw]), 1, this.wF16[0]!.ptr, t.rows, t.rowLength, DTYPE.f16, it.warmup, it.launches, it.samples, s), 'timing dequantization');
    this.dequantF16Us = timing(s).us;
  }

  at(batch: number): BenchRow['baselines'] {
    const t = this.p.source;
    const dense = benchBlas(this.gpu, 'f16', this.wF16, this.xHalf, this.yOut, t.rows, t.rowLength, batch);
    return {
      cublasF16Us: dense?.us ?? null,
      unfusedUs: dense && this.dequantF16Us !== null ? dense.us + this.dequantF16Us : null,
    };
  }

  dispose(): void {
    for (const w of this.wF16) w.dispose();
    this.xHalf?.dispose(); // unset when prepare() failed before them
    this.yOut?.dispose();
  }
}

/** Times one weight matrix at every batch size. */
export function benchTensor(gpu: Gpu, t: TensorSource, options: GpuBenchOptions, copyGBps: number): { rows: BenchRow[]; dequant: Peaks['dequant'] } {
  const maxBatch = Math.max(...options.batches);
  const step = options.onStep ?? (() => {});
  const kernel = options.kernel?.index ?? -1;
  const p = prepare(gpu, t, options.cache, maxBatch);
  try {
    step(`${t.name}: streaming floor`);
    const floor = benchRead(gpu, p.packed.map((w) => w.buffer), p.packed[0]!.buffer.bytes);
    const baselines = options.baselines ? new Baselines(gpu, p, maxBatch) : undefined;
    try {
      const rows: BenchRow[] = [];
      for (const batch of options.batches) {
        step(`${t.name}: batch ${batch}`);
        const tm = timeMatmul(gpu, p, batch, kernel);
        const bytes = p.packed[0]!.buffer.bytes;
        rows.push({
          type: t.typeName,
          tensor: t.name,
          batch,
          shape: [t.rows, t.rowLength],
          bytes,
          us: tm.us,
          spread: { min: tm.min, max: tm.max },
          gbps: bytes / tm.us / 1e3,
          fraction: floor.us / tm.us,
          floorUs: floor.us,
          tflops: (2 * t.rows * t.rowLength * batch) / tm.us / 1e6,
          kernel: options.kernel?.name ?? gpu.matmulKernelName(t.typeId, t.rows, t.rowLength, batch),
          nmse: options.nmseRows ? checkNmse(gpu, p, batch, batch >= 256 ? Math.min(options.nmseRows, 64) : options.nmseRows, kernel) : null,
          baselines: baselines?.at(batch) ?? { cublasF16Us: null, unfusedUs: null },
        });
      }
      const dequant = options.baselines ? benchDequant(gpu, p, copyGBps) : [];
      return { rows, dequant };
    } finally {
      baselines?.dispose();
    }
  } finally {
    p.dispose();
  }
}

/** Dense bf16 and f16 cuBLAS throughput at a shape (the prefill ceiling), with random data. */
export function benchDenseBlas(gpu: Gpu, rows: number, rowLength: number, batches: number[]): Peaks['blas'] {
  const out: Peaks['blas'] = [];
  if (batches.length === 0) return out; // e.g. bench --batch 1: no batch worth a dense GEMM
  const n = rows * rowLength;
  const maxBatch = Math.max(...batches);
  for (const dtype of ['bf16', 'f16'] as const) {
    const copies = rotationCount(gpu, n * 2, 'cold');
    const host = randomHalfBits(n, dtype, 11);
    const ws: DeviceBuffer[] = [];
    const scope = new DeviceScope(gpu);
    try {
      const x = scope.alloc(maxBatch * rowLength * 2);
      const y = scope.alloc(maxBatch * rows * 4); // cuBLAS writes f32
      for (let i = 0; i < copies; i++) {
        const w = scope.alloc(n * 2, `allocating ${dtype} weights`);
        ws.push(w);
        gpu.upload(w, new Uint8Array(host.buffer));
      }
      gpu.upload(x, new Uint8Array(randomHalfBits(maxBatch * rowLength, dtype, 12).buffer));
      for (const batch of batches) {
        const tm = benchBlas(gpu, dtype, ws, x, y, rows, rowLength, batch);
        if (tm) out.push({ dtype, batch, us: tm.us, tflops: (2 * n * batch) / tm.us / 1e6 });
      }
    } finally {
      scope.dispose();
    }
  }
  return out;
}


export interface FileUploadResult {
  /** Raw quantized bytes that went from the file to the GPU. */
  bytes: number;
  /** What the same weights would take as f32. */
  f32Bytes: number;
  /** The loader's time: one device allocation and the upload of the file ranges (after a warm-up upload). */
  seconds: number;
  /** Of which the device allocation. */
  allocSeconds: number;
  /** The copy's bandwidth: bytes over the time after the allocation. */
  gbps: number;
  /** gbps against the pinned host -> device bandwidth measured in the same run. */
  fractionOfPinned: number;
}

/** Timed loader uploads per measurement; the median is reported. */
const UPLOAD_REPEATS = 5;

/**
 * Times the loader: the given tensors, file -> GPU as raw blocks (VRAM checked first), then freed.
 * One untimed upload of all of them goes first, so one-time costs (the pinned staging buffers, the
 * copy stream and its events, the fill threads, the first read of a file just written: 22-25 ms
 * against 4 ms for the bench's 177 MB on the H100 host) stay out of the timing. Each timed region
 * is the loader's own work: one device allocation (cudaMalloc) for all the tensors, timed apart,
 * and the upload of their file ranges (each upload call returns once its copies are done); the run
 * with the median total of UPLOAD_REPEATS.
 */
export function measureFileUpload(gpu: Gpu, file: GgufFile, tensors: readonly GgufTensorInfo[], pinnedGBps: number, progress: (bytes: number) => void = () => {}): FileUploadResult {
  const reports: UploadReport[] = [];
  for (let i = -1; i < UPLOAD_REPEATS; i++) { // i = -1: the untimed warm-up, which shows progress
    const report = uploadTensors(gpu, file, tensors, i < 0 ? progress : () => {});
    try {
      gpu.synchronize();
    } finally {
      report.arena.dispose();
    }
    if (i >= 0) reports.push(report);
  }
  const median = reports.sort((a, b) => a.seconds - b.seconds)[reports.length >> 1]!;
  const gbps = median.uploadedBytes / (median.seconds - median.allocSeconds) / 1e9;
  return { bytes: median.uploadedBytes, f32Bytes: median.f32Bytes, seconds: median.seconds, allocSeconds: median.allocSeconds, gbps, fractionOfPinned: gbps / pinnedGBps };
}
