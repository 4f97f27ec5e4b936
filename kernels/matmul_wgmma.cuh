/* gguf-gpu: the prefill GEMM on Hopper's warpgroup tensor-core instructions (wgmma, sm_90a only;
 * included by matmul.cu after matmul_frag.cuh, whose packed layout and per-type A-fragment
 * builders it reuses). Built only into the sm_90a code of the library: other targets compile the
 * kernels to a trap, and the host asks k_wgmma_probe before it dispatches here.
 *
 * k_prefill_wg<Type, BN>: output tile 128 rows x BN (128 or 256) columns per CTA, two warpgroups
 * of 64 rows. Per 64-k chunk: the raw W bytes of the tile's 8 row groups (cp.async, all threads)
 * and an f16 image of x (BN columns x 64 k; one bulk copy completing an mbarrier) are copied into
 * shared memory (S stages, one CTA barrier per chunk); warp w builds the f16 A fragments of row
 * group w in registers (f16(d * q), as k_prefill does), and its warpgroup issues 4 wgmma.m64nBNk16
 * with A from those registers and B (the x image) from shared memory. The wgmma run
 * asynchronously: chunk c's products overlap the A build and copies of chunk c + 1. With
 * gridDim.z = 2 each CTA takes half of the K chunks and adds its products into y (zeroed before,
 * by the x-image kernel): for shapes with too few tiles to fill the SMs. The GEMMs launch with
 * programmatic dependent launch (sm_90): their CTAs start as the x-image kernel ends and wait
 * (griddepcontrol.wait) before they read what it writes.
 *
 * The x image (BN columns of x, 64 k) is in the canonical K-major layout without swizzle: "core
 * matrices" of 8 rows x 8 k (128 contiguous bytes, a row's 8 k together), core (r / 8, k / 8) at
 * byte ((r / 8) * 8 + k / 8) * 128: the descriptor's leading (k) byte offset is 128, its stride
 * (row) byte offset 1024, and k16 step s starts 256 s bytes in. A column of tiny or huge x is scaled
 * by a power of two (k_ximage): NMSE ~1e-7.
 * Tried and slower (kernels/NOTES.md): A stored into shared memory and read from there by the
 * wgmma (p4-p6), a 256 x 64 tile of 4 warpgroups, the 128-byte swizzle, a ninth warp copying W with
 * many small bulk copies, and (p10) the x image multicast to clusters of 2 or 4 CTAs.
 *
 * k_prefill_ws (at the end of the file): the same tile with a producer warpgroup and mbarriers
 * (slower since v70; the dispatch table no longer picks it).
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

/* Byte offset of 16-byte chunk kc of row r in a tile (see the top of the file). */
__host__ __device__ constexpr int core_off(int r, int kc) { return ((r >> 3) * 8 + kc) * 128 + (r & 7) * 16; }

/* Shared-memory matrix descriptor of such a tile: start address, leading (k) byte offset 128 and
 * stride (row) byte offset 1024, all >> 4; no swizzle. */
__device__ __forceinline__ uint64_t wg_desc(const void* p) {
  return (uint64_t)((smem_addr(p) & 0x3FFFFu) >> 4) | ((uint64_t)(128 >> 4) << 16) | ((uint64_t)(1024 >> 4) << 32);
}
/* D (m64 x n128, f32) += A (m64 x k16, f16, from registers) * B (k16 x n128, f16, from shared
 * memory). Each warp of the warpgroup holds the m16n8k16 A fragment of its 16 rows (16 (warp % 4)
 * on). The accumulators of n8 block i: d[4i + 0..3] = (row g, col 8i + 2t), (g, 8i + 2t + 1),
 * (g + 8, 8i + 2t), (g + 8, 8i + 2t + 1) of the warp's 16 rows (g = lane / 4, t = lane % 4). */
__device__ __forceinline__ void wgmma_rs_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
#if GG_MMF_WGMMA
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, {%64, %65, %66, %67}, %68, 1, 1, 1, 0;"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
#else
  (void)d; (void)a; (void)desc_b;
  __trap();
#endif
}


/* The same with n256: 128 accumulators, n8 block i in d[4i + 0..3]. */
__device__ __forceinline__ void wgmma_rs_n256(float (&d)[128], const uint32_t (&a)[4], uint64_t desc_b) {
#if GG_MMF_WGMMA
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, {%128, %129, %130, %131}, %132, 1, 1, 1, 0;"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
#else
  (void)d; (void)a; (void)desc_b;
  __trap();
#endif
}

