/* gguf-gpu: the tensor-core path for Q4_0, Q8_0, Q4_K and Q6_K (included by matmul.cu only;
 * CUDA sm_80+ only: the whole file is skipped under HIP, where every type takes the generic path).
 *
 * ---------------------------------------------------------------------------------------------
 * PACKED LAYOUT ("fragment order"). gg_matmul_pack re-lays the raw ggml blocks once, keeping every
 * bit (no value changes, same bytes per weight), so that each lane of a warp fetches exactly the
 * bits of its mma.sync.m16n8k16 A fragment with one 16-byte load, and a warp's 32 loads are 512
 * contiguous bytes.
 *
 *   Rows are taken in groups of 16 (G = row / 16; rows padded with zero blocks to a multiple of
 *   16). K is cut in chunks of 64 weights (c = k / 64; the 32-weight-block types pad K to a
 *   multiple of 64 with one zero block per row when the block count is odd). Inside a
 *   (group, chunk) a lane L = 4g + t (g = L / 4, t = L % 4) owns rows g and g + 8 and, for each of
 *   the chunk's four k16 steps s (k = 16 s + kk), the columns kk = 2t, 2t+1, 2t+8, 2t+9: exactly
 *   the A-fragment elements a0..a7 of mma.m16n8k16 (row-major A = W, 16 rows x 16 k).
 *
 *   4-bit quants (Q4_0 qs, Q4_K qs, Q6_K low 4 bits): one 32-bit word per step, nibble i at bits
 *   4i..4i+3 holds (row, kk) = (i odd ? g+8 : g,  2t + 8*((i>>1)&1) + (i>>2)), so that
 *   (word >> 4r) & 0x000F000F | 0x64006400 is the f16x2 register r of the fragment, as 1024 + q.
 *   A lane's 16 bytes = the words of steps 0..3 of its chunk.
 *
 *   Q8_0 quants: two words per step: word 0 = bytes {(g,2t), (g,2t+1), (g+8,2t), (g+8,2t+1)},
 *   word 1 = the same at kk + 8; a byte permute with 0x64 (after ^0x80) gives f16 1152 + q.
 *   A lane's 16 bytes = one 32-weight block (2 steps); a chunk holds two such 512-byte slabs.
 *
 *   Q6_K high 2 bits: one word per pair of steps (16 weights x 2 bits), 16 bytes per lane per 128
 *   k. Step 2w uses bits {4+2i, 20+2i} (i < 4) so (H >> 2r) & 0x00300030 lands on bits 4-5 and
 *   20-21; step 2w+1 uses bits {12+2i, (28+2i) mod 32} so rotr(H, 8 + 2r) does the same.
 *
 *   Scales: Q4_0 / Q8_0: per (group, chunk) 64 bytes, lane reads 8 at 8g: fp16 d of (g, block0),
 *   (g+8, block0), (g, block1), (g+8, block1). Q4_K: per (group, super-block) 256 bytes, 16 per
 *   row, rows g and g+8 adjacent (lane reads 32 at 32g): fp16 d, fp16 dmin, then the 8 6-bit
 *   (scale, min) pairs re-packed as bytes b_j = sc_j | (m_j >> 4) << 6 and a word holding
 *   m_j & 15 at bits 4j. Q6_K: per (group, super-block) the 16 int8 scales of rows g and g+8
 *   (256 bytes) and their fp16 d (32 bytes, lane reads d_g | d_{g+8} << 16 at 4g).
 *
 *   Regions, in order, inside the packed buffer (Gn groups, nc chunks, nsb super-blocks per row):
 *     Q4_0: qs Gn*nc*512 | sc Gn*nc*64                      = Gn*16 rows * nc*2 blocks * 18 B
 *     Q8_0: qs Gn*nc*1024 | sc Gn*nc*64                     = Gn*16 * nc*2 * 34 B
 *     Q4_K: qs Gn*nsb*2048 | meta Gn*nsb*256                = Gn*16 * nsb * 144 B
 *     Q6_K: ql Gn*nsb*2048 | qh Gn*nsb*1024 | sc Gn*nsb*256 | d Gn*nsb*32 = Gn*16 * nsb * 210 B
 *
 * ---------------------------------------------------------------------------------------------
 * DECODE (batch <= 64): k_decode<Type, NT, SPLIT>. W is the mma A operand (16 rows), the batch the
 * N operand (NT tiles of 8 columns, zero-padded). A CTA of 8 warps takes 8 row groups (128 rows)
 * and a K slice (split-K, S slices, one wave of 2 CTAs per SM); warp w streams group w of the slice
 * through its own ring of R shared-memory slots filled with cp.async (LDGSTS.128; a slot = one
 * unit: 4 chunks for Q4_0, 2 for Q8_0, one super-block for the K-quants), so the bytes in flight
 * cost no registers.
 * Accuracy: the A operand holds the raw integer quants, exact in f16 (|q| <= 128); the block scale
 * (Q4_0/Q8_0 d, Q4_K d*sc and dmin*m, Q6_K d*sc) is applied in f32 to the mma's per-block partial
 * sums: acc += (d*sc) * sum(q*x) - (dmin*m) * sum(x). The only rounding besides f32 accumulation
 * is x to f16. x is scaled per column by a power of two (max |x| into [2^14, 2^15)) before the
 * conversion and the result scaled back, so no range is lost; NMSE from x rounding ~ 4e-8. With
 * SPLIT (small problems, chosen by the host) x = hi + lo in two f16 planes, two mma: ~2^-22.
 * The K slice's x is staged once per CTA in shared memory, already in B-fragment order (one
 * 16-byte LDS gives a lane its B fragments for two k16 steps), with per-32 column sums for Q4_K.
 * With S slices per row block, each CTA writes its partial sums; the last CTA of a row block
 * (atomic counter, self-resetting) adds the S partials in fixed order: deterministic.
 *
 * PREFILL (batch > 64): k_prefill<Type>. 128 x 128 output tile, 8 warps (4 along M x 2 along N,
 * 32 x 64 each), k64 per stage, 4-stage cp.async pipeline. W chunks are copied raw into shared
 * memory; each warp builds its f16 A fragments from them (scale folded in: f16(d * q), f16 FMA for
 * Q4_K's min), and reads B fragments of x from shared memory, which a small pre-kernel (k_xprep)
 * has converted to f16 in fragment order (with the same per-column power-of-two scale).
 * NMSE ~ 1e-7 (x and W each rounded to f16 once).
 */
#ifndef GG_MATMUL_FRAG_CUH
#define GG_MATMUL_FRAG_CUH

#include "compat.h"
#include "blocks.h"

#include <stdint.h>

namespace mmf {

/* Pointers to the regions of one packed matrix. */
struct WP {
  const uint8_t* p0;
  const uint8_t* p1;
  const uint8_t* p2;
  const uint8_t* p3;
};

/* ------------------------------------------------------------------------- device helpers */

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define GG_MMF_SM80 1
#else
#define GG_MMF_SM80 0
#endif

/* f16x2 arithmetic on raw 32-bit registers. */
__device__ __forceinline__ uint32_t hsub2(uint32_t a, uint32_t b) {
  uint32_t d;
#if GG_MMF_SM80
  asm("sub.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
#else
  d = 0; (void)a; (void)b;
#endif
  return d;
}
__device__ __forceinline__ uint32_t hmul2(uint32_t a, uint32_t b) {
  uint32_t d;
#if GG_MMF_SM80
  asm("mul.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
#else
  d = 0; (void)a; (void)b;
#endif
  return d;
}
__device__ __forceinline__ uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
#if GG_MMF_SM80
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
#else
  d = 0; (void)a; (void)b; (void)c;
#endif
  return d;
}
/* two f32 -> f16x2 (lo in the low half), round to nearest even */
__device__ __forceinline__ uint32_t pack_h2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
/* {x, x} from the low (sel 0) or high (sel 1) half of a word */
__device__ __forceinline__ uint32_t dup_lo(uint32_t w) { return __byte_perm(w, 0, 0x1010); }
__device__ __forceinline__ uint32_t dup_hi(uint32_t w) { return __byte_perm(w, 0, 0x3232); }
__device__ __forceinline__ float h_lo(uint32_t w) { return gg_h2f((uint16_t)(w & 0xffffu)); }
__device__ __forceinline__ float h_hi(uint32_t w) { return gg_h2f((uint16_t)(w >> 16)); }

/* D = A * B + D, m16n8k16, f16 inputs, f32 accumulators. */
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if GG_MMF_SM80
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  (void)c; (void)a; (void)b0; (void)b1;
  __trap();
#endif
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
#if GG_MMF_SM80
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(smem_addr(dst)), "l"(src));
#else
  *(uint4*)dst = *(const uint4*)src;
#endif
}
__device__ __forceinline__ void cp_async8(void* dst, const void* src) {
#if GG_MMF_SM80
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(smem_addr(dst)), "l"(src));
#else
  *(uint2*)dst = *(const uint2*)src;
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if GG_MMF_SM80
  asm volatile("cp.async.commit_group;" ::);
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
#if GG_MMF_SM80
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
#endif
}
/* cp_async_wait<n>() for a run-time n in 0 .. MAX (larger: MAX) */
template <int MAX> __device__ __forceinline__ void cp_async_wait_n(int n) {
  if constexpr (MAX > 0) {
    if (n >= MAX) {
      cp_async_wait<MAX>();
      return;
    }
    cp_async_wait_n<MAX - 1>(n);
  } else {
    cp_async_wait<0>();
  }
}

/* f16 constants as f16x2 bit patterns */
constexpr uint32_t kH1024 = 0x64006400u; /* 1024 */
constexpr uint32_t kH1032 = 0x64086408u; /* 1024 + 8   (Q4_0 offset) */
constexpr uint32_t kH1056 = 0x64206420u; /* 1024 + 32  (Q6_K offset) */
constexpr uint32_t kH1152 = 0x64806480u; /* 1024 + 128 (Q8_0, after ^0x80) */
constexpr uint32_t kH64 = 0x54005400u;   /* 64: a nibble left at bits 4-7 reads as q (nib4_q) */
constexpr uint32_t kH96 = 0x56005600u;   /* 64 + 32  (Q6_K offset of those registers) */

/* nibble register r (0..3) of a 4-bit word: f16x2 of (1024 + q) (the f16 decode kernels' Q4_0 and Q4_K;
 * nib4_q below takes fewer instructions, but there it made mma_decode_n32's Q4_K spill) */
__device__ __forceinline__ uint32_t nib_h2(uint32_t w, int r) { return ((w >> (4 * r)) & 0x000F000Fu) | kH1024; }
/* (w & mask) | bits in one LOP3: for nib_h2's and / or of two constants ptxas emits two (NOTES v36) */
__device__ __forceinline__ uint32_t and_or(uint32_t w, uint32_t mask, uint32_t bits) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(d) : "r"(w), "r"(mask), "r"(bits));
  return d;
}
/* (w & mask) ^ bits in one LOP3 (the int8 kernels' Q4_0 nibbles) */
__device__ __forceinline__ uint32_t and_xor(uint32_t w, uint32_t mask, uint32_t bits) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0x6A;" : "=r"(d) : "r"(w), "r"(mask), "r"(bits));
  return d;
}
/* The 4 nibble registers of a 4-bit word as f16x2 of q - off, exact: even r as nib_h2 (1024 + q), odd r
 * (the high nibble of a byte) left where it is, bits 4-7 of the mantissa of 64, whose unit there is
 * 1/16: 64 + q. So each register is one LOP3 and r = 2, 3 share one shift, where nib_h2 takes a shift
 * and two LOP3 (NOTES v36). off = 8 (Q4_0) or 0 (Q4_K). */
template <int off> __device__ __forceinline__ void nib4_q(uint32_t w, uint32_t (&a)[4]) {
  constexpr uint32_t sub_even = kH1024 + off * 0x00010001u; /* 1024 + off */
  constexpr uint32_t sub_odd = kH64 + off * 0x00100010u;    /* 64 + off: mantissa unit 1/16 */
  const uint32_t w8 = w >> 8;
  a[0] = hsub2(and_or(w, 0x000F000Fu, kH1024), sub_even);
  a[1] = hsub2(and_or(w, 0x00F000F0u, kH64), sub_odd);
  a[2] = hsub2(and_or(w8, 0x000F000Fu, kH1024), sub_even);
  a[3] = hsub2(and_or(w8, 0x00F000F0u, kH64), sub_odd);
}
/* Q6_K's 4 registers of a k16 step as f16x2 of q - 32, exact: the low bits from N placed as nib4_q places
 * them (even r: 1024 + q, odd r: 64 + q with the nibble left in place), the 2 high bits of register r
 * from H (group 0: bits 4 + 2r, 5 + 2r and 20 + 2r, 21 + 2r; group 1: 12 + 2r, 13 + 2r and 28 + 2r,
 * 29 + 2r mod 32) shifted just above them: one shift of H and two LOP3 per register, where the nibble
 * and the high bits apart (a shift, an and and an or each) took ~6 instructions (NOTES v36). */
__device__ __forceinline__ void q6_regs(uint32_t N, uint32_t H, int grp, uint32_t (&a)[4]) {
  const uint32_t N8 = N >> 8;
  /* register r's high bits at bits 4-5 (even r) or 8-9 (odd r) of each half */
  const uint32_t h0 = grp == 0 ? H : __funnelshift_r(H, H, 8);
  const uint32_t h1 = grp == 0 ? H << 2 : __funnelshift_r(H, H, 6);
  const uint32_t h2 = grp == 0 ? H >> 4 : __funnelshift_r(H, H, 12);
  const uint32_t h3 = grp == 0 ? H >> 2 : __funnelshift_r(H, H, 10);
  a[0] = hsub2(and_or(N, 0x000F000Fu, and_or(h0, 0x00300030u, kH1024)), kH1056);
  a[1] = hsub2(and_or(N, 0x00F000F0u, and_or(h1, 0x03000300u, kH64)), kH96);
  a[2] = hsub2(and_or(N8, 0x000F000Fu, and_or(h2, 0x00300030u, kH1024)), kH1056);
  a[3] = hsub2(and_or(N8, 0x00F000F0u, and_or(h3, 0x03000300u, kH64)), kH96);
}
/* the byte pair r (0: bytes 0,1; 1: bytes 2,3) of a Q8_0 word (already ^0x80808080) */
__device__ __forceinline__ uint32_t byte_h2(uint32_t wb, int r) {
  return __byte_perm(wb, 0x64646464u, r == 0 ? 0x4140 : 0x4342);
}

/* t = A(step 2sp) * x(step 2sp) + A(step 2sp+1) * x(step 2sp+1) for one n-tile: one 16-byte LDS of
 * B fragments (x = hi [+ lo]) at xs[idx], two mma (four with the lo plane, in separate chains). */
template <bool SPLIT>
__device__ __forceinline__ void mma_pair(float (&t)[4], const uint32_t (&a0)[4], const uint32_t (&a1)[4], const uint4* xs,
                                         int idx, int lo_off) {
  const uint4 B = xs[idx];
  t[0] = t[1] = t[2] = t[3] = 0.0f;
  mma16816(t, a0, B.x, B.y);
  if (SPLIT) {
    const uint4 L = xs[lo_off + idx];
    float u[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma16816(u, a0, L.x, L.y);
    mma16816(t, a1, B.z, B.w);
    mma16816(u, a1, L.z, L.w);
    t[0] += u[0]; t[1] += u[1]; t[2] += u[2]; t[3] += u[3];
  } else {
    mma16816(t, a1, B.z, B.w);
  }
}
/* One 32-weight block of a decode unit for every n-tile: acc[nt] += d * (A(2 steps) x), the block's pair of
 * f16 scales dd (rows g and g + 8 of the lane) applied in f32 to the mma's sums (Q4_0, Q8_0: A holds the
 * raw quants, exact in f16). sp: the block's step pair in the unit's x stage. */
template <int NT, bool SPLIT>
__device__ __forceinline__ void mma_block_scaled(float (&acc)[NT][4], const uint32_t (&a0)[4], const uint32_t (&a1)[4],
                                                 uint32_t dd, const uint4* xs, int nsp, int sp, int lane, int lo_off) {
  const float d0 = h_lo(dd), d1 = h_hi(dd);
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    float t[4];
    mma_pair<SPLIT>(t, a0, a1, xs, (nt * nsp + sp) * 32 + lane, lo_off);
    acc[nt][0] = fmaf(d0, t[0], acc[nt][0]);
    acc[nt][1] = fmaf(d0, t[1], acc[nt][1]);
    acc[nt][2] = fmaf(d1, t[2], acc[nt][2]);
    acc[nt][3] = fmaf(d1, t[3], acc[nt][3]);
  }
}
/* the two single-step products of a pair, kept apart (Q6_K: one scale per k16 step): B (and with
 * SPLIT the lo plane L) are one lane's 16 bytes of B fragments for the pair */
