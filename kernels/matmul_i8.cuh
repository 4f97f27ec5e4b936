/* gguf-gpu: integer tensor-core decode for Q4_0, Q8_0 and Q4_K, and Q6_K's gemvs (I8Q6_K: 1 to 4
 * columns; included by matmul.cu after matmul_frag.cuh; CUDA sm_80+ only, skipped under HIP like that
 * file).
 *
 * Why: the f16 decode kernel (k_decode) spends most of its issue slots turning 4-bit quants into
 * f16 (lop3 + sub per two weights) and is issue-bound at ~60% of the streaming floor. Here the
 * quants go into mma.m16n8k32.s8 almost as they are: a Q4_K word of the packed layout gives two
 * A registers with one AND and one shift+AND (8 weights), a Q4_0 word as many with its zero point
 * folded in (snib_a), a Q8_0 pair of words two with one byte permute each.
 *
 * Accuracy: x is written as two int8 digits per element, x ~= sx * (256 * b0 + b1), with one
 * scale sx per 32-weight block and column (256 b0 + b1 = round(256 u), u = x scaled so that
 * max |u| of the block is 127; Q4_K and Q6_K: per 256-weight unit, kUnitScale). The relative error per
 * element is ~2^-16 of the block's (unit's) max |x|: NMSE ~1e-9, below the f16 path's ~4e-8. The two
 * digits of column j are columns 2j and 2j+1 of the mma's 8-column tile, so one tile holds 4 columns
 * of x and a lane gets both digit sums of its column in c0/c1 (row g) and c2/c3 (row g+8): v = 256 c0 + c1 is exact in
 * int32, and in f32 for Q4_0 and Q4_K (|v| < 2^24, times 16 for Q4_0's A; Q8_0's |v| can reach ~2^27
 * and rounds once, far below the error of the digits). Block scales are applied in f32; Q4_K's mins
 * by one tf32 mma per unit (I8Q4_K), its x operand in two tf32 parts (~21 bits).
 *
 * K order: the mma's k index 4t + j of a lane's register (j = byte) stands for the block's
 * weight 2t + {0, 8, 1, 9}[j] (+16 for the second register), which is the order the packed
 * layout already keeps per 4-bit word (nibbles 0,2,4,6 = row g, 1,3,5,7 = row g+8); x's digits
 * are staged in the same order. The dot product does not care about the order, only that A and B
 * agree.
 *
 * Shared memory per 32-weight block of the CTA's K slice and per 4-column tile: 32 lanes x 8 B of
 * digits (a lane's two B registers) and 4 x 16 B of per-column constants {sx, hi, lo, 0}: hi + lo =
 * sx * sum(256 b0 + b1) as two tf32, Q4_K's min operand (0 for the other types). sx carries
 * 2^-kAScaleLog2 of the type's A.
 */
#ifndef GG_MATMUL_I8_CUH
#define GG_MATMUL_I8_CUH

#include "matmul_frag.cuh"

namespace mmf {

/* D = A * B, m16n8k32, s8 inputs, s32 accumulators (C = 0: the zero register). */
__device__ __forceinline__ void imma16832(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  constexpr int zero = 0;
#if GG_MMF_SM80
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(zero), "r"(zero), "r"(zero), "r"(zero));
#else
  d[0] = d[1] = d[2] = d[3] = 0;
  (void)a; (void)b0; (void)b1;
  __trap();
#endif
}

/* D = A * B, m16n8k8, tf32 inputs (f32 registers, low 13 bits ignored), f32 accumulators from zero. */
__device__ __forceinline__ void tmma1688(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  constexpr float zero = 0.0f;
#if GG_MMF_SM80
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(zero), "f"(zero), "f"(zero), "f"(zero));
#else
  d[0] = d[1] = d[2] = d[3] = 0.0f;
  (void)a; (void)b0; (void)b1;
  __trap();
#endif
}

/* f32 rounded to tf32 (10-bit mantissa, to nearest, ties away), low bits zero */
__device__ __forceinline__ float to_tf32(float v) {
#if GG_MMF_SM80
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return __uint_as_float(r);
#else
  return v;
#endif
}

/* One 4-column tile's view of a block: the lane's digits (two B registers) and its column's sx. */
struct XBlock {
  uint32_t b0, b1;
  float sx;
};
__device__ __forceinline__ XBlock x_block_from(uint2 q, float4 c) {
  XBlock b;
  b.b0 = q.x;
  b.b1 = q.y;
  b.sx = c.x;
  return b;
}
/* The staged digits of k_decode_i8: per 4-column tile nt and 32-weight block bi of the slice, 32
 * lanes x 8 B of digits and 4 x 16 B of per-column constants. */
struct XTiles {
  const uint2* xq;
  const float4* xc;
  int nblk;
  __device__ __forceinline__ XBlock at(int nt, int bi, int lane) const {
    return x_block_from(xq[(nt * nblk + bi) * 32 + lane], xc[(nt * nblk + bi) * 4 + (lane & 3)]);
  }
  /* Q4_K's min operand of tile nt, block bi: sx * sum of tile column g = 2 c + part (0: hi, 1: lo) */
  __device__ __forceinline__ uint32_t msum(int nt, int bi, int g) const {
    return __float_as_uint(((const float*)(xc + (nt * nblk + bi) * 4 + (g >> 1)))[1 + (g & 1)]);
  }
};
/* One column's digits (k_gemv_i8): per block only lanes 0-7 carry digits (tile columns 0 and 1),
 * so 8 x 8 B, and one constant; the other lanes' B registers are zero. */
