// verify: the GPU against the CPU reference (dequantization bit for bit, matmul by NMSE against a
// float64 reference), or the CPU reference against itself and shipped known answers.
import { undecodableReason } from './dequant.js';
import type { DeviceBuffer, Gpu } from './gpu/device.js';
import { decoderFor, referenceMatmul } from './quant/index.js';
import { randomNormal, seededRandom } from './quant/random.js';
import type { TensorSource } from './tensor-source.js';

/** The matmul accuracy bar: llama.cpp accepts 5e-4; we do not. */
export const NMSE_BAR = 1e-6;
/** Weights decoded per verification chunk (whole rows): bounds host memory for huge tensors. */
const CHUNK_WEIGHTS = 1 << 24;

export interface DequantCheck {
  elements: number;
  mismatches: number;
  /** Largest distance in units in the last place between GPU and CPU values (0 when exact). */
  maxUlp: number;
  firstMismatch?: number;
}

export interface MatmulCheck {
  batch: number;
  nmse: number;
  kernel: string;
  pass: boolean;
}

export interface TensorVerdict {
  tensor: string;
  type: string;
  shape: number[];
  skipped?: string;
  dequant?: DequantCheck;
  matmul?: MatmulCheck[];
  /** CPU self-checks: decoders agree with themselves when split differently, and f16 output agrees. */
  selfCheck?: DequantCheck;
  /** One of ggml's known answers built into the tool, not a tensor of the file or suite. */
  builtin?: true;
  pass: boolean;
}

/** Total order of float bits, so |a - b| counts the representable floats between two values. */
function orderedBits(u: number): number {
  return u & 0x80000000 ? 0x80000000 - (u & 0x7fffffff) : 0x80000000 + u;
}

const isNaNBits = (u: number) => (u & 0x7fffffff) > 0x7f800000;

/**
 * Bit-for-bit comparison, except that any NaN matches any NaN: a NaN's payload is not portable (the
 * GPU returns its own canonical NaN where x86 keeps an operand's), and only NaN scales in a corrupt
 * block make one.
 */
export function compareF32(got: Float32Array, want: Float32Array, into: DequantCheck, base: number): void {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(isNaNBits(a[i]!) && isNaNBits(b[i]!))) {
      into.mismatches++;
      into.firstMismatch ??= base + i;
      const d = Math.abs(orderedBits(a[i]!) - orderedBits(b[i]!));
      if (d > into.maxUlp) into.maxUlp = d;
    }
  }
  into.elements += a.length;
}

function rowsPerChunk(t: TensorSource): number {
  return Math.max(1, Math.floor(CHUNK_WEIGHTS / Math.max(1, t.rowLength)));
}

/** What the host memory of the products of one tensor (x, y and their references) may take. */
export const MAX_PRODUCT_BYTES = 4 * 2 ** 30;

/** Host bytes of the products of `t` with each of `batches` columns: x and y (f32) for each and, with
 * `reference`, what referenceOutputs and gpuDequantCheck hold at once: each y in float64 and its float64
 * partial products for one chunk of rows, and once: that chunk raw (at most 4 bytes a weight), decoded and
 * as the GPU gave it (f32), and the float64 copy of the widest x. */
export function productBytes(t: TensorSource, batches: readonly number[], reference = true): number {
  const chunkRows = Math.min(rowsPerChunk(t), t.rows);
  let bytes = 0;
  for (const b of batches) bytes += b * (t.rows + t.rowLength) * 4 + (reference ? b * t.rows * 8 + chunkRows * b * 8 : 0);
  return reference ? bytes + chunkRows * t.rowLength * 12 + Math.max(0, ...batches) * t.rowLength * 8 : bytes;
}

/** Bytes of one row of the tensor's blocks (a row is whole blocks). */
function rowBytes(t: TensorSource): number {
  return t.nbytes / t.rows;
}

/** The raw blocks of rows [row, row + n). */
function rawRows(t: TensorSource, row: number, n: number): Uint8Array {
  return t.read(row * rowBytes(t), n * rowBytes(t));
}

/** Decodes `raw`, the blocks of `n` whole rows, on the CPU. */
function decodeRows(t: TensorSource, raw: Uint8Array, n: number): Float32Array {
  const { info, decode } = decoderFor(t.typeId)!;
  const out = new Float32Array(n * t.rowLength);
  decode(raw, out, out.length / info.blockSize);
  return out;
}

/** Decodes rows [row, row + n) on the CPU. */
export function cpuRows(t: TensorSource, row: number, n: number): Float32Array {
  return decodeRows(t, rawRows(t, row, n), n);
}

/** Seeded activations for matmul checks: standard normal, [batch][rowLength]. */
export function activations(rowLength: number, batch: number, seed: number): Float32Array {
  return randomNormal(seededRandom(seed), rowLength * batch);
}

export interface MatmulInput {
  x: Float32Array;
  batch: number;
}

/** Decodes the tensor on the CPU in chunks of rows (bounded memory), handing each chunk, decoded and
 * raw, to `use`. */
