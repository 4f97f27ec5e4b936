/* gguf-gpu: dequantization kernels, bit-exact with ggml's CPU dequantize_row_* functions.
 *
 * Arithmetic. Every multiply and add is written with an explicit round-to-nearest intrinsic
 * (__fmul_rn, __fadd_rn, __fsub_rn, or __fmaf_rn where a fused multiply-add is wanted), so the
 * compiler cannot contract differently from the reference. The op order of each type is the one
 * documented on its CPU decoder in src/quant/legacy.ts and src/quant/kquants.ts, which were
 * checked against ggml's fixtures. Integers (quants, scales) convert to float exactly; the 4-bit,
 * 6-bit and 8-bit quants of Q4_0, Q4_K, Q6_K and Q8_0 are gathered four to a word with word-wide
 * shifts and masks, and each byte becomes a float by a byte permute into 1.5 * 2^23 + byte and one
 * exact subtraction (byte_minus): about 3 operations per weight in the source instead of about 9
 * for extracting and converting each quant on its own, which bounded the 2-byte outputs on an H200.
 *
 * Whether ggml's `a*q + b` / `a*q - b` is one fused rounding or two is a per-type switch here
 * (GG_FMA_*): 0 = rn(rn(a*q) +- b), 1 = fmaf(a, q, +-b). For finite inputs both give the same bits:
 * an fp16 scale has an 11-bit significand and the integers multiplied into it stay small enough
 * that every product (including the sub-scale products d*sc) is exact in f32, so the only
 * rounding is the final add/subtract (src/quant/legacy.ts and kquants.ts, proved in
 * test/quant/op-order.test.ts). The switches are set to the literal C order (separate), which is
 * also what the fixtures were matched with.
 * The arithmetic must stay in f32: half/half2 products would round.
 *
 * Layout of the work. The quantized stream and the output are both contiguous (rows * row_len
 * weights, row-major, row_len a multiple of the block size), so the kernels see one flat run of
 * blocks. One CTA of 256 threads per tile of consecutive weights (4096 for f32 output, 8192 for
 * f16/bf16: 16 or 32 super-blocks, 128 or 256 small blocks; a tile's bytes are a multiple of 16
 * and start 16-byte aligned whenever src is). The CTA copies the tile's raw bytes into shared
 * memory with 16-byte loads (through registers, or cp.async for some 2-byte outputs; see Cfg),
 * then each thread decodes items of 16 output bytes (4 f32 or 8 f16/bf16 consecutive weights; 4
 * items per thread) from shared memory, reading each field as aligned 32-bit words funnel-shifted
 * into place, and writes each item with one 16-byte store; consecutive threads write consecutive
 * items, so each warp store covers 512 contiguous bytes. When src or dst is not 16-byte aligned a
 * variant with byte loads / scalar stores runs instead (same arithmetic).
 *
 * Measured, 4096 x 14336 weights, rotating source buffers (L2-cold), as % of the device copy rate
 * counting bytes read + written (kernels/NOTES.md, "Dequantization on the H200"):
 *            H200 (copy 4.25 TB/s), now     H100 (copy 2.98 TB/s), before the packed decoders
 *            f32     f16/bf16               f32     f16/bf16
 *   Q4_0     90-91%  82-83%                 94%     ~90%
 *   Q4_K     90%     85%                    94%     ~91%
 *   Q6_K     85%     85%                    94%     ~88%
 *   Q8_0     92%     90%                    94%     93%
 *   others   -       -                      93-95%  82-94% (Q3_K f16 is the slowest, ~81%)
 */
#include "internal.h"
#include "blocks.h"

#include <stdio.h>

/* ---- FMA switches: 1 = fused (one rounding), 0 = multiply then add/subtract (ggml's C order).
 * Same bits either way for finite inputs (the product is exact); see the comment at the top. ---- */
#define GG_FMA_Q4_1 0 /* y = x*d + m    (src/quant/legacy.ts decodeQ4_1) */
#define GG_FMA_Q5_1 0 /* y = x*d + m    (src/quant/legacy.ts decodeQ5_1) */
#define GG_FMA_Q2_K 0 /* y = dl*q - ml  (src/quant/kquants.ts decodeQ2_K) */
#define GG_FMA_Q4_K 0 /* y = d1*q - m1  (src/quant/kquants.ts decodeQ4_K) */
#define GG_FMA_Q5_K 0 /* y = d1*q - m1  (src/quant/kquants.ts decodeQ5_K) */