struct XColumn {
  const uint2* xq;
  const float4* xc;
  __device__ __forceinline__ XBlock at(int, int bi, int lane) const {
    return x_block_from(lane < 8 ? xq[bi * 8 + lane] : make_uint2(0u, 0u), xc[bi]);
  }
  /* (tile columns from 2 on belong to no column: their sums are never read) */
  __device__ __forceinline__ uint32_t msum(int, int bi, int g) const {
    return __float_as_uint(((const float*)(xc + bi))[1 + (g & 1)]);
  }
};
/* x for I8Q6_K, whose tile takes a column's two digits twice: those of a block's first 16 weights in
 * register b0 of tile columns 4c, 4c + 1, those of its last 16 in b1 of 4c + 2, 4c + 3, the rest zero
 * (c: the x column in the tile). digits(vt, bi, lane): the lane's two B registers of tile vt for
 * block bi; sx(vt, ul, lane): the sx of the lane's output column of tile vt for unit ul (one per unit:
 * I8Q6_K::kUnitScale, so the unit's first block's). */
/* One column (imma_gemv_n1): XColumn's 8 x 8 B per block; lanes 0-7 keep b0, 8-15 b1; one float sx. */
struct XColumnQ6 {
  const uint2* xq;
  const float* xs;
  __device__ __forceinline__ uint2 digits(int, int bi, int lane) const {
    const uint2 q = xq[bi * 8 + (lane & 7)];
    return make_uint2(lane < 8 ? q.x : 0u, (lane >> 3) == 1 ? q.y : 0u);
  }
  __device__ __forceinline__ float sx(int, int ul, int) const { return xs[8 * ul]; }
};
/* Two columns per I8Q6_K tile from k_xstage_i8_w's 4-column tile: columns 2 vt, 2 vt + 1 in I8Q6_K's
 * tile vt. Lane L (tile column L / 4: x column 2 vt + L / 16, digit (L / 4) & 1) reads the staged
 * tile's lane 16 vt + ((L & 7) | (L / 2 & 8)); lanes with bit 3 clear keep b0, the others b1; lane t's
 * output column is 2 vt + t / 2. CPB: the staged lanes' uint2 per block that were copied (imma_gemv_n4,
 * batch <= 2: 16, columns 0-1 alone; imma_gemv_n8, batch <= 4: 32), CC: constants per block (2, 4). */
template <int CPB, int CC>
struct XPairsQ6 {
  const uint2* xq;
  const float4* xc;
  __device__ __forceinline__ uint2 digits(int vt, int bi, int lane) const {
    const uint2 q = xq[bi * CPB + 16 * vt + ((lane & 7) | ((lane >> 1) & 8))];
    return (lane & 8) == 0 ? make_uint2(q.x, 0u) : make_uint2(0u, q.y);
  }
  __device__ __forceinline__ float sx(int vt, int ul, int lane) const {
    return xc[ul * 8 * CC + 2 * vt + ((lane >> 1) & 1)].x;
  }
};

/* acc[nt][0] (row g), acc[nt][1] (row g+8) += scale * v for a 32-weight block of quants q (A) and
 * one tile's digits: the shape shared by Q4_0 and Q8_0 (one f16 scale per row and block). */
template <int NT, class XV>
__device__ __forceinline__ void i8_block(const uint32_t (&a)[4], float d0, float d1, const XV& xv, int bi,
                                         float (&acc)[NT][2], int lane) {
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const XBlock xb = xv.at(nt, bi, lane);
    int d[4];
    imma16832(d, a, xb.b0, xb.b1);
    /* d * v first: it stays in the normal range, where d * sx can underflow and sx * v overflow */
    acc[nt][0] = fmaf(d0 * (float)(d[0] * 256 + d[1]), xb.sx, acc[nt][0]);
    acc[nt][1] = fmaf(d1 * (float)(d[2] * 256 + d[3]), xb.sx, acc[nt][1]);
  }
}

/* The K-quants' sums with x's scale per unit (kUnitScale, I8Q4_K and I8Q6_K): a tile's mma result d
 * (rows g: digits d[0], d[1]; rows g + 8: d[2], d[3]) times its sub-block's integer scale of each row,
 * added up in s over the unit ... */
__device__ __forceinline__ void add_scaled_sums(int (&s)[4], const int (&d)[4], int scA, int scB) {
  s[0] += scA * d[0];
  s[1] += scA * d[1];
  s[2] += scB * d[2];
  s[3] += scB * d[3];
}
/* ... and at its end acc (rows g, g + 8) += sx d (256 s_hi + s_lo): d times the joined digits first, it
 * stays in the normal range */
