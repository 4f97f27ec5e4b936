/* gguf-gpu: integer tensor-core decode for Q4_0, Q8_0 and Q4_K (included by matmul.cu after
 * matmul_frag.cuh; CUDA sm_80+ only, skipped under HIP like that file).
 *
 * Why: the f16 decode kernel (k_decode) spends most of its issue slots turning 4-bit quants into
 * f16 (lop3 + sub per two weights) and is issue-bound at ~60% of the streaming floor. Here the
 * quants go into mma.m16n8k32.s8 as they are: a Q4_0/Q4_K word of the packed layout gives two
 * A registers with one AND and one shift+AND (8 weights), a Q8_0 pair of words two with one byte
 * permute each.
 *
 * Accuracy: x is written as two int8 digits per element, x ~= sx * (256 * b0 + b1), with one
 * scale sx per 32-weight block and column (256 b0 + b1 = round(256 u), u = x scaled so that
 * max |u| of the block is 127). The relative error per element is ~2^-16 of the block's
 * max |x|: NMSE ~1e-9, below the f16 path's ~4e-8. The two digits of column j are columns 2j
 * and 2j+1 of the mma's 8-column tile, so one tile holds 4 columns of x and a lane gets both
 * digit sums of its column in c0/c1 (row g) and c2/c3 (row g+8): v = 256 c0 + c1 is exact in
 * int32, and in f32 for Q4_0 and Q4_K (|v| < 2^24; Q8_0's |v| can reach ~2^27 and rounds once, far
 * below the error of the digits). Block scales (and Q4_K's mins) are applied in f32.
 *
 * K order: the mma's k index 4t + j of a lane's register (j = byte) stands for the block's
 * weight 2t + {0, 8, 1, 9}[j] (+16 for the second register), which is the order the packed
 * layout already keeps per 4-bit word (nibbles 0,2,4,6 = row g, 1,3,5,7 = row g+8); x's digits
 * are staged in the same order. The dot product does not care about the order, only that A and B
 * agree.
 *
 * Shared memory per 32-weight block of the CTA's K slice and per 4-column tile: 32 lanes x 8 B of
 * digits (a lane's two B registers) and 4 x 16 B of per-column constants
 * {sx, -off * sum(b0), -off * sum(b1), sum(256 b0 + b1)} (off = the type's zero point: 8 for
 * Q4_0, 0 otherwise; it enters through the mma's C operand).
 */
#ifndef GG_MATMUL_I8_CUH
#define GG_MATMUL_I8_CUH

#include "matmul_frag.cuh"

namespace mmf {

/* D = A * B + {c0, c1, c0, c1}, m16n8k32, s8 inputs, s32 accumulators. */
__device__ __forceinline__ void imma16832(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, int c0, int c1) {
#if GG_MMF_SM80
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c0), "r"(c1), "r"(c0), "r"(c1));
#else
  d[0] = d[1] = d[2] = d[3] = 0;
  (void)a; (void)b0; (void)b1; (void)c0; (void)c1;
  __trap();
#endif
}

/* One 4-column tile's view of a block: the lane's digits (two B registers) and its column's constants. */
struct XBlock {
  uint32_t b0, b1;
  float sx;
  int c0, c1; /* mma C operand: -off * sum(b0), -off * sum(b1) */
  float dsum; /* sum(256 b0 + b1), for Q4_K's mins */
};
__device__ __forceinline__ XBlock x_block(const uint2* xq, const float4* xc, int nblk, int nt, int bi, int lane) {
  XBlock b;
  const uint2 q = xq[(nt * nblk + bi) * 32 + lane];
  const float4 c = xc[(nt * nblk + bi) * 4 + (lane & 3)];
  b.b0 = q.x;
  b.b1 = q.y;
  b.sx = c.x;
  b.c0 = __float_as_int(c.y);
  b.c1 = __float_as_int(c.z);
  b.dsum = c.w;
  return b;
}

/* acc[nt][0] (row g), acc[nt][1] (row g+8) += scale * v for a 32-weight block of quants q (A) and
 * one tile's digits: the shape shared by Q4_0 and Q8_0 (one f16 scale per row and block). */