namespace {

constexpr int kThreads = 256;

enum { OUT_F32 = GG_DTYPE_F32, OUT_F16 = GG_DTYPE_F16, OUT_BF16 = GG_DTYPE_BF16 };

/* Launch shape per (type, output dtype), measured on an H100 80GB HBM3 at 4096 x 14336 weights
 * (each variant timed twice; the best kept). A tile is kThreads * ITEMS * V weights.
 *   V         weights per 16-byte output item (4 f32, 8 f16/bf16)
 *   ITEMS     items per thread per tile (tile: 4096 weights for f32, 8192 for f16/bf16)
 *   MIN_CTAS  __launch_bounds__ minimum CTAs per SM (4: <= 64 registers, 8: <= 32)
 *   UNROLL    unrolling of the per-thread item loop (ILP vs registers)
 *   ASYNC     tile bytes go global -> shared with cp.async (bypassing registers and L1) instead of
 *             16-byte register loads (Q6_K f16 at 8 CTAs/SM: 67% of copy bandwidth with register
 *             loads, 88% with cp.async)
 * f32 output: one shape for all types (93-95% of copy bandwidth). 2-byte outputs are twice the
 * decode work per byte written and the best shape depends on the type (78-94%). */
template <bool A, int U, int M> struct Shape16 {
  static constexpr int V = 8, ITEMS = 4, MIN_CTAS = M, UNROLL = U;
  static constexpr bool ASYNC = A;
};
template <int TYPE> struct Pick16 { typedef Shape16<true, 4, 4> type; }; /* Q4_0 Q4_1 Q3_K IQ4_* */
template <> struct Pick16<GG_TYPE_Q8_0> { typedef Shape16<false, 4, 4> type; };
template <> struct Pick16<GG_TYPE_Q5_0> { typedef Shape16<false, 1, 8> type; };
template <> struct Pick16<GG_TYPE_Q5_1> { typedef Shape16<false, 1, 8> type; };
template <> struct Pick16<GG_TYPE_Q2_K> { typedef Shape16<false, 1, 8> type; };
template <> struct Pick16<GG_TYPE_Q4_K> { typedef Shape16<false, 1, 8> type; };
template <> struct Pick16<GG_TYPE_Q5_K> { typedef Shape16<false, 1, 8> type; };
template <> struct Pick16<GG_TYPE_Q6_K> { typedef Shape16<true, 1, 8> type; };

template <int TYPE, int OUT> struct Cfg : Pick16<TYPE>::type {};
template <int TYPE> struct Cfg<TYPE, OUT_F32> {
  static constexpr int V = 4, ITEMS = 4, MIN_CTAS = 4, UNROLL = 4;
  static constexpr bool ASYNC = false;
};

__constant__ int8_t kIq4nl[16] = GG_IQ4NL_VALUES;

template <bool FMA>
__device__ __forceinline__ float mul_add(float a, float b, float c) {
  return FMA ? __fmaf_rn(a, b, c) : __fadd_rn(__fmul_rn(a, b), c);
}
template <bool FMA>
__device__ __forceinline__ float mul_sub(float a, float b, float c) {
  return FMA ? __fmaf_rn(a, b, -c) : __fsub_rn(__fmul_rn(a, b), c);
}

/* One block's bytes inside the shared-memory tile. The tile starts 16-byte aligned and has 16
 * bytes of padding at the end, so `words` may read up to 4 bytes past any field. */
struct Blk {
  const uint8_t* tile;
  int off; /* the block's first byte within the tile */

