/* gguf-gpu: the prefill GEMM on Hopper's warpgroup tensor-core instructions (wgmma, sm_90a only;
 * included by matmul.cu after matmul_frag.cuh, whose packed layout and per-type A-fragment
 * builders it reuses). Built only into the sm_90a code of the library: other targets compile the
 * kernels to a trap, and the host asks k_wgmma_probe before it dispatches here.
 *
 * k_prefill_wg<Type, NWG, BN>: an output tile of 64 * NWG rows x BN columns per CTA of NWG
 * warpgroups. Per 64-k chunk: the raw W bytes of the tile's row groups and an f16 image of x
 * (BN columns x 64 k) are copied into shared memory (cp.async, S stages); warp w of the CTA builds
 * the A fragments of row group w in registers (f16(d * q), exactly as k_prefill does: the wgmma
 * register layout of A is the mma.m16n8k16 one, warp w % 4 holding rows 16 (w % 4) .. of its
 * warpgroup's 64), and its warpgroup issues 4 wgmma.m64nBNk16 with B read by the tensor cores from
 * the x image. The wgmma run asynchronously: chunk c's products overlap the A build of chunk c + 1
 * and the copies of chunk c + S - 2, one barrier per chunk.
 *
 * x image (k_xprep_wg): per (chunk, column tile) BN * 128 contiguous bytes in the canonical
 * K-major layout without swizzle: 8 x 8 "core matrices" (8 columns x 8 k, 128 bytes, a column's
 * 8 k contiguous), core (j / 8, k / 8) at byte ((j / 8) * 8 + k / 8) * 128. So the descriptor's
 * leading (K) byte offset is 128, its stride (N) byte offset 1024, and k16 step s starts 256 s
 * bytes in. x is scaled per column by a power of two, as in k_xprep (same accuracy: NMSE ~1e-7).
 */
#ifndef GG_MATMUL_WGMMA_CUH
#define GG_MATMUL_WGMMA_CUH

#include "matmul_frag.cuh"