__device__ __forceinline__ void add_unit_sums(float (&acc)[2], const int (&s)[4], float sx, float dA, float dB) {
  acc[0] = fmaf(sx, dA * fmaf((float)s[0], 256.0f, (float)s[1]), acc[0]);
  acc[1] = fmaf(sx, dB * fmaf((float)s[2], 256.0f, (float)s[3]), acc[1]);
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
template <class A, int NT, class XV>
__device__ __forceinline__ void i8_blocks(const typename A::TT::Unit& u, int ul, int nch, const XV& xv,
                                          float (&acc)[NT][2], int lane) {
#pragma unroll
  for (int c = 0; c < A::TT::CPU; ++c) {
    if (c >= nch) break;
#pragma unroll
    for (int blk = 0; blk < 2; ++blk) {
      uint32_t a[4];
      A::regs(u, c, blk, a);
      const uint32_t dd = blk == 0 ? u.s[c].x : u.s[c].y;
      i8_block<NT>(a, h_lo(dd), h_hi(dd), xv, ul * (2 * A::TT::CPU) + 2 * c + blk, acc, lane);
    }
  }
}

/* The same for Q4_0's offset nibbles, as signed bytes 16 (q - 8): a nibble q moved to the top of its
 * byte with its top bit flipped reads as s8 16 (q - 8) (q >= 8: 16 (q - 8); q < 8: 16 (q + 8) - 256),
 * so the zero point costs nothing in the mma (no C operand: ~3.5 register moves per tile and block
 * fewer; H200, 4096 x 14336: n = 8 19.20 -> 18.03 us) and the extra 16 is taken out of x's scale. */
__device__ __forceinline__ void snib_a(uint32_t w0, uint32_t w1, uint32_t (&a)[4]) {
  /* (w & 0xF0F0F0F0) ^ 0x80808080 in one LOP3 (and_xor; as an xor, a shift and an and it was three) */
  a[0] = and_xor(w0 << 4, 0xF0F0F0F0u, 0x80808080u);
  a[1] = and_xor(w0, 0xF0F0F0F0u, 0x80808080u);
  a[2] = and_xor(w1 << 4, 0xF0F0F0F0u, 0x80808080u);
  a[3] = and_xor(w1, 0xF0F0F0F0u, 0x80808080u);
}

struct I8Q4_0 {
  using TT = TQ4_0;
  static constexpr int kAScaleLog2 = 4; /* A = 16 (q - 8) */
  static constexpr int kConsts = 4;     /* floats of per-column constants per block: {sx, hi, lo, 0} */
  static constexpr bool kUnitScale = false; /* x's scale per 32-weight block */
  static __device__ __forceinline__ void regs(const TT::Unit& u, int c, int blk, uint32_t (&a)[4]) {
    snib_a(blk == 0 ? u.q[c].x : u.q[c].z, blk == 0 ? u.q[c].y : u.q[c].w, a);
  }
  template <int NT, class XV>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int nch, const XV& xv, float (&acc)[NT][2],
                                                 int lane) {
    i8_blocks<I8Q4_0, NT>(u, ul, nch, xv, acc, lane);
  }
};

struct I8Q8_0 {
  using TT = TQ8_0;
  static constexpr int kAScaleLog2 = 0;
  static constexpr int kConsts = 4;
  static constexpr bool kUnitScale = false;
  /* words {(g,2t),(g,2t+1),(g+8,2t),(g+8,2t+1)} and the same at +8: regrouped per row in the
   * {0, 8, 1, 9} order */
  static __device__ __forceinline__ void regs(const TT::Unit& u, int c, int blk, uint32_t (&a)[4]) {
    const uint4& q = u.q[2 * c + blk];
    a[0] = __byte_perm(q.x, q.y, 0x5140);
    a[1] = __byte_perm(q.x, q.y, 0x7362);
    a[2] = __byte_perm(q.z, q.w, 0x5140);
    a[3] = __byte_perm(q.z, q.w, 0x7362);
  }
  template <int NT, class XV>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int nch, const XV& xv, float (&acc)[NT][2],
                                                 int lane) {
    i8_blocks<I8Q8_0, NT>(u, ul, nch, xv, acc, lane);
  }
};

struct I8Q4_K {
  using TT = TQ4_K;
  static constexpr int kAScaleLog2 = 0;
  static constexpr int kConsts = 4;
  /* x's scale sx per 256-weight unit, not per block (NMSE ~1e-9 - 1e-8 where per block gave ~4e-10 -
   * 2e-9: NOTES v55), so that the sub-blocks' scales stay integers until the unit's end */
  static constexpr bool kUnitScale = true;
  /* sum_k (d sc_j q - dmin m_j) x = sx d sum_j sc_j sum(q v) - dmin sum_j m_j (sx sum(v_j)): the first
   * as integers per unit (sc_j the 6-bit scale; |sc_j d[i]| summed over 8 sub-blocks stays below 2^25),
   * the digit pair's sums joined and scaled once per unit; the second in one tf32 mma (m16n8k8: the 8
   * sub-blocks are its k, m_j exact, x's sx sum(v_j) as hi + lo in tile columns 2c, 2c + 1), where per
   * sub-block and row it took a scale, a multiply and an FMA (NOTES v41) */
  template <int NT, class XV>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int, const XV& xv, float (&acc)[NT][2],
                                                 int lane) {
    const Q4KRows rs = q4k_rows(u.m);
    const int g = lane >> 2, t = lane & 3;
    /* m_t, m_{t+4} of rows g and g + 8 as f32 (2^23 + m, less 2^23: exact): the tf32 A fragment */
    uint32_t am[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) am[i] = __float_as_uint(byte_2p23(rs.mn[i & 1][i >> 1], t) - 8388608.0f);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      float cm[4];
      tmma1688(cm, am, xv.msum(nt, ul * 8 + t, g), xv.msum(nt, ul * 8 + t + 4, g));
      acc[nt][0] = fmaf(-rs.m[0], cm[0] + cm[1], acc[nt][0]);
      acc[nt][1] = fmaf(-rs.m[1], cm[2] + cm[3], acc[nt][1]);
    }
    int s[NT][4] = {}; /* sum_j sc_j d[i] of rows g (i = 0, 1: the digits) and g + 8 (2, 3) */
    float sx[NT];
#pragma unroll
    for (int j = 0; j < 8; ++j) { /* sub-block j = chunk j/2, words 2(j&1), 2(j&1)+1 */
      const uint4& q = u.q[j >> 1];
      uint32_t a[4];
      nib_a((j & 1) == 0 ? q.x : q.z, (j & 1) == 0 ? q.y : q.w, a);
      const int h = j >> 2, k = j & 3;
      const int scA = (int)__byte_perm(rs.sc[0][h], 0, 0x4440u + (unsigned)k); /* byte k: 6 bits */
      const int scB = (int)__byte_perm(rs.sc[1][h], 0, 0x4440u + (unsigned)k);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const XBlock xb = xv.at(nt, ul * 8 + j, lane);
        if (j == 0) sx[nt] = xb.sx; /* the unit's */
        int d[4];
        imma16832(d, a, xb.b0, xb.b1);
        add_scaled_sums(s[nt], d, scA, scB);
      }
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) add_unit_sums(acc[nt], s[nt], sx[nt], rs.d[0], rs.d[1]);
  }
};