  __device__ __forceinline__ uint32_t u8(int o) const { return tile[off + o]; }
  /* o must make off + o even: true for every fp16/u16 field of every type (all sizes are even) */
  __device__ __forceinline__ uint32_t u16(int o) const {
    return *reinterpret_cast<const uint16_t*>(tile + off + o);
  }
  /* NW little-endian words holding bytes [o, o + 4*NW) of the block, at any alignment. */
  template <int NW>
  __device__ __forceinline__ void words(int o, uint32_t (&w)[NW]) const {
    const int a = off + o;
    const uint32_t* t = reinterpret_cast<const uint32_t*>(tile) + (a >> 2);
    const uint32_t sh = (uint32_t)(a & 3) * 8u;
    uint32_t x[NW + 1];
#pragma unroll
    for (int k = 0; k <= NW; ++k) x[k] = t[k];
#pragma unroll
    for (int k = 0; k < NW; ++k) w[k] = (uint32_t)((((uint64_t)x[k + 1] << 32) | x[k]) >> sh);
  }
};

/* byte i of a little-endian word array */
template <int NW>
__device__ __forceinline__ uint32_t byte_at(const uint32_t (&w)[NW], int i) {
  return (w[i >> 2] >> (8 * (i & 3))) & 0xffu;
}

/* (float)(byte i of u - offset), exactly, without a conversion: a byte permute makes the float
 * 1.5 * 2^23 + byte, and subtracting 1.5 * 2^23 + offset (both exact) leaves byte - offset.
 * Decoders assemble four quants in the bytes of a word with a few word-wide operations first. */
__device__ __forceinline__ float byte_minus(uint32_t u, int i, float offset) {
  return __fsub_rn(__int_as_float((int)__byte_perm(u, 0x4B400000u, 0x7640u | (uint32_t)i)), 12582912.0f + offset);
}

/* ---- per-type decoders: V consecutive weights starting at p (a multiple of V) of one block ---- */
template <int TYPE> struct Dec;

template <> struct Dec<GG_TYPE_Q4_0> {
  /* y[j] = rn((qs[j] & 15) - 8) * d), y[j+16] = rn((qs[j] >> 4) - 8) * d) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    const int sh = (p & 16) ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(2 + (p & 15), w);
#pragma unroll
    for (int k = 0; k < V / 4; ++k) {
      const uint32_t n = (w[k] >> sh) & 0x0F0F0F0Fu; /* four nibbles, one per byte */
#pragma unroll
      for (int i = 0; i < 4; ++i) y[4 * k + i] = __fmul_rn(byte_minus(n, i, 8.0f), d);
    }
  }
};

template <> struct Dec<GG_TYPE_Q4_1> {
  /* y = rn(rn(x * d) + m), x the nibble */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    const float m = gg_h2f((uint16_t)b.u16(2));
    const int sh = (p & 16) ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(4 + (p & 15), w);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int q = (int)((byte_at(w, i) >> sh) & 15u);
      y[i] = mul_add<GG_FMA_Q4_1 != 0>((float)q, d, m);
    }
  }
};

template <> struct Dec<GG_TYPE_Q5_0> {
  /* weight e: x = (nibble | bit e of qh << 4) - 16; y = rn(x * d) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    uint32_t qh[1];
    b.words<1>(2, qh);
    const int sh = (p & 16) ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(6 + (p & 15), w);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int e = p + i;
      const int q = (int)(((byte_at(w, i) >> sh) & 15u) | (((qh[0] >> e) & 1u) << 4)) - 16;
      y[i] = __fmul_rn((float)q, d);
    }
  }
};

template <> struct Dec<GG_TYPE_Q5_1> {
  /* weight e: x = nibble | bit e of qh << 4; y = rn(rn(x * d) + m) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    const float m = gg_h2f((uint16_t)b.u16(2));
    uint32_t qh[1];
    b.words<1>(4, qh);
    const int sh = (p & 16) ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(8 + (p & 15), w);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int e = p + i;
      const int q = (int)(((byte_at(w, i) >> sh) & 15u) | (((qh[0] >> e) & 1u) << 4));
      y[i] = mul_add<GG_FMA_Q5_1 != 0>((float)q, d, m);
    }
  }
};

template <> struct Dec<GG_TYPE_Q8_0> {
  /* y[j] = rn(qs[j] * d), qs int8 */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    uint32_t w[V / 4];
    b.words<V / 4>(2 + p, w);
#pragma unroll
    for (int k = 0; k < V / 4; ++k) {
      const uint32_t u = w[k] ^ 0x80808080u; /* int8 q -> q + 128 in [0, 255] */
#pragma unroll
      for (int i = 0; i < 4; ++i) y[4 * k + i] = __fmul_rn(byte_minus(u, i, 128.0f), d);
    }
  }
};