template <int NT>
__device__ __forceinline__ void i8_block(const uint32_t (&a)[4], float d0, float d1, const uint2* xq, const float4* xc,
                                         int nblk, int bi, float (&acc)[NT][2], int lane) {
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const XBlock xb = x_block(xq, xc, nblk, nt, bi, lane);
    int d[4];
    imma16832(d, a, xb.b0, xb.b1, xb.c0, xb.c1);
    /* d * v first: it stays in the normal range, where d * sx can underflow and sx * v overflow */
    acc[nt][0] = fmaf(d0 * (float)(d[0] * 256 + d[1]), xb.sx, acc[nt][0]);
    acc[nt][1] = fmaf(d1 * (float)(d[2] * 256 + d[3]), xb.sx, acc[nt][1]);
  }
}

/* The A registers of one 32-weight block from two 4-bit words (steps 2b, 2b+1 of the packed layout). */
__device__ __forceinline__ void nib_a(uint32_t w0, uint32_t w1, uint32_t (&a)[4]) {
  a[0] = w0 & 0x0F0F0F0Fu;
  a[1] = (w0 >> 4) & 0x0F0F0F0Fu;
  a[2] = w1 & 0x0F0F0F0Fu;
  a[3] = (w1 >> 4) & 0x0F0F0F0Fu;
}

/* Q4_0 and Q8_0: 32-weight blocks, one f16 scale per row and block; chunk c of a unit holds blocks
 * 2c, 2c+1. A::regs builds a block's A registers. */
template <class A, int NT>
__device__ __forceinline__ void i8_blocks(const typename A::TT::Unit& u, int ul, int nch, const uint2* xq, const float4* xc,
                                          int nblk, float (&acc)[NT][2], int lane) {
#pragma unroll
  for (int c = 0; c < A::TT::CPU; ++c) {
    if (c >= nch) break;
#pragma unroll
    for (int blk = 0; blk < 2; ++blk) {
      uint32_t a[4];
      A::regs(u, c, blk, a);
      const uint32_t dd = blk == 0 ? u.s[c].x : u.s[c].y;
      i8_block<NT>(a, h_lo(dd), h_hi(dd), xq, xc, nblk, ul * (2 * A::TT::CPU) + 2 * c + blk, acc, lane);
    }
  }
}

struct I8Q4_0 {
  using TT = TQ4_0;
  static constexpr int kOffset = 8;
  static __device__ __forceinline__ void regs(const TT::Unit& u, int c, int blk, uint32_t (&a)[4]) {
    nib_a(blk == 0 ? u.q[c].x : u.q[c].z, blk == 0 ? u.q[c].y : u.q[c].w, a);
  }
  template <int NT>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int nch, const uint2* xq, const float4* xc,
                                                 int nblk, float (&acc)[NT][2], int lane) {
    i8_blocks<I8Q4_0, NT>(u, ul, nch, xq, xc, nblk, acc, lane);
  }
};

struct I8Q8_0 {
  using TT = TQ8_0;
  static constexpr int kOffset = 0;
  /* words {(g,2t),(g,2t+1),(g+8,2t),(g+8,2t+1)} and the same at +8: regrouped per row in the
   * {0, 8, 1, 9} order */
  static __device__ __forceinline__ void regs(const TT::Unit& u, int c, int blk, uint32_t (&a)[4]) {
    const uint4& q = u.q[2 * c + blk];
    a[0] = __byte_perm(q.x, q.y, 0x5140);
    a[1] = __byte_perm(q.x, q.y, 0x7362);
    a[2] = __byte_perm(q.z, q.w, 0x5140);
    a[3] = __byte_perm(q.z, q.w, 0x7362);
  }
  template <int NT>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int nch, const uint2* xq, const float4* xc,
                                                 int nblk, float (&acc)[NT][2], int lane) {
    i8_blocks<I8Q8_0, NT>(u, ul, nch, xq, xc, nblk, acc, lane);
  }
};