namespace mmf {

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define GG_MMF_WGMMA 1
#else
#define GG_MMF_WGMMA 0
#endif

/* Writes 1 where this code was compiled for sm_90a (wgmma present), 0 elsewhere. */
__global__ void k_wgmma_probe(int* out) { *out = GG_MMF_WGMMA; }

__device__ __forceinline__ void wgmma_fence() {
#if GG_MMF_WGMMA
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#if GG_MMF_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
#if GG_MMF_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
#endif
}
/* Keeps the compiler from moving accumulator copies into a wgmma pipeline stage (ptxas serializes
 * the wgmma when a non-wgmma instruction defines their registers there); emits no instruction. */
template <int N> __device__ __forceinline__ void pin_acc(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

/* cp.async writes shared memory through the generic proxy, wgmma reads it through the async one */
__device__ __forceinline__ void fence_proxy_async() {
#if GG_MMF_WGMMA
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

constexpr uint32_t kWgLbo = 128;  /* bytes between core matrices adjacent in k */
constexpr uint32_t kWgSbo = 1024; /* bytes between core matrices adjacent in n (8-column groups) */

/* Shared-memory matrix descriptor: start address, leading and stride byte offsets (all >> 4), no swizzle. */
__device__ __forceinline__ uint64_t wg_desc(const void* p) {
  return (uint64_t)((smem_addr(p) & 0x3FFFFu) >> 4) | ((uint64_t)(kWgLbo >> 4) << 16) | ((uint64_t)(kWgSbo >> 4) << 32);
}

/* D (m64 x n, f32) += A (m64 x k16, f16 registers) * B (k16 x n, f16 from the descriptor). The
 * accumulators of n8 block i: d[4i + 0..3] = (row g, col 8i + 2t), (g, 8i + 2t + 1), (g + 8, 8i + 2t),
 * (g + 8, 8i + 2t + 1) of the warp's 16 rows (g = lane / 4, t = lane % 4). */
__device__ __forceinline__ void wgmma_n64(float (&d)[32], uint64_t desc_a, uint64_t desc_b) {
#if GG_MMF_WGMMA
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
      "}, %32, %33, 1, 1, 1, 0, 0;"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(desc_a), "l"(desc_b));
#else
  (void)d; (void)desc_a; (void)desc_b;
  __trap();
#endif
}

__device__ __forceinline__ void wgmma_n128(float (&d)[64], uint64_t desc_a, uint64_t desc_b) {
#if GG_MMF_WGMMA
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, 1, 1, 1, 0, 0;"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b));
#else
  (void)d; (void)desc_a; (void)desc_b;
  __trap();
#endif
}

template <int BN> struct WgMma;
template <> struct WgMma<64> {
  static __device__ __forceinline__ void run(float (&d)[32], uint64_t a, uint64_t b) { wgmma_n64(d, a, b); }
};
template <> struct WgMma<128> {
  static __device__ __forceinline__ void run(float (&d)[64], uint64_t a, uint64_t b) { wgmma_n128(d, a, b); }
};

constexpr int kWgStages = 6;        /* chunks in flight: kWgStages - 2 being copied, 2 being multiplied */
constexpr int kWgABytes = 64 * 128; /* one warpgroup's f16 A tile of a chunk: 64 rows x 64 k */
template <int BN> __host__ __device__ constexpr int wg_x_bytes() { return BN * 128; }
template <class TT, int NWG, int BN> __host__ __device__ constexpr int wg_stage_bytes() {
  return wg_x_bytes<BN>() + 4 * NWG * TT::PW;
}
/* the stages, then per warpgroup two A tiles (chunk c's is read by the tensor cores while chunk c + 1's is written) */
template <class TT, int NWG, int BN> __host__ __device__ constexpr int wg_smem_bytes() {
  return kWgStages * wg_stage_bytes<TT, NWG, BN>() + NWG * 2 * kWgABytes;
}

/* x f32 [batch][K] -> xw: f16 images [chunk][column tile][BN * 128 B] (layout above), scaled per
 * column; descale[c] undoes the scale. One CTA per column (columns >= batch: zeros). */
template <int BN>
__global__ void __launch_bounds__(256)
k_xprep_wg(const float* __restrict__ x, uint4* __restrict__ xw, float* __restrict__ descale, int K, int nc, int batch,
           int NCT) {
  __shared__ float red[32];
  const int c = blockIdx.x;
  const float* xr = x + (int64_t)c * K;
  float sc = 0.0f, ds = 1.0f;
  if (c < batch) sc = column_scale(xr, K, red, &ds);
  if (threadIdx.x == 0) descale[c] = ds;
  const int ct = c / BN, j = c % BN;
  for (int p = threadIdx.x; p < nc * 8; p += blockDim.x) { /* p: 8 consecutive k */
    const int k = 8 * p;
    uint32_t h[4] = {0u, 0u, 0u, 0u};
    if (c < batch && k < K) { /* K is a multiple of 32 */
#pragma unroll
      for (int i = 0; i < 4; ++i) h[i] = pack_h2(__ldg(xr + k + 2 * i) * sc, __ldg(xr + k + 2 * i + 1) * sc);
    }
    const int cc = k >> 6, kc = (k & 63) >> 3;
    const int64_t idx = ((int64_t)cc * NCT + ct) * (BN * 8) + ((j >> 3) * 8 + kc) * 8 + (j & 7);
    xw[idx] = make_uint4(h[0], h[1], h[2], h[3]);
  }
}

template <class TT, int NWG, int BN>
__device__ __forceinline__ void wg_load_stage(uint8_t* st, const WP& wp, const uint4* __restrict__ xw, int64_t gm0,
                                              int64_t Gn, int64_t nc, int64_t c, int64_t NCT, int ct, int tid) {
  constexpr int XP = wg_x_bytes<BN>() / 16, NTH = 128 * NWG, GROUPS = 4 * NWG;
  const uint4* src = xw + ((int64_t)c * NCT + ct) * XP;
#pragma unroll
  for (int i = 0; i < XP / NTH; ++i) cp_async16(st + (tid + i * NTH) * 16, src + tid + i * NTH);
  uint8_t* ws = st + wg_x_bytes<BN>();
  for (int i = tid; i < GROUPS * TT::kPieces; i += NTH) {
    const int gl = i / TT::kPieces, pc = i % TT::kPieces;
    if (gm0 + gl < Gn) TT::stage_piece(ws + gl * TT::PW, wp, gm0 + gl, nc, c, pc);
  }
}

/* One chunk: wait for its bytes, request chunk c + S - 2, write the warp's f16 A fragments into its
 * warpgroup's A tile (the mma.m16n8k16 fragment registers a0..a3 of step s are core matrices
 * (2 w + {0, 1}, 2 s + {0, 1}) and a warp's 32 lanes fill one core matrix with one 4-byte store
 * each, in order), issue the 4 wgmma, and wait for chunk c - 1's, so that the next chunk may
 * overwrite that chunk's A tile and, after its barrier, its stage. */
template <class TT, int NWG, int BN>
__device__ __forceinline__ void wg_chunk(uint8_t* sm, int c, float (&acc)[BN / 2], const WP& wp,
                                         const uint4* __restrict__ xw, int64_t gm0, int Gn, int nc, int NCT, int ct,
                                         int tid, int warp, int lane) {
  constexpr int STB = wg_stage_bytes<TT, NWG, BN>();
  cp_async_wait<kWgStages - 3>();
  fence_proxy_async();
  __syncthreads();
  const int cn = c + kWgStages - 2;
  if (cn < nc) wg_load_stage<TT, NWG, BN>(sm + (cn % kWgStages) * STB, wp, xw, gm0, Gn, nc, cn, NCT, ct, tid);
  cp_async_commit();
  const uint8_t* st = sm + (c % kWgStages) * STB;
  const int wg = warp >> 2, wq = warp & 3;
  uint8_t* at = sm + kWgStages * STB + (wg * 2 + (c & 1)) * kWgABytes;
  {
    uint32_t A[4][4];
    TT::afrag(st + wg_x_bytes<BN>() + warp * TT::PW, lane, c, A);
    uint32_t* aw = (uint32_t*)(at + (2 * wq) * 8 * 128) + lane;
#pragma unroll
    for (int s = 0; s < 4; ++s)
#pragma unroll
      for (int r = 0; r < 4; ++r) aw[((r & 1) * 8 + 2 * s + (r >> 1)) * 32] = A[s][r];
  }
  fence_proxy_async();
  asm volatile("bar.sync %0, 128;" ::"r"(1 + wg) : "memory"); /* the warpgroup's A tile is complete */
  pin_acc(acc);
  wgmma_fence();
#pragma unroll
  for (int s = 0; s < 4; ++s) WgMma<BN>::run(acc, wg_desc(at + 256 * s), wg_desc(st + 256 * s));
  wgmma_commit();
  wgmma_wait<1>();
  pin_acc(acc);
}

template <class TT, int NWG, int BN>
__global__ void __launch_bounds__(128 * NWG, 1)
k_prefill_wg(WP wp, const uint4* __restrict__ xw, const float* __restrict__ descale, float* __restrict__ y, int rows,
             int Gn, int nc, int NCT, int batch) {
  extern __shared__ uint4 wsm_[];
  uint8_t* sm = (uint8_t*)wsm_;
  constexpr int STB = wg_stage_bytes<TT, NWG, BN>();
  static_assert(STB % 16 == 0, "stages must stay 16-byte aligned (cp.async, wgmma descriptors)");
  static_assert(wg_x_bytes<BN>() / 16 % (128 * NWG) == 0, "x image copied in whole rounds of the CTA");
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t gm0 = (int64_t)blockIdx.x * (4 * NWG);
  const int ct = blockIdx.y;

#pragma unroll
  for (int s = 0; s < kWgStages - 2; ++s) {
    if (s < nc) wg_load_stage<TT, NWG, BN>(sm + s * STB, wp, xw, gm0, Gn, nc, s, NCT, ct, tid);
    cp_async_commit();
  }
  float acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  int c = 0;
  do { /* nc >= 1: a zero-trip path would join the accumulators' zeros in after the last wgmma, which ptxas serializes */
    wg_chunk<TT, NWG, BN>(sm, c, acc, wp, xw, gm0, Gn, nc, NCT, ct, tid, warp, lane);
  } while (++c < nc);
  wgmma_wait<0>();
  cp_async_wait<0>();

  const int t = lane & 3, g = lane >> 2;
  const int64_t rA = (gm0 + warp) * 16 + g;
#pragma unroll
  for (int i = 0; i < BN / 8; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = ct * BN + 8 * i + 2 * t + (j & 1);
      const int64_t r = rA + (j >> 1) * 8;
      if (col < batch && r < rows) y[(int64_t)col * rows + r] = acc[4 * i + j] * __ldg(descale + col);
    }
  }
}

} /* namespace mmf */

#endif /* GG_MATMUL_WGMMA_CUH */