template <> struct Dec<GG_TYPE_IQ4_NL> {
  /* y[j] = rn(d * K[qs[j] & 15]), y[j+16] = rn(d * K[qs[j] >> 4]) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float* kv) {
    const float d = gg_h2f((uint16_t)b.u16(0));
    const int sh = (p & 16) ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(2 + (p & 15), w);
#pragma unroll
    for (int i = 0; i < V; ++i) y[i] = __fmul_rn(d, kv[(byte_at(w, i) >> sh) & 15u]);
  }
};

template <> struct Dec<GG_TYPE_Q2_K> {
  /* weight 128h + 32g + 16s + l: sc = scales[8h + 2g + s]; dl = rn(d * (sc & 15));
   * ml = rn(dmin * (sc >> 4)); q = (qs[32h + 16s + l] >> 2g) & 3; y = rn(rn(dl * q) - ml) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const int h = p >> 7, g = (p >> 5) & 3, s = (p >> 4) & 1, l0 = p & 15;
    const float d = gg_h2f((uint16_t)b.u16(80));
    const float dmin = gg_h2f((uint16_t)b.u16(82));
    const uint32_t sc = b.u8(8 * h + 2 * g + s);
    const float dl = __fmul_rn(d, (float)(int)(sc & 15u));
    const float ml = __fmul_rn(dmin, (float)(int)(sc >> 4));
    uint32_t w[V / 4];
    b.words<V / 4>(16 + 32 * h + 16 * s + l0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int q = (int)((byte_at(w, i) >> (2 * g)) & 3u);
      y[i] = mul_sub<GG_FMA_Q2_K != 0>(dl, (float)q, ml);
    }
  }
};

template <> struct Dec<GG_TYPE_Q3_K> {
  /* scale k: lo = k < 8 ? S[k] & 15 : S[k-8] >> 4; hi = (S[8 + k%4] >> 2(k/4)) & 3;
   * weight 128h + 32g + 16s + l: dl = rn(d * ((lo | hi << 4) - 32)) for k = 8h + 2g + s;
   * q = ((qs[32h + 16s + l] >> 2g) & 3) - (hmask[16s + l] bit (4h + g) ? 0 : 4); y = rn(dl * q) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const int h = p >> 7, g = (p >> 5) & 3, s = (p >> 4) & 1, l0 = p & 15;
    const float d = gg_h2f((uint16_t)b.u16(108));
    const int k = 8 * h + 2 * g + s;
    const uint32_t lo = (b.u8(96 + (k & 7)) >> (4 * (k >> 3))) & 15u;
    const uint32_t hi = (b.u8(104 + (k & 3)) >> (2 * (k >> 2))) & 3u;
    const float dl = __fmul_rn(d, (float)((int)(lo | (hi << 4)) - 32));
    uint32_t wq[V / 4], wm[V / 4];
    b.words<V / 4>(32 + 32 * h + 16 * s + l0, wq);
    b.words<V / 4>(16 * s + l0, wm);
    const int hb = 4 * h + g;
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int q = (int)((byte_at(wq, i) >> (2 * g)) & 3u) - (((byte_at(wm, i) >> hb) & 1u) ? 0 : 4);
      y[i] = __fmul_rn(dl, (float)q);
    }
  }
};

/* Q4_K / Q5_K: sub-block 2c + s's scale and min as the decoders apply them: x = rn(d * sc), y = rn(dmin * m) */
__device__ __forceinline__ float2 k4_sub_scales(const Blk& b, int c, int s) {
  const float d = gg_h2f((uint16_t)b.u16(0)), dmin = gg_h2f((uint16_t)b.u16(2));
  int sc, m;
  gg_scale_min_k4(b.tile + b.off + 4, 2 * c + s, sc, m);
  return make_float2(__fmul_rn(d, (float)sc), __fmul_rn(dmin, (float)m));
}

template <> struct Dec<GG_TYPE_Q4_K> {
  /* weight 64c + 32s + l, v = qs[32c + l]: d1 = rn(d * sc_{2c+s}); m1 = rn(dmin * m_{2c+s});
   * y = rn(rn(d1 * (s ? v >> 4 : v & 15)) - m1) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const int c = p >> 6, s = (p >> 5) & 1, l0 = p & 31;
    const float2 dm = k4_sub_scales(b, c, s);
    const float d1 = dm.x, m1 = dm.y;
    const int sh = s ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(16 + 32 * c + l0, w);
#pragma unroll
    for (int k = 0; k < V / 4; ++k) {
      const uint32_t n = (w[k] >> sh) & 0x0F0F0F0Fu;
#pragma unroll
      for (int i = 0; i < 4; ++i)
        y[4 * k + i] = mul_sub<GG_FMA_Q4_K != 0>(d1, byte_minus(n, i, 0.0f), m1);
    }
  }
};

template <> struct Dec<GG_TYPE_Q5_K> {
  /* as Q4_K with q = nibble + 16 * ((qh[l] >> (2c + s)) & 1), qs at 48, qh at 16 */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const int c = p >> 6, s = (p >> 5) & 1, l0 = p & 31;
    const float2 dm = k4_sub_scales(b, c, s);
    const float d1 = dm.x, m1 = dm.y;
    const int sh = s ? 4 : 0;
    const int hb = 2 * c + s;
    uint32_t wq[V / 4], wh[V / 4];
    b.words<V / 4>(48 + 32 * c + l0, wq);
    b.words<V / 4>(16 + l0, wh);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int q = (int)((byte_at(wq, i) >> sh) & 15u) + (((byte_at(wh, i) >> hb) & 1u) ? 16 : 0);
      y[i] = mul_sub<GG_FMA_Q5_K != 0>(d1, (float)q, m1);
    }
  }
};