/* Output tile 128 x BN: BN = 128 (m64n128, 6 stages) or 256 (m64n256, 5 stages: its x image is
 * twice the size). */
template <int BN> __host__ __device__ constexpr int wg_stages() { return BN == 256 ? 5 : 6; }
template <int BN> __host__ __device__ constexpr int wg_x_bytes() { return BN * 128; } /* x image of a chunk: BN columns x 64 k */

/* Shared memory, PWG = W bytes per row group and stage: the x images, then the W stages. */
template <int PWG, int BN> struct WgSmem {
  static constexpr int kStages = wg_stages<BN>();
  static constexpr int kX = wg_x_bytes<BN>();
  static constexpr int kW = kStages * kX;
  static constexpr int kBytes = kW + kStages * 8 * PWG;
  static_assert(PWG % 16 == 0, "16-byte aligned copies and descriptors");
  static_assert(kBytes <= 227 * 1024, "fits an sm_90 block's shared memory");
  static __device__ __forceinline__ uint8_t* x(uint8_t* sm, int s) { return sm + s * kX; }
  static __device__ __forceinline__ uint8_t* w(uint8_t* sm, int s) { return sm + kW + s * 8 * PWG; }
};
/* k_prefill_wg's: the stages, then an mbarrier a stage for its x image (one bulk copy) */
template <class TT, int BN> __host__ __device__ constexpr int wg_smem_bytes() {
  return WgSmem<TT::PW, BN>::kBytes + wg_stages<BN>() * 8;
}

/* Unit k / 8 (8 consecutive k, as 4 packed f16 pairs) of column j of column tile ct into its place
 * in the x image. */
template <int BN>
__device__ __forceinline__ void store_x_unit(uint4* __restrict__ xw, int NCT, int ct, int j, int k, uint4 h) {
  const int64_t img = (int64_t)(k >> 6) * NCT + ct;
  xw[img * (wg_x_bytes<BN>() / 16) + core_off(j, (k & 63) >> 3) / 16] = h;
}

/* k_ximage<BN>: x f32 [batch][K] -> xw, f16 images [chunk][column tile][BN * 128 bytes] (tile rows =
 * columns of x), and descale[c], which multiplies the GEMM's sums of column c. A column whose max |x|
 * lies in [2^-8, 2^15) is written as f16(x) itself (descale 1): f16 cannot overflow, and only values
 * below 2^-22 of the max lose bits to its subnormals. Other columns (tiny or huge activations) are
 * scaled by the power of two that puts their max in [2^14, 2^15) (col_scale). That choice needs the
 * whole column's max, so the kernel streams f16(x) out at once and the last CTA of each group of 8
 * columns rewrites the columns that need a scale: x is read once, and no CTA holds a whole column
 * (all of x held on chip at once is ~29 MB at n = 512: the one-pass kernel this replaces ran in two
 * waves of latency-bound CTAs, ~22 us against ~11 us of memory traffic; NOTES.md, p12).
 *
 * Grid: (groups of 8 columns, K parts of whole passes; a pass is kXiPassUnits units of 8 k). A CTA runs its
 * passes in turn (the host sizes the parts so that the grid is one wave: the fences, atomics and barriers at a
 * CTA's end are paid once per CTA, not per pass, and no second wave of short CTAs trails the first). In a pass
 * warp w takes units 4 w + 32 i to 4 w + 3 + 32 i of the group's 8 columns: its loads read whole 128-byte
 * lines (4 columns each), and after a swap of halves between lane pairs each lane holds one unit of one
 * column, so that 8 lanes write one whole 128-byte core matrix (8 columns x 8 k) and the warp 4 of them, 512
 * contiguous bytes.
 * state (the scratch's counters, zero between launches): per column its max |x| bits (atomicMax), then
 * per group a count of finished CTAs; the group's last CTA reads and zeroes both.
 * Where yz is set (the GEMM cut in K parts adds into y), each CTA also zeroes its share of its columns'
 * rows of y (warp w column w, 16-byte stores), so nothing sits between this kernel and the GEMM, which may
 * start early (programmatic dependent launch: gg_pdl_release at the top). x and y do not overlap
 * (gguf_gpu.h). */
