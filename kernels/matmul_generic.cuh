/* gguf-gpu: the generic fused dequant + matmul path (included by matmul.cu only).
 *
 * Every type the library knows, on every vendor and architecture, from RAW ggml blocks (the
 * "packed" layout of these types is the raw layout). Correct first, reasonably fast second:
 *   - gen_dq8<T>: the 8 consecutive weights W[r][8c .. 8c+7] of one row, decoded in f32 with the
 *     op order of src/quant/legacy.ts / kquants.ts (products exact, one rounding on +-min).
 *   - k_gen_gemv<T, NC>: batch <= 8 (NC columns per pass). A CTA of 256 threads takes 4 rows;
 *     each thread walks 8-weight chunks of the 4 rows (strided by 256 so a warp reads 32
 *     neighbouring chunks), keeps x for its chunk in registers, FMAs in f32, then a block
 *     reduction. Warp-size independent (wave64 and wave32 alike).
 *   - k_gen_gemm<T>: any batch. Classic 64x64 SIMT tile, BK = 32, W tile decoded into shared
 *     memory as f32, x tile in shared memory, 4x4 outputs per thread, f32 FMA.
 * All arithmetic in f32, so results are as exact as a float32 CPU loop.
 */
#ifndef GG_MATMUL_GENERIC_CUH
#define GG_MATMUL_GENERIC_CUH

#include "compat.h"
#include "blocks.h"

#include <stdint.h>

namespace mmg {

/* ggml ids of the float types (blocks.h names only the quantized ones). */
constexpr int T_F32 = 0;
constexpr int T_F16 = 1;
constexpr int T_BF16 = 30;

__constant__ int8_t kIq4nlValues[16] = GG_IQ4NL_VALUES;

/* Weights per block and bytes per block, for every type handled here. */
template <int T> struct Info {
  static constexpr int QK = gg_block_info<T>::QK;
  static constexpr int TS = gg_block_info<T>::TS;
};
template <> struct Info<T_F32> { static constexpr int QK = 1; static constexpr int TS = 4; };
template <> struct Info<T_F16> { static constexpr int QK = 1; static constexpr int TS = 2; };
template <> struct Info<T_BF16> { static constexpr int QK = 1; static constexpr int TS = 2; };

__device__ __forceinline__ uint32_t rd16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
__device__ __forceinline__ uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
__device__ __forceinline__ float h2f(const uint8_t* p) { return gg_h2f((uint16_t)rd16(p)); }
__device__ __forceinline__ float bf2f(uint32_t bits) { return __uint_as_float(bits << 16); }

/* out[i] = W[row][k + i], i < 8; k a multiple of 8 (and of nothing else). row points at the
 * row's first block. For the float types the caller guarantees k + 8 <= row_len. */
template <int T> __device__ __forceinline__ void gen_dq8(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]);

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q4_0>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 18;
  const int j0 = (int)(k & 31);
  const float d = h2f(b);
  const uint8_t* q = b + 2 + (j0 & 15);
  const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = (float)((int)((q[i] >> sh) & 15) - 8) * d;
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q4_1>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 20;
  const int j0 = (int)(k & 31);
  const float d = h2f(b), m = h2f(b + 2);
  const uint8_t* q = b + 4 + (j0 & 15);
  const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = __fmaf_rn((float)((q[i] >> sh) & 15), d, m);
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q5_0>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 22;
  const int j0 = (int)(k & 31);
  const float d = h2f(b);
  const uint32_t qh = rd32(b + 2);
  const uint8_t* q = b + 6 + (j0 & 15);
  const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int v = (int)(((q[i] >> sh) & 15) | (((qh >> (j0 + i)) & 1) << 4)) - 16;
    o[i] = (float)v * d;
  }
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q5_1>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 24;
  const int j0 = (int)(k & 31);
  const float d = h2f(b), m = h2f(b + 2);
  const uint32_t qh = rd32(b + 4);
  const uint8_t* q = b + 8 + (j0 & 15);
  const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t v = ((q[i] >> sh) & 15) | (((qh >> (j0 + i)) & 1) << 4);
    o[i] = __fmaf_rn((float)v, d, m);
  }
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q8_0>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 34;
  const int j0 = (int)(k & 31);
  const float d = h2f(b);
  const int8_t* q = (const int8_t*)(b + 2 + j0);
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = (float)q[i] * d;
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_IQ4_NL>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 5) * 18;
  const int j0 = (int)(k & 31);
  const float d = h2f(b);
  const uint8_t* q = b + 2 + (j0 & 15);
  const int sh = j0 >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = d * (float)kIq4nlValues[(q[i] >> sh) & 15];
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q2_K>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 84;
  const int j = (int)(k & 255);
  const int h = j >> 7, g = (j >> 5) & 3, s = (j >> 4) & 1, l0 = j & 15;
  const float d = h2f(b + 80), dmin = h2f(b + 82);
  const int sc = b[8 * h + 2 * g + s];
  const float dl = d * (float)(sc & 15);
  const float ml = dmin * (float)(sc >> 4);
  const uint8_t* q = b + 16 + 32 * h + 16 * s + l0;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = __fmaf_rn(dl, (float)((q[i] >> (2 * g)) & 3), -ml);
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q3_K>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 110;
  const int j = (int)(k & 255);
  const int h = j >> 7, g = (j >> 5) & 3, i0 = j & 31, s = i0 >> 4;
  const float d = h2f(b + 108);
  const uint8_t* S = b + 96;
  const int kk = 8 * h + 2 * g + s;
  const int lo = kk < 8 ? (S[kk] & 15) : (S[kk - 8] >> 4);
  const int hi = (S[8 + (kk & 3)] >> (2 * (kk >> 2))) & 3;
  const float dl = d * (float)((lo | (hi << 4)) - 32);
  const uint8_t* q = b + 32 + 32 * h + i0;
  const uint8_t* hm = b + i0;
  const int hs = 4 * h + g;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int v = (int)(((q[i] >> (2 * g)) & 3) | (((hm[i] >> hs) & 1) << 2)) - 4;
    o[i] = dl * (float)v;
  }
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q4_K>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 144;
  const int j = (int)(k & 255);
  const int c = j >> 6, l0 = j & 63, hi = l0 >= 32;
  const float d = h2f(b), dmin = h2f(b + 2);
  int sc, m;
  gg_scale_min_k4(b + 4, 2 * c + hi, sc, m);
  const float d1 = d * (float)sc, m1 = dmin * (float)m;
  const uint8_t* q = b + 16 + 32 * c + (l0 & 31);
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = __fmaf_rn(d1, (float)((q[i] >> (4 * hi)) & 15), -m1);
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q5_K>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 176;
  const int j = (int)(k & 255);
  const int c = j >> 6, l0 = j & 63, hi = l0 >= 32;
  const float d = h2f(b), dmin = h2f(b + 2);
  int sc, m;
  gg_scale_min_k4(b + 4, 2 * c + hi, sc, m);
  const float d1 = d * (float)sc, m1 = dmin * (float)m;
  const uint8_t* q = b + 48 + 32 * c + (l0 & 31);
  const uint8_t* qh = b + 16 + (l0 & 31);
  const int hs = 2 * c + hi;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t v = ((q[i] >> (4 * hi)) & 15) | (((qh[i] >> hs) & 1) << 4);
    o[i] = __fmaf_rn(d1, (float)v, -m1);
  }
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_Q6_K>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 210;
  const int j = (int)(k & 255);
  const int h = j >> 7, qq = (j >> 5) & 3, l0 = j & 31;
  const float d = h2f(b + 208);
  const float dl = d * (float)(int8_t)b[192 + (j >> 4)];
  const uint8_t* L = b + 64 * h + 32 * (qq & 1) + l0;
  const uint8_t* Q = b + 128 + 32 * h + l0;
  const int lsh = qq >= 2 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int v = (int)(((L[i] >> lsh) & 15) | (((Q[i] >> (2 * qq)) & 3) << 4)) - 32;
    o[i] = dl * (float)v;
  }
}

