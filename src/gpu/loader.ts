// Takes tensors from a GGUF file to the GPU as their raw quantized blocks: no CPU dequantization.
import { fstatSync } from 'node:fs';
import { GpuError, GpuOutOfMemoryError, InputError } from '../errors.js';
import type { GgufFile } from '../gguf/file.js';
import type { GgufTensorInfo } from '../gguf/types.js';
import type { TensorSource } from '../tensor-source.js';
import { requireDecoder } from '../dequant.js';
import { formatBytes } from '../bytes.js';
import { disposeOnThrow, type DeviceBuffer, type Gpu } from './device.js';

/**
 * Bytes per native upload call: each call ends by draining its pipeline (~0.2 ms on the H100
 * host, 4% of a 256 MiB call at 45 GB/s, 1% of 1 GiB), and 1 GiB still updates progress every
 * ~25 ms.
 */
const UPLOAD_STEP = 1 << 30;
/** Neighbouring tensors whose data lies at most this far apart in the file are read as one range. */
const MERGE_GAP = 64 << 10;
/** Room left on the device for kernels' scratch and the runtime. */
const VRAM_HEADROOM = 256 << 20;

export interface DeviceTensor {
  readonly tensor: GgufTensorInfo;
  /** The raw ggml blocks, byte for byte as in the file. */
  readonly buffer: DeviceBuffer;
}

/** Where a tensor's raw blocks sit in an upload's arena. */
export interface ArenaTensor {
  readonly tensor: GgufTensorInfo;
  /** Byte offset in the arena. */
  readonly offset: number;
}

export interface UploadReport {
  /**
   * One device allocation holding every tensor: tensors that are neighbours in the file are copied
   * as one range, the file's alignment padding between them included. dispose() frees them all.
   */
  arena: DeviceBuffer;
  tensors: ArenaTensor[];
  /** Bytes of the tensors that went to the GPU (the quantized size, padding not counted). */
  uploadedBytes: number;
  /** What the same weights would take as f32. */
  f32Bytes: number;
  /** Wall time of the whole upload, the allocation included. */
  seconds: number;
  /** Of which the device allocation (cudaMalloc of the arena). */
  allocSeconds: number;
}

/** Fails before anything is allocated when the device cannot hold `bytes` more. */
export function checkVram(gpu: Gpu, bytes: number, what: string): void {
  const { free } = gpu.memInfo();
  if (bytes + VRAM_HEADROOM > free) {
    throw new GpuOutOfMemoryError(
      `${what} needs ${formatBytes(bytes)} of GPU memory, but only ${formatBytes(free)} is free on ${gpu.info.name}`,
      bytes,
      free,
    );
  }
}

/** Copies file bytes [fileOffset, + bytes) to dst at dstOffset, in steps that report progress. */
function uploadRange(gpu: Gpu, file: GgufFile, dst: DeviceBuffer, fileOffset: number, bytes: number, dstOffset: number, progress: (bytes: number) => void): void {
  for (let done = 0; done < bytes; done += UPLOAD_STEP) {
    const n = Math.min(UPLOAD_STEP, bytes - done);
    uploadFileBytes(gpu, file.path, file.source.fd, dst, fileOffset + done, n, dstOffset + done);
    progress(n);
  }
}

/** gpu.uploadFile, where a read that fails because the file shrank since it was opened is the file's
 * fault: an InputError naming it. */
function uploadFileBytes(gpu: Gpu, path: string, fd: number, dst: DeviceBuffer, fileOffset: number, n: number, dstOffset: number): void {
  try {
    gpu.uploadFile(dst, fd, fileOffset, n, dstOffset);
  } catch (error) {
    let size = Infinity;
    try {
      size = fstatSync(fd).size;
    } catch {} // the GPU's error is the one to report then
    if (error instanceof GpuError && size < fileOffset + n) {
      throw new InputError(path, `the file shrank to ${size} bytes while it was read (bytes [${fileOffset}, ${fileOffset + n}) were wanted)`);
    }
    throw error;
  }
}

/** Uploads one tensor's raw blocks, reporting bytes as they go. */
export function uploadTensor(gpu: Gpu, file: GgufFile, tensor: GgufTensorInfo, progress: (bytes: number) => void = () => {}): DeviceTensor {
  requireDecoder(file, tensor); // the GPU kernels take the types the CPU decodes
  const nbytes = file.requireSize(tensor);
  const buffer = disposeOnThrow(gpu.alloc(nbytes, `allocating ${formatBytes(nbytes)} for tensor ${tensor.name}`), (b) =>
    uploadRange(gpu, file, b, tensor.offset, nbytes, 0, progress),
  );
  return { tensor, buffer };
}