constexpr int kXiUnits = 2;
constexpr int kXiCtasPerSm = 6; /* 40 registers: the pair swap's values do not fit in 32 without spills */
constexpr int kXiPassUnits = kXiUnits * 32;
constexpr float kXiPlainMin = 0.00390625f, kXiPlainMax = 32768.0f;

/* 8 consecutive floats of a column: two 16-byte loads where x is 16-byte aligned (K is a multiple of
 * 32, so then every column is) */
__device__ __forceinline__ void x_unit_load(const float* __restrict__ p, bool vec, float (&v)[8]) {
  if (vec) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(p)), b = __ldg(reinterpret_cast<const float4*>(p) + 1);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] = __ldg(p + e);
  }
}
/* 4 consecutive floats: one 16-byte load where x is 16-byte aligned */
__device__ __forceinline__ float4 x_half_load(const float* __restrict__ p, bool vec) {
  if (vec) return __ldg(reinterpret_cast<const float4*>(p));
  return make_float4(__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3));
}
__device__ __forceinline__ uint4 x_unit_f16(const float (&v)[8], float sc) {
  return make_uint4(pack_h2(v[0] * sc, v[1] * sc), pack_h2(v[2] * sc, v[3] * sc), pack_h2(v[4] * sc, v[5] * sc),
                    pack_h2(v[6] * sc, v[7] * sc));
}
/* Zeroes p[0, n): 16-byte stores between a scalar head and tail; the warp's lanes share the work. */
__device__ __forceinline__ void zero_floats(float* p, int n, int lane) {
  const int head = min(n, (int)((16 - ((uintptr_t)p & 15)) & 15) / 4), body = (n - head) / 4;
  if (lane < head) p[lane] = 0.0f;
  float4* q = reinterpret_cast<float4*>(p + head);
  for (int i = lane; i < body; i += 32) q[i] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  const int tail = n - head - 4 * body;
  if (lane < tail) p[head + 4 * body + lane] = 0.0f;
}