template <> struct Dec<GG_TYPE_Q6_K> {
  /* weight 128h + 32g + l (t = l >> 4): lowbits = (ql[64h + 32(g&1) + l] >> 4(g>>1)) & 15;
   * highbits = (qh[32h + l] >> 2g) & 3; q = (lowbits | highbits << 4) - 32;
   * y = rn(rn(d * scales[8h + t + 2g]) * q) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float*) {
    const int h = p >> 7, g = (p >> 5) & 3, l0 = p & 31;
    const float d = gg_h2f((uint16_t)b.u16(208));
    const int sc = (int)(int8_t)(uint8_t)b.u8(192 + 8 * h + (l0 >> 4) + 2 * g);
    const float ds = __fmul_rn(d, (float)sc);
    const int shl = (g >> 1) * 4;
    uint32_t wl[V / 4], wh[V / 4];
    b.words<V / 4>(64 * h + 32 * (g & 1) + l0, wl);
    b.words<V / 4>(128 + 32 * h + l0, wh);
#pragma unroll
    for (int k = 0; k < V / 4; ++k) {
      /* q + 32 of four weights, one per byte */
      const uint32_t u = ((wl[k] >> shl) & 0x0F0F0F0Fu) | (((wh[k] >> (2 * g)) & 0x03030303u) << 4);
#pragma unroll
      for (int i = 0; i < 4; ++i) y[4 * k + i] = __fmul_rn(ds, byte_minus(u, i, 32.0f));
    }
  }
};

template <> struct Dec<GG_TYPE_IQ4_XS> {
  /* sub-block k = 0..7: ls = ((scales_l[k/2] >> 4(k&1)) & 15) | ((scales_h >> 2k) & 3) << 4;
   * dl = rn(d * (ls - 32)); y[32k + 16s + j] = rn(dl * K[nibble s of qs[16k + j]]) */
  template <int V>
  static __device__ __forceinline__ void run(const Blk& b, int p, float (&y)[V], const float* kv) {
    const int k = p >> 5, s = (p >> 4) & 1, j0 = p & 15;
    const float d = gg_h2f((uint16_t)b.u16(0));
    const uint32_t sh_hi = b.u16(2);
    const uint32_t ls = ((b.u8(4 + (k >> 1)) >> (4 * (k & 1))) & 15u) | (((sh_hi >> (2 * k)) & 3u) << 4);
    const float dl = __fmul_rn(d, (float)((int)ls - 32));
    const int sh = s ? 4 : 0;
    uint32_t w[V / 4];
    b.words<V / 4>(8 + 16 * k + j0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) y[i] = __fmul_rn(dl, kv[(byte_at(w, i) >> sh) & 15u]);
  }
};

template <int TYPE>
struct UsesCodebook {
  static constexpr bool value = TYPE == GG_TYPE_IQ4_NL || TYPE == GG_TYPE_IQ4_XS;
};

/* ---- loads and stores ---- */

/* 16 bytes of src at byte g, zero past `total`; byte loads (for the tail and unaligned src). */
__device__ __forceinline__ uint4 load16_bytes(const uint8_t* __restrict__ src, int64_t g, int64_t total) {
  uint32_t w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
  for (int i = 0; i < 16; ++i)
    if (g + i < total) w[i >> 2] |= (uint32_t)src[g + i] << (8 * (i & 3));
  return make_uint4(w[0], w[1], w[2], w[3]);
}