/** A stretch of the file read in one go, and where it lands in the arena. */
interface Range {
  fileOffset: number;
  bytes: number;
  arenaOffset: number;
}

/** Where each range starts in the arena: enough for any kernel's loads (the file keeps tensors
 * aligned within a range). */
const RANGE_ALIGN = 256;

/**
 * Groups tensors into file ranges: sorted by offset, a tensor joins the previous range when its
 * data starts at most MERGE_GAP bytes after that range ends (a real file's data section is one
 * range). Ranges are laid out back to back in the arena, each starting RANGE_ALIGN-aligned.
 * Returns the ranges, each tensor's arena offset (in the caller's order, repeats included) and the
 * arena's size.
 */
export function planArena(file: GgufFile, tensors: readonly GgufTensorInfo[]): { ranges: Range[]; placed: ArenaTensor[]; bytes: number } {
  const order = tensors.map((tensor, i) => ({ tensor, i })).sort((a, b) => a.tensor.offset - b.tensor.offset);
  const ranges: Range[] = [];
  const placed: ArenaTensor[] = new Array(tensors.length);
  let arena = 0;
  for (const { tensor: t, i } of order) {
    const size = file.requireSize(t);
    const last = ranges.at(-1);
    const gap = last ? t.offset - (last.fileOffset + last.bytes) : -1;
    if (last && gap >= 0 && gap <= MERGE_GAP) {
      placed[i] = { tensor: t, offset: last.arenaOffset + (t.offset - last.fileOffset) };
      last.bytes += gap + size;
      arena = last.arenaOffset + last.bytes;
    } else {
      const start = Math.ceil(arena / RANGE_ALIGN) * RANGE_ALIGN;
      ranges.push({ fileOffset: t.offset, bytes: size, arenaOffset: start });
      placed[i] = { tensor: t, offset: start };
      arena = start + size;
    }
  }
  return { ranges, placed, bytes: arena };
}

/**
 * Uploads many tensors (a whole file) into one device allocation, after checking it fits:
 * unsupported types are refused up front, neighbouring tensors are read as one range, so the
 * pipelined file -> GPU copy runs over long stretches instead of restarting per tensor.
 * `progress` gets the file bytes moved, the padding between neighbours included.
 */
export function uploadTensors(gpu: Gpu, file: GgufFile, tensors: readonly GgufTensorInfo[], progress: (bytes: number) => void = () => {}): UploadReport {
  for (const t of tensors) requireDecoder(file, t); // before any allocation
  // first on the plain sum (cheap, before planning a model that cannot fit), then on the arena
  const tensorBytes = tensors.reduce((sum, t) => sum + file.requireSize(t), 0);
  checkVram(gpu, tensorBytes, `uploading ${tensors.length} tensors`);
  const { ranges, placed, bytes } = planArena(file, tensors);
  checkVram(gpu, bytes, `uploading ${tensors.length} tensors`);
  const started = performance.now();
  const arena = gpu.alloc(bytes, `allocating ${formatBytes(bytes)} for ${tensors.length} tensors`);
  const allocated = performance.now();
  disposeOnThrow(arena, () => {
    for (const r of ranges) uploadRange(gpu, file, arena, r.fileOffset, r.bytes, r.arenaOffset, progress);
  });
  return {
    arena,
    tensors: placed,
    uploadedBytes: tensorBytes,
    f32Bytes: tensors.reduce((s, t) => s + 4 * t.elements, 0),
    seconds: (performance.now() - started) / 1000,
    allocSeconds: (allocated - started) / 1000,
  };
}

/** A tensor's raw blocks in a fresh device buffer: read from its file by position (the fast path), or
 * from memory for a generated tensor. */
export function uploadSource(gpu: Gpu, t: TensorSource): DeviceBuffer {
  if (t.missing) throw new InputError(t.file?.path, t.missing, t.name);
  return disposeOnThrow(gpu.alloc(t.nbytes, `allocating ${t.name}`), (buf) => {
    if (t.file) uploadFileBytes(gpu, t.file.path, t.file.fd, buf, t.file.offset, t.nbytes, 0);
    else gpu.upload(buf, t.read(0, t.nbytes));
  });
}