template <int BN>
__global__ void __launch_bounds__(256, kXiCtasPerSm)
k_ximage(const float* __restrict__ x, uint4* __restrict__ xw, float* __restrict__ descale, int K, int nc, int batch,
         int NCT, float* __restrict__ yz, int rows, unsigned* __restrict__ state) {
  gg_pdl_release();
  __shared__ unsigned red[8][8];
  __shared__ float fix_scale[8];
  __shared__ unsigned last, fix; /* fix: bit j, column j of the group needs a scale */
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int grp = blockIdx.x, part = blockIdx.y, parts = gridDim.y;
  const int columns = NCT * BN, c = grp * 8 + (tid & 7);
  const bool live = c < batch, vec = ((uintptr_t)x & 15) == 0;
  const int ku = K / 8, nu = nc * 8;
  /* lane = 8 q + 2 uq + h: the loads take half h of unit uq of columns q and q + 4, whole 128-byte lines of
   * 4 columns per instruction; the pair (h = 0, 1) then swaps halves, so that lane h holds all of its unit
   * of column jm = q + 4 h and the warp stores 4 whole core matrices, as one thread a unit did before */
  const int q = lane >> 3, uq = (lane >> 1) & 3, h = lane & 1, jm = q + 4 * h;
  const float* xa = x + (int64_t)(grp * 8 + q) * K + 4 * h; /* read only where live_a (live_b: 4 columns on) */
  const bool live_a = grp * 8 + q < batch, live_b = grp * 8 + q + 4 < batch;
  const int passes = (nu + kXiPassUnits - 1) / kXiPassUnits, per_part = (passes + parts - 1) / parts;
  const int p_end = min(passes, (part + 1) * per_part);
  const float4 zero4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  unsigned m = 0; /* max |x| as bits: a NaN is above every number, so it shows */
#pragma unroll 1
  for (int pass = part * per_part; pass < p_end; ++pass) {
    float4 a[kXiUnits], b[kXiUnits];
#pragma unroll
    for (int i = 0; i < kXiUnits; ++i) {
      const int u = pass * kXiPassUnits + warp * 4 + uq + 32 * i;
      a[i] = live_a && u < ku ? x_half_load(xa + 8 * u, vec) : zero4;
      b[i] = live_b && u < ku ? x_half_load(xa + 4 * (int64_t)K + 8 * u, vec) : zero4;
    }
#pragma unroll
    for (int i = 0; i < kXiUnits; ++i) {
      const float4 send = h ? a[i] : b[i];
      const float4 got = make_float4(__shfl_xor_sync(0xffffffffu, send.x, 1), __shfl_xor_sync(0xffffffffu, send.y, 1),
                                     __shfl_xor_sync(0xffffffffu, send.z, 1), __shfl_xor_sync(0xffffffffu, send.w, 1));
      const float4 lo = h ? got : a[i], hi = h ? b[i] : got;
      const float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int e = 0; e < 8; ++e) m = max(m, __float_as_uint(fabsf(v[e])));
      const int u = pass * kXiPassUnits + warp * 4 + uq + 32 * i;
      const int cm = grp * 8 + jm;
      if (u < nu) store_x_unit<BN>(xw, NCT, cm / BN, cm % BN, 8 * u, x_unit_f16(v, 1.0f));
    }
  }
  m = max(m, __shfl_xor_sync(0xffffffffu, m, 2)); /* over uq: the lanes of column jm */
  m = max(m, __shfl_xor_sync(0xffffffffu, m, 4));
  if ((lane & 6) == 0) red[warp][jm] = m;
  if (yz != nullptr && grp * 8 + warp < batch) { /* warp w zeroes its part of column 8 g + w's rows of y */
    const int r0 = (int)((int64_t)rows * part / parts), r1 = (int)((int64_t)rows * (part + 1) / parts);
    zero_floats(yz + (int64_t)(grp * 8 + warp) * rows + r0, r1 - r0, lane);
  }
  __syncthreads();
  if (tid < 8) {
    unsigned mm = 0;
#pragma unroll
    for (int w = 0; w < 8; ++w) mm = max(mm, red[w][tid]);
    if (live && mm != 0) atomicMax(state + c, mm);
  }
  __syncthreads();
  if (tid == 0) {
    __threadfence(); /* this CTA's image and maxima before its count */
    last = atomicAdd(state + columns + grp, 1u) == (unsigned)parts - 1;
    fix = 0;
  }
  __syncthreads();
  if (!last) return;
  __threadfence(); /* the other CTAs' image and maxima before what follows */
  if (tid < 8) {
    const float amax = __uint_as_float(atomicExch(state + c, 0u));
    float ds = 1.0f;
    if (live && amax > 0.0f && amax <= 3.402823466e38f && !(amax >= kXiPlainMin && amax < kXiPlainMax)) {
      fix_scale[tid] = col_scale(amax, &ds);
      atomicOr(&fix, 1u << tid);
    }
    descale[c] = ds;
  }
  if (tid == 0) state[columns + grp] = 0u;
  __syncthreads();
  for (int j = 0; j < 8; ++j) { /* rare: rewrite the columns that need a scale */
    if (((fix >> j) & 1u) == 0) continue;
    const int cj = grp * 8 + j;
    const float* xj = x + (int64_t)cj * K;
    for (int u = tid; u < ku; u += blockDim.x) {
      float w[8];
      x_unit_load(xj + 8 * u, vec, w);
      store_x_unit<BN>(xw, NCT, cj / BN, cj % BN, 8 * u, x_unit_f16(w, fix_scale[j]));
    }
  }
}

/* The warpgroup's products of one chunk: 4 k16 steps, A[s] from registers, B 256 bytes apart in
 * the x image. */
template <int BN>
__device__ __forceinline__ void wg_mma_chunk(float (&acc)[BN / 2], const uint32_t (&A)[4][4], const uint8_t* xt) {
  pin_acc(acc);
  wgmma_fence(); /* A and the accumulators were written by ordinary instructions */
#pragma unroll
  for (int s = 0; s < 4; ++s) {
    if constexpr (BN == 256) wgmma_rs_n256(acc, A[s], wg_desc(xt + 256 * s));
    else wgmma_rs_n128(acc, A[s], wg_desc(xt + 256 * s));
  }
  wgmma_commit();
}

/* The tile's sums leave through shared memory (the stages are free after the main loop): each thread's
 * values (rows g and g + 8 of its warp's 16, columns 8 i + 2 t and + 1) go into a [column][kYStride] f32
 * tile (the 4 pad floats put a store's 4 columns in different banks), then warp w takes columns w, w + 8,
 * ...: 4 consecutive rows a lane, one 16-byte store into y, or where the two K halves add into y (split),
 * one vector atomicAdd (into y zeroed before, fl(0 + a) + b = fl(a + b) = fl(b + a): the same bits whichever
 * half comes first): a quarter of the atomics of one a value, which cost ~8 us at n = 512 (NOTES v61).
 * Both GEMMs' 256 consumer threads call it (named barrier 1: the ws producers have left). */