/* the bits of a where mask is set, of b elsewhere: one LOP3 */
__device__ __forceinline__ uint32_t bit_select(uint32_t a, uint32_t b, uint32_t mask) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xE4;" : "=r"(d) : "r"(a), "r"(b), "r"(mask));
  return d;
}
/* a sign-extended byte of w (prmt with the selected byte's sign replicated into bytes 1-3; sel =
 * 0x8880 + 0x1111 * byte: __byte_perm ignores the replicate bit) */
__device__ __forceinline__ int sext_byte(uint32_t w, unsigned sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, 0, %2;" : "=r"(r) : "r"(w), "r"(sel));
  return (int)r;
}

/* Q6_K on the int8 gemvs (imma_gemv_n1; imma_gemv_n4 at 1-2 columns, imma_gemv_n8 at 1-4: NT tiles of
 * two columns). A = 4 (q - 32) as s8: the 6-bit q at bits 2-7 of its byte with the top bit flipped, as
 * snib_a does for Q4_0's nibbles (the 4 comes out of x's scale). Q6_K's scales change every 16
 * weights, half an mma's k, so x's two digits of a block's first 16 weights go to tile columns 4c, 4c +
 * 1 (register b0) and those of its last 16 to 4c + 2, 4c + 3 (b1), everything else zero: lane t gets
 * the sums of step 2p + (t & 1) of the pair for column t / 2, and adds them times its own sub-block's
 * integer sc, times d and the unit's sx once per unit; the two steps' lanes meet at the end of the row
 * group (row sums, column_t). Against the f16 mma_gemv_n1: one mma per 32 weights instead of two, A in 15 instructions per pair of steps instead of
 * ~30. */
struct I8Q6_K {
  using TT = TQ6_K;
  static constexpr int kAScaleLog2 = 2; /* A = 4 (q - 32) */
  static constexpr int kConsts = 1;     /* sx alone: no mins */
  /* x's scale per 256-weight unit (as I8Q4_K): the sub-blocks' scales stay integers until the unit's end */
  static constexpr bool kUnitScale = true;
  /* The A registers of a pair of steps from its low-bits words N0 (step 2hp: rows g, g + 8 into a[0],
   * a[1]) and N1 (step 2hp + 1: a[2], a[3]) and its high-bits word H. A byte of a[r] takes its nibble
   * from N (low nibbles for rows g, high for g + 8) and 2 bits from H (the packed layout's groups 0
   * and 1: fields at H bits 4 + 2i, 20 + 2i, resp. 12 + 2i, 28 + 2i mod 32). Hx keeps H's bytes 0 and
   * 2 and takes bytes 1 and 3 from H << 4, which puts the 2 bits of rows g + 8 at bits 6-7 of each
   * byte and those of rows g at bits 4-5; Rx is the same for group 1 (H rotated by a byte first). */
  static __device__ __forceinline__ void regs(uint32_t N0, uint32_t N1, uint32_t H, uint32_t (&a)[4]) {
    const uint32_t S = H << 4;
    const uint32_t Hx = __byte_perm(H, S, 0x7250u), Rx = __byte_perm(H, S, 0x4361u);
    /* rows g: nibble at bits 0-3, its 2 bits at 4-5, then << 2; rows g + 8: nibble >> 2 into bits 2-5
     * beside the 2 bits at 6-7; either way bits 0-1 cleared and bit 7 flipped at the end */
    a[0] = and_xor(bit_select(N0, Hx, 0x0F0F0F0Fu) << 2, 0xFCFCFCFCu, 0x80808080u);
    a[1] = and_xor(bit_select(N0 >> 2, Hx, 0x3C3C3C3Cu), 0xFCFCFCFCu, 0x80808080u);
    a[2] = and_xor(bit_select(N1, Rx, 0x0F0F0F0Fu) << 2, 0xFCFCFCFCu, 0x80808080u);
    a[3] = and_xor(bit_select(N1 >> 2, Rx, 0x3C3C3C3Cu), 0xFCFCFCFCu, 0x80808080u);
  }
  template <int NT, class XV>
  static __device__ __forceinline__ void compute(const TT::Unit& u, int ul, int, const XV& xv, float (&acc)[NT][2],
                                                 int lane) {
    /* the lane's sub-block of a pair: byte 2 (p & 1) + (lane & 1) of scale word p / 2 */
    const unsigned sel = 0x8880u + 0x1111u * (unsigned)(lane & 1);
    /* sum_p sc_p d[i] of rows g (i = 0, 1: the digits) and g + 8 (2, 3): |d[i]| <= 16 x 128 x 128 = 2^18
     * (16 nonzero x per column), |sc| <= 128, 8 sub-blocks a lane: below 2^28 */
    int s[NT][4] = {};
#pragma unroll
    for (int p = 0; p < 8; ++p) { /* steps 2hp, 2hp + 1 of chunk c: one x block */
      const int c = p >> 1, hp = p & 1, wi = (c & 1) * 2 + hp;
      const uint4& hq = u.qh[c >> 1];
      const uint32_t H = wi == 0 ? hq.x : wi == 1 ? hq.y : wi == 2 ? hq.z : hq.w;
      uint32_t a[4];
      regs(hp == 0 ? u.ql[c].x : u.ql[c].z, hp == 0 ? u.ql[c].y : u.ql[c].w, H, a);
      const int ws = p >> 1;
      const uint32_t wA = ws == 0 ? u.sc[0].x : ws == 1 ? u.sc[0].y : ws == 2 ? u.sc[0].z : u.sc[0].w;
      const uint32_t wB = ws == 0 ? u.sc[1].x : ws == 1 ? u.sc[1].y : ws == 2 ? u.sc[1].z : u.sc[1].w;
      const unsigned sp = sel + ((p & 1) ? 0x2222u : 0u);
      const int scA = sext_byte(wA, sp), scB = sext_byte(wB, sp);
#pragma unroll
      for (int vt = 0; vt < NT; ++vt) {
        const uint2 q = xv.digits(vt, ul * 8 + p, lane);
        int d[4];
        imma16832(d, a, q.x, q.y);
        add_scaled_sums(s[vt], d, scA, scB);
      }
    }
    const float dA = h_lo(u.d), dB = h_hi(u.d);
#pragma unroll
    for (int vt = 0; vt < NT; ++vt) {
      const float sx = xv.sx(vt, ul, lane);
      add_unit_sums(acc[vt], s[vt], sx, dA, dB);
    }
  }
  /* rows g, g + 8 of output column t of the lane's group of 4 (t < 2 NT), from compute's acc: lane t
   * holds column 2 vt + t / 2's step t & 1; every lane calls it (shuffles) */
  template <int NT>
  static __device__ __forceinline__ float2 column_t(const float (&acc)[NT][2], int lane) {
    const int src = (lane & ~3) | ((lane & 1) << 1);
    float2 v = make_float2(0.0f, 0.0f);
#pragma unroll
    for (int vt = 0; vt < NT; ++vt) {
      const float r0 = acc[vt][0] + __shfl_xor_sync(0xffffffffu, acc[vt][0], 1);
      const float r1 = acc[vt][1] + __shfl_xor_sync(0xffffffffu, acc[vt][1], 1);
      const float c0 = __shfl_sync(0xffffffffu, r0, src), c1 = __shfl_sync(0xffffffffu, r1, src);
      if (((lane >> 1) & 1) == vt) v = make_float2(c0, c1);
    }
    return v;
  }
};