template <bool SPLIT>
__device__ __forceinline__ void mma_two(float (&t0)[4], float (&t1)[4], const uint32_t (&a0)[4], const uint32_t (&a1)[4],
                                        const uint4 B, const uint4 L) {
  t0[0] = t0[1] = t0[2] = t0[3] = 0.0f;
  t1[0] = t1[1] = t1[2] = t1[3] = 0.0f;
  mma16816(t0, a0, B.x, B.y);
  mma16816(t1, a1, B.z, B.w);
  if (SPLIT) {
    mma16816(t0, a0, L.x, L.y);
    mma16816(t1, a1, L.z, L.w);
  }
}

/* Per-column power-of-two scale for converting x to f16: max |x| * 2^e in [2^14, 2^15). */
__device__ __forceinline__ float col_scale(float amax, float* descale) {
  int e = 0;
  if (amax > 0.0f && amax <= 3.402823466e38f) {
    int ex;
    frexpf(amax, &ex); /* amax = m * 2^ex, m in [0.5, 1) */
    e = 15 - ex;
    e = e < -120 ? -120 : (e > 120 ? 120 : e);
  }
  *descale = ldexpf(1.0f, -e);
  return ldexpf(1.0f, e);
}

/* ---------------------------------------------------------------------- type traits: Q4_0 */
/* Decode unit = one chunk (64 k). Prefill stage: qs 512 B | sc 64 B per group. */
struct TQ4_0 {
  static constexpr int kType = GG_TYPE_Q4_0;
  static constexpr int CPU = 4; /* 64-k chunks per decode unit */
  static constexpr int UK = 64 * CPU;
  static constexpr bool XSUM = false;
  static constexpr int PW = 576;
  struct Unit {
    uint4 q[CPU];
    uint2 s[CPU];
  };
  static constexpr int SLOT = CPU * 576; /* qs CPU x 512 | sc CPU x 64 */
  template <int NT> __host__ __device__ static constexpr int ring() { return NT == 1 ? 4 : 2; }
  /* unit `unit` of group G = chunks CPU*unit .. ; nch of them exist (the last unit of a row may be short) */
  static __device__ __forceinline__ void copy(uint8_t* slot, const WP& p, int64_t G, int64_t nc, int64_t unit, int nch,
                                              int lane) {
    const int64_t c0 = G * nc + CPU * unit;
#pragma unroll
    for (int c = 0; c < CPU; ++c)
      if (c < nch) cp_async16(slot + c * 512 + lane * 16, p.p0 + (c0 + c) * 512 + lane * 16);
    if (lane < 4 * CPU && (lane >> 2) < nch) cp_async16(slot + CPU * 512 + lane * 16, p.p1 + c0 * 64 + lane * 16);
  }
  static __device__ __forceinline__ void lds(Unit& u, const uint8_t* slot, int lane) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      u.q[c] = *(const uint4*)(slot + c * 512 + lane * 16);
      u.s[c] = *(const uint2*)(slot + CPU * 512 + c * 64 + (lane >> 2) * 8);
    }
  }
  template <int NT, bool SPLIT>
  static __device__ __forceinline__ void compute(const Unit& u, int ul, int nch, const uint4* xs, int nsp, int lo_off,
                                                 const float*, float (&acc)[NT][4], int lane) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      if (c >= nch) break;
#pragma unroll
      for (int blk = 0; blk < 2; ++blk) { /* one 32-weight block = two k16 steps */
        const uint32_t w0 = blk == 0 ? u.q[c].x : u.q[c].z, w1 = blk == 0 ? u.q[c].y : u.q[c].w;
        uint32_t a0[4], a1[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          a0[r] = hsub2(nib_h2(w0, r), kH1032);
          a1[r] = hsub2(nib_h2(w1, r), kH1032);
        }
        mma_block_scaled<NT, SPLIT>(acc, a0, a1, blk == 0 ? u.s[c].x : u.s[c].y, xs, nsp, ul * (2 * CPU) + 2 * c + blk,
                                    lane, lo_off);
      }
    }
  }
  /* prefill: copy chunk c of group G into the stage (576 B = 36 pieces of 16 B) */
  static __device__ __forceinline__ void stage_piece(uint8_t* dst, const WP& p, int64_t G, int64_t nc, int64_t c, int i) {
    const int64_t ci = G * nc + c;
    if (i < 32) cp_async16(dst + i * 16, p.p0 + ci * 512 + i * 16);
    else cp_async16(dst + i * 16, p.p1 + ci * 64 + (i - 32) * 16);
  }
  static constexpr int kPieces = 36;
  /* A fragments of a 64-k chunk's 4 k16 steps with the scales folded in, f16(d (q - 8)), from the lane's
   * 16 bytes of quants and the scales of its rows g, g + 8 (the prefill GEMMs' A, and mma_gemv_n16's) */
  static __device__ __forceinline__ void fold(const uint4& q, const uint2& sc, uint32_t (&A)[4][4]) {
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      const uint32_t w = s == 0 ? q.x : s == 1 ? q.y : s == 2 ? q.z : q.w;
      const uint32_t dd = s < 2 ? sc.x : sc.y;
      const uint32_t dA = dup_lo(dd), dB = dup_hi(dd);
      uint32_t v[4];
      nib4_q<8>(w, v);
#pragma unroll
      for (int r = 0; r < 4; ++r) A[s][r] = hmul2(v[r], (r & 1) ? dB : dA);
    }
  }
  static __device__ __forceinline__ void afrag(const uint8_t* st, int lane, int64_t, uint32_t (&A)[4][4]) {
    const uint4 q = *(const uint4*)(st + lane * 16);
    const uint2 sc = *(const uint2*)(st + 512 + (lane >> 2) * 8);
    fold(q, sc, A);
  }
  /* step(c, A) for each of a decode unit's nch chunks, A as fold makes it */
  template <class Step> static __device__ __forceinline__ void fold_unit(const Unit& u, int nch, Step step) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      if (c >= nch) break;
      uint32_t A[4][4];
      fold(u.q[c], u.s[c], A);
      step(c, A);
    }
  }
};

/* ---------------------------------------------------------------------- type traits: Q8_0 */
struct TQ8_0 {
  static constexpr int kType = GG_TYPE_Q8_0;
  static constexpr int CPU = 2; /* 64-k chunks per decode unit */
  static constexpr int UK = 64 * CPU;
  static constexpr bool XSUM = false;
  static constexpr int PW = 1088;
  struct Unit {
    uint4 q[2 * CPU];
    uint2 s[CPU];
  };
  static constexpr int SLOT = CPU * 1088; /* qs CPU x 1024 | sc CPU x 64 */
  template <int NT> __host__ __device__ static constexpr int ring() { return NT == 1 ? 4 : 2; }
  static __device__ __forceinline__ void copy(uint8_t* slot, const WP& p, int64_t G, int64_t nc, int64_t unit, int nch,
                                              int lane) {
    const int64_t c0 = G * nc + CPU * unit;
#pragma unroll
    for (int c = 0; c < CPU; ++c)
      if (c < nch) {
        cp_async16(slot + c * 1024 + lane * 16, p.p0 + (c0 + c) * 1024 + lane * 16);
        cp_async16(slot + c * 1024 + 512 + lane * 16, p.p0 + (c0 + c) * 1024 + 512 + lane * 16);
      }
    if (lane < 4 * CPU && (lane >> 2) < nch) cp_async16(slot + CPU * 1024 + lane * 16, p.p1 + c0 * 64 + lane * 16);
  }
  static __device__ __forceinline__ void lds(Unit& u, const uint8_t* slot, int lane) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      u.q[2 * c] = *(const uint4*)(slot + c * 1024 + lane * 16);
      u.q[2 * c + 1] = *(const uint4*)(slot + c * 1024 + 512 + lane * 16);
      u.s[c] = *(const uint2*)(slot + CPU * 1024 + c * 64 + (lane >> 2) * 8);
    }
  }
  static __device__ __forceinline__ void step_a(const uint4& q, int s2, uint32_t (&a)[4], uint32_t sub) {
    const uint32_t w0 = (s2 == 0 ? q.x : q.z) ^ 0x80808080u;
    const uint32_t w1 = (s2 == 0 ? q.y : q.w) ^ 0x80808080u;
    a[0] = hsub2(byte_h2(w0, 0), sub);
    a[1] = hsub2(byte_h2(w0, 1), sub);
    a[2] = hsub2(byte_h2(w1, 0), sub);
    a[3] = hsub2(byte_h2(w1, 1), sub);
  }
  template <int NT, bool SPLIT>
  static __device__ __forceinline__ void compute(const Unit& u, int ul, int nch, const uint4* xs, int nsp, int lo_off,
                                                 const float*, float (&acc)[NT][4], int lane) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      if (c >= nch) break;
#pragma unroll
      for (int blk = 0; blk < 2; ++blk) {
        uint32_t a0[4], a1[4];
        step_a(u.q[2 * c + blk], 0, a0, kH1152);
        step_a(u.q[2 * c + blk], 1, a1, kH1152);
        mma_block_scaled<NT, SPLIT>(acc, a0, a1, blk == 0 ? u.s[c].x : u.s[c].y, xs, nsp, ul * (2 * CPU) + 2 * c + blk,
                                    lane, lo_off);
      }
    }
  }
  static constexpr int kPieces = 68;
  static __device__ __forceinline__ void stage_piece(uint8_t* dst, const WP& p, int64_t G, int64_t nc, int64_t c, int i) {
    const int64_t ci = G * nc + c;
    if (i < 64) cp_async16(dst + i * 16, p.p0 + ci * 1024 + i * 16);
    else cp_async16(dst + i * 16, p.p1 + ci * 64 + (i - 64) * 16);
  }
  /* A of a chunk with the scales folded in, f16(d q) (as TQ4_0::fold): q_of(blk) gives block blk's 16
   * bytes of the lane (loaded when needed: the prefill GEMMs' code as it was measured) */
  template <class QOf>
  static __device__ __forceinline__ void fold(QOf q_of, const uint2& sc, uint32_t (&A)[4][4]) {
#pragma unroll
    for (int blk = 0; blk < 2; ++blk) {
      const uint4 q = q_of(blk);
      const uint32_t dd = blk == 0 ? sc.x : sc.y;
      const uint32_t dA = dup_lo(dd), dB = dup_hi(dd);
#pragma unroll
      for (int s2 = 0; s2 < 2; ++s2) {
        uint32_t a[4];
        step_a(q, s2, a, kH1152);
#pragma unroll
        for (int r = 0; r < 4; ++r) A[2 * blk + s2][r] = hmul2(a[r], (r & 1) ? dB : dA);
      }
    }
  }
  static __device__ __forceinline__ void afrag(const uint8_t* st, int lane, int64_t, uint32_t (&A)[4][4]) {
    const uint2 sc = *(const uint2*)(st + 1024 + (lane >> 2) * 8);
    fold([&](int blk) { return *(const uint4*)(st + blk * 512 + lane * 16); }, sc, A);
  }
  template <class Step> static __device__ __forceinline__ void fold_unit(const Unit& u, int nch, Step step) {
#pragma unroll
    for (int c = 0; c < CPU; ++c) {
      if (c >= nch) break;
      uint32_t A[4][4];
      fold([&](int blk) { return u.q[2 * c + blk]; }, u.s[c], A);
      step(c, A);
    }
  }
};

/* ---------------------------------------------------------------------- type traits: Q4_K */
/* meta row: u16 d | u16 dmin | bytes b_j = sc_j | (m_j >> 4) << 6 (j = 0..7) | u32 m_j & 15 at 4j, so
 * sc_j = b_j & 63 and m_j = (m_j & 15) | (b_j >> 6) << 4 */

/* A unit's two meta rows (rows g and g + 8 of the lane) unpacked once per unit for q4k_row_scales:
 * per row d and dmin, the same times -2^23, and the 8 scales and 8 mins as bytes in j order
 * (sc[row][0]: j = 0..3, [1]: 4..7). */
struct Q4KRows {
  float d[2], m[2], nd[2], nm[2];
  uint32_t sc[2][2], mn[2][2];
};
__device__ __forceinline__ Q4KRows q4k_rows(const uint4 (&m)[2]) {
  Q4KRows r;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    r.d[i] = h_lo(m[i].x);
    r.m[i] = h_hi(m[i].x);
    r.nd[i] = -8388608.0f * r.d[i]; /* exact: a power of two */
    r.nm[i] = -8388608.0f * r.m[i];
    const uint32_t lo = m[i].w & 0x0F0F0F0Fu, hi = (m[i].w >> 4) & 0x0F0F0F0Fu; /* nibbles 0,2,4,6 / 1,3,5,7 */
    r.sc[i][0] = m[i].y & 0x3F3F3F3Fu;
    r.sc[i][1] = m[i].z & 0x3F3F3F3Fu;
    r.mn[i][0] = __byte_perm(lo, hi, 0x5140) | ((m[i].y >> 2) & 0x30303030u); /* | (b_j >> 6) << 4 */
    r.mn[i][1] = __byte_perm(lo, hi, 0x7362) | ((m[i].z >> 2) & 0x30303030u);
  }
  return r;
}
/* s * byte k of w, rounded once as s * (float)byte is: the byte goes into the mantissa of 2^23 (one
 * permute) and an FMA with nb = -s * 2^23 takes the 2^23 off exactly; no int-to-float conversion.
 * (Equal in value; a zero byte with s < 0 gives +0 where the product gave -0. Where s is not finite
 * the result is NaN, where s * byte could be +-inf.) */
__device__ __forceinline__ float byte_2p23(uint32_t w, int k) { /* 2^23 + byte k of w, exactly */
  return __int_as_float((int)__byte_perm(w, 0x4B000000u, 0x7540u + (unsigned)k));
}
__device__ __forceinline__ float scaled_byte(uint32_t w, int k, float s, float nb) { return fmaf(s, byte_2p23(w, k), nb); }
/* Sub-block j's d * sc and dmin * m for rows g (A) and g + 8 (B). */
__device__ __forceinline__ void q4k_row_scales(const Q4KRows& r, int j, float& d1A, float& m1A, float& d1B, float& m1B) {
  const int h = j >> 2, k = j & 3;
  d1A = scaled_byte(r.sc[0][h], k, r.d[0], r.nd[0]);
  m1A = scaled_byte(r.mn[0][h], k, r.m[0], r.nm[0]);
  d1B = scaled_byte(r.sc[1][h], k, r.d[1], r.nd[1]);
  m1B = scaled_byte(r.mn[1][h], k, r.m[1], r.nm[1]);
}