constexpr int kYStride = 128 + 4;
/* p[0..3] += v, one 16-byte atomic where there is one (sm_90) */
__device__ __forceinline__ void atomic_add4(float* p, float4 v) {
#if GG_MMF_WGMMA
  atomicAdd(reinterpret_cast<float4*>(p), v);
#else
  atomicAdd(p, v.x); atomicAdd(p + 1, v.y); atomicAdd(p + 2, v.z); atomicAdd(p + 3, v.w);
#endif
}
template <int BN>
__device__ __forceinline__ void wg_store_y_tile(const float (&acc)[BN / 2], uint8_t* sm, float* __restrict__ y,
                                                const float* __restrict__ descale, int64_t gm0, int ct, int rows, int batch,
                                                int tid, bool split) {
  static_assert((BN * kYStride + BN) * 4 <= wg_stages<BN>() * wg_x_bytes<BN>(), "the tile and descale fit in the x stages");
  float* tile = reinterpret_cast<float*>(sm);
  float* ds_tile = tile + BN * kYStride; /* the tile's columns' descale factors */
  const int warp = tid >> 5, lane = tid & 31, t = lane & 3, g = lane >> 2;
  named_barrier(1, 256); /* every warpgroup's wgmma have read their last stage */
  /* one load a thread, under the tile's stores: a load per column in the loop below left every warp waiting
   * on each (11% of k_prefill_wg's stall samples, NOTES v69) */
  if (tid < BN) ds_tile[tid] = __ldg(descale + ct * BN + tid);
#pragma unroll
  for (int i = 0; i < BN / 8; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) tile[(8 * i + 2 * t + (j & 1)) * kYStride + warp * 16 + g + (j >> 1) * 8] = acc[4 * i + j];
  named_barrier(1, 256);
  const int64_t r = gm0 * 16 + 4 * lane; /* this lane's 4 rows */
  const bool vec = (rows & 3) == 0 && ((uintptr_t)y & 15) == 0 && r + 3 < rows;
#pragma unroll 4
  for (int c = warp; c < BN; c += 8) {
    const int col = ct * BN + c;
    if (col >= batch || r >= rows) break;
    const float ds = ds_tile[c];
    float4 v = *reinterpret_cast<const float4*>(tile + c * kYStride + 4 * lane);
    v.x *= ds; v.y *= ds; v.z *= ds; v.w *= ds;
    float* p = y + (int64_t)col * rows + r;
    if (vec) {
      if (split) atomic_add4(p, v);
      else *reinterpret_cast<float4*>(p) = v;
    } else {
      const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (r + k >= rows) break;
        if (split) atomicAdd(p + k, e[k]);
        else p[k] = e[k];
      }
    }
  }
}

/* mbarriers and bulk copies (sm_90): both GEMMs wait on a stage's bulk-copied x image through them */
__device__ __forceinline__ void mbar_init(uint64_t* b, int count) {
#if GG_MMF_WGMMA
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(b)), "r"(count) : "memory");
#else
  (void)b; (void)count;
#endif
}
/* Blocks until the phase of parity `parity` of barrier b has completed. */
__device__ __forceinline__ void mbar_wait(uint64_t* b, uint32_t parity) {
#if GG_MMF_WGMMA
  uint32_t done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(smem_addr(b)), "r"(parity)
                 : "memory");
  } while (!done);
#else
  (void)b; (void)parity;
#endif
}
__device__ __forceinline__ void mbar_arrive(uint64_t* b) {
#if GG_MMF_WGMMA
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(b)) : "memory");
#else
  (void)b;
#endif
}
/* arrive, and expect `bytes` more bytes of bulk copies in this phase */
__device__ __forceinline__ void mbar_arrive_expect(uint64_t* b, uint32_t bytes) {
#if GG_MMF_WGMMA
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(b)), "r"(bytes) : "memory");
#else
  (void)b; (void)bytes;
#endif
}
/* one arrival on b once this thread's earlier cp.async have landed (counted in b's init count) */
__device__ __forceinline__ void mbar_arrive_cp_async(uint64_t* b) {
#if GG_MMF_WGMMA
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(smem_addr(b)) : "memory");
#else
  (void)b;