function forEachDecodedChunk(t: TensorSource, use: (row: number, n: number, w: Float32Array, raw: Uint8Array) => void): void {
  const step = rowsPerChunk(t);
  for (let row = 0; row < t.rows; row += step) {
    const n = Math.min(step, t.rows - row);
    const raw = rawRows(t, row, n);
    use(row, n, decodeRows(t, raw, n), raw);
  }
}

/** Accumulates the float64 products of decoded rows [row, row + n) into ys (one per input). */
function addReference(t: TensorSource, inputs: readonly MatmulInput[], ys: Float64Array[], row: number, n: number, w: Float32Array): void {
  inputs.forEach(({ x, batch }, i) => {
    const part = referenceMatmul(w, n, t.rowLength, x, batch);
    for (let j = 0; j < batch; j++) ys[i]!.set(part.subarray(j * n, (j + 1) * n), j * t.rows + row);
  });
}

/**
 * float64 y [batch][rows] for the whole tensor, one result per activation set, decoding W once in
 * chunks of rows (decoding is the expensive part for a large tensor).
 */
export function referenceOutputs(t: TensorSource, inputs: readonly MatmulInput[], onRows?: (rowsDone: number) => void): Float64Array[] {
  const ys = inputs.map(({ batch }) => new Float64Array(batch * t.rows));
  forEachDecodedChunk(t, (row, n, w) => {
    addReference(t, inputs, ys, row, n, w);
    onRows?.(row + n);
  });
  return ys;
}

/** referenceOutputs for one activation set; onRows(rows done) after each chunk of rows (minutes, for a big
 * tensor at a large batch). */
export function referenceOutput(t: TensorSource, x: Float32Array, batch: number, onRows?: (rowsDone: number) => void): Float64Array {
  return referenceOutputs(t, [{ x, batch }], onRows)[0]!;
}

/** The longest row the CPU reference takes: it decodes whole rows (a hostile 1-D tensor of 2^29
 * weights would need gigabytes at once); real rows are under 2^18. */
const MAX_REFERENCE_ROW = 1 << 26;

/** unsupportedReason for a tensor of a supported type with no weights: nothing to multiply, and
 * nothing to compare (verify counts it as checked). */
export const EMPTY_TENSOR = 'empty tensor';

export function unsupportedReason(t: TensorSource, littleEndian = true): string | undefined {
  if (t.missing) return t.missing;
  const undecodable = undecodableReason(t.typeId, littleEndian);
  if (undecodable) return undecodable;
  if (t.rows === 0 || t.rowLength === 0) return EMPTY_TENSOR;
  if (t.rowLength > MAX_REFERENCE_ROW) return `rows of ${t.rowLength} weights, over the CPU reference's limit of ${MAX_REFERENCE_ROW}`;
  return undefined;
}

/** CPU self-check: decoding in one piece equals decoding block by block at odd split points. */
export function cpuSelfCheck(t: TensorSource): DequantCheck {
  const { info, decode } = decoderFor(t.typeId)!;
  const check: DequantCheck = { elements: 0, mismatches: 0, maxUlp: 0 };
  forEachDecodedChunk(t, (row, _n, whole, raw) => {
    const pieces = new Float32Array(whole.length);
    const nBlocks = whole.length / info.blockSize;
    // Split at 1, 3, 7, ... blocks: a decoder that carries state across calls would break here.
    for (let b = 0, k = 1; b < nBlocks; k = k * 2 + 1) {
      const m = Math.min(k, nBlocks - b);
      decode(raw.subarray(b * info.typeSize), pieces.subarray(b * info.blockSize), m);
      b += m;
    }
    compareF32(pieces, whole, check, row * t.rowLength);
  });
  return check;
}

/**
 * GPU dequantization of the whole tensor against the CPU decoder, bit for bit; with `inputs`, the
 * float64 reference products (as referenceOutputs) come from the same decoded rows, so a tensor is
 * decoded on the CPU once for both checks.
 */
export function gpuDequantCheck(gpu: Gpu, t: TensorSource, raw: DeviceBuffer, inputs: readonly MatmulInput[] = []): DequantCheck & { refs: Float64Array[] } {
  const check: DequantCheck = { elements: 0, mismatches: 0, maxUlp: 0 };
  const refs = inputs.map(({ batch }) => new Float64Array(batch * t.rows));
  const out = gpu.alloc(Math.min(rowsPerChunk(t), t.rows) * t.rowLength * 4, `allocating the dequantized output of ${t.name}`);
  try {
    forEachDecodedChunk(t, (row, n, w) => {
      gpu.memsetPoison(out);
      gpu.dequantize(t.typeId, raw, out, n, t.rowLength, 'f32', row * rowBytes(t));
      const got = new Float32Array(n * t.rowLength);
      gpu.download(out, new Uint8Array(got.buffer));
      compareF32(got, w, check, row * t.rowLength);
      addReference(t, inputs, refs, row, n, w);
    });
  } finally {
    out.dispose();
  }
  return { ...check, refs };
}
