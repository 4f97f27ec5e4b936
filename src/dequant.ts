// Dequantization of whole tensors, streamed in chunks so that any tensor size works with bounded
// memory. The backend decides where the arithmetic happens; the caller gets raw output bytes.
import { InputError } from './errors.js';
import type { GgufFile } from './gguf/file.js';
import { ggmlTypeById } from './gguf/ggml-types.js';
import type { GgufTensorInfo } from './gguf/types.js';
import type { NpyDtype } from './npy.js';
import { DecodePool } from './quant/decode-pool.js';
import { decoderFor, f32ArrayToF16, isSupportedType, type TypeDecoder } from './quant/index.js';

export interface DequantBackend {
  readonly name: 'cpu' | 'gpu';
  /**
   * Dequantizes one tensor, handing the output (f32 or f16 little-endian bytes, in row order) to
   * `sink` in order, and reporting raw bytes consumed to `progress`.
   */
  dequantizeTensor(
    file: GgufFile,
    tensor: GgufTensorInfo,
    dtype: NpyDtype,
    sink: (chunk: Uint8Array) => void,
    progress: (rawBytes: number) => void,
  ): Promise<void>;
  dispose(): void;
}

/** Raw bytes per CPU chunk: large enough to amortise reads, small enough to stay cache-friendly. */
const CPU_CHUNK_BYTES = 8 << 20;

/** Why a tensor's blocks cannot be decoded, on the CPU or on the GPU (which takes the same types);
 * undefined when they can. */
export function undecodableReason(typeId: number, littleEndian: boolean): string | undefined {
  if (!littleEndian) return 'big-endian tensor data cannot be decoded (only its header can be read)';
  if (isSupportedType(typeId)) return undefined;
  const info = ggmlTypeById(typeId);
  return info ? `type ${info.name} is not supported` : `unknown type id ${typeId}`;
}

/** The decoder for a tensor, or an InputError that names the tensor and the reason. */
export function requireDecoder(file: GgufFile, tensor: GgufTensorInfo): TypeDecoder {
  const reason = undecodableReason(tensor.typeId, file.header.littleEndian);
  if (reason) throw new InputError(file.path, reason, tensor.name);
  return decoderFor(tensor.typeId)!;
}

/** Rows of a tensor: everything past ne0 flattened. */
export function tensorRows(tensor: GgufTensorInfo): { rows: number; rowLength: number } {
  const rowLength = tensor.shape[0] ?? 1;
  return { rowLength, rows: rowLength === 0 ? 0 : tensor.elements / rowLength };
}

/**
 * Lets the event loop run between chunks: signal handlers (Ctrl-C must leave no partial files) and
 * the progress bar's redraw timer only run when the loop turns.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const GGML_TYPE_F32 = 0;

/** Tensors larger than this are decoded on worker threads, one per core. */
const PARALLEL_THRESHOLD_BYTES = 32 << 20;

/**
 * CPU dequantization: chunks of blocks decoded in order (a tensor's blocks are contiguous and row
 * after row, so the output is in row order even when a chunk ends inside a row, and a single row of
 * gigabytes costs no more memory than small ones); large tensors spread over a pool of worker threads
 * with several chunks in flight, still written in order.
 */
export function createCpuBackend(): DequantBackend {
  let pool: DecodePool | undefined;
  return {
    name: 'cpu',
    async dequantizeTensor(file, tensor, dtype, sink, progress) {
      const { info, decode } = requireDecoder(file, tensor);
      const nbytes = file.requireSize(tensor);
      const chunkBytes = Math.max(1, Math.floor(CPU_CHUNK_BYTES / info.typeSize)) * info.typeSize;
      const toBytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      const weightsIn = (rawBytes: number) => (rawBytes / info.typeSize) * info.blockSize;
      // F32 "decodes" by copying: posting chunks to workers costs more than it saves (bench --backend cpu
      // on 2 cores: 1971 M weights/s on the main thread, 970 through the pool)
      if (nbytes > PARALLEL_THRESHOLD_BYTES && tensor.typeId !== GGML_TYPE_F32) {
        pool ??= new DecodePool();
        const inFlight: { rawBytes: number; result: Promise<Float32Array | Uint16Array> }[] = [];
        const drain = async () => {
          const head = inFlight.shift()!;
          sink(toBytes(await head.result));
          progress(head.rawBytes);
        };
        for (let at = 0; at < nbytes; at += chunkBytes) {
          const n = Math.min(chunkBytes, nbytes - at);
          const raw = file.readTensorBytes(tensor, at, n);
          inFlight.push({ rawBytes: n, result: pool.decode(tensor.typeId, raw, weightsIn(n), dtype === 'f16') });
          if (inFlight.length >= 2 * pool.size) await drain();
        }
        while (inFlight.length) await drain();
        return;
      }
      const floats = new Float32Array(weightsIn(Math.min(chunkBytes, nbytes)));
      const halves = dtype === 'f16' ? new Uint16Array(floats.length) : undefined;
      for (let at = 0; at < nbytes; at += chunkBytes) {
        const n = Math.min(chunkBytes, nbytes - at);
        const raw = file.readTensorBytes(tensor, at, n);
        const out = floats.subarray(0, weightsIn(n));
        decode(raw, out, n / info.typeSize);
        sink(toBytes(halves ? f32ArrayToF16(out, halves.subarray(0, out.length)) : out));
        progress(n);
        await yieldToEventLoop();
      }
    },
    dispose() {
      void pool?.close();
    },
  };
}