#endif
}
/* bytes (a multiple of 16, both addresses 16-byte aligned) from global to shared memory by the
 * copy engine, completing on barrier b */
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* b) {
#if GG_MMF_WGMMA
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smem_addr(dst)),
               "l"(src), "r"(bytes), "r"(smem_addr(b))
               : "memory");
#else
  (void)dst; (void)src; (void)bytes; (void)b;
#endif
}

/* A stage's x image (bytes of it) by one bulk copy: barrier b's phase expects the bytes, then they come */
__device__ __forceinline__ void bulk_copy_expect(void* dst, const void* src, uint32_t bytes, uint64_t* b) {
  mbar_arrive_expect(b, bytes);
  bulk_copy(dst, src, bytes, b);
}

/* Copies of chunk c into stage s: its x image by one bulk copy (thread 0; it completes full[s]), and warp w
 * the W bytes of row group w (copy_group_pieces). The bulk copy replaced 8 cp.async a thread a chunk (NOTES
 * v70: the loop's address math waited on their registers). */
template <class TT, int BN>
__device__ __forceinline__ void wg_load_stage(uint8_t* sm, int s, const WP& wp, const uint8_t* __restrict__ ximg,
                                              uint64_t* full, bool wvalid, int64_t G, int64_t nc, int64_t c, int tid,
                                              int warp, int lane) {
  using L = WgSmem<TT::PW, BN>;
  if (tid == 0) bulk_copy_expect(L::x(sm, s), ximg, (uint32_t)L::kX, full + s);
  if (wvalid) copy_group_pieces<TT>(L::w(sm, s) + warp * TT::PW, wp, G, nc, c, lane);
}

/* Per chunk c: wait for its bytes (its x image's mbarrier, the W copies, one CTA barrier), request
 * chunk c + S - 2 into the stage of chunk c - 2 (whose wgmma every warp has waited for), build
 * chunk c's A fragments in registers from its W bytes, issue the wgmma, and wait for chunk c - 1's.
 * A uses two register sets in turn (chunk c's are written while chunk c - 1's wgmma may still read
 * the other), so the loop is unrolled by two. blockIdx.z: which part of the K chunks (gridDim.z = 1
 * or 2; 2 adds into y). */
