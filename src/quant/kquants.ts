// The 256-weight super-block types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS.
//
// Op-order notation (the GPU kernels mirror these comments):
//   half(p)  the fp16 at byte p (little-endian), converted exactly to f32 (subnormals included)
//   rn(e)    e rounded to float32, nearest-even: one rn per f32 multiply or add in ggml's C code
//   Integers (quants, 4/6/8-bit scales, codebook values) convert to f32 exactly.
//
// Exactness (proved in test/quant/op-order.test.ts): an fp16 value has an 11-bit significand, and
// the integers multiplied into it here stay within |k| <= 8192 in total (largest: Q6_K 128*32,
// IQ4_XS 32*127, Q5_K 63*31), so every product below, including the sub-scale products
// d1 = rn(d*sc), is exact in float32. Consequently:
//   - Q3_K, Q6_K, IQ4_XS are exact (no rounding at all), whatever the association;
//   - Q2_K, Q4_K, Q5_K round exactly once, on the final subtract: rn(rn(d1*q) - m1) ==
//     rn(d1*q - m1) == fmaf(d1, q, -m1). FMA contraction or not gives the same bits, which is why
//     the fixtures cannot (and need not) tell the two apart.
// A GPU kernel must do this arithmetic in f32 (not in half/half2, whose products do round).
// In JS the per-element products are exact in float64 as well, and the one float32 rounding is
// the store into the Float32Array (float64 subtract of two floats, then rounding to float32, is
// correctly rounded since 53 >= 2*24 + 2), so the hot loops carry no Math.fround; the scale
// products keep theirs to spell out ggml's order.
import { F16_TO_F32 } from './f16.js';
import { IQ4NL_VALUES } from './legacy.js';

const fround = Math.fround;
const KV = new Float64Array(IQ4NL_VALUES);

/** The 6-bit scale j (0..7) of Q4_K/Q5_K's 12 packed scale bytes at src[s..s+12). */
function kScale(src: Uint8Array, s: number, j: number): number {
  return j < 4 ? src[s + j] & 63 : (src[s + j + 4] & 15) | ((src[s + j - 4] >> 6) << 4);
}

/** The 6-bit min j (0..7) of the same packed bytes. */
function kMin(src: Uint8Array, s: number, j: number): number {
  return j < 4 ? src[s + j + 4] & 63 : (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4);
}

/**
 * Q2_K, 84 bytes: [0..16) scales (low nibble = scale, high nibble = min, one byte per 16 weights),
 * [16..80) qs (2-bit quants), [80..82) d (fp16), [82..84) dmin (fp16).
 * For half h = 0..1, group g = 0..3 (shift = 2g), sub-block s = 0..1, l = 0..15:
 *   sc = scales[8h + 2g + s]
 *   dl = rn(d * (sc & 15));  ml = rn(dmin * (sc >> 4))
 *   q  = (qs[32h + 16s + l] >> shift) & 3
 *   y[128h + 32g + 16s + l] = rn(dl * q - ml)    (dl*q exact; one rounding on the subtract)
 */
export function decodeQ2_K(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 84, o += 256) {
    const d = H[src[p + 80] | (src[p + 81] << 8)];
    const dmin = H[src[p + 82] | (src[p + 83] << 8)];
    for (let h = 0; h < 2; h++) {
      const q = p + 16 + 32 * h;
      for (let g = 0; g < 4; g++) {
        const shift = 2 * g;
        const sc0 = src[p + 8 * h + 2 * g];
        const sc1 = src[p + 8 * h + 2 * g + 1];
        const dl0 = fround(d * (sc0 & 15));
        const ml0 = fround(dmin * (sc0 >> 4));
        const dl1 = fround(d * (sc1 & 15));
        const ml1 = fround(dmin * (sc1 >> 4));
        const y = o + 128 * h + 32 * g;
        for (let l = 0; l < 16; l++) {
          dst[y + l] = dl0 * ((src[q + l] >> shift) & 3) - ml0;
          dst[y + 16 + l] = dl1 * ((src[q + 16 + l] >> shift) & 3) - ml1;
        }
      }
    }
  }
}

/**
 * Q3_K, 110 bytes: [0..32) hmask, [32..96) qs (low 2 bits), [96..108) scales (16 x 6 bits),
 * [108..110) d (fp16).
 * Scale k (0..15), with S = the 12 scale bytes:
 *   lo = k < 8 ? S[k] & 15 : S[k-8] >> 4;  hi = (S[8 + k%4] >> (2*(k/4))) & 3
 *   scale_k = (lo | hi << 4) - 32                                   (-32..31)
 * For half h = 0..1, group g = 0..3 (shift = 2g, mask bit = 1 << (4h + g)), sub-block s = 0..1,
 * l = 0..15, i = 16s + l:
 *   dl = rn(d * scale_{8h + 2g + s})                                 (exact)
 *   q  = ((qs[32h + i] >> shift) & 3) - (hmask[i] & bit ? 0 : 4)    (-4..3)
 *   y[128h + 32g + i] = dl * q                                       (exact)
 */
