// Half-precision conversions.
//
// fp16 -> fp32 is exact (every fp16 value is a float32 value); it goes through a 65536-entry
// table of float32 bit patterns, built once at module load. NaNs keep their payload (shifted into
// the top of the fp32 mantissa) and get the quiet bit set, as ggml's scalar conversion and x86
// F16C do: fp16 0x7C01 -> fp32 0x7FC02000.
//
// bf16 -> fp32 is a 16-bit shift of the bits (exact, NaN payloads kept as they are, as ggml does).
//
// fp32 -> fp16 rounds to nearest, ties to even, like CUDA's __float2half_rn: subnormal results
// are rounded (not flushed), anything that rounds past 65504 (|x| >= 65520) becomes +-inf, and
// every NaN becomes 0x7FFF (CUDA's canonical half NaN, sign dropped).

function buildF16Table(): Uint32Array {
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let man = h & 0x3ff;
    let bits: number;
    if (exp === 0) {
      if (man === 0) {
        bits = sign;
      } else {
        // subnormal: value = man * 2^-24; normalise so the leading 1 sits at bit 10
        let e = 113; // biased fp32 exponent of 2^-14
        while ((man & 0x400) === 0) {
          man <<= 1;
          e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ff) << 13);
      }
    } else if (exp === 31) {
      bits = man === 0 ? sign | 0x7f800000 : sign | 0x7fc00000 | (man << 13);
    } else {
      bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    t[h] = bits >>> 0;
  }
  return t;
}

/** fp16 bits -> fp32 bits, indexed by the 16-bit pattern. */
export const F16_TO_F32_BITS: Uint32Array = buildF16Table();
/** fp16 bits -> fp32 value (same storage as F16_TO_F32_BITS). */
export const F16_TO_F32: Float32Array = new Float32Array(F16_TO_F32_BITS.buffer);

/** The float32 value of an fp16 bit pattern (0..65535). */
export function f16ToF32(h: number): number {
  return F16_TO_F32[h & 0xffff];
}

const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** The float32 value of a bf16 bit pattern (0..65535). A NaN comes back as a JS NaN. */
export function bf16ToF32(h: number): number {
  cvtU32[0] = (h & 0xffff) << 16;
  return cvtF32[0];
}

/** fp32 bits -> fp16 bits, round to nearest even (CUDA __float2half_rn semantics). */
export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return 0x7fff; // NaN
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 (or inf): rounds to inf
  if (a >= 0x38800000) {
    // normal fp16 result (|x| >= 2^-14)
    const m = a & 0x7fffff;
    let h = (((a >>> 23) - 112) << 10) | (m >>> 13);
    const rem = m & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may bump the exponent
    return sign | h;
  }
  if (a <= 0x33000000) return sign; // |x| <= 2^-25: rounds to (signed) zero, 2^-25 is a tie to 0
  // subnormal fp16 result: h = round(m * 2^(e - 126)) with m the 24-bit significand
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e; // 14..24
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1) !== 0)) h++; // may become 0x400, the smallest normal
  return sign | h;
}

/**
 * A number -> fp16 bits. The number is first taken as float32 (Math.fround), as CUDA's
 * __float2half_rn(float) would receive it, then rounded to nearest even.
 */
export function f32ToF16(x: number): number {
  cvtF32[0] = x;
  return f32BitsToF16(cvtU32[0]);
}

/** Converts a whole Float32Array to fp16 bits (bit-exact, NaNs included). */
export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (dst.length < src.length) throw new Error(`f32ArrayToF16: dst holds ${dst.length} values, need ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16(bits[i]);
  return dst;
}