struct TQ4_K {
  static constexpr int kType = GG_TYPE_Q4_K;
  static constexpr int UK = 256;
  static constexpr bool XSUM = true;
  static constexpr int PW = 768;
  struct Unit {
    uint4 q[4];
    uint4 m[2];
  };
  static constexpr int SLOT = 2304; /* qs 4 x 512 | meta 256 */
  template <int NT> __host__ __device__ static constexpr int ring() { return NT == 1 ? 4 : 2; }
  static __device__ __forceinline__ void copy(uint8_t* slot, const WP& p, int64_t G, int64_t nc, int64_t unit, int,
                                              int lane) {
    const int64_t bi = G * (nc >> 2) + unit;
#pragma unroll
    for (int c = 0; c < 4; ++c) cp_async16(slot + c * 512 + lane * 16, p.p0 + (bi * 4 + c) * 512 + lane * 16);
    if (lane < 16) cp_async16(slot + 2048 + lane * 16, p.p1 + bi * 256 + lane * 16);
  }
  static __device__ __forceinline__ void lds(Unit& u, const uint8_t* slot, int lane) {
#pragma unroll
    for (int c = 0; c < 4; ++c) u.q[c] = *(const uint4*)(slot + c * 512 + lane * 16);
    u.m[0] = *(const uint4*)(slot + 2048 + (lane >> 2) * 32);
    u.m[1] = *(const uint4*)(slot + 2048 + (lane >> 2) * 32 + 16);
  }
  template <int NT, bool SPLIT>
  static __device__ __forceinline__ void compute(const Unit& u, int ul, int, const uint4* xs, int nsp, int lo_off,
                                                 const float* xsum, float (&acc)[NT][4], int lane) {
    const Q4KRows rs = q4k_rows(u.m);
    const int t4 = lane & 3;
#pragma unroll
    for (int j = 0; j < 8; ++j) { /* 32-weight sub-block = steps 2j, 2j+1 = chunk j/2, words 2(j&1), +1 */
      const int sp = ul * 8 + j;
      const uint4& q = u.q[j >> 1];
      const uint32_t w0 = (j & 1) == 0 ? q.x : q.z, w1 = (j & 1) == 0 ? q.y : q.w;
      uint32_t a0[4], a1[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        a0[r] = hsub2(nib_h2(w0, r), kH1024);
        a1[r] = hsub2(nib_h2(w1, r), kH1024);
      }
      float d1A, m1A, d1B, m1B;
      q4k_row_scales(rs, j, d1A, m1A, d1B, m1B);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        float t[4];
        mma_pair<SPLIT>(t, a0, a1, xs, (nt * nsp + sp) * 32 + lane, lo_off);
        const float2 xsm = *(const float2*)(xsum + (nt * nsp + sp) * 8 + 2 * t4);
        acc[nt][0] = fmaf(d1A, t[0], fmaf(-m1A, xsm.x, acc[nt][0]));
        acc[nt][1] = fmaf(d1A, t[1], fmaf(-m1A, xsm.y, acc[nt][1]));
        acc[nt][2] = fmaf(d1B, t[2], fmaf(-m1B, xsm.x, acc[nt][2]));
        acc[nt][3] = fmaf(d1B, t[3], fmaf(-m1B, xsm.y, acc[nt][3]));
      }
    }
  }
  static constexpr int kPieces = 48;
  static __device__ __forceinline__ void stage_piece(uint8_t* dst, const WP& p, int64_t G, int64_t nc, int64_t c, int i) {
    const int64_t nsb = nc >> 2, sb = c >> 2, cc = c & 3;
    const int64_t bi = G * nsb + sb;
    if (i < 32) cp_async16(dst + i * 16, p.p0 + (bi * 4 + cc) * 512 + i * 16);
    else cp_async16(dst + i * 16, p.p1 + bi * 256 + (i - 32) * 16);
  }
  /* A of a 64-k chunk from the prefill stage (qs 512 B | meta 256 B). Each row's scale and min pair of a
   * sub-block as f16x2 (rows g, g + 8) by permutes and masks, then exactly sc / m (less 1024), then
   * times d / -dmin rounded once: the bits of pack_h2(d * (float)sc) and pack_h2(-dmin * (float)m),
   * without a run-time byte pick, I2F or FMUL per value (NOTES v44) */
  static __device__ __forceinline__ void afrag(const uint8_t* st, int lane, int64_t c, uint32_t (&A)[4][4]) {
    const uint4 q = *(const uint4*)(st + lane * 16);
    const uint8_t* meta = st + 512 + (lane >> 2) * 32; /* row g's 16 bytes, then row g + 8's */
    const int cc = (int)(c & 3);                        /* sub-blocks 2 cc, 2 cc + 1 */
    const uint32_t x0 = *(const uint32_t*)meta, x1 = *(const uint32_t*)(meta + 16); /* d | dmin */
    const uint32_t b0 = *(const uint32_t*)(meta + 4 + 4 * (cc >> 1)), b1 = *(const uint32_t*)(meta + 20 + 4 * (cc >> 1));
    const uint32_t w0 = *(const uint32_t*)(meta + 12), w1 = *(const uint32_t*)(meta + 28); /* m_j & 15 at 4 j */
    const uint32_t dd = __byte_perm(x0, x1, 0x5410u);                 /* {d_g, d_g8} */
    const uint32_t ndm = __byte_perm(x0, x1, 0x7632u) ^ 0x80008000u; /* {-dmin_g, -dmin_g8} */
    const uint32_t mlo = __byte_perm(w0, w1, 0x0400u + 0x0101u * (unsigned)cc); /* byte cc of each row */
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      /* byte b_j (j = 2 cc + h) of rows g and g + 8 at bytes 0 and 2: sc_j = b_j & 63, m_j's bits 4-5 = b_j >> 6 */
      const uint32_t p = __byte_perm(b0, b1, 0x0400u + 0x0101u * (unsigned)(2 * (cc & 1) + h));
      const uint32_t nib = h == 0 ? mlo : mlo >> 4;
      const uint32_t sc2 = hmul2(hsub2(and_or(p, 0x003F003Fu, kH1024), kH1024), dd);
      const uint32_t mn2 = hmul2(hsub2(and_or(p >> 2, 0x00300030u, and_or(nib, 0x000F000Fu, kH1024)), kH1024), ndm);
      fold_sub_pairs(q, h, dup_lo(sc2), dup_hi(sc2), dup_lo(mn2), dup_hi(mn2), A);
    }
  }
  /* A of steps 2h, 2h + 1 of a chunk (sub-block half h: words 2h, 2h + 1 of the lane's q) with the scales
   * folded in, f16(d sc q - dmin m): d1A, m1A = d sc and dmin m of row g, d1B, m1B of row g + 8 (each
   * converted to both halves of an f16x2, not converted in pairs and spread by permutes: fewer
   * instructions, the same bits) */
  static __device__ __forceinline__ void fold_sub(const uint4& q, int h, float d1A, float d1B, float m1A, float m1B,
                                                  uint32_t (&A)[4][4]) {
    fold_sub_pairs(q, h, pack_h2(d1A, d1A), pack_h2(d1B, d1B), pack_h2(-m1A, -m1A), pack_h2(-m1B, -m1B), A);
  }
  /* the same from f16x2 {d sc, d sc} of rows g (dAA) and g + 8 (dBB) and {-dmin m, -dmin m} (mAA, mBB) */
  static __device__ __forceinline__ void fold_sub_pairs(const uint4& q, int h, uint32_t dAA, uint32_t dBB, uint32_t mAA,
                                                        uint32_t mBB, uint32_t (&A)[4][4]) {
#pragma unroll
    for (int s2 = 0; s2 < 2; ++s2) {
      const int s = 2 * h + s2;
      const uint32_t w = s == 0 ? q.x : s == 1 ? q.y : s == 2 ? q.z : q.w;
      uint32_t v[4];
      nib4_q<0>(w, v);
#pragma unroll
      for (int r = 0; r < 4; ++r) A[s][r] = hfma2(v[r], (r & 1) ? dBB : dAA, (r & 1) ? mBB : mAA);
    }
  }
  /* step(c, A) for each chunk of a decode unit, A as afrag makes it, f16(d sc q - dmin m), but with the
   * unit's scales unpacked once (q4k_rows) */
  template <class Step> static __device__ __forceinline__ void fold_unit(const Unit& u, int, Step step) {
    const Q4KRows rs = q4k_rows(u.m);
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      uint32_t A[4][4];
#pragma unroll
      for (int h = 0; h < 2; ++h) { /* sub-block 2c + h */
        float d1A, m1A, d1B, m1B;
        q4k_row_scales(rs, 2 * c + h, d1A, m1A, d1B, m1B);
        fold_sub(u.q[c], h, d1A, d1B, m1A, m1B, A);
      }
      step(c, A);
    }
  }
};

/* ---------------------------------------------------------------------- type traits: Q6_K */
struct TQ6_K {
  static constexpr int kType = GG_TYPE_Q6_K;
  static constexpr int UK = 256;
  static constexpr bool XSUM = false;
  static constexpr int PW = 1056; /* ql 512 | qh 256 (8 B per lane) | sc 256 | d 32 */
  struct Unit {
    uint4 ql[4];
    uint4 qh[2];
    uint4 sc[2];
    uint32_t d;
  };
  static constexpr int SLOT = 3360; /* ql 2048 | qh 1024 | sc 256 | d 32 */
  template <int NT> __host__ __device__ static constexpr int ring() { return NT == 1 ? 3 : 2; }
  static __device__ __forceinline__ void copy(uint8_t* slot, const WP& p, int64_t G, int64_t nc, int64_t unit, int,
                                              int lane) {
    const int64_t bi = G * (nc >> 2) + unit;
#pragma unroll
    for (int c = 0; c < 4; ++c) cp_async16(slot + c * 512 + lane * 16, p.p0 + (bi * 4 + c) * 512 + lane * 16);
#pragma unroll
    for (int h = 0; h < 2; ++h) cp_async16(slot + 2048 + h * 512 + lane * 16, p.p1 + (bi * 2 + h) * 512 + lane * 16);
    if (lane < 16) cp_async16(slot + 3072 + lane * 16, p.p2 + bi * 256 + lane * 16);
    else if (lane < 18) cp_async16(slot + 3328 + (lane - 16) * 16, p.p3 + bi * 32 + (lane - 16) * 16);
  }
  static __device__ __forceinline__ void lds(Unit& u, const uint8_t* slot, int lane) {
#pragma unroll
    for (int c = 0; c < 4; ++c) u.ql[c] = *(const uint4*)(slot + c * 512 + lane * 16);
#pragma unroll
    for (int h = 0; h < 2; ++h) u.qh[h] = *(const uint4*)(slot + 2048 + h * 512 + lane * 16);
    u.sc[0] = *(const uint4*)(slot + 3072 + (lane >> 2) * 32);
    u.sc[1] = *(const uint4*)(slot + 3072 + (lane >> 2) * 32 + 16);
    u.d = *(const uint32_t*)(slot + 3328 + (lane >> 2) * 4);
  }
  static __device__ __forceinline__ int sc_at(const uint4& s, int i) {
    const uint32_t w = (i >> 2) == 0 ? s.x : (i >> 2) == 1 ? s.y : (i >> 2) == 2 ? s.z : s.w;
    return (int)(int8_t)((w >> (8 * (i & 3))) & 0xffu);
  }
  template <int NT, bool SPLIT>
  static __device__ __forceinline__ void compute(const Unit& u, int ul, int, const uint4* xs, int nsp, int lo_off,
                                                 const float*, float (&acc)[NT][4], int lane) {
    compute_x<NT, SPLIT>(u, ul, [&](int nt, int sp, bool lo) { return xs[(lo ? lo_off : 0) + (nt * nsp + sp) * 32 + lane]; },
                         acc);
  }
  /* compute with B fragments from xb(n-tile, step pair, lo plane) (k_gemv_f16: one column). The step
   * scales (int8) apply in f32 to each step's product, the unit's d once to their sum (NOTES v40). */
  template <int NT, bool SPLIT, class XB>
  static __device__ __forceinline__ void compute_x(const Unit& u, int ul, const XB& xb, float (&acc)[NT][4]) {
    float su[NT][4] = {};
#pragma unroll
    for (int c = 0; c < 4; ++c) {
#pragma unroll
      for (int hp = 0; hp < 2; ++hp) { /* steps 2hp, 2hp+1 of chunk c: one B load, one qh word */
        const int sp = ul * 8 + 2 * c + hp;
        const uint4& hq = u.qh[c >> 1];
        const int wi = (c & 1) * 2 + hp;
        const uint32_t H = wi == 0 ? hq.x : wi == 1 ? hq.y : wi == 2 ? hq.z : hq.w;
        const uint32_t N0 = hp == 0 ? u.ql[c].x : u.ql[c].z, N1 = hp == 0 ? u.ql[c].y : u.ql[c].w;
        uint32_t a0[4], a1[4];
        q6_regs(N0, H, 0, a0);
        q6_regs(N1, H, 1, a1);
        const int sb0 = 4 * c + 2 * hp; /* 16-weight sub-blocks sb0, sb0 + 1 */
        const float sA0 = (float)sc_at(u.sc[0], sb0), sB0 = (float)sc_at(u.sc[1], sb0);
        const float sA1 = (float)sc_at(u.sc[0], sb0 + 1), sB1 = (float)sc_at(u.sc[1], sb0 + 1);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          float t0[4], t1[4];
          const uint4 B = xb(nt, sp, false);
          mma_two<SPLIT>(t0, t1, a0, a1, B, SPLIT ? xb(nt, sp, true) : B);
          su[nt][0] = fmaf(sA1, t1[0], fmaf(sA0, t0[0], su[nt][0]));
          su[nt][1] = fmaf(sA1, t1[1], fmaf(sA0, t0[1], su[nt][1]));
          su[nt][2] = fmaf(sB1, t1[2], fmaf(sB0, t0[2], su[nt][2]));
          su[nt][3] = fmaf(sB1, t1[3], fmaf(sB0, t0[3], su[nt][3]));
        }
      }
    }
    const float dA = h_lo(u.d), dB = h_hi(u.d);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      acc[nt][0] = fmaf(dA, su[nt][0], acc[nt][0]);
      acc[nt][1] = fmaf(dA, su[nt][1], acc[nt][1]);
      acc[nt][2] = fmaf(dB, su[nt][2], acc[nt][2]);
      acc[nt][3] = fmaf(dB, su[nt][3], acc[nt][3]);
    }
  }
  /* pieces: 32 x 16 B ql, 32 x 8 B qh (indices 32..63), 16 x 16 B sc, 2 x 16 B d */
  static constexpr int kPieces = 82;
  static __device__ __forceinline__ void stage_piece(uint8_t* dst, const WP& p, int64_t G, int64_t nc, int64_t c, int i) {
    const int64_t nsb = nc >> 2, sb = c >> 2, cc = c & 3;
    const int64_t bi = G * nsb + sb;
    if (i < 32) {
      cp_async16(dst + i * 16, p.p0 + (bi * 4 + cc) * 512 + i * 16);
    } else if (i < 64) {
      const int L = i - 32;
      cp_async8(dst + 512 + L * 8, p.p1 + ((bi * 2 + (cc >> 1)) * 32 + L) * 16 + (cc & 1) * 8);
    } else if (i < 80) {
      cp_async16(dst + 768 + (i - 64) * 16, p.p2 + bi * 256 + (i - 64) * 16);
    } else {
      cp_async16(dst + 1024 + (i - 80) * 16, p.p3 + bi * 32 + (i - 80) * 16);
    }
  }
  static __device__ __forceinline__ void afrag(const uint8_t* st, int lane, int64_t c, uint32_t (&A)[4][4]) {
    const uint4 ql = *(const uint4*)(st + lane * 16);
    const uint2 qh = *(const uint2*)(st + 512 + lane * 8);
    const int g = lane >> 2, cc = (int)(c & 3);
    /* the chunk's 4 scales of rows g and g + 8 (word cc of each row's 16), as fold_unit takes them */
    const uint32_t sA = *(const uint32_t*)(st + 768 + g * 32 + 4 * cc) ^ 0x80808080u;
    const uint32_t sB = *(const uint32_t*)(st + 768 + g * 32 + 16 + 4 * cc) ^ 0x80808080u;
    const uint32_t dd = *(const uint32_t*)(st + 1024 + g * 4);
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      const uint32_t N = s == 0 ? ql.x : s == 1 ? ql.y : s == 2 ? ql.z : ql.w;
      const uint32_t H = s < 2 ? qh.x : qh.y;
      fold_step(N, H, s & 1, sc2_step(sA, sB, s, dd), A[s]);
    }
  }
  /* f16x2 d sc of rows g (low half) and g + 8 of step s from the chunk's scale words (^0x80808080) of
   * both rows and their f16 d pair: each byte pair becomes f16x2 (1024 + 128 + sc) by a permute and an
   * OR, then exactly sc, then d sc rounded once: the bits pack_h2(d * (float)sc) gives (d sc is exact
   * in f32), in 4 instructions instead of ~12 */
  static __device__ __forceinline__ uint32_t sc2_step(uint32_t sA, uint32_t sB, int s, uint32_t dd) {
    const uint32_t sc2 = (__byte_perm(sA, sB, 0x0400u + 0x0101u * (unsigned)s) & 0x00FF00FFu) | 0x64006400u;
    return hmul2(hsub2(sc2, kH1152), dd);
  }
  /* A of one k16 step with its scale folded in, f16(d sc q): the step's low-bits word N, high-bits
   * word H (group grp of it), sc2 = f16 d sc of rows g (low half) and g + 8 */
  static __device__ __forceinline__ void fold_step(uint32_t N, uint32_t H, int grp, uint32_t sc2, uint32_t (&a)[4]) {
    const uint32_t sAA = dup_lo(sc2), sBB = dup_hi(sc2);
    q6_regs(N, H, grp, a);
#pragma unroll
    for (int r = 0; r < 4; ++r) a[r] = hmul2(a[r], (r & 1) ? sBB : sAA);
  }
  /* step(c, A) for each chunk of a decode unit, A as afrag makes it (the unit keeps chunk c's high bits
   * in words 2 (c & 1), +1 of qh[c / 2], as compute_x reads them) */
  template <class Step> static __device__ __forceinline__ void fold_unit(const Unit& u, int, Step step) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      uint32_t A[4][4];
      const uint4& hq = u.qh[c >> 1];
      /* the chunk's 4 scales of rows g, g + 8 (bytes of word c), offset to unsigned (sc2_step) */
      const uint32_t sA = (c == 0 ? u.sc[0].x : c == 1 ? u.sc[0].y : c == 2 ? u.sc[0].z : u.sc[0].w) ^ 0x80808080u;
      const uint32_t sB = (c == 0 ? u.sc[1].x : c == 1 ? u.sc[1].y : c == 2 ? u.sc[1].z : u.sc[1].w) ^ 0x80808080u;
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        const int wi = (c & 1) * 2 + (s >> 1);
        const uint32_t H = wi == 0 ? hq.x : wi == 1 ? hq.y : wi == 2 ? hq.z : hq.w;
        const uint32_t N = s == 0 ? u.ql[c].x : s == 1 ? u.ql[c].y : s == 2 ? u.ql[c].z : u.ql[c].w;
        fold_step(N, H, s & 1, sc2_step(sA, sB, s, u.d), A[s]);
      }
      step(c, A);
    }
  }
};