template <int OUT, bool FAST>
__device__ __forceinline__ void store_item(void* __restrict__ dst, int64_t e, const float (&y)[OUT == OUT_F32 ? 4 : 8]) {
  if (OUT == OUT_F32) {
    float* o = static_cast<float*>(dst) + e;
    if (FAST) {
      *reinterpret_cast<float4*>(o) = make_float4(y[0], y[1], y[2], y[3]);
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) o[i] = y[i];
    }
  } else {
    uint32_t h[4]; /* weights 2i, 2i + 1 */
#pragma unroll
    for (int i = 0; i < 4; ++i) h[i] = OUT == OUT_F16 ? gg_f2h2(y[2 * i], y[2 * i + 1]) : gg_f2bf2(y[2 * i], y[2 * i + 1]);
    uint16_t* o = static_cast<uint16_t*>(dst) + e;
    if (FAST) {
      *reinterpret_cast<uint4*>(o) = make_uint4(h[0], h[1], h[2], h[3]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) o[i] = (uint16_t)(h[i >> 1] >> (16 * (i & 1)));
    }
  }
}

/* ---- the kernel ---- */
/* sm_86/87/89 hold 1536 threads per SM, the others built for 2048: cap the CTA minimum so the
 * launch bounds stay satisfiable on every target */
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 860 || __CUDA_ARCH__ == 870 || __CUDA_ARCH__ == 890)
#define GG_THREADS_PER_SM 1536
#else
#define GG_THREADS_PER_SM 2048
#endif
template <int M>
struct MinCtas {
  static constexpr int value = M * kThreads > GG_THREADS_PER_SM ? GG_THREADS_PER_SM / kThreads : M;
};

template <int TYPE, int OUT, bool FAST>
__global__ void __launch_bounds__(kThreads, (MinCtas<Cfg<TYPE, OUT>::MIN_CTAS>::value))
dequant_kernel(const uint8_t* __restrict__ src, void* __restrict__ dst, int64_t n_elems) {
  using C = Cfg<TYPE, OUT>;
  constexpr int QK = gg_block_info<TYPE>::QK;
  constexpr int TS = gg_block_info<TYPE>::TS;
  constexpr int V = C::V;
  constexpr int TILE = kThreads * C::ITEMS * V;     /* weights per tile */
  constexpr int TILE_BYTES = TILE / QK * TS;
  constexpr int NVEC = TILE_BYTES / 16;              /* 16-byte vectors per tile */
  constexpr int LPT = (NVEC + kThreads - 1) / kThreads;
  static_assert(TILE % QK == 0 && (TILE / QK) % 8 == 0, "tiles must be whole 16-byte vectors");
  static_assert(QK % V == 0, "items never straddle blocks");

  __shared__ __align__(16) uint8_t tile[TILE_BYTES + 16]; /* +16: padding read by Blk::words */
  __shared__ float kv[16];

  const int tid = threadIdx.x;
  if (UsesCodebook<TYPE>::value && tid < 16) kv[tid] = (float)kIq4nl[tid];
  if (tid < 4) reinterpret_cast<uint32_t*>(tile + TILE_BYTES)[tid] = 0u;

  const int64_t total_bytes = n_elems / QK * TS;
  const int64_t n_tiles = (n_elems + TILE - 1) / TILE;

  /* normally one tile per CTA; the loop covers grids capped below the tile count */
  for (int64_t t = blockIdx.x; t < n_tiles; t += gridDim.x) {
    /* 1. the tile's raw bytes -> shared memory (byte loads only for a ragged end or unaligned src) */
    uint4 r[LPT];
#pragma unroll
    for (int j = 0; j < LPT; ++j) {
      const int v = tid + j * kThreads;
      if (NVEC % kThreads == 0 || v < NVEC) {
        const int64_t g = t * TILE_BYTES + (int64_t)v * 16;
        if (FAST && g + 16 <= total_bytes) {
          if (C::ASYNC) gg_cp_async16(tile + v * 16, src + g);
          else r[j] = __ldg(reinterpret_cast<const uint4*>(src + g));
        } else {
          r[j] = load16_bytes(src, g, total_bytes);
          if (C::ASYNC) reinterpret_cast<uint4*>(tile)[v] = r[j];
        }
      }
    }
    if (C::ASYNC) {
      gg_cp_async_wait();
    } else {
#pragma unroll
      for (int j = 0; j < LPT; ++j) {
        const int v = tid + j * kThreads;
        if (NVEC % kThreads == 0 || v < NVEC) reinterpret_cast<uint4*>(tile)[v] = r[j];
      }
    }
    __syncthreads();

    /* 2. decode: item k of thread tid is weights [(tid + k*kThreads) * V, + V) of the tile, so a
     * warp's 16-byte stores cover 512 contiguous bytes */
    const int64_t base = t * TILE;
#pragma unroll C::UNROLL
    for (int k = 0; k < C::ITEMS; ++k) {
      const int e = (tid + k * kThreads) * V;
      if (base + e >= n_elems) break;
      const Blk b{tile, (e / QK) * TS};
      float y[V];
      Dec<TYPE>::template run<V>(b, e % QK, y, kv);
      store_item<OUT, FAST>(dst, base + e, y);
    }
    __syncthreads();
  }
}

