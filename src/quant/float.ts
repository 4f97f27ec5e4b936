// Unquantized float types. All three are bit-exact copies/widenings written through a Uint32
// view of dst, so NaN payloads survive (no trip through a JS double).
import { F16_TO_F32_BITS } from './f16.js';

function u32View(dst: Float32Array, n: number): Uint32Array {
  return new Uint32Array(dst.buffer, dst.byteOffset, n);
}

/** F32: 4 little-endian bytes per value, copied verbatim. */
export function decodeF32(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  new Uint8Array(dst.buffer, dst.byteOffset, nBlocks * 4).set(src.subarray(0, nBlocks * 4));
}

/** F16: y = exact fp32 value of the fp16 bits (table lookup; NaNs quieted, payload kept). */
export function decodeF16(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const out = u32View(dst, nBlocks);
  const tbl = F16_TO_F32_BITS;
  for (let i = 0, p = 0; i < nBlocks; i++, p += 2) {
    out[i] = tbl[src[p] | (src[p + 1] << 8)];
  }
}

/** BF16: fp32 bits = bf16 bits << 16 (exact, NaN payloads kept as ggml does). */
export function decodeBF16(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const out = u32View(dst, nBlocks);
  for (let i = 0, p = 0; i < nBlocks; i++, p += 2) {
    out[i] = ((src[p] << 16) | (src[p + 1] << 24)) >>> 0;
  }
}