template <class TT, int BN>
__global__ void __launch_bounds__(256, 1)
k_prefill_wg(WP wp, const uint4* __restrict__ xw, const float* __restrict__ descale, float* __restrict__ y, int rows,
             int Gn, int nc, int NCT, int batch) {
  /* 128 bytes: a static __shared__ variable in these kernels would otherwise put the stages off their alignment
   * (wgmma reads of core matrices across two lines: a 4-byte flag made the GEMM 40-70 us slower, NOTES v64) */
  extern __shared__ __align__(128) uint4 wsm_[];
  using L = WgSmem<TT::PW, BN>;
  constexpr int S = L::kStages;
  static_assert(wg_smem_bytes<TT, BN>() <= 227 * 1024, "the stages and their barriers fit");
  uint8_t* sm = (uint8_t*)wsm_;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t gm0 = (int64_t)blockIdx.x * 8, G = gm0 + warp;
  const bool wvalid = G < Gn;
  const int64_t xstep = (int64_t)NCT * L::kX;
  const int ct = blockIdx.y;
  const int c0 = (int)((int64_t)nc * blockIdx.z / gridDim.z), c1 = (int)((int64_t)nc * (blockIdx.z + 1) / gridDim.z);
  const uint8_t* ximg = (const uint8_t*)xw + ((int64_t)c0 * NCT + ct) * L::kX; /* chunk c0 + i: + i * xstep */
  uint64_t* full = reinterpret_cast<uint64_t*>(sm + L::kBytes);            /* full[s]: stage s's x image is in */
  if (tid == 0) {
    for (int s = 0; s < S; ++s) mbar_init(full + s, 1); /* thread 0's expect_tx arrival, then the bytes */
    fence_proxy_async();                                /* the bulk copies' byte counts reach them through the async proxy */
  }
  __syncthreads();
  /* the first S - 2 chunks' W before the wait for the kernel that makes the x image (as k_prefill_ws) */
#pragma unroll
  for (int s = 0; s < S - 2; ++s) {
    if (c0 + s < c1 && wvalid) copy_group_pieces<TT>(L::w(sm, s) + warp * TT::PW, wp, G, nc, c0 + s, lane);
    cp_async_commit();
  }
  gg_pdl_wait(); /* the x image, descale and y's zeros come from the kernel before */
  if (tid == 0)
    for (int s = 0; s < S - 2 && c0 + s < c1; ++s)
      bulk_copy_expect(L::x(sm, s), ximg + s * xstep, (uint32_t)L::kX, full + s);
  float acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  /* chunk c0 + i (stage i % S, its barrier's phase i / S) is in, and the stage of chunk i - 2 takes chunk
   * i + S - 2 (the x image is written and read by the async proxy alone: no proxy fence) */
  auto arrive = [&](int i) {
    cp_async_wait<S - 3>();
    mbar_wait(full + i % S, (uint32_t)((i / S) & 1));
    __syncthreads();
    const int in = i + S - 2;
    if (c0 + in < c1) wg_load_stage<TT, BN>(sm, in % S, wp, ximg + in * xstep, full, wvalid, G, nc, c0 + in, tid, warp, lane);
    cp_async_commit();
  };
  uint32_t A0[4][4], A1[4][4];
  /* c1 > c0. The loop leaves right after a wgmma: a path that skipped them would join the
   * accumulators' zeros in after the last one, which ptxas serializes. */
  for (int i = 0;;) {
    arrive(i);
    TT::afrag(L::w(sm, i % S) + warp * TT::PW, lane, c0 + i, A0);
    wg_mma_chunk<BN>(acc, A0, L::x(sm, i % S));
    wgmma_wait<1>();
    pin_acc(acc);
    if (c0 + ++i >= c1) break;
    arrive(i);
    TT::afrag(L::w(sm, i % S) + warp * TT::PW, lane, c0 + i, A1);
    wg_mma_chunk<BN>(acc, A1, L::x(sm, i % S));
    wgmma_wait<1>();
    pin_acc(acc);
    if (c0 + ++i >= c1) break;
  }
  wgmma_wait<0>();
  cp_async_wait<0>();
  wg_store_y_tile<BN>(acc, sm, y, descale, gm0, ct, rows, batch, tid, gridDim.z > 1);
}


/* ---------------------------------------------------------- warp-specialized variant (ws) */
/* k_prefill_ws<Type, BN> (wgmma_ws_128x128 / _128x256): k_prefill_wg's tile, products and A build,
 * with the copies moved to a producer warpgroup and the CTA barrier per chunk replaced by two
 * mbarriers per stage: full[s] completes when stage s holds its chunk (the x image by one bulk copy,
 * counted in bytes; the W bytes by the producers' cp.async, each thread arriving when its copies
 * land), empty[s] when the 8 consumer warps have waited for the wgmma that read it. The warpgroups
 * no longer wait for each other, so one can build A while the other's wgmma run. Faster than
 * k_prefill_wg for Q4_K and Q6_K (the heavier A builds) until k_prefill_wg took its x image by bulk copies
 * (NOTES p10, v70-v75): now slower for every type, and reached only by its index (wgmma_ws_*). */
/* Shared memory of k_prefill_ws: k_prefill_wg's stages, then full[S] and empty[S]. */
template <class TT, int BN> __host__ __device__ constexpr int ws_smem_bytes() {
  return WgSmem<TT::PW, BN>::kBytes + 2 * wg_stages<BN>() * 8;
}
/* 8 consumer warps (2 warpgroups) + a producer warpgroup (4 warps copy). Registers are
 * handed out per warpgroup on sm_90: the producers give theirs up (56 each) so the consumers can
 * hold 224 (128 accumulators at BN = 256). The CTA starts with 65536 / 384 = 168 per thread
 * (__launch_bounds__(384, 1)), and 128 x (168 - 56) = 256 x (224 - 168) exactly: the increase waits
 * for registers the decrease frees, so change the three numbers together. */
constexpr int kWsThreads = 384;
template <int N> __device__ __forceinline__ void set_max_regs_inc() {
#if GG_MMF_WGMMA
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(N));
#endif
}
template <int N> __device__ __forceinline__ void set_max_regs_dec() {
#if GG_MMF_WGMMA
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(N));
#endif
}