/* ------------------------------------------------------------------------------ decode */

constexpr int kDecThreads = 256; /* 8 warps = 8 row groups = 128 rows per CTA */
/* the decode kernels' flags argument */
constexpr int kDecXAligned = 1; /* x's column slices are 16-byte aligned: float4 loads */
constexpr int kDecPdl = 2;      /* launched with programmatic dependent launch (matmul.cu launch_pdl) */
constexpr int kDecXStaged = 4;  /* k_decode: x points at k_xstage's staged fragments */
constexpr int kDecPreShift = 8; /* bits 8..11: ring slots filled before the PDL wait (ring_pre_slots) */
constexpr int kDecWarps = 8;

/* Shared memory of a decode CTA: the weight rings (8 warps x R slots), then per unit of its slice:
 * xs (uint4 B fragments; hi plane, then lo plane when SPLIT) then xsum (floats). */
template <class TT, int NT> __host__ __device__ constexpr int dec_ring_bytes() {
  return kDecWarps * TT::template ring<NT>() * TT::SLOT;
}
template <class TT, int NT, bool SPLIT> __host__ __device__ constexpr int dec_smem_per_unit() {
  return (SPLIT ? 2 : 1) * NT * (TT::UK / 32) * 32 * 16 + (TT::XSUM ? NT * 8 * (TT::UK / 32) * 4 : 0);
}

/* max(|v.x|, |v.y|, |v.z|, |v.w|) (fmaxf: a NaN is skipped) */
__device__ __forceinline__ float abs_max4(float4 v) { return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))); }

__device__ __forceinline__ float4 load_x4(const float* __restrict__ p, bool vec) {
  if (vec) return __ldg((const float4*)p);
  return make_float4(__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3));
}

/* A decode warp's weight ring: R shared-memory slots, each one decode unit, filled with cp.async
 * (one commit group per unit), so the bytes in flight cost no registers. */
template <class TT> __device__ __forceinline__ int unit_chunks(int nc, int u) {
  constexpr int kCPU = TT::UK / 64; /* 64-k chunks per unit; the last unit of a row can be short */
  const int n = nc - kCPU * u;
  return n < kCPU ? n : kCPU;
}
/* Requests units u0 + from .. u0 + to - 1 (those that exist) into the ring's slots, one commit group
 * per slot: slots must be filled in order, from 0 to R, in one call or several. */
template <class TT, int R>
__device__ __forceinline__ void ring_fill(uint8_t* ring, const WP& wp, int64_t G, int nc, int u0, int nu, bool active,
                                          int lane, int from = 0, int to = R) {
#pragma unroll
  for (int i = 0; i < R; ++i) {
    if (i < from || i >= to) continue;
    if (active && i < nu) TT::copy(ring + i * TT::SLOT, wp, G, nc, u0 + i, unit_chunks<TT>(nc, u0 + i), lane);
    cp_async_commit();
  }
}
/* Under programmatic dependent launch, how many ring slots a decode kernel fills before it waits for
 * the previous kernel (flags bits kDecPreShift..+3; 0: all), the rest after its x loads are out. */
template <int R> __device__ __forceinline__ int ring_pre_slots(int flags) {
  const int pre = (flags >> kDecPreShift) & 15;
  return pre == 0 || pre > R ? R : pre;
}
/* Hands units u0 .. u0 + nu - 1 to compute(unit, ul, chunks) in order, refilling each slot as soon
 * as every lane has read it. Leaves no copy in flight. */
template <class TT, int R, class Compute>
__device__ __forceinline__ void ring_stream(uint8_t* ring, const WP& wp, int64_t G, int nc, int u0, int nu, bool active,
                                            int lane, Compute compute) {
  if (active) {
#pragma unroll 1
    for (int ul = 0; ul < nu; ++ul) {
      cp_async_wait<R - 1>(); /* unit ul has landed (this lane's copies) */
      __syncwarp();           /* ... and every lane's */
      uint8_t* slot = ring + (ul % R) * TT::SLOT;
      typename TT::Unit u;
      TT::lds(u, slot, lane);
      __syncwarp(); /* every lane has read the slot before it is refilled */
      if (ul + R < nu) TT::copy(slot, wp, G, nc, u0 + ul + R, unit_chunks<TT>(nc, u0 + ul + R), lane);
      cp_async_commit();
      compute(u, ul, unit_chunks<TT>(nc, u0 + ul));
    }
  }
  cp_async_wait<0>();
}

/* The end of every decode kernel. Each lane holds NV results: out(i, col, rof) returns result i and
 * sets its column and row offset (row r0 + rof).
 * With one slice they go straight to y; otherwise each CTA writes its partial sums and the last
 * CTA of the row block (atomic counter, self-resetting) adds the S partials in slice order, so the
 * result does not depend on which CTA finishes last. */
template <int NV, class Out>
__device__ __forceinline__ void dec_finish(Out out, bool active, int64_t r0, float* __restrict__ y,
                                           float* __restrict__ part, unsigned* __restrict__ counters, int rows, int Gn,
                                           int S, int batch, int* s_last) {
  const int tid = threadIdx.x, rb = blockIdx.x, sl = blockIdx.y;
  if (S == 1) {
    if (active) {
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        int c, ro;
        const float v = out(i, c, ro);
        const int64_t r = r0 + ro;
        if (c < batch && r < rows) y[(int64_t)c * rows + r] = v;
      }
    }
    return;
  }
  const int64_t rows_p = (int64_t)Gn * 16;
  if (active) {
#pragma unroll
    for (int i = 0; i < NV; ++i) {
      int c, ro;
      const float v = out(i, c, ro);
      if (c < batch) part[((int64_t)sl * batch + c) * rows_p + r0 + ro] = v;
    }
  }
  __threadfence();
  __syncthreads();
  if (tid == 0) *s_last = atomicAdd(&counters[rb], 1u) == (unsigned)(S - 1);
  __syncthreads();
  if (!*s_last) return;
  __threadfence();
  /* Each thread adds up to M outputs (o = o0 + m * kDecThreads + tid), the S partials of each in
   * slice order, with the loads of 4 slices x M outputs in flight together: one L2 round trip per 4
   * slices and M outputs (one per slice and output made the sums of 16 columns ~6 us, H200). M = 4
   * where the lanes hold many results (registers); M = 1 for the narrow kernels (M = 8 made the
   * int8 kernel 1.5-2 us slower at n = 1..4 on the H200). */
  constexpr int M = NV > 8 ? 4 : NV == 8 ? 8 : 1;
  const int64_t rbase = (int64_t)rb * kDecWarps * 16;
  const int64_t qs = (int64_t)batch * rows_p;
  const int total = batch * kDecWarps * 16;
  for (int o0 = 0; o0 < total; o0 += M * kDecThreads) {
    const float* pp[M];
    bool ok[M];
    float s[M];
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const int o = o0 + m * kDecThreads + tid;
      const int c = o / (kDecWarps * 16);
      const int64_t r = rbase + o % (kDecWarps * 16);
      ok[m] = o < total && r < rows;
      pp[m] = part + (int64_t)c * rows_p + r;
      s[m] = 0.0f;
    }
    int q = 0;
    for (; q + 4 <= S; q += 4) {
      float a[4][M];
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int m = 0; m < M; ++m) a[u][m] = ok[m] ? __ldcg(pp[m] + (q + u) * qs) : 0.0f;
#pragma unroll
      for (int m = 0; m < M; ++m) {
        s[m] += a[0][m]; s[m] += a[1][m]; s[m] += a[2][m]; s[m] += a[3][m];
      }
    }
    for (; q < S; ++q)
#pragma unroll
      for (int m = 0; m < M; ++m)
        if (ok[m]) s[m] += __ldcg(pp[m] + q * qs);
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const int o = o0 + m * kDecThreads + tid;
      if (ok[m]) y[(int64_t)(o / (kDecWarps * 16)) * rows + rbase + o % (kDecWarps * 16)] = s[m];
    }
  }
  if (tid == 0) counters[rb] = 0u;
}

/* Two CTAs per SM (registers capped at 128), except where that would spill: the hi/lo split variants
 * (small problems only, speed irrelevant) and Q6_K with 32 columns. */
template <class TT, int NT, bool SPLIT> struct DecMinBlocks {
  static constexpr int value = (SPLIT || (NT >= 4 && TT::kType == GG_TYPE_Q6_K)) ? 1 : 2;
};

/* Stages x[c][k0 .. k0 + KS) for columns c < ncols as f16 B fragments of layout column c_off + c:
 * the column's max |x| over the slice gives a power-of-two scale (col_scale), then the scaled values
 * go to xs rounded to f16 (with SPLIT also the remainder, in the lo plane), and with TT::XSUM the
 * sums of 32-k blocks to xsum; descale[c_off + c] gets the factor that undoes the scale (and, with
 * zero_rest, descale of the other NT * 8 columns 0). Flat over (column, float4 of the slice): each
 * column's slice is KS/4 float4s, a multiple of 16, so a 16-lane group never straddles two columns
 * and an 8-lane group is exactly one 32-k sub-block; four independent loads per thread per round.
 * Layout columns >= c_off + ncols are left unwritten: they only feed outputs that are never stored.
 * mid() runs between the max pass and the conversion pass. All kDecThreads threads take part; xs,
 * xsum and descale may be shared or global memory, s_colmax and s_scale are shared (NT * 8). */
template <class TT, int NT, bool SPLIT, class Mid>
__device__ __forceinline__ void stage_x(const float* __restrict__ x, int K, int64_t k0, int KS, int ncols, int c_off,
                                        bool xv, uint4* xs, float* xsum, unsigned* s_colmax, float* s_scale,
                                        float* descale, bool zero_rest, Mid mid) {
  const int tid = threadIdx.x, lane = tid & 31;
  const int nsp = KS / 32;
  const int lo_off = NT * nsp * 32; /* uint4 offset of the lo plane */
  if (tid < NT * 8) s_colmax[tid] = 0u;
  __syncthreads();
  const int f4 = KS / 4;
  const int total = ncols * f4;
  for (int i0 = 0; i0 < total; i0 += 4 * kDecThreads) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int i = i0 + u * kDecThreads + tid;
      const int c = i / f4, f = i - c * f4;
      v[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (i < total && k0 + 4 * f < K) v[u] = load_x4(x + (int64_t)c * K + k0 + 4 * f, xv);
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int i = i0 + u * kDecThreads + tid;
      float m = abs_max4(v[u]);
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 8));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      if ((lane & 15) == 0 && i < total) atomicMax(&s_colmax[c_off + i / f4], __float_as_uint(m));
    }
  }
  mid();
  __syncthreads();
  if (tid < NT * 8) {
    const int c = tid - c_off;
    float ds = 0.0f;
    s_scale[tid] = c >= 0 && c < ncols ? col_scale(__uint_as_float(s_colmax[tid]), &ds) : 0.0f;
    if ((c >= 0 && c < ncols) || zero_rest) descale[tid] = ds;
  }
  __syncthreads();
  uint32_t* xs32 = (uint32_t*)xs;
  for (int i0 = 0; i0 < total; i0 += 4 * kDecThreads) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int i = i0 + u * kDecThreads + tid;
      const int c = i / f4, f = i - c * f4;
      v[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (i < total && k0 + 4 * f < K) {
        v[u] = load_x4(x + (int64_t)c * K + k0 + 4 * f, xv);
        const float sc = s_scale[c_off + c];
        v[u].x *= sc; v[u].y *= sc; v[u].z *= sc; v[u].w *= sc;
      }
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int i = i0 + u * kDecThreads + tid;
      const bool valid = i < total;
      const int c = c_off + i / f4, f = i % f4;
      const int nt = c >> 3, g = c & 7;
      const int kr = 4 * f; /* k relative to the slice */
      if (valid) {
        const int st = kr >> 4, kk = kr & 15;
        const int t = (kk & 7) >> 1, half = kk >> 3, spi = st >> 1, word = ((st & 1) << 1) | half;
        const int idx = ((nt * nsp + spi) * 32 + g * 4 + t) * 4 + word;
        const uint32_t h01 = pack_h2(v[u].x, v[u].y), h23 = pack_h2(v[u].z, v[u].w);
        xs32[idx] = h01;
        xs32[idx + 4] = h23;
        if (SPLIT) { /* lo = x - f16(x), exact in f32, rounded to f16: x = hi + lo to ~2^-22 */
          const float2 f01 = __half22float2(*reinterpret_cast<const __half2*>(&h01));
          const float2 f23 = __half22float2(*reinterpret_cast<const __half2*>(&h23));
          xs32[4 * lo_off + idx] = pack_h2(v[u].x - f01.x, v[u].y - f01.y);
          xs32[4 * lo_off + idx + 4] = pack_h2(v[u].z - f23.x, v[u].w - f23.y);
        }
      }
      if (TT::XSUM) {
        float sm = (v[u].x + v[u].y) + (v[u].z + v[u].w);
        sm += __shfl_xor_sync(0xffffffffu, sm, 1);
        sm += __shfl_xor_sync(0xffffffffu, sm, 2);
        sm += __shfl_xor_sync(0xffffffffu, sm, 4);
        if (valid && (lane & 7) == 0) xsum[(nt * nsp + (kr >> 5)) * 8 + g] = sm;
      }
    }
  }
}

