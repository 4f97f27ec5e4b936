// CPU reference dequantizers, bit-exact with ggml's to_float, keyed by ggml type id.
import { ggmlTypeById, ggmlTypeName, type GgmlTypeInfo } from '../gguf/ggml-types.js';
import { decodeBF16, decodeF16, decodeF32 } from './float.js';
import { decodeIQ4_NL, decodeQ4_0, decodeQ4_1, decodeQ5_0, decodeQ5_1, decodeQ8_0 } from './legacy.js';
import { decodeIQ4_XS, decodeQ2_K, decodeQ3_K, decodeQ4_K, decodeQ5_K, decodeQ6_K } from './kquants.js';
import type { BlockDecoder } from './types.js';

export type { BlockDecoder } from './types.js';
export { f16ToF32, bf16ToF32, f32ToF16, f32BitsToF16, f32ArrayToF16, F16_TO_F32, F16_TO_F32_BITS } from './f16.js';
export { referenceMatmul, nmse } from './matmul.js';
export { IQ4NL_VALUES } from './legacy.js';

export interface TypeDecoder {
  readonly info: GgmlTypeInfo;
  /** Decodes nBlocks raw blocks of this type; see BlockDecoder. */
  readonly decode: BlockDecoder;
}

function entry(id: number, decode: BlockDecoder): [number, TypeDecoder] {
  const info = ggmlTypeById(id);
  if (!info) throw new Error(`internal: ggml type id ${id} missing from the type table`);
  return [id, Object.freeze({ info, decode })];
}

/** The one table: ggml type id -> { info, decode }. */
const DECODERS = new Map<number, TypeDecoder>([
  entry(0, decodeF32),
  entry(1, decodeF16),
  entry(30, decodeBF16),
  entry(2, decodeQ4_0),
  entry(3, decodeQ4_1),
  entry(6, decodeQ5_0),
  entry(7, decodeQ5_1),
  entry(8, decodeQ8_0),
  entry(10, decodeQ2_K),
  entry(11, decodeQ3_K),
  entry(12, decodeQ4_K),
  entry(13, decodeQ5_K),
  entry(14, decodeQ6_K),
  entry(20, decodeIQ4_NL),
  entry(23, decodeIQ4_XS),
]);

/** Ids of every type with a CPU decoder, ascending. */
export const SUPPORTED_TYPE_IDS: readonly number[] = Object.freeze([...DECODERS.keys()].sort((a, b) => a - b));

/** The decoder for a ggml type id, or undefined when the type is not supported. */
export function decoderFor(typeId: number): TypeDecoder | undefined {
  return DECODERS.get(typeId);
}

export function isSupportedType(typeId: number): boolean {
  return DECODERS.has(typeId);
}

/**
 * Decodes nElements weights of the given type from the raw bytes in src (which may start at any
 * byte offset and may be longer than needed) into dst, or into a new Float32Array.
 */
export function dequantize(typeId: number, src: Uint8Array, nElements: number, dst?: Float32Array): Float32Array {
  const dec = DECODERS.get(typeId);
  if (!dec) {
    throw new Error(`dequantize: ggml type ${ggmlTypeById(typeId) ? `${ggmlTypeName(typeId)} (id ${typeId})` : `id ${typeId}`} is not supported; supported: ${SUPPORTED_TYPE_IDS.map((id) => ggmlTypeName(id)).join(', ')}`);
  }
  const { name, blockSize, typeSize } = dec.info;
  if (!Number.isSafeInteger(nElements) || nElements < 0) {
    throw new Error(`dequantize: element count must be a non-negative integer, got ${nElements}`);
  }
  if (nElements % blockSize !== 0) {
    throw new Error(`dequantize: ${nElements} elements is not a multiple of the ${name} block size ${blockSize}`);
  }
  const nBlocks = nElements / blockSize;
  const nBytes = nBlocks * typeSize;
  if (src.length < nBytes) {
    throw new Error(`dequantize: ${nElements} ${name} elements need ${nBytes} bytes (${nBlocks} blocks of ${typeSize}), but only ${src.length} were given`);
  }
  const out = dst ?? new Float32Array(nElements);
  if (out.length < nElements) {
    throw new Error(`dequantize: destination holds ${out.length} values, need ${nElements}`);
  }
  dec.decode(src, out, nBlocks);
  return out;
}

/**
 * Swaps in another decode function for one type until the returned function is called. For tests
 * only: it proves that a broken decoder makes `verify` fail.
 */
export function replaceDecoderForTesting(typeId: number, decode: BlockDecoder): () => void {
  const original = DECODERS.get(typeId);
  if (!original) throw new Error(`no decoder for type ${typeId}`);
  DECODERS.set(typeId, Object.freeze({ info: original.info, decode }));
  return () => {
    DECODERS.set(typeId, original);
  };
}
