// The 32-weight block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL.
//
// Op-order notation (the GPU kernels mirror these comments):
//   half(p)  the fp16 at byte p (little-endian), converted exactly to f32 (subnormals included)
//   rn(e)    e rounded to float32, nearest-even: one rn per f32 multiply or add in ggml's C code
//   Integers (nibbles, int8 quants, codebook values) convert to f32 exactly.
//
// Exactness (proved in test/quant/op-order.test.ts): an fp16 scale has an 11-bit significand and
// every integer it is multiplied by here has |k| <= 128, so each product fits float32's 24 bits
// and its rn is exact (no under/overflow is possible from fp16 inputs). Consequently:
//   - pure-product types (Q4_0, Q5_0, Q8_0, IQ4_NL) are exact: y = d * k, no rounding at all;
//   - for the multiply-add types (Q4_1, Q5_1) the only rounding is the final add, so
//     rn(rn(x*d) + m) == rn(x*d + m) == fmaf(x, d, m): FMA contraction or not, same bits.
// A GPU kernel must do this arithmetic in f32 (not in half/half2, whose products do round).
// In JS the products are exact in float64 too, and the one float32 rounding is the store into
// the Float32Array (a float64 add of two floats, rounded once more to float32, is correctly
// rounded: 53 >= 2*24 + 2), so the hot loops carry no Math.fround.
//
// NaN scales (hostile or corrupt files only): the bits follow ggml's C code compiled for x86 without FMA
// contraction, where an add of two NaNs returns its first operand, the product's. JS leaves that
// order to the engine (V8's interpreter and its optimizing compiler differ), so the multiply-add types
// take the product's NaN explicitly in a block whose m is NaN.
//
// Element order inside a 32-weight block with packed nibbles: byte j (0..15) holds weight j in its
// low nibble and weight j+16 in its high nibble.
import { F16_TO_F32 } from './f16.js';

/** IQ4_NL / IQ4_XS codebook (ggml's kvalues_iq4nl). */
export const IQ4NL_VALUES: readonly number[] = [
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];
const KV = new Float64Array(IQ4NL_VALUES);

/**
 * Q4_0, 18 bytes: [0..2) d (fp16), [2..18) qs (16 bytes of nibbles).
 *   d = half(0)
 *   y[j]    = ((qs[j] & 15) - 8) * d       j = 0..15   (one f32 multiply, exact)
 *   y[j+16] = ((qs[j] >> 4) - 8) * d
 */
export function decodeQ4_0(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 18, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const q = p + 2;
    for (let j = 0; j < 16; j++) {
      const v = src[q + j];
      dst[o + j] = ((v & 15) - 8) * d;
      dst[o + j + 16] = ((v >> 4) - 8) * d;
    }
  }
}

/**
 * Q4_1, 20 bytes: [0..2) d (fp16), [2..4) m (fp16), [4..20) qs.
 *   d = half(0), m = half(2)
 *   y[j]    = rn((qs[j] & 15) * d + m)     j = 0..15   (product exact; one rounding, on the add;
 *   y[j+16] = rn((qs[j] >> 4) * d + m)                  fmaf(q, d, m) gives the same bits)
 */
export function decodeQ4_1(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 20, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const m = H[src[p + 2] | (src[p + 3] << 8)];
    const q = p + 4;
    if (m !== m) {
      nanOffsetBlock(src, q, d, m, dst, o, 0);
      continue;
    }
    for (let j = 0; j < 16; j++) {
      const v = src[q + j];
      dst[o + j] = (v & 15) * d + m;
      dst[o + j + 16] = (v >> 4) * d + m;
    }
  }
}

/** A Q4_1 / Q5_1 block whose m is NaN: y = x * d, + m unless the product is NaN already (see above). */
function nanOffsetBlock(src: Uint8Array, q: number, d: number, m: number, dst: Float32Array, o: number, qh: number): void {
  for (let j = 0; j < 16; j++) {
    const v = src[q + j]!;
    const lo = ((v & 15) | (((qh >>> j) & 1) << 4)) * d;
    const hi = ((v >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d;
    dst[o + j] = lo !== lo ? lo : lo + m;
    dst[o + j + 16] = hi !== hi ? hi : hi + m;
  }
}

/**
 * Q5_0, 22 bytes: [0..2) d (fp16), [2..6) qh (u32 little-endian, bit i = 5th bit of weight i),
 * [6..22) qs.
 *   d = half(0)
 *   y[j]    = (((qs[j] & 15) | ((qh >> j)      & 1) << 4) - 16) * d    j = 0..15   (exact)
 *   y[j+16] = (((qs[j] >> 4) | ((qh >> (j+16)) & 1) << 4) - 16) * d
 */
export function decodeQ5_0(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 22, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const qh = src[p + 2] | (src[p + 3] << 8) | (src[p + 4] << 16) | (src[p + 5] << 24);
    const q = p + 6;
    for (let j = 0; j < 16; j++) {
      const v = src[q + j];
      dst[o + j] = (((v & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      dst[o + j + 16] = (((v >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

/**
 * Q5_1, 24 bytes: [0..2) d (fp16), [2..4) m (fp16), [4..8) qh (u32 LE), [8..24) qs.
 *   d = half(0), m = half(2)
 *   x0 = (qs[j] & 15) | ((qh >> j) & 1) << 4,  x1 = (qs[j] >> 4) | ((qh >> (j+16)) & 1) << 4
 *   y[j] = rn(x0 * d + m),  y[j+16] = rn(x1 * d + m)   (product exact; one rounding on the add;
 *                                                        fmaf gives the same bits)
 */
export function decodeQ5_1(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 24, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const m = H[src[p + 2] | (src[p + 3] << 8)];
    const qh = src[p + 4] | (src[p + 5] << 8) | (src[p + 6] << 16) | (src[p + 7] << 24);
    const q = p + 8;
    if (m !== m) {
      nanOffsetBlock(src, q, d, m, dst, o, qh);
      continue;
    }
    for (let j = 0; j < 16; j++) {
      const v = src[q + j];
      dst[o + j] = ((v & 15) | (((qh >>> j) & 1) << 4)) * d + m;
      dst[o + j + 16] = ((v >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
    }
  }
}

/**
 * Q8_0, 34 bytes: [0..2) d (fp16), [2..34) qs (int8).
 *   d = half(0);  y[j] = qs[j] * d   j = 0..31   (exact)
 */
export function decodeQ8_0(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 34, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const q = p + 2;
    for (let j = 0; j < 32; j++) {
      dst[o + j] = ((src[q + j] << 24) >> 24) * d;
    }
  }
}

/**
 * IQ4_NL, 18 bytes: [0..2) d (fp16), [2..18) qs; K = kvalues_iq4nl (IQ4NL_VALUES).
 *   d = half(0)
 *   y[j]    = d * K[qs[j] & 15]    j = 0..15   (exact)
 *   y[j+16] = d * K[qs[j] >> 4]
 */
export function decodeIQ4_NL(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 18, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const q = p + 2;
    for (let j = 0; j < 16; j++) {
      const v = src[q + j];
      dst[o + j] = d * KV[v & 15];
      dst[o + j + 16] = d * KV[v >> 4];
    }
  }
}