/* ---- plain element types (F32, F16, BF16): a conversion, no blocks. Each thread converts 8
 * elements per step; exact widening, round-to-nearest-even narrowing (as the CPU reference). */
template <int TYPE> __device__ __forceinline__ float load_elem(const uint8_t* p, int64_t i);
template <> __device__ __forceinline__ float load_elem<GG_TYPE_F32>(const uint8_t* p, int64_t i) {
  return reinterpret_cast<const float*>(p)[i];
}
template <> __device__ __forceinline__ float load_elem<GG_TYPE_F16>(const uint8_t* p, int64_t i) {
  return gg_h2f(reinterpret_cast<const uint16_t*>(p)[i]);
}
template <> __device__ __forceinline__ float load_elem<GG_TYPE_BF16>(const uint8_t* p, int64_t i) {
  return __uint_as_float((uint32_t)reinterpret_cast<const uint16_t*>(p)[i] << 16);
}

template <int TYPE, int OUT>
__global__ void __launch_bounds__(kThreads) convert_kernel(const uint8_t* __restrict__ src, void* __restrict__ dst,
                                                           int64_t n) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = load_elem<TYPE>(src, i);
    if (OUT == OUT_F32) {
      static_cast<float*>(dst)[i] = v;
    } else if (OUT == OUT_F16) {
      static_cast<uint16_t*>(dst)[i] = TYPE == GG_TYPE_F16 ? reinterpret_cast<const uint16_t*>(src)[i] : gg_f2h(v);
    } else {
      static_cast<uint16_t*>(dst)[i] = TYPE == GG_TYPE_BF16 ? reinterpret_cast<const uint16_t*>(src)[i] : gg_f2bf(v);
    }
  }
}

const char* dtype_name(int32_t dt) {
  return dt == GG_DTYPE_F32 ? "f32" : dt == GG_DTYPE_F16 ? "f16" : dt == GG_DTYPE_BF16 ? "bf16" : "?";
}

template <int TYPE, int OUT, bool FAST>
int launch(const void* src, void* dst, int64_t n_elems, cudaStream_t stream) {
  constexpr int TILE = kThreads * Cfg<TYPE, OUT>::ITEMS * Cfg<TYPE, OUT>::V;
  int64_t grid = (n_elems + TILE - 1) / TILE;
  if (grid > 0x7fffffff) grid = 0x7fffffff; /* the kernel loops over the tiles beyond the grid */
  dequant_kernel<TYPE, OUT, FAST><<<(unsigned)grid, kThreads, 0, stream>>>(
      static_cast<const uint8_t*>(src), dst, n_elems);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    char what[128];
    snprintf(what, sizeof what, "dequant_kernel<%s, %s%s><<<%lld, %d>>>", gg_type_name(TYPE), dtype_name(OUT),
             FAST ? "" : ", unaligned", (long long)grid, kThreads);
    return gg_fail_cuda(err, what, __FILE__, __LINE__, 1);
  }
  return GG_OK;
}

template <int TYPE, int OUT>
int launch_convert(const void* src, void* dst, int64_t n, cudaStream_t stream) {
  int64_t grid = (n + kThreads - 1) / kThreads;
  int sms = 0;
  GG_TRY(gg_sm_count(&sms));
  if (grid > (int64_t)sms * 32) grid = (int64_t)sms * 32; /* the grid-stride loop covers the rest */
  if (grid < 1) grid = 1;
  convert_kernel<TYPE, OUT><<<(unsigned)grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return gg_fail_cuda(err, "convert_kernel", __FILE__, __LINE__, 1);
  return GG_OK;
}