export function decodeQ3_K(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  const dls = new Float64Array(16);
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 110, o += 256) {
    const d = H[src[p + 108] | (src[p + 109] << 8)];
    const s = p + 96;
    for (let k = 0; k < 16; k++) {
      const lo = k < 8 ? src[s + k] & 15 : src[s + k - 8] >> 4;
      const hi = (src[s + 8 + (k & 3)] >> (2 * (k >> 2))) & 3;
      dls[k] = fround(d * ((lo | (hi << 4)) - 32));
    }
    for (let h = 0; h < 2; h++) {
      const q = p + 32 + 32 * h;
      for (let g = 0; g < 4; g++) {
        const shift = 2 * g;
        const hs = 4 * h + g; // hmask bit index
        const dl0 = dls[8 * h + 2 * g];
        const dl1 = dls[8 * h + 2 * g + 1];
        const y = o + 128 * h + 32 * g;
        for (let l = 0; l < 16; l++) {
          // (low 2 bits | high bit << 2) - 4 == low - (high ? 0 : 4)
          dst[y + l] = dl0 * ((((src[q + l] >> shift) & 3) | (((src[p + l] >> hs) & 1) << 2)) - 4);
          dst[y + 16 + l] = dl1 * ((((src[q + 16 + l] >> shift) & 3) | (((src[p + 16 + l] >> hs) & 1) << 2)) - 4);
        }
      }
    }
  }
}

/**
 * Q4_K, 144 bytes: [0..2) d (fp16), [2..4) dmin (fp16), [4..16) scales (8 x (6-bit scale,
 * 6-bit min)), [16..144) qs.
 * Scale/min j (0..7), with S = the 12 scale bytes:
 *   j < 4:  sc = S[j] & 63;                         m = S[j+4] & 63
 *   j >= 4: sc = (S[j+4] & 15) | (S[j-4] >> 6) << 4; m = (S[j+4] >> 4) | (S[j] >> 6) << 4
 * For chunk c = 0..3 (64 weights), l = 0..31, byte v = qs[32c + l]:
 *   d = half(0), dmin = half(2)
 *   d1 = rn(d * sc_{2c});    m1 = rn(dmin * m_{2c})          (exact)
 *   d2 = rn(d * sc_{2c+1});  m2 = rn(dmin * m_{2c+1})        (exact)
 *   y[64c + l]      = rn(d1 * (v & 15) - m1)   (d1*q exact; one rounding on the subtract;
 *   y[64c + 32 + l] = rn(d2 * (v >> 4) - m2)    fmaf(d1, q, -m1) gives the same bits)
 */
export function decodeQ4_K(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 144, o += 256) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const dmin = H[src[p + 2] | (src[p + 3] << 8)];
    const s = p + 4;
    for (let c = 0; c < 4; c++) {
      const j0 = 2 * c;
      const j1 = j0 + 1;
      const d1 = fround(d * kScale(src, s, j0));
      const m1 = fround(dmin * kMin(src, s, j0));
      const d2 = fround(d * kScale(src, s, j1));
      const m2 = fround(dmin * kMin(src, s, j1));
      const q = p + 16 + 32 * c;
      const y = o + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = src[q + l];
        dst[y + l] = d1 * (v & 15) - m1;
        dst[y + 32 + l] = d2 * (v >> 4) - m2;
      }
    }
  }
}

/**
 * Q5_K, 176 bytes: [0..2) d (fp16), [2..4) dmin (fp16), [4..16) scales (as Q4_K),
 * [16..48) qh, [48..176) qs.
 * For chunk c = 0..3, l = 0..31, v = qs[32c + l], hb = qh[l]:
 *   d1, m1, d2, m2 as Q4_K
 *   y[64c + l]      = rn(d1 * ((v & 15) + ((hb >> 2c)     & 1) * 16) - m1)   (one rounding,
 *   y[64c + 32 + l] = rn(d2 * ((v >> 4) + ((hb >> (2c+1)) & 1) * 16) - m2)    on the subtract)
 */