/* Where k_xstage leaves slice sl's staged x (non-SPLIT layout): sl * xstage_stride bytes into the
 * buffer, the fragments and sums of dec_smem_per_unit bytes per unit, then NT * 8 descale factors. */
template <class TT, int NT> __host__ __device__ constexpr int xstage_descale_off(int ups) {
  return (dec_smem_per_unit<TT, NT, false>() * ups + 15) & ~15;
}
template <class TT, int NT> __host__ __device__ constexpr int64_t xstage_stride(int ups) {
  return xstage_descale_off<TT, NT>(ups) + NT * 8 * 4;
}

/* x -> staged f16 fragments of every (slice, column) for k_decode, once per launch instead of once
 * per row block: CTA (slice, column). Launched with programmatic dependent launch: it lets the
 * decode kernel start streaming its weights at once, and waits for the kernel that wrote x. */
template <class TT, int NT>
__global__ void __launch_bounds__(kDecThreads)
k_xstage(const float* __restrict__ x, uint8_t* __restrict__ stage, int K, int units_row, int ups, int flags) {
  __shared__ unsigned s_colmax[NT * 8];
  __shared__ float s_scale[NT * 8];
  gg_pdl_release();
  gg_pdl_wait();
  const int sl = blockIdx.x, c = blockIdx.y;
  const int u0 = sl * ups;
  const int nu = min(ups, units_row - u0);
  const int KS = nu * TT::UK;
  uint8_t* base = stage + sl * xstage_stride<TT, NT>(ups);
  uint4* xs = (uint4*)base;
  stage_x<TT, NT, false>(x + (int64_t)c * K, K, (int64_t)u0 * TT::UK, KS, 1, c, (flags & kDecXAligned) != 0, xs,
                         (float*)(xs + NT * (KS / 32) * 32), s_colmax, s_scale,
                         (float*)(base + xstage_descale_off<TT, NT>(ups)), false, [] {});
}

template <class TT, int NT, bool SPLIT>
__global__ void __launch_bounds__(kDecThreads, DecMinBlocks<TT, NT, SPLIT>::value)
k_decode(WP wp, const float* __restrict__ x, float* __restrict__ y, float* __restrict__ part,
         unsigned* __restrict__ counters, int rows, int Gn, int K, int nc, int units_row, int ups, int S, int batch,
         int flags) {
  /* every dsm declaration asks for 128 bytes: the dynamic shared memory follows the static, which left it at 16
   * or 32 mod 128 here (rings read across one more 128-byte line: mma_decode_n32 3-12% slower, NOTES v67) */
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ unsigned s_colmax[NT * 8];
  __shared__ float s_scale[NT * 8];
  __shared__ float s_descale[NT * 8];
  __shared__ int s_last;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int rb = blockIdx.x, sl = blockIdx.y;
  const int u0 = sl * ups;
  const int nu = min(ups, units_row - u0);
  const int KS = nu * TT::UK;
  const int nsp = KS / 32; /* 32-k steps pairs in the slice */
  const int64_t k0 = (int64_t)u0 * TT::UK;
  constexpr int R = TT::template ring<NT>();
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  uint4* xs = (uint4*)((uint8_t*)dsm + dec_ring_bytes<TT, NT>());
  const int lo_off = NT * nsp * 32; /* uint4 offset of the lo plane */
  float* xsum = (float*)(xs + (SPLIT ? 2 : 1) * lo_off);
  const int64_t G = (int64_t)rb * kDecWarps + warp;
  const bool active = G < Gn;
  const bool pdl = (flags & kDecPdl) != 0;

  /* Under programmatic dependent launch the weights start streaming at once, while the previous
   * kernel may still be writing x, y or the split-K scratch; everything below waits for it. */
  const int pre = ring_pre_slots<R>(flags);
  if (pdl) {
    ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane, 0, pre);
    gg_pdl_release();
    gg_pdl_wait();
  }
  auto start_ring = [&] { /* issued after the x loads, so those do not queue behind the weight burst */
    if (!pdl) {
      ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane);
      gg_pdl_release();
    } else if (pre < R) {
      ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane, pre, R);
    }
  };

  if (!SPLIT && (flags & kDecXStaged) != 0) {
    /* ---- x already staged by k_xstage (x points at its buffer): copy this slice's block ---- */
    const uint8_t* base = (const uint8_t*)x + sl * xstage_stride<TT, NT>(ups);
    const uint4* src = (const uint4*)base;
    const int n16 = dec_smem_per_unit<TT, NT, false>() * nu / 16;
    for (int i0 = 0; i0 < n16; i0 += 4 * kDecThreads) {
      uint4 v[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int i = i0 + u * kDecThreads + tid;
        if (i < n16) v[u] = __ldcg(src + i);
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int i = i0 + u * kDecThreads + tid;
        if (i < n16) xs[i] = v[u];
      }
    }
    if (tid < NT * 8) s_descale[tid] = __ldcg((const float*)(base + xstage_descale_off<TT, NT>(ups)) + tid);
    start_ring();
    __syncthreads();
  } else {
    /* ---- stage x[0 .. batch)[k0 .. k0 + KS) here ---- */
    stage_x<TT, NT, SPLIT>(x, K, k0, KS, batch, 0, (flags & kDecXAligned) != 0, xs, xsum, s_colmax, s_scale, s_descale,
                           true, start_ring);
    __syncthreads();
  }

  /* ---- stream the weights ---- */
  float acc[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
  ring_stream<TT, R>(ring, wp, G, nc, u0, nu, active, lane, [&](const typename TT::Unit& u, int ul, int nch) {
    TT::template compute<NT, SPLIT>(u, ul, nch, xs, nsp, lo_off, xsum, acc, lane);
  });

  /* ---- epilogue ---- */
  const int t = lane & 3, g = lane >> 2;
  auto out = [&](int i, int& c, int& ro) -> float { /* acc[nt][j]: column 8 nt + 2 t + (j & 1), row g + 8 (j >> 1) */
    c = (i >> 2) * 8 + 2 * t + (i & 1);
    ro = ((i >> 1) & 1) * 8;
    return c < batch ? acc[i >> 2][i & 3] * s_descale[c] : 0.0f;
  };
  dec_finish<NT * 4>(out, active, G * 16 + g, y, part, counters, rows, Gn, S, batch, &s_last);
}

/* The max of every thread's m over the CTA. red: 32 floats of shared memory; every thread calls it. */
__device__ __forceinline__ float block_max(float m, float* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (threadIdx.x == 0) red[0] = m;
  }
  __syncthreads();
  return red[0];
}

/* ------------------------------------------------------------------------- gemv (n = 1) */

/* y[0 .. n) = 0 by the threads i = 0 .. stride of a grid (the stagers of the gemvs that add into y). */
__device__ __forceinline__ void zero_y(float* __restrict__ y, int64_t n, int i, int stride) {
  for (int64_t k = i; k < n; k += stride) y[k] = 0.0f;
}

/* Ring slots a gemv kernel fills before its PDL wait (flags; GG_MM_PRE=15 means none; none without PDL). */
template <int R> __device__ __forceinline__ int gemv_pre_slots(bool pdl, int flags) {
  const int pre_raw = (flags >> kDecPreShift) & 15;
  return pdl ? (pre_raw == 15 ? 0 : ring_pre_slots<R>(flags)) : 0;
}

/* request(i) of the one-part gemvs: unit i of the warp (the CTA's row group i / nu, unit u0 + i % nu of
 * the row) into ring slot i % R, one commit group per call (past n_items an empty one). */
template <class TT, int R, bool kFirstGroupFast = true>
__device__ __forceinline__ auto gemv_requests(uint8_t* ring, const WP& wp, int nc, int u0, int nu, int n_items, int lane) {
  return [=](int i) {
    if (i < n_items) {
      if constexpr (kFirstGroupFast) {
        /* a warp's first row group (i < nu) needs no division: every item of the persistent grid's CTAs
         * where there are no more row groups than CTAs (the division cost ~25 instructions per request;
         * H200, 4096 x 14336, n = 1, us: Q4_0 12.29 -> 12.07, Q6_K 18.97 -> 18.75, Q8_0 17.99 -> 17.85,
         * but Q4_K 13.33 -> 14.35, whose imma_gemv_n1 keeps the division) */
        int j = 0, ul = i;
        if (i >= nu) {
          j = i / nu;
          ul = i - j * nu;
        }
        const int u = u0 + ul;
        TT::copy(ring + (i % R) * TT::SLOT, wp, (int64_t)blockIdx.x + (int64_t)j * gridDim.x, nc, u,
                 unit_chunks<TT>(nc, u), lane);
      } else {
        const int u = u0 + i % nu;
        TT::copy(ring + (i % R) * TT::SLOT, wp, (int64_t)blockIdx.x + (int64_t)(i / nu) * gridDim.x, nc, u,
                 unit_chunks<TT>(nc, u), lane);
      }
    }
    cp_async_commit();
  };
}

/* Item i of a gemv warp's ring (slot i % R) into registers, once it has landed for every lane; the
 * slot may be refilled after it (every lane has read it). R requests are in flight before the call. */
template <class TT, int R>
__device__ __forceinline__ typename TT::Unit ring_take(const uint8_t* ring, int i, int lane) {
  cp_async_wait<R - 1>(); /* item i has landed (this lane's copies) */
  __syncwarp();           /* ... and every lane's */
  typename TT::Unit u;
  TT::lds(u, ring + (i % R) * TT::SLOT, lane);
  __syncwarp();
  return u;
}

/* The sum of a row group's partial sums over W warps (thread tid of them, barrier bar), for C = 4, 8
 * columns: lane (g, t) of each warp puts rows g and g + 8 of column 4 nt + t (vals(nt)) into red, then
 * thread 16 c + rr (c < C) adds row rr of column c over the warps in warp order and hands it to
 * store(c, rr, sum). One barrier; red may be written again only after another. */
template <int W, int C, class Vals, class Store, class Bar>
__device__ __forceinline__ void group_sums(float* red, int tid, Vals vals, Store store, Bar bar) {
  const int warp = tid >> 5, lane = tid & 31;
#pragma unroll
  for (int nt = 0; nt < C / 4; ++nt) {
    const float2 v = vals(nt);
    float* rc = red + (warp * C + 4 * nt + (lane & 3)) * 16; /* (warp, column): 16 rows */
    rc[lane >> 2] = v.x;
    rc[(lane >> 2) + 8] = v.y;
  }
  bar();
  if (tid < 16 * C) {
    const int c = tid >> 4, rr = tid & 15;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < W; ++w) s += red[(w * C + c) * 16 + rr];
    store(c, rr, s);
  }
}
/* group_sums over the whole CTA (W warps), its barrier __syncthreads */
template <int W, int C, class Vals, class Store>
__device__ __forceinline__ void cta_group_sums(float* red, Vals vals, Store store) {
  group_sums<W, C>(red, (int)threadIdx.x, vals, store, [] { __syncthreads(); });
}
/* A barrier of the n = threads threads of named barrier id (1..15; 0 is __syncthreads'). */
__device__ __forceinline__ void named_barrier(int id, int n) { asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory"); }

/* The weight stream of a gemv warp (k_gemv_i8, k_gemv_f16; k_gemv_i8_n4 with W = 16 warps and C = 4
 * columns): for each of its ng row groups its nu units in turn into one accumulator, then the CTA's
 * sum: row_sums(acc), called by every lane, gives the lane's (row g, row g + 8) values (C = 1: lanes
 * t = 0's are kept; C = 4: lane t holds column t), added over the W warps in warp order into y (columns below cols). Unit i of
 * the warp sits in ring slot i % R; request(i) refills a slot (one commit group per call, R already
 * requested). compute(unit, ul, acc). Every thread calls it (CTA barriers). (Two units at a time
 * into two accumulators, for two independent instruction chains per warp, measured slower: H200,
 * 4096 x 14336, Q4_0 13.24 -> 13.43 us, 4096 x 4096 7.26 -> 8.30; Q6_K no gain.) */
template <class TT, int R, class Acc, int W = kDecWarps, int C = 1, class Request, class Compute, class RowSums>
__device__ __forceinline__ void gemv_stream(const uint8_t* ring, int ng, int nu, Request request, Compute compute,
                                            RowSums row_sums, float (&s_red)[2][W * 16 * C], float* __restrict__ y,
                                            int rows, int cols = 1) {
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  int i = 0;
  for (int j = 0; j < ng; ++j) {
    Acc acc = {};
#pragma unroll 1
    for (int ul = 0; ul < nu; ++ul, ++i) {
      const typename TT::Unit u = ring_take<TT, R>(ring, i, lane);
      request(i + R);
      compute(u, ul, acc);
    }
    /* two buffers, so group j + 1's writes cannot meet group j's sum */
    float* red = s_red[j & 1];
    if constexpr (C == 1) {
      const float2 v = row_sums(acc); /* every lane: it may shuffle */
      if ((lane & 3) == 0) {
        red[warp * 16 + (lane >> 2)] = v.x;
        red[warp * 16 + (lane >> 2) + 8] = v.y;
      }
      __syncthreads();
      if (tid < 16) {
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < W; ++w) s += red[w * 16 + tid];
        const int64_t r = ((int64_t)blockIdx.x + (int64_t)j * gridDim.x) * 16 + tid;
        if (r < rows) y[r] = s;
      }
    } else {
      cta_group_sums<W, C>(red, [&](int) { return row_sums(acc); }, [&](int c, int rr, float s) {
        const int64_t r = ((int64_t)blockIdx.x + (int64_t)j * gridDim.x) * 16 + rr;
        if (r < rows && c < cols) y[(int64_t)c * rows + r] = s;
      });
    }
  }
  cp_async_wait<0>();
}

/* The 16-warp gemvs (imma_gemv_n4 / _n8, mma_gemv_n4 / _n8): one CTA per SM, each warp on a sixteenth
 * of the row (_n8: a quarter of a part, in teams), so that a CTA may hold the whole row's x for 4
 * columns and still keep n = 1's 16 warps per SM. */
constexpr int kGemv4Warps = 16;
constexpr int kGemv4Threads = kGemv4Warps * 32;
/* The most registers a thread of those gemvs may take where their own need is higher (__maxnreg__ in place
 * of __launch_bounds__): a CTA of 512 threads at 112 leaves 8192 of the SM's 65536 to the next product's
 * stager (a CTA of 256 threads at 32), which, launched early (programmatic dependent launch), then waits on
 * the SM for this kernel's end instead of being scheduled after it (NOTES v56). */
constexpr int kGemvMaxRegs = 112;
/* The n = 8 gemvs (gemvw_stream) run their 16 warps as 4 teams of 4, each team on its own row groups
 * with its own barriers; a warp takes a quarter of the part (ups units). (2 teams of 8 and 1 of 16 were
 * slower: NOTES v33.) */
constexpr int kGemvwTeams = 4;
constexpr int kGemvwTeamWarps = kGemv4Warps / kGemvwTeams;

/* The start of the 16-warp gemvs: the ring's first `pre` slots before the PDL wait, then n16 x 16 B of
 * x by copy16(i) (gemv4_start: `blocks` x P16 x 16 B from xs into dst, as its stager made it), the
 * ring's other slots behind them; returns when x (and the slots before it) have landed, for every
 * thread. request(i) as in gemv_stream. */