/* Columns of x an mma tile takes: 4 (two digits each), Q6_K's 2 (two digits for each of two steps) */
template <class IT> __host__ __device__ constexpr int i8_tile_cols() { return std::is_same<IT, I8Q6_K>::value ? 2 : 4; }

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

/* The digits of four consecutive x values v of one column, k = kb .. kb + 3 of a 32-weight block whose
 * 8 float4s are an aligned 8-lane group of the calling warp (every lane calls: shuffles). The block's
 * lane 0 (tile column 2 cc, t = 0) is uint2 q0 of xqb; the group's lane 0 writes the constants
 * {sx, hi, lo, 0} (IT::kConsts = 4, 16-byte aligned) or sx alone (1) to xcp. Nothing is written where !valid. */
template <class IT>
__device__ __forceinline__ void i8_stage4(const float4 v, bool valid, int kb, uint8_t* xqb, int q0, float* xcp) {
  const int lane = threadIdx.x & 31;
  const float e[4] = {v.x, v.y, v.z, v.w};
  float m = fmaxf(fmaxf(fabsf(e[0]), fabsf(e[1])), fmaxf(fabsf(e[2]), fabsf(e[3])));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
  /* fmaxf skips NaN, so non-finite values are flagged apart: such a block makes its outputs NaN */
  int bad = !(fabsf(e[0]) <= 3.402823466e38f && fabsf(e[1]) <= 3.402823466e38f && fabsf(e[2]) <= 3.402823466e38f &&
              fabsf(e[3]) <= 3.402823466e38f);
  bad |= __shfl_xor_sync(0xffffffffu, bad, 4);
  bad |= __shfl_xor_sync(0xffffffffu, bad, 2);
  bad |= __shfl_xor_sync(0xffffffffu, bad, 1);
  if constexpr (IT::kUnitScale) {
    /* one scale per 256-weight unit: its 8 blocks are 64 consecutive threads of the CTA (two warps; every
     * stager's CTA is kDecThreads threads with units aligned to 64), which meet in shared memory; a block
     * with a non-finite value posts +inf (m itself is finite): 128 bytes of static shared memory, not 256,
     * so that the stager fits on an SM beside more of the gemvs it precedes (NOTES v56) */
    __shared__ float s_max[kDecThreads / 8];
    const int tid = threadIdx.x;
    if ((lane & 7) == 0) s_max[tid >> 3] = bad ? __int_as_float(0x7f800000) : m;
    __syncthreads();
    const int u8 = (tid >> 6) * 8;
#pragma unroll
    for (int b = 0; b < 8; ++b) m = fmaxf(m, s_max[u8 + b]);
    bad = m > 3.402823466e38f;
    __syncthreads(); /* s_max is written again by the next call */
  }
  /* u = x * 2^-ex * 127 / mant (mant in [0.5, 1)): max |u| = 127 whatever the block's magnitude;
   * sx = the value of one unit of b1 over A's scale (it goes subnormal, and loses accuracy, only for
   * blocks whose max |x| is below ~4e-34, Q4_0 ~6e-33) */
  int ex = 0;
  float mul = 0.0f, sx = 0.0f;
  if (bad) {
    sx = __int_as_float(0x7fc00000);
  } else if (m > 0.0f) {
    const float mant = frexpf(m, &ex);
    mul = 127.0f / mant;
    sx = ldexpf(mant * (1.0f / 32512.0f), ex - IT::kAScaleLog2); /* mant / (127 * 256) * 2^ex, over A's scale */
  }
  int su = 0; /* sum(256 b0 + b1) */
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    int b0, b1;
    i8_digits(bad ? 0.0f : ldexpf(e[q], -ex) * mul, b0, b1);
    su += 256 * b0 + b1;
    const int k = kb + q, s = k >> 4, kk = k & 15;
    const int t = (kk & 7) >> 1, j = ((kk & 1) << 1) | (kk >> 3);
    if (valid) {
      /* lane (g' = 2 cc + digit, t), register s, byte j */
      const int base = (q0 + t) * 8 + 4 * s + j;
      xqb[base] = (uint8_t)(int8_t)b0;
      xqb[base + 32] = (uint8_t)(int8_t)b1; /* lane + 4: the next tile column */
    }
  }
  constexpr bool kMins = std::is_same<IT, I8Q4_K>::value;
  if (kMins)