template <class TT, int BN>
__global__ void __launch_bounds__(kWsThreads, 1)
k_prefill_ws(WP wp, const uint4* __restrict__ xw, const float* __restrict__ descale, float* __restrict__ y, int rows,
             int Gn, int nc, int NCT, int batch) {
  extern __shared__ __align__(128) uint4 wsm_[];
  using L = WgSmem<TT::PW, BN>;
  constexpr int S = L::kStages;
  uint8_t* sm = (uint8_t*)wsm_;
  uint64_t* full = (uint64_t*)(sm + L::kBytes);
  uint64_t* empty = full + S;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t gm0 = (int64_t)blockIdx.x * 8;
  const int ct = blockIdx.y;
  const int c0 = (int)((int64_t)nc * blockIdx.z / gridDim.z), c1 = (int)((int64_t)nc * (blockIdx.z + 1) / gridDim.z);
  const int n = c1 - c0; /* >= 1 */
  if (tid == 0) {
    for (int s = 0; s < S; ++s) {
      mbar_init(full + s, 129); /* the 128 producer threads' cp.async arrivals + the expect_tx arrival */
      mbar_init(empty + s, 8);  /* one per consumer warp */
    }
    fence_proxy_async(); /* the bulk copies' byte counts reach the barriers through the async proxy */
  }
  __syncthreads();
  if (warp >= 8) { /* the producer warpgroup: warp 8 + p copies the W bytes of row groups 2p, 2p + 1 */
    set_max_regs_dec<56>();
    const int pw = warp - 8;
    const uint8_t* xsrc = (const uint8_t*)xw + ((int64_t)c0 * NCT + ct) * L::kX;
    const int64_t xstep = (int64_t)NCT * L::kX;
    auto copy_w = [&](int i) {
#pragma unroll 1 /* unrolled, the two groups' copies need more than the producers' 56 registers */
      for (int h = 0; h < 2; ++h) {
        const int g = 2 * pw + h;
        if (gm0 + g < Gn) copy_group_pieces<TT>(L::w(sm, i % S) + g * TT::PW, wp, gm0 + g, nc, c0 + i, lane);
      }
      mbar_arrive_cp_async(full + i % S);
    };
    /* the first S chunks' W before the wait for the kernel that makes the x image */
    for (int i = 0; i < n && i < S; ++i) copy_w(i);
    gg_pdl_wait();
    for (int i = 0; i < n; ++i) {
      const int s = i % S;
      if (i >= S) {
        mbar_wait(empty + s, (uint32_t)((i / S - 1) & 1));
        copy_w(i);
      }
      if (tid == 256) bulk_copy_expect(L::x(sm, s), xsrc + i * xstep, (uint32_t)L::kX, full + s);
    }
    cp_async_wait<0>(); /* nothing of this thread's still lands when it leaves */
    return;
  }
  set_max_regs_inc<224>();
  float acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  uint32_t A0[4][4], A1[4][4];
  /* chunk i: stage i % S, phase i / S of its barriers. As in k_prefill_wg, the loop is unrolled by
   * two for the two A register sets and leaves right after a wgmma. After the wait for chunk i - 1's
   * wgmma its stage is free again. */
  for (int i = 0;;) {
    mbar_wait(full + i % S, (uint32_t)((i / S) & 1));
    TT::afrag(L::w(sm, i % S) + warp * TT::PW, lane, c0 + i, A0);
    wg_mma_chunk<BN>(acc, A0, L::x(sm, i % S));
    wgmma_wait<1>();
    pin_acc(acc);
    __syncwarp(); /* every lane's reads of the stage come before the release */
    if (i > 0 && lane == 0) mbar_arrive(empty + (i - 1) % S);
    if (++i >= n) break;
    mbar_wait(full + i % S, (uint32_t)((i / S) & 1));
    TT::afrag(L::w(sm, i % S) + warp * TT::PW, lane, c0 + i, A1);
    wg_mma_chunk<BN>(acc, A1, L::x(sm, i % S));
    wgmma_wait<1>();
    pin_acc(acc);
    __syncwarp();
    if (lane == 0) mbar_arrive(empty + (i - 1) % S);
    if (++i >= n) break;
  }
  wgmma_wait<0>();
  gg_pdl_wait(); /* (long since done: the x image came after it) descale and y's zeros */
  wg_store_y_tile<BN>(acc, sm, y, descale, gm0, ct, rows, batch, tid, gridDim.z > 1);
}

} /* namespace mmf */

#endif /* GG_MATMUL_WGMMA_CUH */