template <int R, class Request, class Copy>
__device__ __forceinline__ void gemv4_start_with(Request request, int flags, int n16, Copy copy16) {
  const int pre = gemv_pre_slots<R>((flags & kDecPdl) != 0, flags);
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i < pre) request(i);
  if (flags & kDecPdl) gg_pdl_wait();
  for (int i = threadIdx.x; i < n16; i += kGemv4Threads) copy16(i);
  cp_async_commit();
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i >= pre) request(i);
  gg_pdl_release();
  cp_async_wait_n<R>(R - pre);
  __syncthreads();
}
template <int R, int P16, class Request>
__device__ __forceinline__ void gemv4_start(Request request, int flags, uint4* dst, const uint4* __restrict__ xs, int blocks) {
  gemv4_start_with<R>(request, flags, blocks * P16, [&](int i) { cp_async16(dst + i, xs + i); });
}

/* The reduction buffer of a 16-warp gemv with 4 NT columns whose row comes in parts (one buffer). */
template <int NT> __host__ __device__ constexpr int gemvw_static_smem() { return kGemv4Warps * 16 * 4 * NT * 4; }

/* The body of the 16-warp gemvs whose x does not fit for the whole row (imma_gemv_n8, mma_gemv_n8): the
 * row is cut in NT = 2 parts of upp units (the last may be short), and CTA b takes part b % 2 of the
 * row groups b / 2, b / 2 + gridDim.x / 2, .. (gridDim.x even): its part's x (xblocks x P16 x 16 B, as
 * its stager made it at xs + part * that) is copied once into shared memory behind the 16 warps'
 * weight rings (dsm). (Each CTA once took both parts in turn, copying part 1's x in after a CTA
 * barrier and a drain of the rings: NOTES v31.) The warps work as kGemvwTeams teams: team t takes the
 * CTA's row groups t, t + kGemvwTeams, .., each of its warps the units tw * ups .. of the part (tw: the
 * warp in the team), and sums them with its own named barrier (NOTES v33). Per row group the team's
 * sum per (column, row) in warp order: col_sums(acc, nt) gives lane (g, t)'s rows g and g + 8 of
 * column 4 nt + t; it is added into y, which the stager zeroed: two addends onto zero, so the sum is
 * the same bits in either order. compute(unit, ul, chunks, acc) adds unit ul of the warp's share of
 * the part into acc. kTile0: only the part's first tile of x is copied (Q6_K's 3-4 columns), xblocks
 * still counting all NT tiles as the stager laid them out. */
template <class TT, int NT, int P16, class Acc, bool kTile0 = false, class Compute, class ColSums>
__device__ __forceinline__ void gemvw_stream(uint4* dsm, const WP& wp, const uint4* __restrict__ xs, float* __restrict__ y,
                                             int rows, int Gn, int nc, int units_row, int upp, int ups, int batch,
                                             int flags, int xblocks, float* s_red, Compute compute, ColSums col_sums) {
  static_assert(NT == 2, "two parts: more addends onto y would depend on their order");
  constexpr int C = 4 * NT; /* columns */
  constexpr int R = TT::template ring<2>();
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int team = warp / kGemvwTeamWarps, tw = warp % kGemvwTeamWarps;
  const int part = (int)blockIdx.x % NT, g0 = (int)blockIdx.x / NT, gstep = (int)gridDim.x / NT;
  const int ngc = g0 < Gn ? (Gn - g0 + gstep - 1) / gstep : 0;      /* row groups of this CTA */
  const int ng = (ngc - team + kGemvwTeams - 1) / kGemvwTeams;       /* .. of this team */
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  uint4* xd = dsm + kGemv4Warps * R * TT::SLOT / 16; /* the part's x */
  const int lu0 = tw * ups;                         /* the warp's first unit of the part */
  const int nu = max(0, min(min(ups, upp - lu0), units_row - part * upp - lu0)); /* .. and how many */
  const int u0 = part * upp + lu0;                  /* .. as a unit of the row */
  auto group = [&](int j) { return (int64_t)g0 + (int64_t)(team + kGemvwTeams * j) * gstep; };

  /* item (j, ul): the team's row group j, unit ul of the warp's share (none from nu on) */
  int rj = 0, rul = 0; /* the next request's item: requests come in order, one per item */
  auto request = [&](int i) { /* that item into ring slot i % R (one commit group per call) */
    if (rj < ng && rul < nu)
      TT::copy(ring + (i % R) * TT::SLOT, wp, group(rj), nc, u0 + rul, unit_chunks<TT>(nc, u0 + rul), lane);
    cp_async_commit();
    if (++rul == ups) {
      rul = 0;
      ++rj;
    }
  };

  const uint4* xp = xs + (int64_t)part * xblocks * P16;
  if constexpr (kTile0) { /* tile 0 alone: its blocks' digits (16 pieces each), then their constants (4) */
    const int nb = xblocks / NT;
    gemv4_start_with<R>(request, flags, nb * 20,
                        [&](int i) { cp_async16(xd + i, xp + (i < nb * 16 ? i : NT * nb * 16 + (i - nb * 16))); });
  } else {
    gemv4_start<R, P16>(request, flags, xd, xp, xblocks);
  }

  float* red = s_red + team * (kGemvwTeamWarps * C * 16);
  const auto bar = [team] { named_barrier(1 + team, kGemvwTeamWarps * 32); };
  int i = 0;
  for (int j = 0; j < ng; ++j) {
    Acc acc = {};
#pragma unroll 1
    for (int ul = 0; ul < ups; ++ul, ++i) {
      const typename TT::Unit u = ring_take<TT, R>(ring, i, lane);
      request(i + R);
      if (ul < nu) compute(u, ul, unit_chunks<TT>(nc, u0 + ul), acc);
    }
    group_sums<kGemvwTeamWarps, C>(red, tid - team * kGemvwTeamWarps * 32, [&](int nt) { return col_sums(acc, nt); },
                                   [&](int c, int rr, float s) {
                                     const int64_t r = group(j) * 16 + rr;
                                     if (r < rows && c < batch) atomicAdd(y + (int64_t)c * rows + r, s);
                                   },
                                   bar);
    bar(); /* red is rewritten by the team's next group */
  }
  cp_async_wait<0>();
}

/* ------------------------------------------------------------------- gemv, f16 (Q6_K) */

/* k_gemv_f16 (mma_gemv_n1) takes batch 1 of Q6_K, the type without an int8 kernel, in the form of
 * k_gemv_i8: a CTA per row group over the whole row, its 8 warps on eighths of it, the partial sums
 * added in shared memory. x is one column of f16 B fragments for the whole row, made once per launch
 * by k_xstage_col: per 32-k step pair only lanes 0-3 (column 0) carry data, so 4 x 16 B (not 32 x
 * 16 B as in k_decode's layout): 28 KB for 14336 weights. Each eighth of the row has its own
 * power-of-two scale (col_scale over that eighth), undone on the warp's sum. */
template <class TT> __host__ __device__ constexpr int gemv_f16_x_bytes(int ups) { return kDecWarps * ups * (TT::UK / 32) * 64; }
template <class TT> __host__ __device__ constexpr int gemv_f16_smem(int ups) {
  return dec_ring_bytes<TT, 1>() + gemv_f16_x_bytes<TT>(ups) + kDecWarps * 4;
}

/* mma_gemv_n4 / _n8 (k_gemv_f16_n4, k_gemv_f16_n8): 4 (8) columns in the same B tile, x column c at
 * tile column 2c (c < 4) or 2 (c - 4) + 1, so that lane (g, t) finds column t where mma_gemv_n1 finds
 * column 0 (acc[0][0], acc[0][2]) and column t + 4 beside it (acc[0][1], acc[0][3]); stored per 32-k
 * step pair as 4 C slots of 16 B (column c, lane t: slot 4 c + t), compact over the units of the row
 * (of a part of it for 8 columns), then a descale factor per (warp's slice: a sixteenth, or for 8
 * columns a quarter of the part, for 16 a half; column): 115 KB for 14336 weights and 4 columns, or each
 * half of the row for 8. For 4 and 8 columns the factors take the room of one more step pair (16
 * slices); for 16, only the 2 slices' 128 bytes, so that with Q6_K's rings the next product's stager
 * still fits on the SM (NOTES v57). */
constexpr int kGemv16Halves = 2; /* mma_gemv_n16's slices per part (below) */
template <class TT, int C> __host__ __device__ constexpr int gemv_f16_part_bytes(int units) {
  return units * (TT::UK / 32) * 64 * C + (C == 16 ? kGemv16Halves : kGemv4Warps) * C * 4;
}
/* Where k_xstage_col<TT, C> puts part 0's descale factors: after mma_gemv_n1's padded column, or the
 * compact columns of the wider kernels. */
template <class TT, int C> __host__ __device__ constexpr int gemv_f16_descale_at(int upp, int ups) {
  return C == 1 ? gemv_f16_x_bytes<TT>(ups) : upp * (TT::UK / 32) * 64 * C;
}

/* x (C = 1: one column; C = 4, 8: column blockIdx.y < batch = gridDim.y, of K values) -> part p =
 * blockIdx.z of the row (units p * upp ..; one part, upp = units_row, for C = 1 and 4), slice sl =
 * blockIdx.x of it (units p * upp + sl * ups ..) as compact f16 fragments at stage + p *
 * gemv_f16_part_bytes(upp) (C > 1) + sl * ups * (UK / 32) * 64 * C bytes, and the slice's descale factor
 * (per column) after the part's fragments (gemv_f16_descale_at). Zeros past K. Launched with
 * programmatic dependent launch (as k_xstage). */
template <class TT, int C = 1>
__global__ void __launch_bounds__(kDecThreads)
k_xstage_col(const float* __restrict__ x, uint8_t* __restrict__ stage, int K, int units_row, int upp, int ups, int flags,
             float* __restrict__ y, int rows) {
  __shared__ float red[32];
  gg_pdl_release();
  gg_pdl_wait();
  const int sl = blockIdx.x, tid = threadIdx.x;
  if (C == 8) { /* mma_gemv_n8 adds its two parts' sums into y (gridDim.y = the batch) */
    const int cta = ((int)blockIdx.z * (int)gridDim.y + (int)blockIdx.y) * (int)gridDim.x + (int)blockIdx.x;
    zero_y(y, (int64_t)gridDim.y * rows, cta * kDecThreads + tid, (int)(gridDim.x * gridDim.y * gridDim.z) * kDecThreads);
  }
  const int c = C == 1 ? 0 : (int)blockIdx.y;
  const int p = C == 1 ? 0 : (int)blockIdx.z;
  const int u0 = p * upp + sl * ups;
  const int nu = max(0, min(min(ups, upp - sl * ups), units_row - u0));
  const int64_t k0 = (int64_t)u0 * TT::UK;
  const int f4 = nu * TT::UK / 4; /* float4s of the slice */
  const bool xv = (flags & kDecXAligned) != 0;
  const float* xc = x + (int64_t)c * K;
  if (C > 1) stage += (int64_t)p * gemv_f16_part_bytes<TT, C>(upp);
  uint32_t* xs32 = (uint32_t*)(stage + (int64_t)sl * ups * (TT::UK / 32) * 64 * C);
  /* k = 4 f: step pair k / 32, step (k / 16) & 1, lane t = (k & 7) / 2 of the column's 4 (tile column
   * 2c: lane 8c + t, stored as 4c + t), word = 2 step + (k & 15) / 8; k + 2, k + 3 go to lane t + 1 (4
   * words on), as in stage_x with column 0 */
  auto put = [&](int f, float4 v, float sc) {
    const int kr = 4 * f, st = (kr >> 4) & 1, kk = kr & 15;
    const int idx = ((kr >> 5) * 4 * C + 4 * c + ((kk & 7) >> 1)) * 4 + ((st << 1) | (kk >> 3));
    xs32[idx] = pack_h2(v.x * sc, v.y * sc);
    xs32[idx + 4] = pack_h2(v.z * sc, v.w * sc);
  };
  auto get = [&](int f) {
    return k0 + 4 * f < K ? load_x4(xc + k0 + 4 * f, xv) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  };
  /* the first kColHeld float4s of each thread stay in registers from the max to the conversion (all of
   * an eighth of up to kColHeld * 1024 weights: every row mma_gemv_n1 takes on sm_90); the rest, if
   * any, is read again */
  constexpr int kColHeld = 2;
  float4 v[kColHeld];
  float m = 0.0f;
#pragma unroll
  for (int h = 0; h < kColHeld; ++h) v[h] = tid + h * kDecThreads < f4 ? get(tid + h * kDecThreads) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int f = tid + kColHeld * kDecThreads; f < f4; f += kDecThreads) {
    const float4 u = get(f);
    m = fmaxf(m, abs_max4(u));
  }
#pragma unroll
  for (int h = 0; h < kColHeld; ++h) m = fmaxf(m, abs_max4(v[h]));
  float descale = 0.0f;
  const float sc = col_scale(block_max(m, red), &descale);
#pragma unroll
  for (int h = 0; h < kColHeld; ++h)
    if (tid + h * kDecThreads < f4) put(tid + h * kDecThreads, v[h], sc);
  for (int f = tid + kColHeld * kDecThreads; f < f4; f += kDecThreads) put(f, get(f), sc);
  if (tid == 0) ((float*)(stage + gemv_f16_descale_at<TT, C>(upp, ups)))[sl * C + c] = descale;
}

/* y[r] = sum_k W[r][k] x[k] (one column), mma_gemv_n1: see gemv_f16_x_bytes. x points at
 * k_xstage_col's buffer. */
template <class TT>
__global__ void __launch_bounds__(kDecThreads, 2)
k_gemv_f16(WP wp, const uint8_t* __restrict__ xstage, float* __restrict__ y, int rows, int Gn, int nc, int units_row,
           int ups, int flags) {
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[2][kDecWarps * 16];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int u0 = warp * ups;
  const int nu = max(0, min(ups, units_row - u0));
  const int ng = (Gn - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x; /* row groups of this CTA */
  const int n_items = ng * nu;
  constexpr int R = TT::template ring<1>();
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  const int xbytes = gemv_f16_x_bytes<TT>(ups);
  uint4* xs = (uint4*)((uint8_t*)dsm + dec_ring_bytes<TT, 1>());
  const float* descale = (const float*)((const uint8_t*)xs + xbytes);

  const auto request = gemv_requests<TT, R>(ring, wp, nc, u0, nu, n_items, lane);

  /* the ring's first `pre` slots before the PDL wait, then x (and its descale factors), then the rest */
  const bool pdl = (flags & kDecPdl) != 0;
  const int pre = gemv_pre_slots<R>(pdl, flags);
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i < pre) request(i);
  if (pdl) gg_pdl_wait();
  const int n16 = (xbytes + kDecWarps * 4) / 16;
  for (int i = tid; i < n16; i += kDecThreads) cp_async16(xs + i, (const uint4*)xstage + i);
  cp_async_commit();
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i >= pre) request(i);
  gg_pdl_release();
  cp_async_wait_n<R>(R - pre); /* x (and the slots before it) have landed */
  __syncthreads();

  /* ---- stream: per row group this warp's eighth, then the CTA's sum ---- */
  const uint4* xw = xs + u0 * (TT::UK / 32) * 4;
  const float ds = descale[warp];
  using Acc = float[1][4];
  gemv_stream<TT, R, Acc>(
      ring, ng, nu, request,
      [&](const typename TT::Unit& u, int ul, Acc& acc) {
        TT::template compute_x<1, false>(
            u, ul, [&](int, int sp, bool) { return lane < 4 ? xw[sp * 4 + lane] : make_uint4(0u, 0u, 0u, 0u); }, acc);
      },
      /* column 0 of rows g ([0][0]) and g + 8 ([0][2]), scaled back */
      [&](const Acc& a) { return make_float2(a[0][0] * ds, a[0][2] * ds); }, s_red, y, rows);
}