export function decodeQ5_K(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 176, o += 256) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const dmin = H[src[p + 2] | (src[p + 3] << 8)];
    const s = p + 4;
    const qh = p + 16;
    for (let c = 0; c < 4; c++) {
      const j0 = 2 * c;
      const j1 = j0 + 1;
      const d1 = fround(d * kScale(src, s, j0));
      const m1 = fround(dmin * kMin(src, s, j0));
      const d2 = fround(d * kScale(src, s, j1));
      const m2 = fround(dmin * kMin(src, s, j1));
      const q = p + 48 + 32 * c;
      const y = o + 64 * c;
      const sh0 = 2 * c;
      const sh1 = sh0 + 1;
      for (let l = 0; l < 32; l++) {
        const v = src[q + l];
        const hb = src[qh + l];
        dst[y + l] = d1 * ((v & 15) | (((hb >> sh0) & 1) << 4)) - m1;
        dst[y + 32 + l] = d2 * ((v >> 4) | (((hb >> sh1) & 1) << 4)) - m2;
      }
    }
  }
}

/**
 * Q6_K, 210 bytes: [0..128) ql (low 4 bits), [128..192) qh (high 2 bits), [192..208) scales
 * (int8), [208..210) d (fp16, last).
 * For half h = 0..1, l = 0..31, with L = ql + 64h, Q = qh + 32h, S = scales + 8h, t = l >> 4:
 *   q1 = ((L[l]    & 15) | ((Q[l] >> 0) & 3) << 4) - 32   -> y[128h + l],      scale S[t]
 *   q2 = ((L[l+32] & 15) | ((Q[l] >> 2) & 3) << 4) - 32   -> y[128h + l + 32], scale S[t+2]
 *   q3 = ((L[l]    >> 4) | ((Q[l] >> 4) & 3) << 4) - 32   -> y[128h + l + 64], scale S[t+4]
 *   q4 = ((L[l+32] >> 4) | ((Q[l] >> 6) & 3) << 4) - 32   -> y[128h + l + 96], scale S[t+6]
 *   y = rn(rn(d * scale) * q)   (C: d * sc[is] * q, left to right; both products exact, so
 *                                y == d * (scale * q) bit for bit)
 */
export function decodeQ6_K(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  const ds = new Float64Array(16);
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 210, o += 256) {
    const d = H[src[p + 208] | (src[p + 209] << 8)];
    for (let k = 0; k < 16; k++) ds[k] = fround(d * ((src[p + 192 + k] << 24) >> 24));
    for (let h = 0; h < 2; h++) {
      const L = p + 64 * h;
      const Q = p + 128 + 32 * h;
      const S = 8 * h;
      const y = o + 128 * h;
      for (let t = 0; t < 2; t++) {
        const s1 = ds[S + t];
        const s2 = ds[S + t + 2];
        const s3 = ds[S + t + 4];
        const s4 = ds[S + t + 6];
        for (let l = 16 * t; l < 16 * t + 16; l++) {
          const a = src[L + l];
          const c = src[L + l + 32];
          const hb = src[Q + l];
          dst[y + l] = s1 * (((a & 15) | ((hb & 3) << 4)) - 32);
          dst[y + l + 32] = s2 * (((c & 15) | (((hb >> 2) & 3) << 4)) - 32);
          dst[y + l + 64] = s3 * (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
          dst[y + l + 96] = s4 * (((c >> 4) | ((hb >> 6) << 4)) - 32);
        }
      }
    }
  }
}

/**
 * IQ4_XS, 136 bytes: [0..2) d (fp16), [2..4) scales_h (u16 LE), [4..8) scales_l, [8..136) qs;
 * K = kvalues_iq4nl.
 * For sub-block k = 0..7 (32 weights), j = 0..15, v = qs[16k + j]:
 *   ls = ((scales_l[k >> 1] >> 4*(k & 1)) & 15) | ((scales_h >> 2k) & 3) << 4
 *   dl = rn(d * (ls - 32))                                              (exact)
 *   y[32k + j] = dl * K[v & 15];  y[32k + 16 + j] = dl * K[v >> 4]      (exact)
 */
export function decodeIQ4_XS(src: Uint8Array, dst: Float32Array, nBlocks: number): void {
  const H = F16_TO_F32;
  for (let b = 0, p = 0, o = 0; b < nBlocks; b++, p += 136, o += 256) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const sh = src[p + 2] | (src[p + 3] << 8);
    for (let k = 0; k < 8; k++) {
      const ls = ((src[p + 4 + (k >> 1)] >> (4 * (k & 1))) & 15) | (((sh >> (2 * k)) & 3) << 4);
      const dl = fround(d * (ls - 32));
      const q = p + 8 + 16 * k;
      const y = o + 32 * k;
      for (let j = 0; j < 16; j++) {
        const v = src[q + j];
        dst[y + j] = dl * KV[v & 15];
        dst[y + 16 + j] = dl * KV[v >> 4];
      }
    }
  }
}