#pragma unroll
    for (int o = 4; o >= 1; o >>= 1) su += __shfl_xor_sync(0xffffffffu, su, o);
  if (valid && (lane & 7) == 0) {
    float hi = 0.0f, lo = 0.0f;
    if (kMins) { /* the min operand, sx * su as tf32 hi + lo (~21 bits) */
      const float ms = sx * (float)su;
      hi = to_tf32(ms);
      lo = to_tf32(ms - hi);
    }
    if constexpr (IT::kConsts == 4) *(float4*)xcp = make_float4(sx, hi, lo, 0.0f);
    else *xcp = sx;
  }
}

/* y[c][r] = sum_k W[r][k] x[c][k] for up to 4 * NT columns; the grid and ring as in k_decode. */
template <class IT, int NT>
__global__ void __launch_bounds__(kDecThreads, 2)
k_decode_i8(WP wp, const float* __restrict__ x, float* __restrict__ y, float* __restrict__ part,
            unsigned* __restrict__ counters, int rows, int Gn, int K, int nc, int units_row, int ups, int S, int batch,
            int flags) {
  using TT = typename IT::TT;
  extern __shared__ __align__(128) uint4 dsm[];
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
      const int c = i / f4, f = i - c * f4;
      const int bt = (c >> 2) * nblk + (f >> 3); /* (tile, block in the slice) */
      i8_stage4<IT>(v[r], i < total, (4 * f) & 31, xqb, bt * 32 + 8 * (c & 3), (float*)(xc + bt * 4 + (c & 3)));
    }
  }
  __syncthreads();

  /* ---- stream the weights ---- */
  float acc[NT][2];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = 0.0f;
  ring_stream<TT, R>(ring, wp, G, nc, u0, nu, active, lane, [&](const typename TT::Unit& u, int ul, int nch) {
    IT::template compute<NT>(u, ul, nch, XTiles{xq, xc, nblk}, acc, lane);
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

/* Shared memory of k_gemv_i8: the weight rings, then one column's digits for the whole (padded) row:
 * per 32-weight block 8 x 8 B of digits, then per block its constants (16 bytes; Q6_K 4). */
template <class IT> __host__ __device__ constexpr int gemv_i8_block_bytes() { return 8 * 8 + 4 * IT::kConsts; }

/* y[r] = sum_k W[r][k] x[k] (one column), imma_gemv_n1. A CTA holds all of x's digits (copied from
 * k_xstage_i8's buffer xs), then takes row groups (16 rows)
 * blockIdx.x, + gridDim.x, ...: its 8 warps each stream one eighth of the group's row (ups units),
 * and the 8 partial sums meet in shared memory, added in warp order. Against k_decode_i8 (8
 * row groups x an eighth of K per CTA, slices added through global memory by the last CTA of a row
 * block) nothing follows the last weights but a CTA barrier: no partials, no fence, no counter. A
 * warp's weight ring runs on across row groups (unit i of the warp: group i / nu, unit u0 + i % nu). */
template <class IT>
__global__ void __launch_bounds__(kDecThreads, 2)
k_gemv_i8(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, int rows, int Gn, int nc, int units_row, int ups,
          int flags) {
  using TT = typename IT::TT;
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[2][kDecWarps * 16];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int u0 = warp * ups;
  const int nu = max(0, min(ups, units_row - u0));
  const int nblk = units_row * (TT::UK / 32);
  const int ng = (Gn - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x; /* row groups of this CTA */
  const int n_items = ng * nu;
  constexpr int R = i8_ring<IT, 1>();
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  uint2* xq = (uint2*)((uint8_t*)dsm + i8_ring_bytes<IT, 1>());
  float* xc = (float*)(xq + nblk * 8);

  const auto request = gemv_requests<TT, R, !std::is_same<IT, I8Q4_K>::value>(ring, wp, nc, u0, nu, n_items, lane);

  /* ---- the ring's first `pre` slots before the PDL wait, then k_xstage_i8's digits (x points at them),
   * the ring's other slots behind them ---- */
  const bool pdl = (flags & kDecPdl) != 0;
  const int pre = gemv_pre_slots<R>(pdl, flags);
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i < pre) request(i);
  if (pdl) gg_pdl_wait();
  constexpr int BPU = TT::UK / 32;
  uint4* xdst = dsm + i8_ring_bytes<IT, 1>() / 16;
  /* Q4_K: each warp copies its own eighth's digits and constants and goes on without a CTA barrier
   * (H200, 4096 x 14336, us: L2-cold 12.26 -> 12.01, warm 11.70 -> 10.86; Q6_K cold 15.14 -> 15.76,
   * Q4_0 and Q8_0 within 0.1: NOTES v48) */
  constexpr bool kWarpCopy = std::is_same<IT, I8Q4_K>::value;
  if constexpr (kWarpCopy) { /* in 16-byte pieces: the digits, then the constants */
    const int d0 = u0 * BPU * 4, dn = nu * BPU * 4;
    const int c0 = nblk * 4 + u0 * BPU * IT::kConsts / 4, cn = nu * BPU * IT::kConsts / 4;
    for (int i = lane; i < dn + cn; i += 32) {
      const int o = i < dn ? d0 + i : c0 + (i - dn);
      cp_async16(xdst + o, xs + o);
    }
  } else {
    const int n16 = nblk * gemv_i8_block_bytes<IT>() / 16; /* (K-quants: 8 blocks a unit) */
    for (int i = tid; i < n16; i += kDecThreads) cp_async16(xdst + i, xs + i);
  }
  cp_async_commit();
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (i >= pre) request(i);
  gg_pdl_release();
  cp_async_wait_n<R>(R - pre); /* the digits (and the slots before them) have landed */
  if constexpr (kWarpCopy) __syncwarp();
  else __syncthreads();

  /* ---- stream: per row group this warp's eighth, then the CTA's sum ---- */
  const auto xcol = [&] {
    if constexpr (IT::kConsts == 4) return XColumn{xq + u0 * BPU * 8, (const float4*)xc + u0 * BPU};
    else return XColumnQ6{xq + u0 * BPU * 8, xc + u0 * BPU};
  }();
  using Acc = float[1][2];
  gemv_stream<TT, R, Acc>(
      ring, ng, nu, request,
      [&](const typename TT::Unit& u, int ul, Acc& acc) {
        IT::template compute<1>(u, ul, unit_chunks<TT>(nc, u0 + ul), xcol, acc, lane);
      },
      [](const Acc& a) { /* rows g, g + 8 (every lane calls it; lanes t = 0 keep it) */
        if constexpr (std::is_same<IT, I8Q6_K>::value) /* the pair's two steps sit in lanes t = 0, 1 */
          return make_float2(a[0][0] + __shfl_xor_sync(0xffffffffu, a[0][0], 1),
                             a[0][1] + __shfl_xor_sync(0xffffffffu, a[0][1], 1));
        else
          return make_float2(a[0][0], a[0][1]);
      },
      s_red, y, rows);
}

/* x (one column, K values) -> the digits of k_gemv_i8 in its shared-memory layout (xq: nblk x 8
 * uint2, then xc: nblk float4s), once per launch: thread = 4 values, 8 threads per block (i8_stage4;
 * with 16 values a thread, the chain before the matmul was 0.3-0.6 us longer). Launched
 * with programmatic dependent launch: the matmul after it starts streaming weights at once, and it
 * waits for the kernel that wrote x. */
template <class IT>
__global__ void __launch_bounds__(kDecThreads)
k_xstage_i8(const float* __restrict__ x, uint2* __restrict__ xq, int K, int nblk, int flags) {
  gg_pdl_release();
  gg_pdl_wait();
  const int qi = blockIdx.x * kDecThreads + threadIdx.x; /* one float4 of x */
  const bool xv = (flags & kDecXAligned) != 0;
  const int b = qi >> 3, k = 4 * qi;
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (b < nblk && k < K) v = load_x4(x + k, xv);
  i8_stage4<IT>(v, b < nblk, (4 * qi) & 31, (uint8_t*)(xq + (int64_t)b * 8), 0,
                (float*)(xq + nblk * 8) + IT::kConsts * b);
}

/* ---------------------------------------------------------- imma_gemv_n4: 2 to 4 columns
 * k_gemv_i8's form for up to 4 columns: one CTA per row group over the whole row, no split-K sum.
 * The 4 columns fill the mma's 8-column tile (two digits each), so a unit costs the same mma as
 * one column; what grows is x: a 4-column tile's digits per 32-weight block are 32 lanes x 8 B plus
 * 4 x 16 B of constants (k_decode_i8's staged layout), 4x a column's. A CTA holding a row of them
 * (140 KB for 14336 weights) leaves room for one CTA per SM, so the CTA has 16 warps (each streaming
 * a sixteenth of the row, the depth of the 2-slot ring) to keep n = 1's 16 warps per SM. */
constexpr int kGemv4BytesPerBlock = 32 * 8 + 4 * 16;
template <class IT> __host__ __device__ constexpr int gemv4_ring() { return IT::TT::template ring<2>(); }
template <class IT> __host__ __device__ constexpr int gemv4_ring_bytes() {
  return kGemv4Warps * gemv4_ring<IT>() * IT::TT::SLOT;
}
constexpr int kGemv4StaticSmem = 2 * kGemv4Warps * 16 * 4 * 4; /* s_red */

/* y[c][r] = sum_k W[r][k] x[c][k] for c < batch <= 4, imma_gemv_n4; xs: k_xstage_i8_w<IT, 1>'s digits. */
template <class IT>
__global__ void __launch_bounds__(kGemv4Threads, 1)
k_gemv_i8_n4(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, int rows, int Gn, int nc, int units_row,
             int ups, int batch, int flags) {
  using TT = typename IT::TT;
  constexpr int BPU = TT::UK / 32; /* 32-weight blocks per unit */
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[2][kGemv4Warps * 16 * 4];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int u0 = warp * ups;
  const int nu = max(0, min(ups, units_row - u0));
  const int nblk = units_row * BPU;
  const int ng = (Gn - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x; /* row groups of this CTA */
  const int n_items = ng * nu;
  constexpr int R = gemv4_ring<IT>();
  constexpr bool kQ6 = std::is_same<IT, I8Q6_K>::value;
  constexpr int LPB = kQ6 ? 16 : 32; /* tile lanes' digits kept per block (Q6_K: columns 0, 1) */
  uint8_t* ring = (uint8_t*)dsm + warp * R * TT::SLOT;
  const uint2* xq = (const uint2*)((uint8_t*)dsm + gemv4_ring_bytes<IT>());
  const float4* xc = (const float4*)(xq + nblk * LPB);

  const auto request = gemv_requests<TT, R>(ring, wp, nc, u0, nu, n_items, lane);

  uint4* xdst = dsm + gemv4_ring_bytes<IT>() / 16;
  if constexpr (kQ6) {
    /* per block the digits' first 8 of 16 pieces of 16 B, then the first 2 of its 4 constants */
    gemv4_start_with<R>(request, flags, nblk * 10, [&](int i) {
      const int b = i / 10, j = i - b * 10;
      if (j < 8) cp_async16(xdst + b * 8 + j, xs + b * 16 + j);
      else cp_async16(xdst + nblk * 8 + b * 2 + (j - 8), xs + nblk * 16 + b * 4 + (j - 8));
    });
  } else {
    gemv4_start<R, kGemv4BytesPerBlock / 16>(request, flags, xdst, xs, nblk);
  }

  const auto xt = [&] {
    if constexpr (kQ6) return XPairsQ6<16, 2>{xq + u0 * BPU * 16, xc + u0 * BPU * 2};
    else return XTiles{xq + u0 * BPU * 32, xc + u0 * BPU * 4, nblk};
  }();
  using Acc = float[1][2];
  gemv_stream<TT, R, Acc, kGemv4Warps, 4>(
      ring, ng, nu, request,
      [&](const typename TT::Unit& u, int ul, Acc& acc) {
        IT::template compute<1>(u, ul, unit_chunks<TT>(nc, u0 + ul), xt, acc, lane);
      },
      [lane](const Acc& a) {
        if constexpr (kQ6) return IT::template column_t<1>(a, lane); /* lane t: column t (t < 2) */
        else return make_float2(a[0][0], a[0][1]);
      },
      s_red, y, rows, batch);
}

/* ---------------------------------------------- imma_gemv_n8: up to 8 columns (two tiles)
 * imma_gemv_n4's form for NT 4-column tiles. A row of NT tiles' digits does not fit, so the row is
 * cut in NT parts of a tile-row's size each, and each CTA takes one part of its row groups, adding its
 * sums into y (gemvw_stream). Instantiated for NT = 2 (imma_gemv_n8); its NT = 1 case ran 2-4 us
 * slower than k_gemv_i8_n4 (NOTES v23), which keeps 1 to 4 columns. */

/* y[c][r] = sum_k W[r][k] x[c][k] for c < batch <= 4 NT; xs: k_xstage_i8_w's digits, NT parts of
 * upp units (the last may be short), and y zeroed by it. */
template <class IT, int NT>
__global__ void __maxnreg__(kGemvMaxRegs)
k_gemv_i8_w(WP wp, const uint4* __restrict__ xs, float* __restrict__ y, int rows, int Gn, int nc, int units_row,
            int upp, int ups, int batch, int flags) {
  using TT = typename IT::TT;
  constexpr int BPU = TT::UK / 32; /* 32-weight blocks per unit */
  extern __shared__ __align__(128) uint4 dsm[];
  __shared__ float s_red[gemvw_static_smem<NT>() / 4];

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int nblkp = upp * BPU; /* blocks per part */
  /* Q6_K (3-4 columns): the part's first tile alone, as 2 of I8Q6_K's two-column tiles */
  constexpr bool kQ6 = std::is_same<IT, I8Q6_K>::value;
  const uint2* xq = (const uint2*)(dsm + gemv4_ring_bytes<IT>() / 16);
  const float4* xc = (const float4*)(xq + (kQ6 ? 1 : NT) * nblkp * 32);
  const int tw = warp % kGemvwTeamWarps; /* the warp in its team: its share of the part */
  const auto xt = [&] {
    if constexpr (kQ6) return XPairsQ6<32, 4>{xq + tw * ups * BPU * 32, xc + tw * ups * BPU * 4};
    else return XTiles{xq + tw * ups * BPU * 32, xc + tw * ups * BPU * 4, nblkp};
  }();
  using Acc = float[NT][2];
  gemvw_stream<TT, NT, kGemv4BytesPerBlock / 16, Acc, kQ6>(
      dsm, wp, xs, y, rows, Gn, nc, units_row, upp, ups, batch, flags, NT * nblkp, s_red,
      [&](const typename TT::Unit& u, int ul, int nch, Acc& acc) { IT::template compute<NT>(u, ul, nch, xt, acc, lane); },
      /* lane (g, t) holds column 4 nt + t (Q6_K: columns 0-3 from its two tiles, nothing past them) */
      [lane](const Acc& acc, int nt) {
        if constexpr (kQ6) return nt == 0 ? IT::template column_t<NT>(acc, lane) : make_float2(0.0f, 0.0f);
        else return make_float2(acc[nt][0], acc[nt][1]);
      });
}

/* x (batch <= 4 NT columns of K values) -> the digits of k_gemv_i8_n4 (NT = 1: the whole row) and
 * k_gemv_i8_w: per part p (units p * upp ..) NT tiles x nblkp blocks x 32 uint2, then NT x nblkp x 4
 * float4 constants; once per launch, a thread per float4 of a column, 8 per 32-weight block
 * (i8_stage4); columns from batch on get zero digits and constants. With NT parts (NT > 1) it also zeroes
 * y (batch x rows), which k_gemv_i8_w's CTAs add their parts' sums into. Programmatic dependent launch
 * as k_xstage_i8. */
template <class IT, int NT>
__global__ void __launch_bounds__(kDecThreads)
k_xstage_i8_w(const float* __restrict__ x, uint8_t* __restrict__ xs, int K, int nblkp, int batch, int flags,
              float* __restrict__ y, int rows) {
  gg_pdl_release();
  gg_pdl_wait();
  const int qi = blockIdx.x * kDecThreads + threadIdx.x; /* (column, float4 of the padded row) */
  if (NT > 1) zero_y(y, (int64_t)batch * rows, qi, (int)gridDim.x * kDecThreads); /* k_gemv_i8_w adds into it */
  const int per_col = 8 * nblkp * NT;
  const int c = qi / per_col, f = qi - c * per_col;
  const int b = f >> 3, k = 4 * f, p = NT == 1 ? 0 : b / nblkp, bi = b - p * nblkp, nt = c >> 2, cc = c & 3;
  const bool valid = c < 4 * NT;
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (valid && c < batch && k < K) v = load_x4(x + (int64_t)c * K + k, (flags & kDecXAligned) != 0);
  uint8_t* base = xs + (int64_t)p * NT * nblkp * kGemv4BytesPerBlock;
  const int tb = nt * nblkp + bi; /* (tile, block) of the part */
  i8_stage4<IT>(v, valid, k & 31, base, tb * 32 + 8 * cc, (float*)((float4*)(base + NT * nblkp * 256) + tb * 4 + cc));
}

}  // namespace mmf

#endif