template <int TYPE>
int dispatch_convert(const void* src, void* dst, int64_t n, int32_t out_dtype, cudaStream_t s) {
  switch (out_dtype) {
    case GG_DTYPE_F32: return launch_convert<TYPE, OUT_F32>(src, dst, n, s);
    case GG_DTYPE_F16: return launch_convert<TYPE, OUT_F16>(src, dst, n, s);
    case GG_DTYPE_BF16: return launch_convert<TYPE, OUT_BF16>(src, dst, n, s);
    default: return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: unknown output dtype %d", (int)out_dtype);
  }
}

template <int TYPE>
int dispatch_out(const void* src, void* dst, int64_t n_elems, int32_t out_dtype, bool fast, cudaStream_t s) {
  switch (out_dtype) {
    case GG_DTYPE_F32:
      return fast ? launch<TYPE, OUT_F32, true>(src, dst, n_elems, s) : launch<TYPE, OUT_F32, false>(src, dst, n_elems, s);
    case GG_DTYPE_F16:
      return fast ? launch<TYPE, OUT_F16, true>(src, dst, n_elems, s) : launch<TYPE, OUT_F16, false>(src, dst, n_elems, s);
    case GG_DTYPE_BF16:
      return fast ? launch<TYPE, OUT_BF16, true>(src, dst, n_elems, s) : launch<TYPE, OUT_BF16, false>(src, dst, n_elems, s);
    default:
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: unknown output dtype %d", (int)out_dtype);
  }
}

}  // namespace

int gg_dequant_check(int32_t type, const void* src, const void* dst, int64_t rows, int64_t row_len,
                     int32_t out_dtype, int64_t* n_elems) {
  int qk = 0, ts = 0;
  if (!gg_block_layout(type, &qk, &ts))
    return gg_fail(GG_ERR_UNSUPPORTED, "", "dequantize: ggml type %d is not supported by this library", (int)type);
  if (out_dtype != GG_DTYPE_F32 && out_dtype != GG_DTYPE_F16 && out_dtype != GG_DTYPE_BF16)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: output dtype %d is not f32 (0), f16 (1) or bf16 (2)",
                   (int)out_dtype);
  if (rows < 0 || row_len < 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: negative shape %lld x %lld", (long long)rows,
                   (long long)row_len);
  if (row_len % qk != 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: row length %lld is not a multiple of the %s block size %d",
                   (long long)row_len, gg_type_name(type), qk);
  /* the byte count must fit in int64 as well as the element count */
  if (row_len > 0 && rows > (INT64_MAX / 4) / row_len)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: shape %lld x %lld is too large", (long long)rows,
                   (long long)row_len);
  const int64_t n = rows * row_len;
  if (n > 0 && (src == nullptr || dst == nullptr))
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "dequantize: null %s pointer", src == nullptr ? "source" : "destination");
  *n_elems = n;
  return GG_OK;
}

int gg_dequant_launch(int32_t type, const void* src, void* dst, int64_t n_elems, int32_t out_dtype,
                      cudaStream_t s) {
  const bool fast = ((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15u) == 0;
  switch (type) {
#define GG_CASE(TY) case TY: return dispatch_out<TY>(src, dst, n_elems, out_dtype, fast, s);
    GG_CASE(GG_TYPE_Q4_0) GG_CASE(GG_TYPE_Q4_1) GG_CASE(GG_TYPE_Q5_0) GG_CASE(GG_TYPE_Q5_1)
    GG_CASE(GG_TYPE_Q8_0) GG_CASE(GG_TYPE_Q2_K) GG_CASE(GG_TYPE_Q3_K) GG_CASE(GG_TYPE_Q4_K)
    GG_CASE(GG_TYPE_Q5_K) GG_CASE(GG_TYPE_Q6_K) GG_CASE(GG_TYPE_IQ4_NL) GG_CASE(GG_TYPE_IQ4_XS)
#undef GG_CASE
    case GG_TYPE_F32: return dispatch_convert<GG_TYPE_F32>(src, dst, n_elems, out_dtype, s);
    case GG_TYPE_F16: return dispatch_convert<GG_TYPE_F16>(src, dst, n_elems, out_dtype, s);
    case GG_TYPE_BF16: return dispatch_convert<GG_TYPE_BF16>(src, dst, n_elems, out_dtype, s);
    default:
      return gg_fail(GG_ERR_UNSUPPORTED, "", "dequantize: ggml type %d is not supported by this library", (int)type);
  }
}
