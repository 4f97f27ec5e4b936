// Takes tensors from a GGUF file to the GPU as their raw quantized blocks: no CPU dequantization.
import { GpuOutOfMemoryError, InputError } from '../errors.js';
import type { GgufFile } from '../gguf/file.js';
import { describeType } from '../gguf/parse.js';
import type { GgufTensorInfo } from '../gguf/types.js';
import { isSupportedType } from '../quant/index.js';
import { formatBytes } from '../cli/format.js';
import type { DeviceBuffer, Gpu } from './device.js';

/** Bytes per native upload call: big enough to stream at full speed, small enough for progress. */
const UPLOAD_STEP = 256 << 20;
/** Room left on the device for kernels' scratch and the runtime. */
const VRAM_HEADROOM = 256 << 20;

export interface DeviceTensor {
  readonly tensor: GgufTensorInfo;
  /** The raw ggml blocks, byte for byte as in the file. */
  readonly buffer: DeviceBuffer;
}

export interface UploadReport {
  tensors: DeviceTensor[];
  /** Bytes that went to the GPU (the quantized size). */
  uploadedBytes: number;
  /** What the same weights would take as f32. */
  f32Bytes: number;
  seconds: number;
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

/** Uploads one tensor's raw blocks, reporting bytes as they go. */
export function uploadTensor(gpu: Gpu, file: GgufFile, tensor: GgufTensorInfo, progress: (bytes: number) => void = () => {}): DeviceTensor {
  if (!file.header.littleEndian) throw new InputError(file.path, 'big-endian tensor data cannot be used on the GPU', tensor.name);
  if (!isSupportedType(tensor.typeId)) throw new InputError(file.path, `type ${describeType(tensor)} is not supported on the GPU`, tensor.name);
  const nbytes = file.requireSize(tensor);
  const buffer = gpu.alloc(nbytes, `allocating ${formatBytes(nbytes)} for tensor ${tensor.name}`);
  try {
    for (let done = 0; done < nbytes; done += UPLOAD_STEP) {
      const n = Math.min(UPLOAD_STEP, nbytes - done);
      gpu.uploadFile(buffer, file.source.fd, tensor.offset + done, n, done);
      progress(n);
    }
  } catch (error) {
    buffer.dispose();
    throw error;
  }
  return { tensor, buffer };
}

/** Uploads many tensors (a whole file), after checking they fit. Unsupported types are refused up front. */
export function uploadTensors(gpu: Gpu, file: GgufFile, tensors: readonly GgufTensorInfo[], progress: (bytes: number) => void = () => {}): UploadReport {
  const total = tensors.reduce((s, t) => s + file.requireSize(t), 0);
  checkVram(gpu, total, `uploading ${tensors.length} tensors`);
  const started = performance.now();
  const uploaded: DeviceTensor[] = [];
  try {
    for (const t of tensors) uploaded.push(uploadTensor(gpu, file, t, progress));
  } catch (error) {
    for (const u of uploaded) u.buffer.dispose();
    throw error;
  }
  return {
    tensors: uploaded,
    uploadedBytes: total,
    f32Bytes: tensors.reduce((s, t) => s + 4 * t.elements, 0),
    seconds: (performance.now() - started) / 1000,
  };
}