/* y[c][r] = sum_k W[r][k] x[c][k] for c < batch <= 4, mma_gemv_n4: k_gemv_f16 with 16 warps (one CTA
 * per SM, a sixteenth of the row each, a 2-slot ring) and 4 columns in the B tile that n = 1 fills an
 * eighth of, so a unit costs the same mma as one column. xs: k_xstage_col<TT, 4>'s buffer. */
template <class TT>
__global__ void __launch_bounds__(kGemv4Threads, 1)
k_gemv_f16_n4(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, int rows, int Gn, int nc, int units_row,
              int ups, int batch, int flags) {
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[2][kGemv4Warps * 16 * 4];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int u0 = warp * ups;
  const int nu = max(0, min(ups, units_row - u0));
  const int ng = (Gn - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x; /* row groups of this CTA */
  const int n_items = ng * nu;
  constexpr int R = TT::template ring<2>();
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  const uint4* xrow = dsm + kGemv4Warps * R * TT::SLOT / 16;

  const auto request = gemv_requests<TT, R>(ring, wp, nc, u0, nu, n_items, lane);
  /* the row's fragments (16 x 16 B per 32 weights) and the 256 B of descale factors behind them */
  gemv4_start<R, 16>(request, flags, (uint4*)xrow, xs, units_row * (TT::UK / 32) + 1);
  static_assert(gemv_f16_part_bytes<TT, 4>(1) == (TT::UK / 32 + 1) * 256, "n4: the descale factors fill one more 256 B");

  const uint4* xw = xrow + u0 * (TT::UK / 32) * 16;
  const float ds = ((const float*)(xrow + units_row * (TT::UK / 32) * 16))[warp * 4 + (lane & 3)];
  const bool holds = ((lane >> 2) & 1) == 0; /* tile column g = 2c: lane 8c + t, stored as 4c + t */
  const int li = (lane >> 3) * 4 + (lane & 3);
  using Acc = float[1][4];
  gemv_stream<TT, R, Acc, kGemv4Warps, 4>(
      ring, ng, nu, request,
      [&](const typename TT::Unit& u, int ul, Acc& acc) {
        TT::template compute_x<1, false>(
            u, ul, [&](int, int sp, bool) { return holds ? xw[sp * 16 + li] : make_uint4(0u, 0u, 0u, 0u); }, acc);
      },
      /* lane t: column t (tile column 2t) of rows g ([0][0]) and g + 8 ([0][2]), scaled back */
      [&](const Acc& a) { return make_float2(a[0][0] * ds, a[0][2] * ds); }, s_red, y, rows, batch);
}

/* y[c][r] = sum_k W[r][k] x[c][k] for c < batch <= 8, mma_gemv_n8: mma_gemv_n4 with all 8 columns of the
 * B tile (so a unit still costs one column's mma); 8 columns' fragments for a whole row do not fit, so
 * the row comes in two parts (gemvw_stream). xs: k_xstage_col<TT, 8>'s buffer, two parts of upp units. */
template <class TT>
__global__ void __maxnreg__(kGemvMaxRegs)
k_gemv_f16_n8(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, int rows, int Gn, int nc, int units_row,
              int upp, int ups, int batch, int flags) {
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[gemvw_static_smem<2>() / 4];

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int nsp = upp * (TT::UK / 32); /* 32-k step pairs of a part */
  const uint4* xpart = dsm + kGemv4Warps * TT::template ring<2>() * TT::SLOT / 16;
  const int tw = warp % kGemvwTeamWarps; /* the warp in its team: its share of the part */
  const uint4* xw = xpart + tw * ups * (TT::UK / 32) * 32;
  const float* descale = (const float*)(xpart + nsp * 32) + tw * 8; /* this part's, once copied in */
  const int g = lane >> 2, t = lane & 3;
  const int slot = ((g >> 1) + 4 * (g & 1)) * 4 + t; /* tile column g holds x column g / 2 + 4 (g & 1) */
  static_assert(gemv_f16_part_bytes<TT, 8>(1) == (TT::UK / 32 + 1) * 512, "n8: the descale factors fill one more 512 B");
  using Acc = float[1][4];
  gemvw_stream<TT, 2, 32, Acc>(
      dsm, wp, xs, y, rows, Gn, nc, units_row, upp, ups, batch, flags, nsp + 1, s_red,
      [&](const typename TT::Unit& u, int ul, int, Acc& acc) {
        TT::template compute_x<1, false>(u, ul, [&](int, int sp, bool) { return xw[sp * 32 + slot]; }, acc);
      },
      /* column t: tile column 2t ([0][0], [0][2]); column t + 4: tile column 2t + 1 ([0][1], [0][3]) */
      [&](const Acc& a, int nt) {
        const float ds = descale[4 * nt + t];
        return nt == 0 ? make_float2(a[0][0] * ds, a[0][2] * ds) : make_float2(a[0][1] * ds, a[0][3] * ds);
      });
}

/* y[c][r] = sum_k W[r][k] x[c][k] for c < batch <= 16, mma_gemv_n16 (k_gemv_f16_n16), Q4_0, Q8_0, Q4_K and
 * Q6_K: the 16-warp gemv form with two B tiles, x column 8 nt + c (c < 4) at tile nt's column 2c and
 * 8 nt + c + 4 at 2c + 1 (as mma_gemv_n8's one tile). A carries the scales, as the prefill GEMMs' A
 * does (TT::fold_unit: f16(d q), one more rounding, NMSE ~1e-7), so the mma accumulates a warp's whole
 * share in f32 with no per-block epilogue: at 16 columns that epilogue (the int8 kernels' per tile and
 * block, the f16 decode kernels' per tile and step) is what costs (NOTES v30, v34). 16 columns' f16
 * fragments fill 1 KB per 32 k, so the row comes in kGemv16Parts parts (CTA b takes part b % 4, as
 * gemvw_stream does with 2), and a pair of warps takes a part of its own row groups, a half each, meeting
 * only at the end of a row group: half 1's sums (16 rows x 16 columns) go through shared memory into
 * half 0's, which stores them as the part's partial sums in global scratch; the last of the 4 parts'
 * warps of a row group (a counter per row group, which it resets) adds them in a fixed order into y, so
 * the result does not depend on which finishes first. xs: k_xstage_col<TT, 16>'s buffer, parts of upp
 * units, a slice (with its own scale per column) per half. */
constexpr int kGemv16Parts = 4;
constexpr int kGemv16Partials = kGemv16Parts; /* the halves add up in shared memory first */
constexpr int kGemv16StaticSmem = kGemv4Warps / kGemv16Halves * 8 * 32 * 4; /* s_pair */
template <class TT>
__global__ void __launch_bounds__(kGemv4Threads, 1)
k_gemv_f16_n16(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, float* __restrict__ partial,
               unsigned* __restrict__ counters, int rows, int Gn, int nc, int units_row, int upp, int ups, int batch,
               int flags) {
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_pair[kGemv4Warps / kGemv16Halves][8 * 32];
  constexpr int R = TT::template ring<2>(); /* 3 slots where they fit: 0.4 us slower (NOTES v35) */
  constexpr int P16 = 64; /* 16-byte pieces of x per 32-k step pair: 16 columns x 4 lanes */
  constexpr int kGroupsAtOnce = kGemv4Warps / kGemv16Halves;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int part = (int)blockIdx.x % kGemv16Parts, cta = (int)blockIdx.x / kGemv16Parts;
  const int nctas = (int)gridDim.x / kGemv16Parts;
  const int half = warp % kGemv16Halves;
  /* this warp's row groups: first, first + gstep, .. (each (row group, part, half) is one warp's) */
  const int first = cta + nctas * (warp / kGemv16Halves), gstep = nctas * kGroupsAtOnce;
  const int ng = first < Gn ? (Gn - first + gstep - 1) / gstep : 0;
  const int lu0 = half * ups; /* the warp's first unit of the part, and how many */
  const int nu = max(0, min(min(ups, upp - lu0), units_row - part * upp - lu0));
  const int u0 = part * upp + lu0;
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  uint4* xpart = dsm + kGemv4Warps * R * TT::SLOT / 16;
  const int nsp = upp * (TT::UK / 32);

  int rj = 0, rul = 0; /* the next request's item (row group rj, unit rul), as in gemvw_stream */
  auto request = [&](int i) {
    if (rj < ng && nu > 0) {
      TT::copy(ring + (i % R) * TT::SLOT, wp, (int64_t)first + (int64_t)rj * gstep, nc, u0 + rul,
               unit_chunks<TT>(nc, u0 + rul), lane);
      if (++rul == nu) {
        rul = 0;
        ++rj;
      }
    }
    cp_async_commit();
  };
  /* the part's fragments and its halves' descale factors, in 16-byte pieces */
  const int n16 = (int)(gemv_f16_part_bytes<TT, 16>(upp) / 16);
  static_assert(gemv_f16_part_bytes<TT, 16>(1) == (TT::UK / 32) * P16 * 16 + kGemv16Halves * 16 * 4, "n16 part");
  gemv4_start<R, 1>(request, flags, xpart, xs + (int64_t)part * n16, n16);

  const uint4* xw = xpart + lu0 * (TT::UK / 32) * P16;
  const float* descale = (const float*)(xpart + nsp * P16) + half * 16; /* the slice's, per column */
  const int g = lane >> 2, t = lane & 3;
  const int slot = ((g >> 1) + 4 * (g & 1)) * 4 + t; /* tile 0's; tile 1's 32 on */
  const int64_t rows_p = (int64_t)Gn * 16;
  float* pair = s_pair[warp / kGemv16Halves];
  const auto pair_bar = [warp] { named_barrier(1 + warp / kGemv16Halves, kGemv16Halves * 32); };
  int i = 0;
  for (int j = 0; j < ng; ++j) {
    float acc[2][4] = {};
#pragma unroll 1
    for (int ul = 0; ul < nu; ++ul, ++i) {
      const typename TT::Unit u = ring_take<TT, R>(ring, i, lane);
      request(i + R);
      const uint4* xu = xw + ul * (TT::UK / 32) * P16;
      TT::fold_unit(u, unit_chunks<TT>(nc, u0 + ul), [&](int c, const uint32_t (&A)[4][4]) {
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int nt = 0; nt < 2; ++nt) {
            const uint4 B = xu[(2 * c + h) * P16 + 32 * nt + slot];
            mma16816(acc[nt], A[2 * h], B.x, B.y);
            mma16816(acc[nt], A[2 * h + 1], B.z, B.w);
          }
      });
    }
    /* the warp's sums, scaled back; half 1's through shared memory into half 0's (the pair's warps
     * have the same row groups), whose sums are the part's partial sums, then the row group's counter */
    const int64_t G = (int64_t)first + (int64_t)j * gstep;
    float v[2][4];
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) { /* tile column 2t + e: x column 8 nt + t + 4 e */
        const float ds = descale[8 * nt + t + 4 * e];
        v[nt][e] = acc[nt][e] * ds;
        v[nt][2 + e] = acc[nt][2 + e] * ds;
      }
    if (half == 1)
#pragma unroll
      for (int k = 0; k < 8; ++k) pair[k * 32 + lane] = v[k >> 2][k & 3];
    pair_bar();
    if (half == 0) {
#pragma unroll
      for (int k = 0; k < 8; ++k) v[k >> 2][k & 3] += pair[k * 32 + lane];
      float* pq = partial + (int64_t)part * 16 * rows_p + G * 16;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int c = 8 * nt + t + 4 * e;
          pq[c * rows_p + g] = v[nt][e];
          pq[c * rows_p + g + 8] = v[nt][2 + e];
        }
      /* the warp's stores, then lane 0's release (cumulative: the warp barrier orders the other lanes'
       * stores before it, as a CTA barrier does in the usual semaphore); its acquire, then the warp
       * barrier, order the last warp's loads after every partial (H200, n = 16: 0.2-0.3 us faster than
       * __threadfence before and after a relaxed atomicAdd) */
      __syncwarp();
      unsigned arrived = 0;
      if (lane == 0) asm volatile("atom.add.acq_rel.gpu.u32 %0, [%1], 1;" : "=r"(arrived) : "l"(counters + G) : "memory");
      arrived = __shfl_sync(0xffffffffu, arrived, 0);
      if (arrived == kGemv16Partials - 1) { /* the last */
        __syncwarp();
        /* lane takes outputs lane + 32 m: column o / 16, row o % 16 */
        float w[8][kGemv16Partials];
#pragma unroll
        for (int m = 0; m < 8; ++m)
#pragma unroll
          for (int p = 0; p < kGemv16Partials; ++p) {
            const int o = lane + 32 * m;
            w[m][p] = __ldcg(partial + ((int64_t)p * 16 + (o >> 4)) * rows_p + G * 16 + (o & 15));
          }
#pragma unroll
        for (int m = 0; m < 8; ++m) {
          const int o = lane + 32 * m, c = o >> 4;
          const int64_t r = G * 16 + (o & 15);
          float sum = 0.0f;
#pragma unroll
          for (int p = 0; p < kGemv16Partials; ++p) sum += w[m][p];
          if (c < batch && r < rows) y[(int64_t)c * rows + r] = sum;
        }
        if (lane == 0) counters[G] = 0u;
      }
    }
    pair_bar(); /* pair is written again by the pair's next row group */
  }
  cp_async_wait<0>();
}

/* ----------------------------------------------------------------------------- prefill */

constexpr int kPreThreads = 256;
constexpr int kPreStages = 4;
constexpr int kPreXBytes = 16 * 2 * 32 * 16; /* 16 n-tiles x 2 step pairs x 32 lanes x 16 B */
template <class TT> __host__ __device__ constexpr int pre_stage_bytes() { return kPreXBytes + 8 * TT::PW; }
template <class TT> __host__ __device__ constexpr int pre_smem_bytes() { return kPreStages * pre_stage_bytes<TT>(); }

/* The power-of-two scale of column xr (length K) for its f16 copy: max |x| over the CTA, then
 * col_scale. red: 32 floats of shared memory; every thread of the CTA calls it. A 16-byte aligned
 * column (K is a multiple of 32) is read with 16-byte loads, 4 in flight per thread: one load at a
 * time made this pass latency-bound (~50 us for 512 columns of 14336). */
__device__ __forceinline__ float column_scale(const float* __restrict__ xr, int K, float* red, float* descale) {
  float m = 0.0f;
  if (((uintptr_t)xr & 15) == 0) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
#pragma unroll 4
    for (int k = threadIdx.x; k < K / 4; k += blockDim.x) {
      const float4 v = __ldg(x4 + k);
      m = fmaxf(m, abs_max4(v));
    }
  } else {
    for (int k = threadIdx.x; k < K; k += blockDim.x) m = fmaxf(m, fabsf(__ldg(xr + k)));
  }
  return col_scale(block_max(m, red), descale);
}

/* x f32 [batch][K] -> xp: f16 B fragments [chunk][NTtot][2][32 lanes][16 B], scaled per column;
 * descale[c] undoes the scale. One CTA per column (columns >= batch: zeros). */
__global__ void __launch_bounds__(256)
k_xprep(const float* __restrict__ x, uint32_t* __restrict__ xp, float* __restrict__ descale, int K, int Kp, int batch,
        int NTtot) {
  __shared__ float red[32];
  const int c = blockIdx.x;
  const int nt = c >> 3, g = c & 7;
  const float* xr = x + (int64_t)c * K;
  float sc = 0.0f, ds = 1.0f;
  if (c < batch) sc = column_scale(xr, K, red, &ds);
  if (threadIdx.x == 0) descale[c] = ds;
  for (int p = threadIdx.x; p < Kp / 2; p += blockDim.x) {
    const int k = 2 * p;
    float v0 = 0.0f, v1 = 0.0f;
    if (c < batch && k < K) { /* K is even (a multiple of 32) */
      v0 = __ldg(xr + k) * sc;
      v1 = __ldg(xr + k + 1) * sc;
    }
    const int cc = k >> 6, kr = k & 63;
    const int st = kr >> 4, kk = kr & 15;
    const int t = (kk & 7) >> 1, half = kk >> 3, sp = st >> 1, word = ((st & 1) << 1) | half;
    const int64_t idx = ((((int64_t)cc * NTtot + nt) * 2 + sp) * 32 + g * 4 + t) * 4 + word;
    xp[idx] = pack_h2(v0, v1);
  }
}