template <> __device__ __forceinline__ void gen_dq8<GG_TYPE_IQ4_XS>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint8_t* b = row + (k >> 8) * 136;
  const int j = (int)(k & 255);
  const int kb = j >> 5, jj = j & 31;
  const float d = h2f(b);
  const uint32_t sh = rd16(b + 2);
  const int ls = ((b[4 + (kb >> 1)] >> (4 * (kb & 1))) & 15) | (((sh >> (2 * kb)) & 3) << 4);
  const float dl = d * (float)(ls - 32);
  const uint8_t* q = b + 8 + 16 * kb + (jj & 15);
  const int s = jj >= 16 ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = dl * (float)kIq4nlValues[(q[i] >> s) & 15];
}

template <> __device__ __forceinline__ void gen_dq8<T_F32>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const float* p = (const float*)row + k;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = p[i];
}
template <> __device__ __forceinline__ void gen_dq8<T_F16>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint16_t* p = (const uint16_t*)row + k;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = gg_h2f(p[i]);
}
template <> __device__ __forceinline__ void gen_dq8<T_BF16>(const uint8_t* __restrict__ row, int64_t k, float (&o)[8]) {
  const uint16_t* p = (const uint16_t*)row + k;
#pragma unroll
  for (int i = 0; i < 8; ++i) o[i] = bf2f(p[i]);
}

/* One element of a float-type row (tails where row_len is not a multiple of 8). */
template <int T> __device__ __forceinline__ float gen_dq1(const uint8_t* __restrict__ row, int64_t k) {
  if (T == T_F32) return ((const float*)row)[k];
  if (T == T_F16) return gg_h2f(((const uint16_t*)row)[k]);
  if (T == T_BF16) return bf2f(((const uint16_t*)row)[k]);
  return 0.0f;
}