struct I8Q4_K {
  using TT = TQ4_K;
  static constexpr int kOffset = 0;
  template <int NT>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int, const uint2* xq, const float4* xc,
                                                 int nblk, float (&acc)[NT][2], int lane) {
    const float dA = h_lo(u.m[0].x), mA = h_hi(u.m[0].x);
    const float dB = h_lo(u.m[1].x), mB = h_hi(u.m[1].x);
#pragma unroll
    for (int j = 0; j < 8; ++j) { /* sub-block j = chunk j/2, words 2(j&1), 2(j&1)+1 */
      const uint4& q = u.q[j >> 1];
      uint32_t a[4];
      nib_a((j & 1) == 0 ? q.x : q.z, (j & 1) == 0 ? q.y : q.w, a);
      float d1A, m1A, d1B, m1B;
      q4k_row_scales(u.m, j, dA, mA, dB, mB, d1A, m1A, d1B, m1B);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const XBlock xb = x_block(xq, xc, nblk, nt, ul * 8 + j, lane);
        int d[4];
        imma16832(d, a, xb.b0, xb.b1, 0, 0);
        /* sum_k (d sc q - dmin m) x = sx (d sc sum(q v) - dmin m sum(v)) */
        acc[nt][0] = fmaf(xb.sx, fmaf(d1A, (float)(d[0] * 256 + d[1]), -m1A * xb.dsum), acc[nt][0]);
        acc[nt][1] = fmaf(xb.sx, fmaf(d1B, (float)(d[2] * 256 + d[3]), -m1B * xb.dsum), acc[nt][1]);
      }
    }
  }
};

/* Weight ring slots per warp: as deep as k_decode's narrowest variant while two CTAs still fit
 * per SM with the staged x of the wider variants. */
template <class IT, int NT> __host__ __device__ constexpr int i8_ring() {
  return IT::TT::template ring<NT <= 2 ? 1 : 2>();
}
template <class IT, int NT> __host__ __device__ constexpr int i8_ring_bytes() {
  return kDecWarps * i8_ring<IT, NT>() * IT::TT::SLOT;
}

/* Dynamic shared memory per decode unit of the slice: digits + per-column constants. */
template <class IT, int NT> __host__ __device__ constexpr int i8_smem_per_unit() {
  return NT * (IT::TT::UK / 32) * (32 * 8 + 4 * 16);
}

/* One element's two digits, given u = x scaled into [-127, 127]: U = round(256 u) = 256 b0 + b1 with
 * b0 in [-127, 127] and b1 in [-128, 127], exactly (no clamp, so a tie costs nothing). */
__device__ __forceinline__ void i8_digits(float u, int& b0, int& b1) {
  const int U = (int)rintf(u * 256.0f); /* |U| <= 32512: exact */
  b0 = (U + 128) >> 8;                  /* floor((U + 128) / 256) */
  b1 = U - 256 * b0;
}