/* A warp copies row group G's W pieces of chunk c into ws: lane L pieces L, L + 32, ... (known
 * ranges, so stage_piece's branches fold; a strided loop over all 8 groups' pieces with divisions
 * cost k_prefill_wg a third of its time on Q6_K). Both prefill GEMMs copy W this way. */
template <class TT>
__device__ __forceinline__ void copy_group_pieces(uint8_t* ws, const WP& wp, int64_t G, int64_t nc, int64_t c, int lane) {
#pragma unroll
  for (int j = 0; j < (TT::kPieces + 31) / 32; ++j)
    if (lane + 32 * j < TT::kPieces) TT::stage_piece(ws, wp, G, nc, c, lane + 32 * j);
}

/* x fragments: kPreXBytes / 16 / 256 pieces per thread; W: warp w copies row group w. */
template <class TT>
__device__ __forceinline__ void pre_load_stage(uint8_t* st, const WP& wp, const uint4* __restrict__ xp, int64_t gm0,
                                               int64_t Gn, int64_t nc, int64_t c, int64_t NTtot, int nt0, int tid) {
  const uint4* src = xp + ((int64_t)c * NTtot + nt0) * 64;
#pragma unroll
  for (int i = 0; i < kPreXBytes / 16 / kPreThreads; ++i) cp_async16(st + (tid + i * kPreThreads) * 16, src + tid + i * kPreThreads);
  const int warp = tid >> 5;
  if (gm0 + warp < Gn) copy_group_pieces<TT>(st + kPreXBytes + warp * TT::PW, wp, gm0 + warp, nc, c, tid & 31);
}

/* Prefill GEMM. Per k64 chunk c, one barrier: the raw W and x bytes of chunk c+3 are requested
 * (cp.async, 4 stages); each warp builds the f16 A fragments of its 2 row groups from the raw
 * bytes in registers (W read from shared memory once per warp, 16 B per lane) and runs its
 * 2 x 8 x 4 mma on chunk c, B fragments one 16-byte LDS per n-tile and step pair.
 * (A variant that dequantized each chunk once per CTA into an f16 A tile in shared memory was
 * slower, 300 vs 262 us at n = 512: shared-memory traffic, see NOTES.md.) */
template <class TT>
__global__ void __launch_bounds__(kPreThreads, 1)
k_prefill(WP wp, const uint4* __restrict__ xp, const float* __restrict__ descale, float* __restrict__ y, int rows,
          int Gn, int nc, int NTtot, int batch) {
  extern __shared__ uint4 psm_[];
  uint8_t* sm = (uint8_t*)psm_;
  constexpr int STB = pre_stage_bytes<TT>();
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 1, wn = warp & 1;
  const int64_t gm0 = (int64_t)blockIdx.x * 8;
  const int nt0 = blockIdx.y * 16;

#pragma unroll
  for (int s = 0; s < kPreStages - 1; ++s) {
    if (s < nc) pre_load_stage<TT>(sm + s * STB, wp, xp, gm0, Gn, nc, s, NTtot, nt0, tid);
    cp_async_commit();
  }

  float acc[2][8][4];
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 8; ++ni) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.0f;

  for (int c = 0; c < nc; ++c) {
    cp_async_wait<kPreStages - 2>(); /* chunk c landed (this thread's copies) */
    __syncthreads();                  /* ... everyone's; iteration c-1 finished with its stage */
    {
      const int cn = c + kPreStages - 1;
      if (cn < nc) pre_load_stage<TT>(sm + (cn % kPreStages) * STB, wp, xp, gm0, Gn, nc, cn, NTtot, nt0, tid);
      cp_async_commit();
    }
    const uint8_t* st = sm + (c % kPreStages) * STB;
    uint32_t A[2][4][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) TT::afrag(st + kPreXBytes + (2 * wm + mi) * TT::PW, lane, c, A[mi]);
    const uint4* xs = (const uint4*)st;
#pragma unroll
    for (int sp = 0; sp < 2; ++sp) {
      uint4 B[8];
#pragma unroll
      for (int ni = 0; ni < 8; ++ni) B[ni] = xs[((8 * wn + ni) * 2 + sp) * 32 + lane];
#pragma unroll
      for (int h = 0; h < 2; ++h) /* 16 independent accumulators between dependent mma */
#pragma unroll
        for (int ni = 0; ni < 8; ++ni)
#pragma unroll
          for (int mi = 0; mi < 2; ++mi)
            mma16816(acc[mi][ni], A[mi][2 * sp + h], h == 0 ? B[ni].x : B[ni].z, h == 0 ? B[ni].y : B[ni].w);
    }
  }
  cp_async_wait<0>();

  const int t = lane & 3, g = lane >> 2;
#pragma unroll
  for (int mi = 0; mi < 2; ++mi) {
    const int64_t rA = (gm0 + 2 * wm + mi) * 16 + g;
#pragma unroll
    for (int ni = 0; ni < 8; ++ni) {
      const int cb = (nt0 + 8 * wn + ni) * 8 + 2 * t;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int c = cb + (j & 1);
        const int64_t r = rA + (j >> 1) * 8;
        if (c < batch && r < rows) y[(int64_t)c * rows + r] = acc[mi][ni][j] * __ldg(descale + c);
      }
    }
  }
}

/* -------------------------------------------------------------------------------- packing */

/* raw Q4_0 nibble j (0..31) of block b of row r; 8 (q = 0) outside the matrix */
__device__ __forceinline__ uint32_t raw_q4_0(const uint8_t* raw, int64_t rows, int64_t nb, int64_t r, int64_t b, int j) {
  if (r >= rows || b >= nb) return 8u;
  const uint8_t* q = raw + (r * nb + b) * 18 + 2;
  return j < 16 ? (q[j] & 15u) : (q[j - 16] >> 4);
}
__device__ __forceinline__ uint32_t raw_half(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

/* (row, k offset) of nibble i in a lane's 4-bit step word */
__device__ __forceinline__ int nib_row(int i) { return i & 1; } /* 0: row g, 1: row g+8 */
__device__ __forceinline__ int nib_k(int i, int t) { return 2 * t + 8 * ((i >> 1) & 1) + (i >> 2); }

/* Q4_0 / Q8_0 (block of TS bytes, fp16 d first): the scales of chunk c of row group G as lane row g
 * reads them, d of (g, block 2c), (g+8, 2c), (g, 2c+1), (g+8, 2c+1); 0 outside the matrix. */
template <int TS>
__device__ __forceinline__ void pack_block_scales(const uint8_t* __restrict__ raw, uint8_t* __restrict__ sc, int64_t rows,
                                                  int64_t nb, int64_t nc, int64_t G, int64_t c, int g) {
  uint32_t h[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t r = G * 16 + g + 8 * (i & 1), b = 2 * c + (i >> 1);
    h[i] = (r < rows && b < nb) ? raw_half(raw + (r * nb + b) * TS) : 0u;
  }
  ((uint2*)sc)[(G * nc + c) * 8 + g] = make_uint2(h[0] | (h[1] << 16), h[2] | (h[3] << 16));
}

__global__ void k_pack_q4_0(const uint8_t* __restrict__ raw, uint8_t* __restrict__ qs, uint8_t* __restrict__ sc,
                            int64_t rows, int64_t nb, int64_t Gn, int64_t nc) {
  const int64_t total = Gn * nc * 32;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
    const int L = (int)(idx & 31);
    const int64_t rest = idx >> 5, c = rest % nc, G = rest / nc;
    const int g = L >> 2, t = L & 3;
    const int64_t rr[2] = {G * 16 + g, G * 16 + g + 8};
    uint32_t w[4];
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      const int64_t b = 2 * c + (s >> 1);
      const int kb = 16 * (s & 1);
      uint32_t v = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) v |= raw_q4_0(raw, rows, nb, rr[nib_row(i)], b, kb + nib_k(i, t)) << (4 * i);
      w[s] = v;
    }
    ((uint4*)qs)[idx] = make_uint4(w[0], w[1], w[2], w[3]);
    if (t == 0) pack_block_scales<18>(raw, sc, rows, nb, nc, G, c, g);
  }
}

__global__ void k_pack_q8_0(const uint8_t* __restrict__ raw, uint8_t* __restrict__ qs, uint8_t* __restrict__ sc,
                            int64_t rows, int64_t nb, int64_t Gn, int64_t nc) {
  const int64_t total = Gn * nc * 64;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
    const int L = (int)(idx & 31);
    const int blk = (int)((idx >> 5) & 1);
    const int64_t rest = idx >> 6, c = rest % nc, G = rest / nc;
    const int g = L >> 2, t = L & 3;
    const int64_t rr[2] = {G * 16 + g, G * 16 + g + 8};
    const int64_t b = 2 * c + blk;
    auto q = [&](int ri, int j) -> uint32_t {
      const int64_t r = rr[ri];
      if (r >= rows || b >= nb) return 0u;
      return raw[(r * nb + b) * 34 + 2 + j];
    };
    uint32_t w[4];
#pragma unroll
    for (int s = 0; s < 2; ++s) {
#pragma unroll
      for (int hk = 0; hk < 2; ++hk) {
        const int k = 16 * s + 2 * t + 8 * hk;
        w[2 * s + hk] = q(0, k) | (q(0, k + 1) << 8) | (q(1, k) << 16) | (q(1, k + 1) << 24);
      }
    }
    ((uint4*)qs)[idx] = make_uint4(w[0], w[1], w[2], w[3]);
    if (blk == 0 && t == 0) pack_block_scales<34>(raw, sc, rows, nb, nc, G, c, g);
  }
}

__global__ void k_pack_q4_k(const uint8_t* __restrict__ raw, uint8_t* __restrict__ qs, uint8_t* __restrict__ meta,
                            int64_t rows, int64_t nsb, int64_t Gn) {
  const int64_t total = Gn * nsb * 4 * 32;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
    const int L = (int)(idx & 31);
    const int cc = (int)((idx >> 5) & 3);
    const int64_t rest = idx >> 7, sb = rest % nsb, G = rest / nsb;
    const int g = L >> 2, t = L & 3;
    const int64_t rr[2] = {G * 16 + g, G * 16 + g + 8};
    auto nib = [&](int ri, int j) -> uint32_t { /* j: weight in the super-block */
      const int64_t r = rr[ri];
      if (r >= rows) return 0u;
      const uint8_t* q = raw + (r * nsb + sb) * 144 + 16;
      const uint8_t v = q[32 * (j >> 6) + (j & 31)];
      return (j & 32) ? (uint32_t)(v >> 4) : (uint32_t)(v & 15);
    };
    uint32_t w[4];
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      uint32_t v = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) v |= nib(nib_row(i), 64 * cc + 16 * s + nib_k(i, t)) << (4 * i);
      w[s] = v;
    }
    ((uint4*)qs)[idx] = make_uint4(w[0], w[1], w[2], w[3]);
    if (cc == 0 && t == 0) {
#pragma unroll
      for (int ri = 0; ri < 2; ++ri) {
        const int64_t r = rr[ri];
        uint4 m = make_uint4(0u, 0u, 0u, 0u);
        if (r < rows) {
          const uint8_t* b = raw + (r * nsb + sb) * 144;
          const uint8_t* S = b + 4;
          uint32_t bytes[8];
          uint32_t mlo = 0;
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            uint32_t scj, mj;
            if (j < 4) {
              scj = S[j] & 63u;
              mj = S[j + 4] & 63u;
            } else {
              scj = (S[j + 4] & 15u) | ((uint32_t)(S[j - 4] >> 6) << 4);
              mj = (uint32_t)(S[j + 4] >> 4) | ((uint32_t)(S[j] >> 6) << 4);
            }
            bytes[j] = scj | ((mj >> 4) << 6);
            mlo |= (mj & 15u) << (4 * j);
          }
          m.x = raw_half(b) | (raw_half(b + 2) << 16);
          m.y = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24);
          m.z = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24);
          m.w = mlo;
        }
        ((uint4*)meta)[((G * nsb + sb) * 8 + g) * 2 + ri] = m;
      }
    }
  }
}

__global__ void k_pack_q6_k(const uint8_t* __restrict__ raw, uint8_t* __restrict__ ql, uint8_t* __restrict__ qh,
                            uint8_t* __restrict__ scl, uint8_t* __restrict__ dd, int64_t rows, int64_t nsb, int64_t Gn) {
  const int64_t total = Gn * nsb * 4 * 32;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
    const int L = (int)(idx & 31);
    const int cc = (int)((idx >> 5) & 3);
    const int64_t rest = idx >> 7, sb = rest % nsb, G = rest / nsb;
    const int g = L >> 2, t = L & 3;
    const int64_t rr[2] = {G * 16 + g, G * 16 + g + 8};
    /* low 4 bits and high 2 bits of weight j (0..255) of row ri */
    auto q6 = [&](int ri, int j, uint32_t& lo, uint32_t& hi) {
      const int64_t r = rr[ri];
      lo = 0u;
      hi = 0u;
      if (r >= rows) return;
      const uint8_t* b = raw + (r * nsb + sb) * 210;
      const int h = j >> 7, qq = (j >> 5) & 3, l = j & 31;
      const uint8_t v = b[64 * h + l + 32 * (qq & 1)];
      lo = qq >= 2 ? (uint32_t)(v >> 4) : (uint32_t)(v & 15);
      hi = (uint32_t)(b[128 + 32 * h + l] >> (2 * qq)) & 3u;
    };
    uint32_t w[4], hw[2] = {0u, 0u};
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      uint32_t v = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        uint32_t lo, hi;
        q6(nib_row(i), 64 * cc + 16 * s + nib_k(i, t), lo, hi);
        v |= lo << (4 * i);
        const int pos = (s & 1) == 0 ? (i < 4 ? 4 + 2 * i : 20 + 2 * (i - 4)) : (i < 4 ? 12 + 2 * i : (28 + 2 * (i - 4)) & 31);
        hw[s >> 1] |= hi << pos;
      }
      w[s] = v;
    }
    const int64_t bi = G * nsb + sb;
    ((uint4*)ql)[(bi * 4 + cc) * 32 + L] = make_uint4(w[0], w[1], w[2], w[3]);
    *(uint2*)(qh + ((bi * 2 + (cc >> 1)) * 32 + L) * 16 + (cc & 1) * 8) = make_uint2(hw[0], hw[1]);
    if (cc == 0 && t == 0) {
      uint32_t dv[2];
#pragma unroll
      for (int ri = 0; ri < 2; ++ri) {
        const int64_t r = rr[ri];
        uint4 s = make_uint4(0u, 0u, 0u, 0u);
        dv[ri] = 0u;
        if (r < rows) {
          const uint8_t* b = raw + (r * nsb + sb) * 210;
          uint32_t v[16];
#pragma unroll
          for (int i = 0; i < 16; ++i) v[i] = b[192 + i];
          s.x = v[0] | (v[1] << 8) | (v[2] << 16) | (v[3] << 24);
          s.y = v[4] | (v[5] << 8) | (v[6] << 16) | (v[7] << 24);
          s.z = v[8] | (v[9] << 8) | (v[10] << 16) | (v[11] << 24);
          s.w = v[12] | (v[13] << 8) | (v[14] << 16) | (v[15] << 24);
          dv[ri] = raw_half(b + 208);
        }
        ((uint4*)scl)[(bi * 8 + g) * 2 + ri] = s;
      }
      ((uint32_t*)dd)[bi * 8 + g] = dv[0] | (dv[1] << 16);
    }
  }
}

} /* namespace mmf */

#endif /* GG_MATMUL_FRAG_CUH */