/* W[r][k..k+7], zero past row_len (only the float types can have a partial chunk). */
template <int T>
__device__ __forceinline__ void gen_chunk(const uint8_t* __restrict__ row, int64_t k, int64_t K, float (&o)[8]) {
  if (Info<T>::QK > 1 || k + 8 <= K) {
    gen_dq8<T>(row, k, o);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) o[i] = (k + i < K) ? gen_dq1<T>(row, k + i) : 0.0f;
  }
}

constexpr int kGemvThreads = 256;
constexpr int kGemvRows = 4;

/* y[c][r] for c in [c0, c0 + NC) ∩ [0, batch), r in this CTA's 4 rows. */
template <int T, int NC>
__global__ void __launch_bounds__(kGemvThreads)
k_gen_gemv(const uint8_t* __restrict__ w, const float* __restrict__ x, float* __restrict__ y, int64_t rows,
           int64_t K, int batch, int c0, int64_t row_bytes) {
  const int64_t r0 = (int64_t)blockIdx.x * kGemvRows;
  const int64_t nchunks = (K + 7) >> 3;
  float acc[kGemvRows][NC];
#pragma unroll
  for (int i = 0; i < kGemvRows; ++i)
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[i][c] = 0.0f;

  for (int64_t ch = threadIdx.x; ch < nchunks; ch += kGemvThreads) {
    const int64_t k = ch << 3;
    float xv[NC][8];
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const bool cv = c0 + c < batch;
      const float* xr = x + (int64_t)(c0 + c) * K;
#pragma unroll
      for (int i = 0; i < 8; ++i) xv[c][i] = (cv && k + i < K) ? xr[k + i] : 0.0f;
    }
#pragma unroll
    for (int rr = 0; rr < kGemvRows; ++rr) {
      if (r0 + rr < rows) {
        float wv[8];
        gen_chunk<T>(w + (r0 + rr) * row_bytes, k, K, wv);
#pragma unroll
        for (int c = 0; c < NC; ++c)
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[rr][c] = __fmaf_rn(wv[i], xv[c][i], acc[rr][c]);
      }
    }
  }

  /* block reduction: warp sums, then one partial per warp in shared memory */
  __shared__ float red[kGemvRows * 8 * (kGemvThreads / 32)]; /* NC <= 8, at most 8 warps (wave32) */
  const int nw = blockDim.x / WARP_SIZE;
  const int wid = threadIdx.x / WARP_SIZE, lid = threadIdx.x % WARP_SIZE;
#pragma unroll
  for (int rr = 0; rr < kGemvRows; ++rr)
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const float v = gg_warp_sum(acc[rr][c]);
      if (lid == 0) red[(rr * NC + c) * nw + wid] = v;
    }
  __syncthreads();
  for (int o = threadIdx.x; o < kGemvRows * NC; o += blockDim.x) {
    float s = 0.0f;
    for (int i = 0; i < nw; ++i) s += red[o * nw + i];
    const int rr = o / NC, c = o % NC;
    if (r0 + rr < rows && c0 + c < batch) y[(int64_t)(c0 + c) * rows + r0 + rr] = s;
  }
}

constexpr int kGemmTile = 64;
constexpr int kGemmBK = 32;
constexpr int kGemmThreads = 256;

template <int T>
__global__ void __launch_bounds__(kGemmThreads)
k_gen_gemm(const uint8_t* __restrict__ w, const float* __restrict__ x, float* __restrict__ y, int64_t rows,
           int64_t K, int batch, int64_t row_bytes) {
  __shared__ float Ws[kGemmBK][kGemmTile + 4];
  __shared__ float Xs[kGemmBK][kGemmTile + 4];
  const int tid = threadIdx.x;
  const int64_t m0 = (int64_t)blockIdx.x * kGemmTile;
  const int n0 = blockIdx.y * kGemmTile;
  const int ty = tid / 16, tx = tid % 16;
  const int lr = tid >> 2, lk = (tid & 3) * 8; /* loader: row/col lr, k offset lk */
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (int64_t k0 = 0; k0 < K; k0 += kGemmBK) {
    {
      float wv[8];
      const int64_t r = m0 + lr;
      if (r < rows && k0 + lk < K) {
        gen_chunk<T>(w + r * row_bytes, k0 + lk, K, wv);
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) wv[i] = 0.0f;
      }
#pragma unroll
      for (int i = 0; i < 8; ++i) Ws[lk + i][lr] = wv[i];
      const int c = n0 + lr;
      const float* xr = x + (int64_t)c * K + k0 + lk;
#pragma unroll
      for (int i = 0; i < 8; ++i) Xs[lk + i][lr] = (c < batch && k0 + lk + i < K) ? xr[i] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kGemmBK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = Ws[kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Xs[kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = __fmaf_rn(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int c = n0 + tx * 4 + j;
    if (c >= batch) continue;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t r = m0 + ty * 4 + i;
      if (r < rows) y[(int64_t)c * rows + r] = acc[i][j];
    }
  }
}

} /* namespace mmg */

#endif /* GG_MATMUL_GENERIC_CUH */