/* y[c][r] = sum_k W[r][k] x[c][k] for up to 4 * NT columns; the grid and ring as in k_decode. */
template <class IT, int NT>
__global__ void __launch_bounds__(kDecThreads, 2)
k_decode_i8(WP wp, const float* __restrict__ x, float* __restrict__ y, float* __restrict__ part,
            unsigned* __restrict__ counters, int rows, int Gn, int K, int nc, int units_row, int ups, int S, int batch,
            int flags) {
  using TT = typename IT::TT;
  extern __shared__ uint4 dsm[];
  __shared__ int s_last;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int sl = blockIdx.y;
  const int u0 = sl * ups;
  const int nu = min(ups, units_row - u0);
  const int KS = nu * TT::UK;
  const int nblk = KS / 32;
  const int64_t k0 = (int64_t)u0 * TT::UK;
  constexpr int R = i8_ring<IT, NT>();
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  uint2* xq = (uint2*)((uint8_t*)dsm + i8_ring_bytes<IT, NT>());
  float4* xc = (float4*)(xq + NT * nblk * 32);
  const int64_t G = (int64_t)blockIdx.x * kDecWarps + warp;
  const bool active = G < Gn;

  /* ---- x[0 .. batch)[k0 .. k0 + KS) -> digits. Flat over (column, float4 of the slice); an
   * aligned 8-lane group is one 32-weight block of one column. The first round's loads go out
   * before the weight ring is filled, so they do not queue behind it, except under programmatic
   * dependent launch: then the weights start streaming at once, while the previous kernel may
   * still be writing x, y or the split-K scratch, and everything else waits for it. ---- */
  const int f4 = KS / 4;
  const int total = batch * f4;
  const bool xv = (flags & kDecXAligned) != 0, pdl = (flags & kDecPdl) != 0;
  float4 v[4];
  auto load_round = [&](int i0) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int i = i0 + r * kDecThreads + tid;
      const int c = i / f4, f = i - c * f4;
      v[r] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (i < total && k0 + 4 * f < K) v[r] = load_x4(x + (int64_t)c * K + k0 + 4 * f, xv);
    }
  };
  const int pre = ring_pre_slots<R>(flags);
  if (pdl) {
    ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane, 0, pre);
    gg_pdl_wait();
  }
  load_round(0);
  if (!pdl)
    ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane);
  else if (pre < R)
    ring_fill<TT, R>(ring, wp, G, nc, u0, nu, active, lane, pre, R);
  gg_pdl_release();
  uint8_t* xqb = (uint8_t*)xq;
  for (int i0 = 0; i0 < total; i0 += 4 * kDecThreads) {
    if (i0 > 0) load_round(i0);
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int i = i0 + r * kDecThreads + tid;
      const bool valid = i < total;
      const float e[4] = {v[r].x, v[r].y, v[r].z, v[r].w};
      float m = fmaxf(fmaxf(fabsf(e[0]), fabsf(e[1])), fmaxf(fabsf(e[2]), fabsf(e[3])));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      /* fmaxf skips NaN, so non-finite values are flagged apart: such a block makes its outputs NaN */
      int bad = !(fabsf(e[0]) <= 3.402823466e38f && fabsf(e[1]) <= 3.402823466e38f &&
                  fabsf(e[2]) <= 3.402823466e38f && fabsf(e[3]) <= 3.402823466e38f);
      bad |= __shfl_xor_sync(0xffffffffu, bad, 4);
      bad |= __shfl_xor_sync(0xffffffffu, bad, 2);
      bad |= __shfl_xor_sync(0xffffffffu, bad, 1);
      /* u = x * 2^-ex * 127 / mant (mant in [0.5, 1)): max |u| = 127 whatever the block's magnitude;
       * sx = the value of one unit of b1 (it goes subnormal, and loses accuracy, only for blocks
       * whose max |x| is below ~4e-34) */
      int ex = 0;
      float mul = 0.0f, sx = 0.0f;
      if (bad) {
        sx = __int_as_float(0x7fc00000);
      } else if (m > 0.0f) {
        const float mant = frexpf(m, &ex);
        mul = 127.0f / mant;
        sx = ldexpf(mant * (1.0f / 32512.0f), ex); /* mant / (127 * 256) * 2^ex */
      }
      int s0 = 0, s1 = 0;
      const int c = i / f4, f = i - c * f4;
      const int kb = (4 * f) & 31, bi = f >> 3; /* position in the block, block in the slice */
      const int nt = c >> 2, cc = c & 3;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        int b0, b1;
        i8_digits(bad ? 0.0f : ldexpf(e[q], -ex) * mul, b0, b1);
        s0 += b0;
        s1 += b1;
        const int k = kb + q, s = k >> 4, kk = k & 15;
        const int t = (kk & 7) >> 1, j = ((kk & 1) << 1) | (kk >> 3);
        if (valid) {
          /* lane (g' = 2 cc + digit, t), register s, byte j */
          const int base = ((nt * nblk + bi) * 32 + 8 * cc + t) * 8 + 4 * s + j;
          xqb[base] = (uint8_t)(int8_t)b0;
          xqb[base + 32] = (uint8_t)(int8_t)b1; /* lane + 4: the next tile column */
        }
      }
#pragma unroll
      for (int o = 4; o >= 1; o >>= 1) {
        s0 += __shfl_xor_sync(0xffffffffu, s0, o);
        s1 += __shfl_xor_sync(0xffffffffu, s1, o);
      }
      if (valid && (lane & 7) == 0)
        xc[(nt * nblk + bi) * 4 + cc] = make_float4(sx, __int_as_float(-IT::kOffset * s0), __int_as_float(-IT::kOffset * s1),
                                                    (float)(256 * s0 + s1));
    }
  }
  __syncthreads();

  /* ---- stream the weights ---- */
  float acc[NT][2];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = 0.0f;
  ring_stream<TT, R>(ring, wp, G, nc, u0, nu, active, lane, [&](const typename TT::Unit& u, int ul, int nch) {
    IT::template compute<NT>(u, ul, nch, xq, xc, nblk, acc, lane);
  });

  /* ---- epilogue: lane (g, t) holds column 4 nt + t, rows g and g + 8 ---- */
  const int t = lane & 3, g = lane >> 2;
  auto out = [&](int i, int& c, int& ro) -> float {
    c = (i >> 1) * 4 + t;
    ro = (i & 1) * 8;
    return acc[i >> 1][i & 1];
  };
  dec_finish<NT * 2>(out, active, G * 16 + g, y, part, counters, rows, Gn, S, batch, &s_last);
}

}  // namespace mmf

#endif
