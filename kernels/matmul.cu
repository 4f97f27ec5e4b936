/* gguf-gpu: fused dequant + matmul, y[j][r] = sum_k W[r][k] * x[j][k].
 *
 * Notes to the other authors of kernels/ (matmul.cu's requests):
 *   - internal.h: uses gg_fail, GG_CHECK, GG_CHECK_LAUNCH, GG_TRY, gg_sm_count, gg_compute_stream
 *     and gg_time_launches; nothing else is needed from capi.cu / bench.cu.
 *   - blocks.h: the float types' ggml ids (F32 0, F16 1, BF16 30) are not named there, so
 *     matmul_generic.cuh defines mmg::T_F32 / T_F16 / T_BF16. If blocks.h ever adds
 *     GG_TYPE_F32 etc., the two agree by value.
 *
 * Files: matmul_generic.cuh (every type, raw blocks, SIMT f32: the portable / HIP path),
 * matmul_frag.cuh (Q4_0, Q8_0, Q4_K, Q6_K on tensor cores from a re-laid-out "packed" copy; its
 * header comment documents the layout and the kernels), matmul_i8.cuh (int8 decode),
 * matmul_wgmma.cuh (the sm_90a prefill GEMM), this file (ABI, dispatch, scratch).
 * Design notes, predictions and measurements: kernels/NOTES.md.
 *
 * ABI (kernels/gguf_gpu.h):
 *   gg_matmul_packed_size / gg_matmul_pack  raw device blocks -> packed device layout (once).
 *   gg_matmul / gg_bench_matmul             take PACKED weights.
 *   gg_matmul_kernel_name                   the dispatch table's pick for (type, rows, row_len, batch).
 *   gg_matmul_kernel_info                   the name of kernel index i (for the `kernel` argument).
 *
 * Kernel indices (the `kernel` argument; -1 = dispatch table):
 *   0 generic_gemv     any type on the generic path, 8 columns per pass
 *   1 generic_gemm     any type on the generic path, 64x64 SIMT tiles
 *   2 mma_decode_n8    tensor-core types, up to 8 columns per launch (more: several launches)
 *   3 mma_decode_n16   ... 16 columns
 *   4 mma_decode_n32   ... 32 columns (a remainder of <= 16 columns goes to the n16/n8 variant)
 *   5 mma_gemm_128x128 tensor-core types, any batch
 *   6 imma_decode_n4   Q4_0, Q8_0, Q4_K on int8 tensor cores (matmul_i8.cuh), 4 columns per launch
 *   7 imma_decode_n8   ... 8 columns
 *   8 imma_decode_n16  ... 16 columns
 *   9 wgmma_gemm_128x128 tensor-core types on sm_90a (wgmma, matmul_wgmma.cuh)
 *  10 wgmma_gemm_128x256 ... 256-column tiles
 *  11 imma_gemv_n1     Q4_0, Q8_0, Q4_K, Q6_K, one column: a CTA per 16 rows over the whole row (int8)
 *  12 mma_gemv_n1      Q6_K, one column, the same form on f16 tensor cores (slower: GG_MM_I8=0 only)
 *  13 wgmma_ws_128x128 kernels 9 / 10 with a producer warpgroup and mbarriers (warp-specialized)
 *  14 wgmma_ws_128x256
 *  15 imma_gemv_n4     Q4_0, Q8_0, Q4_K, 1 to 4 columns in imma_gemv_n1's form (16 warps, 1 CTA per SM);
 *                      Q6_K 1 to 2 (a tile holds two of its columns)
 *  16 imma_gemv_n8     ... 1 to 8 columns (the row in two parts); Q6_K 1 to 4
 *  17 mma_gemv_n4      Q6_K, 1 to 4 columns in mma_gemv_n1's form (16 warps, 1 CTA per SM)
 *  18 mma_gemv_n8      ... 1 to 8 columns (the row in two parts)
 *  19 mma_gemv_n16     Q4_0, Q8_0, Q4_K, Q6_K, 1 to 16 columns in that form (f16 A with the scales folded
 *                      in, as the prefill GEMMs'; the row in four parts)
 * A packed matrix of a tensor-core type is not in raw form, so kernels 0/1 refuse it and 2..19
 * refuse the other types (GG_ERR_INVALID_ARGUMENT).
 */
#include "internal.h"
#include "blocks.h"
#include "matmul_generic.cuh"
#if !GG_IS_HIP
#include "matmul_frag.cuh"
#include "matmul_i8.cuh"
#include "matmul_wgmma.cuh"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

namespace {

enum KernelId {
  K_GEN_GEMV = 0,
  K_GEN_GEMM = 1,
  K_DEC8 = 2,
  K_DEC16 = 3,
  K_DEC32 = 4,
  K_PREFILL = 5,
  K_I8_4 = 6,
  K_I8_8 = 7,
  K_I8_16 = 8,
  K_WG_128 = 9,
  K_WG_256 = 10,
  K_GEMV_I8 = 11,
  K_GEMV_F16 = 12,
  K_WS_128 = 13,
  K_WS_256 = 14,
  K_GEMV_I8_N4 = 15,
  K_GEMV_I8_N8 = 16,
  K_GEMV_F16_N4 = 17,
  K_GEMV_F16_N8 = 18,
  K_GEMV_F16_N16 = 19,
  K_COUNT = 20
};
const char* const kKernelNames[K_COUNT] = {"generic_gemv",   "generic_gemm",     "mma_decode_n8",
                                           "mma_decode_n16", "mma_decode_n32",   "mma_gemm_128x128",
                                           "imma_decode_n4", "imma_decode_n8",   "imma_decode_n16",
                                           "wgmma_gemm_128x128", "wgmma_gemm_128x256", "imma_gemv_n1",
                                           "mma_gemv_n1", "wgmma_ws_128x128", "wgmma_ws_128x256",
                                           "imma_gemv_n4", "imma_gemv_n8",     "mma_gemv_n4",
                                           "mma_gemv_n8",    "mma_gemv_n16"};

/* Dispatch thresholds (batch sizes). */
constexpr int kDecodeMaxBatch = 64; /* above: prefill kernel (measured crossover on H100, NOTES.md) */
constexpr int kGemvMaxBatch = 8;    /* generic path: above, SIMT GEMM */

/* blocks.h's table covers the float types too (one weight per "block"). */
bool type_known(int t) { return gg_block_layout(t, nullptr, nullptr); }

/* weights per block and bytes per block; only called after type_known */
void type_layout(int t, int* qk, int* ts) { gg_block_layout(t, qk, ts); }

#if !GG_IS_HIP
bool is_frag_type(int t) {
  return t == GG_TYPE_Q4_0 || t == GG_TYPE_Q8_0 || t == GG_TYPE_Q4_K || t == GG_TYPE_Q6_K;
}
#endif

#if !GG_IS_HIP
/* What the matmul code needs to know of a device, looked up once per device (on its first
 * gg_matmul call): compute capability, shared memory a block may opt into, and whether this
 * library's sm_90a code (wgmma) is what runs there (a build without the sm_90a target runs the
 * plain sm_90 or PTX code on the same chip, so the device is asked, by a probe kernel on a stream
 * of its own: it neither waits for nor delays work already queued). */
struct DeviceFacts {
  bool known;
  int major;
  int smem_optin;
  bool wgmma;
};

int probe_wgmma(bool* out) {
  int* d = nullptr;
  int flag = 0;
  cudaStream_t st = nullptr;
  GG_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaError_t e = cudaMalloc(&d, sizeof(int));
  if (e == cudaSuccess) {
    mmf::k_wgmma_probe<<<1, 1, 0, st>>>(d);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(&flag, d, sizeof(int), cudaMemcpyDeviceToHost, st);
    if (e == cudaSuccess) e = cudaStreamSynchronize(st);
    (void)cudaFree(d);
  }
  (void)cudaStreamDestroy(st);
  GG_CHECK(e);
  *out = flag == 1;
  return GG_OK;
}

int device_facts(const DeviceFacts** out) {
  static DeviceFacts facts[64];
  int dev = 0;
  GG_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) return gg_fail(GG_ERR_RUNTIME, "", "device ordinal %d out of range", dev);
  DeviceFacts& f = facts[dev];
  if (!f.known) {
    int minor = 0;
    GG_CHECK(cudaDeviceGetAttribute(&f.major, cudaDevAttrComputeCapabilityMajor, dev));
    GG_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    GG_CHECK(cudaDeviceGetAttribute(&f.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    f.wgmma = false;
    if (f.major == 9 && minor == 0) GG_TRY(probe_wgmma(&f.wgmma));
    f.known = true;
  }
  *out = &f;
  return GG_OK;
}

/* The wgmma GEMM's split of K: in two parts (both adding into a zeroed y) when its tiles fill at
 * most half the SMs. */
int wg_parts(int64_t tiles, int sms, int64_t chunks) { return tiles * 2 <= sms && chunks >= 2 ? 2 : 1; }

/* Whether the 128 x 256 tiles beat the 128 x 128 ones for this shape (rows < 0: large). Time ~
 * waves x chunks per CTA x time per chunk, a 256-column chunk taking 1.7x a 128-column one (H100,
 * 4096 x 14336, measured with A through shared memory (p6): n = 512 172.5 us against 203.4; n = 256
 * 148.0 against 119.3, where the wide tiles leave half the SMs idle). With A in registers (p7) the
 * ratio is nearer 1.5 (n = 512 at 256 columns against n = 256 at 128); at 4096 rows both ratios
 * pick the same tiles for n = 128 to 512. Not re-measured head to head. */
bool wg_wide(int64_t rows, int batch, int sms) {
  const int64_t row_tiles = rows < 0 ? 1024 : (rows + 127) / 128;
  auto cost = [&](int bn, double per_chunk) {
    const int64_t tiles = row_tiles * ((batch + bn - 1) / bn);
    const int parts = wg_parts(tiles, sms, 2);
    const int64_t waves = (tiles * parts + sms - 1) / sms;
    return (double)waves * per_chunk / parts;
  };
  return cost(256, 1.7) < cost(128, 1.0);
}
#endif

/* Whether the current device runs the tensor-core path: CUDA, compute capability >= 8.0.
 * The packed layout of a type depends on this, so pack and matmul must see the same device. */
int frag_path(int type, bool* out) {
  *out = false;
#if GG_IS_HIP
  (void)type;
  return GG_OK;
#else
  if (!is_frag_type(type)) return GG_OK;
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  *out = dev->major >= 8;
  return GG_OK;
#endif
}

int check_shape(const char* fn, int32_t type, int64_t rows, int64_t row_len) {
  if (!type_known(type))
    return gg_fail(GG_ERR_UNSUPPORTED, "", "%s: ggml type %d is not supported by the matmul kernels", fn, (int)type);
  int qk = 1, ts = 0;
  type_layout(type, &qk, &ts);
  if (rows <= 0 || row_len <= 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: rows (%lld) and row_len (%lld) must be positive", fn,
                   (long long)rows, (long long)row_len);
  if (row_len % qk != 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: row_len %lld is not a multiple of %s's block size %d", fn,
                   (long long)row_len, gg_type_name(type), qk);
  if (rows > 0x7fffffffLL || row_len > 0x3fffffffLL)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: rows %lld / row_len %lld too large (int32 indexing)", fn,
                   (long long)rows, (long long)row_len);
  return GG_OK;
}

uint64_t raw_bytes(int type, int64_t rows, int64_t row_len) {
  int qk = 1, ts = 0;
  type_layout(type, &qk, &ts);
  return (uint64_t)rows * (uint64_t)(row_len / qk) * (uint64_t)ts;
}

#if !GG_IS_HIP
/* ------------------------------------------------------------------ packed geometry */
struct Geom {
  int64_t Gn;      /* row groups of 16 */
  int64_t nb;      /* raw blocks per row */
  int64_t nc;      /* 64-k chunks per row (K padded) */
  int64_t nsb;     /* super-blocks per row (K-quants) */
  int64_t units;   /* decode units per row */
  uint64_t off[4]; /* region offsets */
  uint64_t bytes;
};

Geom frag_geom(int type, int64_t rows, int64_t K) {
  Geom g;
  memset(&g, 0, sizeof g);
  g.Gn = (rows + 15) / 16;
  const uint64_t Gn = (uint64_t)g.Gn;
  switch (type) {
    case GG_TYPE_Q4_0:
    case GG_TYPE_Q8_0: {
      g.nb = K / 32;
      g.nc = (g.nb + 1) / 2;
      g.units = (g.nc + (type == GG_TYPE_Q4_0 ? 3 : 1)) / (type == GG_TYPE_Q4_0 ? 4 : 2); /* TQ4_0/TQ8_0::CPU */
      const uint64_t qsz = Gn * (uint64_t)g.nc * (type == GG_TYPE_Q4_0 ? 512u : 1024u);
      g.off[1] = qsz;
      g.bytes = qsz + Gn * (uint64_t)g.nc * 64u;
      break;
    }
    case GG_TYPE_Q4_K: {
      g.nsb = g.nb = K / 256;
      g.nc = 4 * g.nsb;
      g.units = g.nsb;
      g.off[1] = Gn * (uint64_t)g.nsb * 2048u;
      g.bytes = g.off[1] + Gn * (uint64_t)g.nsb * 256u;
      break;
    }
    case GG_TYPE_Q6_K: {
      g.nsb = g.nb = K / 256;
      g.nc = 4 * g.nsb;
      g.units = g.nsb;
      g.off[1] = Gn * (uint64_t)g.nsb * 2048u;
      g.off[2] = g.off[1] + Gn * (uint64_t)g.nsb * 1024u;
      g.off[3] = g.off[2] + Gn * (uint64_t)g.nsb * 256u;
      g.bytes = g.off[3] + Gn * (uint64_t)g.nsb * 32u;
      break;
    }
    default: break;
  }
  return g;
}

mmf::WP wptrs(const void* w, const Geom& g) {
  const uint8_t* b = (const uint8_t*)w;
  mmf::WP p;
  p.p0 = b + g.off[0];
  p.p1 = b + g.off[1];
  p.p2 = b + g.off[2];
  p.p3 = b + g.off[3];
  return p;
}
#endif

#if !GG_IS_HIP
/* ---------------------------------------------------------------------------- scratch */
/* One grow-only device buffer per device for split-K partials and the converted x, plus a
 * zero-initialised counter array (the decode kernels leave it zero again). */
struct Scratch {
  void* buf;
  uint64_t bytes;
  unsigned* counters;
  uint64_t ncounters;
};
Scratch g_scratch[64];

int scratch_get(uint64_t bytes, uint64_t ncounters, Scratch** out) {
  int dev = 0;
  GG_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) return gg_fail(GG_ERR_RUNTIME, "", "device ordinal %d out of range", dev);
  Scratch& s = g_scratch[dev];
  if (bytes > s.bytes) {
    if (s.buf) GG_CHECK(cudaFree(s.buf));
    s.buf = nullptr;
    s.bytes = 0;
    const uint64_t want = bytes + bytes / 4 + (1u << 20);
    GG_CHECK(cudaMalloc(&s.buf, want));
    s.bytes = want;
  }
  if (ncounters > s.ncounters) {
    if (s.counters) GG_CHECK(cudaFree(s.counters));
    s.counters = nullptr;
    s.ncounters = 0;
    const uint64_t want = ncounters < 1024 ? 1024 : ncounters * 2;
    GG_CHECK(cudaMalloc((void**)&s.counters, want * sizeof(unsigned)));
    GG_CHECK(cudaMemsetAsync(s.counters, 0, want * sizeof(unsigned), gg_compute_stream()));
    s.ncounters = want;
  }
  *out = &s;
  return GG_OK;
}
#endif

/* ----------------------------------------------------------------------- generic path */
template <int T>
int launch_generic_t(int kernel, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch) {
  int qk = 1, ts = 0;
  type_layout(T, &qk, &ts);
  const int64_t row_bytes = (K / qk) * ts;
  cudaStream_t st = gg_compute_stream();
  if (kernel == K_GEN_GEMV) {
    const dim3 grid((unsigned)((rows + mmg::kGemvRows - 1) / mmg::kGemvRows));
    for (int c0 = 0; c0 < batch; c0 += 8) {
      const int nc = batch - c0;
      if (nc == 1)
        mmg::k_gen_gemv<T, 1><<<grid, mmg::kGemvThreads, 0, st>>>((const uint8_t*)w, x, y, rows, K, batch, c0, row_bytes);
      else if (nc == 2)
        mmg::k_gen_gemv<T, 2><<<grid, mmg::kGemvThreads, 0, st>>>((const uint8_t*)w, x, y, rows, K, batch, c0, row_bytes);
      else if (nc <= 4)
        mmg::k_gen_gemv<T, 4><<<grid, mmg::kGemvThreads, 0, st>>>((const uint8_t*)w, x, y, rows, K, batch, c0, row_bytes);
      else
        mmg::k_gen_gemv<T, 8><<<grid, mmg::kGemvThreads, 0, st>>>((const uint8_t*)w, x, y, rows, K, batch, c0, row_bytes);
      GG_CHECK_LAUNCH("k_gen_gemv");
    }
    return GG_OK;
  }
  const dim3 grid((unsigned)((rows + mmg::kGemmTile - 1) / mmg::kGemmTile),
                  (unsigned)((batch + mmg::kGemmTile - 1) / mmg::kGemmTile));
  if (grid.y > 65535u) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: batch %d too large", batch);
  mmg::k_gen_gemm<T><<<grid, mmg::kGemmThreads, 0, st>>>((const uint8_t*)w, x, y, rows, K, batch, row_bytes);
  GG_CHECK_LAUNCH("k_gen_gemm");
  return GG_OK;
}

int launch_generic(int type, int kernel, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch) {
  switch (type) {
#define GG_GEN_CASE(T) \
  case T: return launch_generic_t<T>(kernel, w, x, y, rows, K, batch);
    GG_GEN_CASE(GG_TYPE_Q4_0)
    GG_GEN_CASE(GG_TYPE_Q4_1)
    GG_GEN_CASE(GG_TYPE_Q5_0)
    GG_GEN_CASE(GG_TYPE_Q5_1)
    GG_GEN_CASE(GG_TYPE_Q8_0)
    GG_GEN_CASE(GG_TYPE_Q2_K)
    GG_GEN_CASE(GG_TYPE_Q3_K)
    GG_GEN_CASE(GG_TYPE_Q4_K)
    GG_GEN_CASE(GG_TYPE_Q5_K)
    GG_GEN_CASE(GG_TYPE_Q6_K)
    GG_GEN_CASE(GG_TYPE_IQ4_NL)
    GG_GEN_CASE(GG_TYPE_IQ4_XS)
    GG_GEN_CASE(mmg::T_F32)
    GG_GEN_CASE(mmg::T_F16)
    GG_GEN_CASE(mmg::T_BF16)
#undef GG_GEN_CASE
    default: return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul: type %d has no generic kernel", type);
  }
}

#if !GG_IS_HIP
/* --------------------------------------------------------------------- tensor-core path */

/* Raises a kernel's dynamic shared memory limit once per device (to the opt-in maximum less the
 * kernel's static shared memory) and checks that `bytes` fits. */
template <class F> int smem_optin(F* fn, int bytes, int (&limit)[64]) {
  int dev = 0;
  GG_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) return gg_fail(GG_ERR_RUNTIME, "", "device ordinal %d out of range", dev);
  if (limit[dev] == 0) {
    int optin = 0;
    GG_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    cudaFuncAttributes fa;
    GG_CHECK(cudaFuncGetAttributes(&fa, fn));
    const int lim = optin - (int)fa.sharedSizeBytes;
    GG_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, lim));
    limit[dev] = lim;
  }
  if (bytes > limit[dev])
    return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul: kernel needs %d bytes of shared memory, the device allows %d", bytes,
                   limit[dev]);
  return GG_OK;
}

/* Tuning knobs for experiments (environment, read once): GG_MM_SLICES forces the decode split-K
 * slice count; GG_MM_SPLIT=0 turns off the hi/lo split of x in the decode kernels. */
int env_int(const char* name, int dflt) {
  const char* v = getenv(name);
  return (v && *v) ? atoi(v) : dflt;
}
int knob_slices() { static const int v = env_int("GG_MM_SLICES", 0); return v; }
/* hi/lo split of x: on by default only for small problems (rows * batch < 2048 outputs), where a
 * single badly-conditioned dot product could carry the whole NMSE; over more outputs the f16
 * rounding error of x averages to ~4e-8. */
int knob_split() { static const int v = env_int("GG_MM_SPLIT", -1); return v; }
/* GG_MM_I8=0 keeps the dispatch table off the int8 decode kernels (for A/B runs of the same build). */
int knob_i8() { static const int v = env_int("GG_MM_I8", 1); return v; }
/* GG_MM_XSTAGE=0: k_decode stages x itself in every CTA instead of reading it from k_xstage (which
 * it does for launches of more than 4 columns). */
int knob_xstage() { static const int v = env_int("GG_MM_XSTAGE", 1); return v; }
/* GG_MM_PRE=N: under PDL the decode kernels fill N ring slots before waiting for the previous kernel
 * (0: all of them), instead of each kernel's default (launch_decode's pre_slots). */
int knob_pre_slots() { static const int v = env_int("GG_MM_PRE", -1); return v; }
/* GG_MM_PDL=0 launches the decode kernels without programmatic dependent launch. */
int knob_pdl() { static const int v = env_int("GG_MM_PDL", 1); return v; }
/* GG_MM_WG=0 keeps the dispatch table on the mma.sync prefill GEMM where wgmma exists (A/B runs). */
int knob_wg() { static const int v = env_int("GG_MM_WG", 1); return v; }
/* GG_MM_GEMV=0 keeps batch 1 of the int8 types on imma_decode_n4 instead of imma_gemv_n1 (A/B runs). */
int knob_gemv() { static const int v = env_int("GG_MM_GEMV", 1); return v; }
/* GG_MM_GEMV4=0 keeps every gemv of 2 to 16 columns out of the dispatch table (A/B runs): batches 2 to 4
 * of the int8 types on imma_decode_n4, 5 to 8 on mma_decode_n8, 9 to 16 on mma_decode_n16, and Q6_K's 2 to
 * 8 on mma_decode_n8. */
int knob_gemv4() { static const int v = env_int("GG_MM_GEMV4", 1); return v; }
/* GG_MM_XI_WAVE=N: k_ximage's grid is sized to N CTAs an SM, each running several passes (one wave); 0: one
 * pass a CTA (the grid before v59). 3 measured 0.1-0.7 us faster than 6, the most that fit (NOTES v59). */
int knob_xi_wave() { static const int v = env_int("GG_MM_XI_WAVE", 3); return v; }

/* the decode kernels' hi/lo split of x (f16 path): on for small problems unless the knob says otherwise */
bool small_problem(int64_t rows, int batch) {
  return knob_split() < 0 ? rows * (int64_t)batch < 2048 : knob_split() != 0;
}

struct DecPlan {
  int64_t rb;  /* row blocks (CTAs along rows) */
  int ups;     /* units per slice */
  int S;       /* slices */
  int smem;    /* dynamic shared memory bytes */
};

/* The most dynamic shared memory a decode CTA takes: two CTAs per SM on sm_90 (227 KB per SM, 1 KB
 * each for static shared memory), and never more than the device gives one block. */
int decode_smem_cap(int64_t* cap) {
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  const int64_t optin = dev->smem_optin;
  *cap = optin - 1024 < 110 * 1024 ? optin - 1024 : 110 * 1024;
  return GG_OK;
}

/* Split-K plan: as many slices as keep the grid within one wave of 2 CTAs per SM (every CTA the
 * same amount of work), and a CTA's shared memory (ring + staged x) within 110 KB, so that two fit
 * on an sm_80/sm_90 SM, or within what the device lets one block have (99 KB on sm_86/sm_89, where
 * one CTA per SM is all that fits anyway). */
int dec_plan(const Geom& g, int per_unit, int ring, DecPlan* p) {
  int sms = 132;
  GG_TRY(gg_sm_count(&sms));
  int64_t cap = 0;
  GG_TRY(decode_smem_cap(&cap));
  const int64_t units = g.units;
  p->rb = (g.Gn + mmf::kDecWarps - 1) / mmf::kDecWarps;
  int64_t S = (2 * (int64_t)sms) / p->rb;
  if (knob_slices() > 0) S = knob_slices();
  if (S < 1) S = 1;
  if (S > units) S = units;
  int64_t ups = (units + S - 1) / S;
  const int64_t max_ups = (cap - ring) / per_unit;
  if (ups > max_ups) ups = max_ups > 0 ? max_ups : 1;
  S = (units + ups - 1) / ups;
  if (S > 65535) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: row too long for the decode kernel");
  p->ups = (int)ups;
  p->S = (int)S;
  p->smem = ring + (int)ups * per_unit;
  return GG_OK;
}

/* Whether the decode kernels and the wgmma GEMMs launch with programmatic dependent launch (sm_90+,
 * unless GG_MM_PDL=0). */
int use_pdl(bool* pdl) {
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  *pdl = knob_pdl() != 0 && dev->major >= 9;
  return GG_OK;
}
/* The decode kernels' flags argument for columns starting at x: mmf::kDecXAligned, mmf::kDecPdl, and
 * the ring slots filled before the PDL wait (pre_slots unless GG_MM_PRE says otherwise). */
int decode_flags(const float* x, bool pdl, int pre_slots) {
  return ((((uintptr_t)x) & 15u) == 0 ? mmf::kDecXAligned : 0) | (pdl ? mmf::kDecPdl : 0) |
         (((knob_pre_slots() >= 0 ? knob_pre_slots() : pre_slots) & 15) << mmf::kDecPreShift);
}

/* Launches kernel, with programmatic dependent launch (sm_90+) where pdl is set: it may start
 * while the kernel before it in the stream finishes, and must gg_pdl_wait() before it touches
 * what that kernel may write. */
template <class... P, class... A>
cudaError_t launch_pdl(bool pdl, void (*kernel)(P...), dim3 grid, int threads, int smem, cudaStream_t st, A... args) {
  if (pdl) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = dim3((unsigned)threads);
    cfg.dynamicSmemBytes = (size_t)smem;
    cfg.stream = st;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, args...);
    const cudaError_t last = cudaGetLastError(); /* clears it, as GG_CHECK_LAUNCH does */
    return err != cudaSuccess ? err : last;
  }
  kernel<<<grid, threads, smem, st>>>(args...);
  return cudaGetLastError();
}

/* Launches a decode kernel over (row blocks, slices) for `batch` columns, `cols` per launch. The
 * kernels take (wp, x, y, part, counters, rows, Gn, K, nc, units, ups, S, columns, flags): flags
 * mmf::kDecXAligned when x's column slice is 16-byte aligned, mmf::kDecPdl when launched with
 * programmatic dependent launch (then each CTA starts its weight stream before waiting for the
 * previous kernel: weights are never written by a kernel, x, y and the split-K scratch may be),
 * mmf::kDecXStaged when `stager` (k_decode without the hi/lo split) has staged x for it first, and
 * in bits mmf::kDecPreShift.. the ring slots to fill before the PDL wait (pre_slots; 0: all).
 * A Stager launches the staging kernel: (pdl, grid, stream, x, stage buffer, K, units, ups, flags). */
using Stager = cudaError_t (*)(bool, dim3, cudaStream_t, const float*, uint8_t*, int, int, int, int);
template <class Kernel>
int launch_decode(Kernel* kernel, const char* name, int per_unit, int ring, int cols, const void* w, const float* x, float* y,
                  int64_t rows, int64_t K, int batch, const Geom& g, int (&smem_limit)[64], int pre_slots,
                  Stager stager = nullptr, int64_t (*stage_stride)(int) = nullptr) {
  DecPlan p = {0, 0, 0, 0};
  GG_TRY(dec_plan(g, per_unit, ring, &p));
  GG_TRY(smem_optin(kernel, p.smem, smem_limit));
  const int most = batch < cols ? batch : cols;
  const uint64_t part_bytes = p.S > 1 ? (uint64_t)p.S * (uint64_t)most * (uint64_t)(g.Gn * 16) * 4u : 0u;
  const uint64_t stage_at = (part_bytes + 255u) & ~(uint64_t)255u;
  /* Staging x once pays from 5 columns on (H100, 4096 x 14336: Q4_0 n = 8 27.9 -> 23.8 us, n = 16
   * 38.6 -> 27.8); with 1-2 columns the extra kernel on the critical path costs more than the
   * conversion it saves (Q6_K n = 1 24.9 -> 27.5 us). */
  const bool staged = stager != nullptr && knob_xstage() != 0 && most > 4;
  const uint64_t need = staged ? stage_at + (uint64_t)p.S * (uint64_t)stage_stride(p.ups) : part_bytes;
  Scratch* s = nullptr;
  GG_TRY(scratch_get(need, (uint64_t)p.rb, &s));
  bool pdl = false;
  GG_TRY(use_pdl(&pdl));
  const mmf::WP wp = wptrs(w, g);
  const dim3 grid((unsigned)p.rb, (unsigned)p.S);
  cudaStream_t st = gg_compute_stream();
  uint8_t* stage = (uint8_t*)s->buf + stage_at;
  for (int c0 = 0; c0 < batch; c0 += cols) {
    const int nb = batch - c0 < cols ? batch - c0 : cols;
    const float* xc = x + (int64_t)c0 * K;
    int flags = decode_flags(xc, pdl, pre_slots);
    if (staged) {
      const cudaError_t err = stager(pdl, dim3((unsigned)p.S, (unsigned)nb), st, xc, stage, (int)K, (int)g.units, p.ups, flags);
      if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage", __FILE__, __LINE__, 1);
      xc = (const float*)stage;
      flags |= mmf::kDecXStaged;
    }
    const cudaError_t err = launch_pdl(pdl, kernel, grid, mmf::kDecThreads, p.smem, st, wp, xc, y + (int64_t)c0 * rows,
                                       (float*)s->buf, s->counters, (int)rows, (int)g.Gn, (int)K, (int)g.nc,
                                       (int)g.units, p.ups, p.S, nb, flags);
    if (err != cudaSuccess) return gg_fail_cuda(err, name, __FILE__, __LINE__, 1);
  }
  return GG_OK;
}

template <class TT, int NT>
cudaError_t launch_xstage(bool pdl, dim3 grid, cudaStream_t st, const float* x, uint8_t* stage, int K, int units, int ups,
                          int flags) {
  return launch_pdl(pdl, mmf::k_xstage<TT, NT>, grid, mmf::kDecThreads, 0, st, x, stage, K, units, ups, flags);
}

template <class TT, int NT, bool SPLIT>
int launch_decode_v(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  return launch_decode(mmf::k_decode<TT, NT, SPLIT>, "k_decode", mmf::dec_smem_per_unit<TT, NT, SPLIT>(),
                       mmf::dec_ring_bytes<TT, NT>(), NT * 8, w, x, y, rows, K, batch, g, smem_limit, 0,
                       SPLIT ? nullptr : launch_xstage<TT, NT>, SPLIT ? nullptr : mmf::xstage_stride<TT, NT>);
}

template <class TT, int NT>
int launch_decode_t(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  if (small_problem(rows, batch)) return launch_decode_v<TT, NT, true>(w, x, y, rows, K, batch, g);
  return launch_decode_v<TT, NT, false>(w, x, y, rows, K, batch, g);
}

/* The int8 decode kernel of a type (matmul_i8.cuh); Q6_K has one for the gemvs only (kGemv:
 * imma_gemv_n1 / _n4 / _n8; its scales change every 16 weights: I8Q6_K puts a pair of steps in separate
 * tile columns, so a tile holds two of its columns, too few for the imma_decode kernels). */
template <class TT, bool kGemv = false> struct I8For { using type = void; };
template <bool kGemv> struct I8For<mmf::TQ4_0, kGemv> { using type = mmf::I8Q4_0; };
template <bool kGemv> struct I8For<mmf::TQ8_0, kGemv> { using type = mmf::I8Q8_0; };
template <bool kGemv> struct I8For<mmf::TQ4_K, kGemv> { using type = mmf::I8Q4_K; };
template <> struct I8For<mmf::TQ6_K, true> { using type = mmf::I8Q6_K; };

template <class IT, int NT>
int launch_decode_i8(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  /* Under PDL, half the ring before the wait, the rest after the x loads: on an H200 that took
   * Q4_0 n = 1 from 15.7 to 14.6 us and Q8_0 from 21.9 to 20.5 (the k_decode kernels gained
   * nothing from it and fill the whole ring first). */
  constexpr int pre = mmf::i8_ring<IT, NT>() / 2;
  return launch_decode(mmf::k_decode_i8<IT, NT>, "k_decode_i8", mmf::i8_smem_per_unit<IT, NT>(), mmf::i8_ring_bytes<IT, NT>(),
                       4 * NT, w, x, y, rows, K, batch, g, smem_limit, pre > 0 ? pre : 1);
}

/* k_gemv_i8 (imma_gemv_n1): batch 1; a persistent grid of at most two CTAs per SM, each taking row
 * groups of 16 rows over the whole row, after k_xstage_i8 has made x's digits once. Its shared
 * memory (the rings and one column's digits) must leave room for two CTAs per SM. */
template <class IT>
int64_t gemv_i8_smem(const Geom& g) {
  return mmf::i8_ring_bytes<IT, 1>() + g.units * (IT::TT::UK / 32) * mmf::gemv_i8_block_bytes<IT>();
}
/* Units per warp of the gemv kernels: each of a CTA's 8 warps takes an eighth of the row. */
int64_t gemv_ups(const Geom& g) { return (g.units + mmf::kDecWarps - 1) / mmf::kDecWarps; }
/* The wide gemvs, imma_gemv_n4 (NT = 1 tile, k_gemv_i8_n4) and imma_gemv_n8 (NT = 2, k_gemv_i8_w):
 * units per part of the row (NT parts: the whole row for NT = 1) and per warp, blocks per part, and
 * the dynamic shared memory: the rings and one part's digits (NT tiles x the part's blocks); what a
 * block may have beside the kernel's static reduction buffer (rows up to 14848 weights on sm_90, Q8_0
 * 15360, for both). */
struct GemvWPlan {
  int upp, ups, nblkp;
  int64_t smem;
};
template <class IT, int NT>
GemvWPlan gemvw_plan(const Geom& g) {
  GemvWPlan p;
  p.upp = (int)((g.units + NT - 1) / NT);
  constexpr int warps = NT == 1 ? mmf::kGemv4Warps : mmf::kGemvwTeamWarps; /* sharing a part */
  p.ups = (p.upp + warps - 1) / warps;
  p.nblkp = p.upp * (IT::TT::UK / 32);
  /* a CTA keeps the digits and constants of the columns its tiles take: all 4 NT staged ones, Q6_K's 2 NT
   * (imma_gemv_n4: columns 0-1 of its tile; _n8: the first of its two tiles) */
  constexpr int bytes_per_block = mmf::kGemv4BytesPerBlock * mmf::i8_tile_cols<IT>() / 4;
  p.smem = mmf::gemv4_ring_bytes<IT>() + (int64_t)NT * p.nblkp * bytes_per_block;
  return p;
}
template <int NT>
int gemvw_smem_cap(int64_t* cap) {
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  *cap = (int64_t)dev->smem_optin - (NT == 1 ? mmf::kGemv4StaticSmem : mmf::gemvw_static_smem<NT>());
  return GG_OK;
}
/* Whether imma_gemv_n1 takes rows of row_len weights of this type on this device (0: unknown, taken as yes). */
int gemv_fits(int type, int64_t row_len, bool* fits) {
  int64_t cap = 0;
  GG_TRY(decode_smem_cap(&cap));
  const Geom g = frag_geom(type, 16, row_len > 0 ? row_len : 256);
  switch (type) {
    case GG_TYPE_Q4_0: *fits = gemv_i8_smem<mmf::I8Q4_0>(g) <= cap; break;
    case GG_TYPE_Q8_0: *fits = gemv_i8_smem<mmf::I8Q8_0>(g) <= cap; break;
    case GG_TYPE_Q4_K: *fits = gemv_i8_smem<mmf::I8Q4_K>(g) <= cap; break;
    case GG_TYPE_Q6_K: *fits = gemv_i8_smem<mmf::I8Q6_K>(g) <= cap; break;
    default: *fits = false;
  }
  return GG_OK;
}
/* Whether mma_gemv_n1 (Q6_K) takes rows of row_len weights on this device. */
int gemv_f16_fits(int64_t row_len, bool* fits) {
  int64_t cap = 0;
  GG_TRY(decode_smem_cap(&cap));
  const Geom g = frag_geom(GG_TYPE_Q6_K, 16, row_len > 0 ? row_len : 256);
  *fits = mmf::gemv_f16_smem<mmf::TQ6_K>((int)gemv_ups(g)) <= cap;
  return GG_OK;
}
/* Whether imma_gemv_n4 (NT = 1) / _n8 (NT = 2) takes rows of row_len weights of this int8 type here. */
template <int NT>
int gemvw_fits(int type, int64_t row_len, bool* fits) {
  int64_t cap = 0;
  GG_TRY(gemvw_smem_cap<NT>(&cap));
  const Geom g = frag_geom(type, 16, row_len > 0 ? row_len : 256);
  switch (type) {
    case GG_TYPE_Q4_0: *fits = gemvw_plan<mmf::I8Q4_0, NT>(g).smem <= cap; break;
    case GG_TYPE_Q8_0: *fits = gemvw_plan<mmf::I8Q8_0, NT>(g).smem <= cap; break;
    case GG_TYPE_Q4_K: *fits = gemvw_plan<mmf::I8Q4_K, NT>(g).smem <= cap; break;
    case GG_TYPE_Q6_K: *fits = gemvw_plan<mmf::I8Q6_K, NT>(g).smem <= cap; break;
    default: *fits = false;
  }
  return GG_OK;
}
/* mma_gemv_n4 (C = 4) / _n8 (C = 8) / _n16 (C = 16): units per part (the whole row for 4 columns, half of
 * it for 8, a quarter for 16) and per warp, and the shared memory: 16 warps' 2-slot rings and a part's
 * fragments with their descale factors; with the static reduction buffer, rows up to 14336 weights on
 * sm_90 for 4 and 8 (Q6_K), for 16 Q6_K 14336, Q4_0 and Q4_K 18432, Q8_0 18944. */
struct GemvF16Plan {
  int upp, ups;
  int64_t smem, static_smem, part_bytes;
};
template <class TT, int C>
GemvF16Plan gemv_f16w_plan(const Geom& g) {
  constexpr int parts = C == 16 ? mmf::kGemv16Parts : C == 8 ? 2 : 1;
  GemvF16Plan p;
  p.upp = (int)((g.units + parts - 1) / parts);
  /* warps sharing a part (each with its own slice of it) */
  constexpr int warps = C == 16 ? mmf::kGemv16Halves : C == 8 ? mmf::kGemvwTeamWarps : mmf::kGemv4Warps;
  p.ups = (p.upp + warps - 1) / warps;
  p.part_bytes = mmf::gemv_f16_part_bytes<TT, C>(p.upp);
  p.smem = (int64_t)mmf::kGemv4Warps * TT::template ring<2>() * TT::SLOT + p.part_bytes;
  p.static_smem = C == 16 ? mmf::kGemv16StaticSmem : C == 8 ? mmf::gemvw_static_smem<2>() : mmf::kGemv4StaticSmem;
  return p;
}
/* Whether mma_gemv_n4 / _n8 / _n16 takes rows of row_len weights of type TT here (0: unknown, taken as yes). */
template <class TT, int C>
int gemv_f16w_fits(int64_t row_len, bool* fits) {
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  const GemvF16Plan p = gemv_f16w_plan<TT, C>(frag_geom(TT::kType, 16, row_len > 0 ? row_len : 256));
  *fits = p.smem <= (int64_t)dev->smem_optin - p.static_smem;
  return GG_OK;
}
/* The same for mma_gemv_n16, any type of the packed layout. */
int gemv_f16_n16_fits(int type, int64_t row_len, bool* fits) {
  switch (type) {
    case GG_TYPE_Q4_0: return gemv_f16w_fits<mmf::TQ4_0, 16>(row_len, fits);
    case GG_TYPE_Q8_0: return gemv_f16w_fits<mmf::TQ8_0, 16>(row_len, fits);
    case GG_TYPE_Q4_K: return gemv_f16w_fits<mmf::TQ4_K, 16>(row_len, fits);
    case GG_TYPE_Q6_K: return gemv_f16w_fits<mmf::TQ6_K, 16>(row_len, fits);
    default: *fits = false; return GG_OK;
  }
}
/* What both gemv launches (imma_gemv_n1, mma_gemv_n1) check and size: one column; the kernel's shared
 * memory (smem bytes) within decode_smem_cap, else the row is refused (sm_90_rows: the longest rows
 * on sm_90); the persistent grid: at most two CTAs per SM. */
template <class Kernel>
int gemv_prepare(Kernel* kernel, const char* name, const char* sm_90_rows, int batch, int64_t K, int64_t smem,
                 int (&smem_limit)[64], const Geom& g, int64_t* ctas) {
  if (batch != 1) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: %s takes one column (batch %d)", name, batch);
  int64_t cap = 0;
  GG_TRY(decode_smem_cap(&cap));
  if (smem > cap)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "",
                   "gg_matmul: %s cannot hold a row of %lld weights in shared memory (%lld bytes needed, %lld "
                   "available; sm_90: %s)",
                   name, (long long)K, (long long)smem, (long long)cap, sm_90_rows);
  GG_TRY(smem_optin(kernel, (int)smem, smem_limit));
  int sms = 132;
  GG_TRY(gg_sm_count(&sms));
  *ctas = g.Gn < 2 * (int64_t)sms ? g.Gn : 2 * (int64_t)sms;
  return GG_OK;
}
template <class IT>
int launch_gemv_i8(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  const int64_t smem = gemv_i8_smem<IT>(g);
  int64_t ctas = 0;
  GG_TRY(gemv_prepare(mmf::k_gemv_i8<IT>, "imma_gemv_n1", "rows up to 15360 weights, Q8_0 17152, Q6_K 14848", batch, K, smem,
                      smem_limit, g, &ctas));
  bool pdl = false;
  GG_TRY(use_pdl(&pdl));
  const int ups = (int)gemv_ups(g);
  /* ring slots filled before the PDL wait: half the ring (H200, 4096 x 14336, us, 1 / 2 / 4 slots: Q4_0
   * 13.82 / 13.14 / 13.56, Q8_0 19.01 / 18.30 / 18.81; Q4_K 12.41 / 12.11 / 12.46 since v41; Q6_K's int8
   * kernel 17.50 / 15.20 / 16.08 for 1 / 2 / 3 of its 3: NOTES v48), but 3 for Q4_0 (v78: 2 / 3 slots
   * 12.02 / 11.80 and 11.89 / 11.80 in two A/Bs; Q4_K and Q8_0 gain nothing from 3) */
  constexpr int pre = std::is_same<IT, mmf::I8Q6_K>::value ? 2
                      : std::is_same<IT, mmf::I8Q4_0>::value ? 3
                                                              : mmf::i8_ring<IT, 1>() / 2;
  int flags = decode_flags(x, pdl, pre);
  cudaStream_t st = gg_compute_stream();
  const int nblk = (int)(g.units * (IT::TT::UK / 32));
  /* the digits made once, by k_xstage_i8 (each CTA making them from x took Q4_0 from 13.1 to 16.4 us:
   * NOTES v13; that path is gone, NOTES v39) */
  Scratch* s = nullptr;
  GG_TRY(scratch_get((uint64_t)nblk * mmf::gemv_i8_block_bytes<IT>(), 0, &s));
  const unsigned blocks = (unsigned)((8 * (int64_t)nblk + mmf::kDecThreads - 1) / mmf::kDecThreads);
  const cudaError_t e = launch_pdl(pdl, mmf::k_xstage_i8<IT>, dim3(blocks), mmf::kDecThreads, 0, st, x, (uint2*)s->buf,
                                   (int)K, nblk, flags);
  if (e != cudaSuccess) return gg_fail_cuda(e, "k_xstage_i8", __FILE__, __LINE__, 1);
  const cudaError_t err = launch_pdl(pdl, mmf::k_gemv_i8<IT>, dim3((unsigned)ctas), mmf::kDecThreads, (int)smem, st,
                                     wptrs(w, g), (const uint4*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, ups, flags);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_gemv_i8", __FILE__, __LINE__, 1);
  return GG_OK;
}

/* What the 16-warp gemv launches check and size (imma_gemv_n4 / _n8, mma_gemv_n4): 1 to max_cols
 * columns; the kernel's shared memory (smem bytes) within what a block may have beside its static
 * reduction buffer (static_smem), else the row is refused (sm_90_rows: the longest rows on sm_90); the
 * persistent grid: one CTA of 16 warps per SM; the flags (one of the ring's 2 slots before the PDL
 * wait); and the scratch (scratch_bytes) for x as its stager makes it once per launch. */
template <class Kernel>
int gemv16_prepare(Kernel* kernel, int kid, int max_cols, int parts, const char* sm_90_rows, int batch, int64_t K, int64_t smem,
                   int64_t static_smem, uint64_t scratch_bytes, const float* x, int (&smem_limit)[64], const Geom& g,
                   int64_t* ctas, int* flags, Scratch** s, uint64_t ncounters = 0) {
  const char* name = kKernelNames[kid];
  if (batch < 1 || batch > max_cols)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: %s takes 1 to %d columns (batch %d)", name, max_cols, batch);
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  const int64_t cap = (int64_t)dev->smem_optin - static_smem;
  if (smem > cap)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "",
                   "gg_matmul: %s cannot hold a row of %lld weights in shared memory (%lld bytes needed, %lld "
                   "available; sm_90: %s)",
                   name, (long long)K, (long long)smem, (long long)cap, sm_90_rows);
  GG_TRY(smem_optin(kernel, (int)smem, smem_limit));
  int sms = 132;
  GG_TRY(gg_sm_count(&sms));
  /* with the row in parts, each CTA takes one part (gemvw_stream): a multiple of parts CTAs */
  *ctas = parts * g.Gn < sms ? parts * g.Gn : sms / parts * parts;
  bool pdl = false;
  GG_TRY(use_pdl(&pdl));
  *flags = decode_flags(x, pdl, 1);
  return scratch_get(scratch_bytes, ncounters, s);
}
/* imma_gemv_n4 (NT = 1) / _n8 (NT = 2): 1 to 4 NT columns (Q6_K 2 NT), the digits of NT parts. */
template <class IT, int NT, class Kernel>
int gemvw_prepare(Kernel* kernel, int batch, int64_t K, const GemvWPlan& p, const float* x, int (&smem_limit)[64],
                  const Geom& g, int64_t* ctas, int* flags, Scratch** s) {
  return gemv16_prepare(kernel, NT == 1 ? K_GEMV_I8_N4 : K_GEMV_I8_N8, mmf::i8_tile_cols<IT>() * NT, NT,
                        "rows up to 14848 weights, Q8_0 15360, Q6_K 23296",
                        batch, K, p.smem, NT == 1 ? mmf::kGemv4StaticSmem : mmf::gemvw_static_smem<NT>(),
                        (uint64_t)NT * NT * p.nblkp * mmf::kGemv4BytesPerBlock, x, smem_limit, g, ctas, flags, s);
}
/* Blocks of the stager (k_xstage_i8_w<IT, NT>): a thread per float4 of 4 NT columns of the
 * padded row (NT parts of nblkp blocks). */
template <int NT> unsigned gemvw_stager_blocks(const GemvWPlan& p) {
  const int64_t threads = 4 * NT * 8 * (int64_t)p.nblkp * NT;
  return (unsigned)((threads + mmf::kDecThreads - 1) / mmf::kDecThreads);
}

/* k_gemv_i8_n4 (imma_gemv_n4): 1 to 4 columns, after k_xstage_i8_w<IT, 1> has made the 4-column tile's
 * digits for the whole row once. */
template <class IT>
int launch_gemv_i8_n4(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  const GemvWPlan p = gemvw_plan<IT, 1>(g);
  int64_t ctas = 0;
  int flags = 0;
  Scratch* s = nullptr;
  GG_TRY((gemvw_prepare<IT, 1>(mmf::k_gemv_i8_n4<IT>, batch, K, p, x, smem_limit, g, &ctas, &flags, &s)));
  cudaStream_t st = gg_compute_stream();
  const bool pdl = (flags & mmf::kDecPdl) != 0;
  cudaError_t err = launch_pdl(pdl, mmf::k_xstage_i8_w<IT, 1>, dim3(gemvw_stager_blocks<1>(p)), mmf::kDecThreads, 0, st, x,
                               (uint8_t*)s->buf, (int)K, p.nblkp, batch, flags, (float*)nullptr, 0);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage_i8_w", __FILE__, __LINE__, 1);
  err = launch_pdl(pdl, mmf::k_gemv_i8_n4<IT>, dim3((unsigned)ctas), mmf::kGemv4Threads, (int)p.smem, st, wptrs(w, g),
                   (const uint4*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, p.ups, batch, flags);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_gemv_i8_n4", __FILE__, __LINE__, 1);
  return GG_OK;
}

/* k_gemv_i8_w (imma_gemv_n8, NT = 2): up to 4 NT columns, after k_xstage_i8_w has made the tiles'
 * digits of each part once. */
template <class IT, int NT>
int launch_gemv_i8_w(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static_assert(NT >= 2, "one tile is k_gemv_i8_n4's (launch_gemv_i8_n4)");
  static int smem_limit[64];
  const GemvWPlan p = gemvw_plan<IT, NT>(g);
  int64_t ctas = 0;
  int flags = 0;
  Scratch* s = nullptr;
  GG_TRY((gemvw_prepare<IT, NT>(mmf::k_gemv_i8_w<IT, NT>, batch, K, p, x, smem_limit, g, &ctas, &flags, &s)));
  cudaStream_t st = gg_compute_stream();
  const bool pdl = (flags & mmf::kDecPdl) != 0;
  const unsigned blocks = gemvw_stager_blocks<NT>(p);
  cudaError_t err = launch_pdl(pdl, mmf::k_xstage_i8_w<IT, NT>, dim3(blocks), mmf::kDecThreads, 0, st, x,
                               (uint8_t*)s->buf, (int)K, p.nblkp, batch, flags, y, (int)rows); /* zeroes y */
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage_i8_w", __FILE__, __LINE__, 1);
  err = launch_pdl(pdl, mmf::k_gemv_i8_w<IT, NT>, dim3((unsigned)ctas), mmf::kGemv4Threads, (int)p.smem, st, wptrs(w, g),
                   (const uint4*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, p.upp, p.ups, batch, flags);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_gemv_i8_w", __FILE__, __LINE__, 1);
  return GG_OK;
}

/* k_gemv_f16 (mma_gemv_n1): batch 1 of Q6_K in k_gemv_i8's form, after k_xstage_col has made x's f16
 * fragments once. Its shared memory (the rings and the whole row's x) must leave room for two CTAs
 * per SM: rows up to 14336 weights on sm_90. The dispatch table takes imma_gemv_n1 for Q6_K (faster, and
 * it holds rows up to 14848); this kernel is for GG_MM_I8=0 and by index. */
template <class TT>
int launch_gemv_f16(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  if constexpr (TT::kType != GG_TYPE_Q6_K) {
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: mma_gemv_n1 takes Q6_K only (%s has imma_gemv_n1)",
                   gg_type_name(TT::kType));
  } else {
    const int ups = (int)gemv_ups(g);
    const int64_t smem = mmf::gemv_f16_smem<TT>(ups);
    int64_t ctas = 0;
    GG_TRY(gemv_prepare(mmf::k_gemv_f16<TT>, "mma_gemv_n1", "rows up to 14336 weights", batch, K, smem, smem_limit, g,
                        &ctas));
    bool pdl = false;
    GG_TRY(use_pdl(&pdl));
    /* ring slots filled before the PDL wait: 2 of 3 (H200, 4096 x 14336, us, 1 / 2 / 3 / none: 22.81 /
     * 22.35 / 23.24 / 24.49) */
    constexpr int pre = 2;
    const int flags = decode_flags(x, pdl, pre);
    cudaStream_t st = gg_compute_stream();
    Scratch* s = nullptr;
    GG_TRY(scratch_get((uint64_t)mmf::gemv_f16_x_bytes<TT>(ups) + mmf::kDecWarps * 4, 0, &s));
    cudaError_t err = launch_pdl(pdl, mmf::k_xstage_col<TT>, dim3(mmf::kDecWarps), mmf::kDecThreads, 0, st, x,
                                 (uint8_t*)s->buf, (int)K, (int)g.units, (int)g.units, ups, flags, (float*)nullptr, 0);
    if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage_col", __FILE__, __LINE__, 1);
    err = launch_pdl(pdl, mmf::k_gemv_f16<TT>, dim3((unsigned)ctas), mmf::kDecThreads, (int)smem, st, wptrs(w, g),
                     (const uint8_t*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, ups, flags);
    if (err != cudaSuccess) return gg_fail_cuda(err, "k_gemv_f16", __FILE__, __LINE__, 1);
    return GG_OK;
  }
}

/* k_gemv_f16_n4 / _n8 (mma_gemv_n4 / _n8): 1 to C columns of Q6_K, after k_xstage_col<TT, C> has made
 * their f16 fragments and descale factors (per sixteenth of the row, or quarter of its part, and column) once. */
template <class TT, int C>
int launch_gemv_f16w(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  const int kid = C == 4 ? K_GEMV_F16_N4 : K_GEMV_F16_N8;
  if constexpr (TT::kType != GG_TYPE_Q6_K) {
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: %s takes Q6_K only (%s has %s)", kKernelNames[kid],
                   gg_type_name(TT::kType), kKernelNames[C == 4 ? K_GEMV_I8_N4 : K_GEMV_I8_N8]);
  } else {
    constexpr int parts = C == 8 ? 2 : 1;
    auto kernel = [] {
      if constexpr (C == 4) return mmf::k_gemv_f16_n4<TT>;
      else return mmf::k_gemv_f16_n8<TT>;
    }();
    const GemvF16Plan p = gemv_f16w_plan<TT, C>(g);
    int64_t ctas = 0;
    int flags = 0;
    Scratch* s = nullptr;
    GG_TRY(gemv16_prepare(kernel, kid, C, parts, "rows up to 14336 weights", batch, K, p.smem, p.static_smem,
                          (uint64_t)parts * p.part_bytes, x, smem_limit, g, &ctas, &flags, &s));
    const bool pdl = (flags & mmf::kDecPdl) != 0;
    cudaStream_t st = gg_compute_stream();
    /* a slice (with its own scale) per warp sharing a part */
    const unsigned slices = C == 8 ? mmf::kGemvwTeamWarps : mmf::kGemv4Warps;
    cudaError_t err = launch_pdl(pdl, mmf::k_xstage_col<TT, C>, dim3(slices, (unsigned)batch, parts),
                                 mmf::kDecThreads, 0, st, x, (uint8_t*)s->buf, (int)K, (int)g.units, p.upp, p.ups, flags,
                                 C == 8 ? y : nullptr, (int)rows); /* C = 8: zeroes y */
    if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage_col", __FILE__, __LINE__, 1);
    if constexpr (C == 4)
      err = launch_pdl(pdl, kernel, dim3((unsigned)ctas), mmf::kGemv4Threads, (int)p.smem, st, wptrs(w, g),
                       (const uint4*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, p.ups, batch, flags);
    else
      err = launch_pdl(pdl, kernel, dim3((unsigned)ctas), mmf::kGemv4Threads, (int)p.smem, st, wptrs(w, g),
                       (const uint4*)s->buf, y, (int)rows, (int)g.Gn, (int)g.nc, (int)g.units, p.upp, p.ups, batch, flags);
    if (err != cudaSuccess) return gg_fail_cuda(err, C == 4 ? "k_gemv_f16_n4" : "k_gemv_f16_n8", __FILE__, __LINE__, 1);
    return GG_OK;
  }
}

/* k_gemv_f16_n16 (mma_gemv_n16): 1 to 16 columns of any type of the packed layout, after
 * k_xstage_col<TT, 16> has made their f16 fragments and descale factors (per half of each quarter of
 * the row, and column) once. Scratch: the 4 parts' fragments, then the partial sums (kGemv16Partials per
 * output), and a counter per row group. */
template <class TT>
int launch_gemv_f16_n16(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  constexpr int parts = mmf::kGemv16Parts;
  const GemvF16Plan p = gemv_f16w_plan<TT, 16>(g);
  const uint64_t x_bytes = (uint64_t)parts * (uint64_t)p.part_bytes; /* a multiple of 512 B */
  const uint64_t partial_bytes = (uint64_t)mmf::kGemv16Partials * 16u * (uint64_t)g.Gn * 16u * 4u;
  int64_t ctas = 0;
  int flags = 0;
  Scratch* s = nullptr;
  GG_TRY(gemv16_prepare(mmf::k_gemv_f16_n16<TT>, K_GEMV_F16_N16, 16, parts,
                        "rows up to 18432 weights, Q8_0 18944, Q6_K 14336", batch, K, p.smem, p.static_smem,
                        x_bytes + partial_bytes, x, smem_limit, g, &ctas, &flags, &s, (uint64_t)g.Gn));
  const bool pdl = (flags & mmf::kDecPdl) != 0;
  cudaStream_t st = gg_compute_stream();
  cudaError_t err = launch_pdl(pdl, mmf::k_xstage_col<TT, 16>, dim3(mmf::kGemv16Halves, (unsigned)batch, parts),
                               mmf::kDecThreads, 0, st, x, (uint8_t*)s->buf, (int)K, (int)g.units, p.upp, p.ups, flags,
                               (float*)nullptr, (int)rows);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_xstage_col", __FILE__, __LINE__, 1);
  err = launch_pdl(pdl, mmf::k_gemv_f16_n16<TT>, dim3((unsigned)ctas), mmf::kGemv4Threads, (int)p.smem, st, wptrs(w, g),
                   (const uint4*)s->buf, y, (float*)((uint8_t*)s->buf + x_bytes), s->counters, (int)rows, (int)g.Gn,
                   (int)g.nc, (int)g.units, p.upp, p.ups, batch, flags);
  if (err != cudaSuccess) return gg_fail_cuda(err, "k_gemv_f16_n16", __FILE__, __LINE__, 1);
  return GG_OK;
}

/* launch(IT{}) with the int8 kernels' view IT of TT, or the refusal of a type that has none (Q6_K but
 * for the gemvs: kGemv). */
template <class TT, bool kGemv = false, class Launch>
int with_i8(Launch launch) {
  using IT = typename I8For<TT, kGemv>::type;
  if constexpr (std::is_void<IT>::value) {
    (void)launch;
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: the int8 decode kernels do not take %s",
                   gg_type_name(TT::kType));
  } else {
    return launch(IT{});
  }
}

/* The prefill GEMMs' scratch: the converted x (image_bytes), then one descale factor per column of
 * the column tiles; and the limits of their grids (row tiles of 8 row groups, column tiles). state,
 * where asked for: k_ximage's counters (columns + columns / 8 of them, zero between launches). */
int prefill_scratch(const Geom& g, int64_t col_tiles, int64_t columns, uint64_t image_bytes, void** image, float** descale,
                    unsigned** state = nullptr) {
  if ((uint64_t)(g.Gn + 7) / 8 > 0x7fffffffULL || col_tiles > 65535)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: shape too large for the prefill kernel");
  const uint64_t ds_off = (image_bytes + 255u) & ~(uint64_t)255u;
  Scratch* s = nullptr;
  GG_TRY(scratch_get(ds_off + (uint64_t)columns * 4u, state ? (uint64_t)(columns + columns / 8) : 0, &s));
  *image = s->buf;
  *descale = (float*)((uint8_t*)s->buf + ds_off);
  if (state) *state = s->counters;
  return GG_OK;
}

template <class TT>
int launch_prefill_t(const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  static int smem_limit[64];
  constexpr int smem = mmf::pre_smem_bytes<TT>();
  GG_TRY(smem_optin(mmf::k_prefill<TT>, smem, smem_limit));
  const int64_t NTtot = ((int64_t)batch + 127) / 128 * 16;
  const int64_t Kp = g.nc * 64;
  void* image = nullptr;
  float* ds = nullptr;
  GG_TRY(prefill_scratch(g, NTtot / 16, NTtot * 8, (uint64_t)g.nc * (uint64_t)NTtot * 1024u, &image, &ds));
  uint32_t* xp = (uint32_t*)image;
  cudaStream_t st = gg_compute_stream();
  mmf::k_xprep<<<(unsigned)(NTtot * 8), 256, 0, st>>>(x, xp, ds, (int)K, (int)Kp, batch, (int)NTtot);
  GG_CHECK_LAUNCH("k_xprep");
  const dim3 grid((unsigned)((g.Gn + 7) / 8), (unsigned)(NTtot / 16));
  mmf::k_prefill<TT><<<grid, mmf::kPreThreads, smem, st>>>(wptrs(w, g), (const uint4*)xp, ds, y, (int)rows, (int)g.Gn,
                                                           (int)g.nc, (int)NTtot, batch);
  GG_CHECK_LAUNCH("k_prefill");
  return GG_OK;
}

/* ws: k_prefill_ws (producer warpgroup, mbarriers) instead of k_prefill_wg; same x image, same sums */
template <class TT, int BN>
int launch_prefill_wg_bn(bool ws, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  /* the two GEMMs take the same arguments; shared-memory opt-in first: a refusal must come before
   * anything is queued */
  static int wg_limit[64], ws_limit[64];
  auto* const gemm = ws ? mmf::k_prefill_ws<TT, BN> : mmf::k_prefill_wg<TT, BN>;
  const int smem = ws ? mmf::ws_smem_bytes<TT, BN>() : mmf::wg_smem_bytes<TT, BN>();
  const int threads = ws ? mmf::kWsThreads : 256;
  GG_TRY(smem_optin(gemm, smem, ws ? ws_limit : wg_limit));
  const int64_t NCT = ((int64_t)batch + BN - 1) / BN;
  /* k_ximage: as many passes per CTA as keep its grid within one wave (knob_xi_wave CTAs an SM) */
  const int64_t passes = ((int64_t)g.nc * 8 + mmf::kXiPassUnits - 1) / mmf::kXiPassUnits, groups = NCT * BN / 8;
  int sms = 0;
  GG_TRY(gg_sm_count(&sms));
  const int64_t slots = (int64_t)knob_xi_wave() * sms;
  const int64_t per_part = slots > 0 && passes * groups > slots ? (passes * groups + slots - 1) / slots : 1;
  const int64_t xparts = (passes + per_part - 1) / per_part;
  if (xparts > 65535) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: rows too long for the prefill kernel");
  void* image = nullptr;
  float* ds = nullptr;
  unsigned* state = nullptr;
  GG_TRY(prefill_scratch(g, NCT, NCT * BN, (uint64_t)g.nc * (uint64_t)NCT * (uint64_t)mmf::wg_x_bytes<BN>(), &image, &ds,
                         &state));
  const unsigned parts = (unsigned)wg_parts((g.Gn + 7) / 8 * NCT, sms, g.nc);
  cudaStream_t st = gg_compute_stream();
  /* the K parts add into y, which the x-image kernel zeroes; the GEMM may start while it ends (PDL) */
  float* yz = parts > 1 ? y : nullptr;
  bool pdl = false;
  GG_TRY(use_pdl(&pdl));
  mmf::k_ximage<BN><<<dim3((unsigned)groups, (unsigned)xparts), 256, 0, st>>>(
      x, (uint4*)image, ds, (int)K, (int)g.nc, batch, (int)NCT, yz, (int)rows, state);
  GG_CHECK_LAUNCH("k_ximage");
  const dim3 grid((unsigned)((g.Gn + 7) / 8), (unsigned)NCT, parts);
  const cudaError_t err = launch_pdl(pdl, gemm, grid, threads, smem, st, wptrs(w, g), (const uint4*)image, (const float*)ds, y,
                                     (int)rows, (int)g.Gn, (int)g.nc, (int)NCT, batch);
  if (err != cudaSuccess) return gg_fail_cuda(err, ws ? "k_prefill_ws" : "k_prefill_wg", __FILE__, __LINE__, 1);
  return GG_OK;
}

template <class TT>
int launch_prefill_wg_t(int bn, bool ws, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch, const Geom& g) {
  const DeviceFacts* dev = nullptr;
  GG_TRY(device_facts(&dev));
  if (!dev->wgmma)
    return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul: the wgmma kernels need an sm_90 device (H100/H200) and a library "
                   "built for sm_90a");
  if (bn == 256) return launch_prefill_wg_bn<TT, 256>(ws, w, x, y, rows, K, batch, g);
  return launch_prefill_wg_bn<TT, 128>(ws, w, x, y, rows, K, batch, g);
}

template <class TT>
int launch_frag_t(int kernel, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch) {
  const Geom g = frag_geom(TT::kType, rows, K);
  static_assert(TT::UK == 256 || TT::kType != GG_TYPE_Q4_0, "frag_geom: Q4_0 units are 4 chunks");
  static_assert(TT::UK == 128 || TT::kType != GG_TYPE_Q8_0, "frag_geom: Q8_0 units are 2 chunks");
  switch (kernel) {
    case K_DEC8: return launch_decode_t<TT, 1>(w, x, y, rows, K, batch, g);
    case K_DEC16: return launch_decode_t<TT, 2>(w, x, y, rows, K, batch, g);
    case K_DEC32: /* groups of 32 columns, the rest with the narrowest kernel that holds it */
      for (int c0 = 0; c0 < batch;) {
        const int rem = batch - c0;
        const float* xc = x + (int64_t)c0 * K;
        float* yc = y + (int64_t)c0 * rows;
        if (rem > 16) {
          const int nb = rem < 32 ? rem : 32;
          GG_TRY((launch_decode_t<TT, 4>(w, xc, yc, rows, K, nb, g)));
          c0 += nb;
        } else if (rem > 8) {
          GG_TRY((launch_decode_t<TT, 2>(w, xc, yc, rows, K, rem, g)));
          c0 += rem;
        } else {
          GG_TRY((launch_decode_t<TT, 1>(w, xc, yc, rows, K, rem, g)));
          c0 += rem;
        }
      }
      return GG_OK;
    case K_PREFILL: return launch_prefill_t<TT>(w, x, y, rows, K, batch, g);
    case K_WG_128: return launch_prefill_wg_t<TT>(128, false, w, x, y, rows, K, batch, g);
    case K_WG_256: return launch_prefill_wg_t<TT>(256, false, w, x, y, rows, K, batch, g);
    case K_WS_128: return launch_prefill_wg_t<TT>(128, true, w, x, y, rows, K, batch, g);
    case K_WS_256: return launch_prefill_wg_t<TT>(256, true, w, x, y, rows, K, batch, g);
    case K_I8_4:
      return with_i8<TT>([&](auto it) { return launch_decode_i8<decltype(it), 1>(w, x, y, rows, K, batch, g); });
    case K_I8_8:
      return with_i8<TT>([&](auto it) { return launch_decode_i8<decltype(it), 2>(w, x, y, rows, K, batch, g); });
    case K_I8_16:
      return with_i8<TT>([&](auto it) { return launch_decode_i8<decltype(it), 4>(w, x, y, rows, K, batch, g); });
    case K_GEMV_I8:
      return with_i8<TT, true>([&](auto it) { return launch_gemv_i8<decltype(it)>(w, x, y, rows, K, batch, g); });
    case K_GEMV_F16: return launch_gemv_f16<TT>(w, x, y, rows, K, batch, g);
    case K_GEMV_F16_N4: return launch_gemv_f16w<TT, 4>(w, x, y, rows, K, batch, g);
    case K_GEMV_F16_N8: return launch_gemv_f16w<TT, 8>(w, x, y, rows, K, batch, g);
    case K_GEMV_F16_N16: return launch_gemv_f16_n16<TT>(w, x, y, rows, K, batch, g);
    case K_GEMV_I8_N4:
      return with_i8<TT, true>([&](auto it) { return launch_gemv_i8_n4<decltype(it)>(w, x, y, rows, K, batch, g); });
    case K_GEMV_I8_N8:
      return with_i8<TT, true>([&](auto it) { return launch_gemv_i8_w<decltype(it), 2>(w, x, y, rows, K, batch, g); });
    default: return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul: kernel %d is not a tensor-core kernel", kernel);
  }
}

int launch_frag(int type, int kernel, const void* w, const float* x, float* y, int64_t rows, int64_t K, int batch) {
  switch (type) {
    case GG_TYPE_Q4_0: return launch_frag_t<mmf::TQ4_0>(kernel, w, x, y, rows, K, batch);
    case GG_TYPE_Q8_0: return launch_frag_t<mmf::TQ8_0>(kernel, w, x, y, rows, K, batch);
    case GG_TYPE_Q4_K: return launch_frag_t<mmf::TQ4_K>(kernel, w, x, y, rows, K, batch);
    case GG_TYPE_Q6_K: return launch_frag_t<mmf::TQ6_K>(kernel, w, x, y, rows, K, batch);
    default: return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul: type %d has no tensor-core kernel", type);
  }
}

int pack_frag(int type, const void* raw, void* packed, int64_t rows, int64_t K) {
  const Geom g = frag_geom(type, rows, K);
  uint8_t* b = (uint8_t*)packed;
  const uint8_t* r = (const uint8_t*)raw;
  cudaStream_t st = gg_compute_stream();
  const int threads = 256;
  auto blocks_for = [](int64_t n) -> unsigned {
    int64_t bl = (n + 255) / 256;
    return (unsigned)(bl > 65536 * 8 ? 65536 * 8 : (bl < 1 ? 1 : bl));
  };
  switch (type) {
    case GG_TYPE_Q4_0:
      mmf::k_pack_q4_0<<<blocks_for(g.Gn * g.nc * 32), threads, 0, st>>>(r, b + g.off[0], b + g.off[1], rows, g.nb, g.Gn, g.nc);
      break;
    case GG_TYPE_Q8_0:
      mmf::k_pack_q8_0<<<blocks_for(g.Gn * g.nc * 64), threads, 0, st>>>(r, b + g.off[0], b + g.off[1], rows, g.nb, g.Gn, g.nc);
      break;
    case GG_TYPE_Q4_K:
      mmf::k_pack_q4_k<<<blocks_for(g.Gn * g.nsb * 128), threads, 0, st>>>(r, b + g.off[0], b + g.off[1], rows, g.nsb, g.Gn);
      break;
    case GG_TYPE_Q6_K:
      mmf::k_pack_q6_k<<<blocks_for(g.Gn * g.nsb * 128), threads, 0, st>>>(r, b + g.off[0], b + g.off[1], b + g.off[2],
                                                                          b + g.off[3], rows, g.nsb, g.Gn);
      break;
    default: return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul_pack: type %d has no packed layout", type);
  }
  GG_CHECK_LAUNCH("k_pack");
  return GG_OK;
}
#endif /* !GG_IS_HIP */

/* The dispatch table: kernel index for (type, batch, rows, row_len) on the current device.
 *   Q4_0, Q8_0, Q4_K:  batch 1 imma_gemv_n1 where its shared memory holds the row (sm_90: up to
 *                      15360 weights, Q8_0 17152; row_len 0 = unknown counts as yes), batch 2 to 4
 *                      imma_gemv_n4 and 5 to 8 imma_gemv_n8 for rows of 4096 weights and more that
 *                      their shared memory holds (sm_90: up to 14848, Q8_0 15360), else
 *                      imma_decode_n4 (2-4) and mma_decode_n8 (5-8),
 *                      except small problems (rows * batch < 2048), which take the f16
 *                      kernels' hi/lo split of x (more exact; speed does not
 *                      matter there). imma_decode_n8/n16 measured slower than the f16 kernels at
 *                      n = 8 and 16 (NOTES.md), so they are reached only by index.
 *   Q6_K:              batch 1 imma_gemv_n1 where its shared memory holds the row (sm_90: up to 14848
 *                      weights), batch 2 imma_gemv_n4 (23296) and 3 to 4 imma_gemv_n8 (23040), 5 to 8
 *                      mma_gemv_n8 (14336), each for rows of 4096 weights and more that its shared memory
 *                      holds, except small problems (as above); with GG_MM_I8=0 the f16 kernels:
 *                      mma_gemv_n1 (batch 1), mma_gemv_n4 (3 and 4).
 *   all four:          batches 9 to 16 mma_gemv_n16 for rows of 4096 weights and more that its shared
 *                      memory holds (sm_90: 18432, Q8_0 18944, Q6_K 14336), except small problems (its A
 *                      is W rounded to f16, as the GEMM's).
 *   tensor-core types: otherwise batch <= 8 mma_decode_n8, <= 16 mma_decode_n16, <= 64 mma_decode_n32 (in
 *                      launches of up to 32 columns), above mma_gemm_128x128 (on sm_90a:
 *                      wgmma_gemm_128x128 or _128x256 by wg_wide; wgmma_ws_* only by index), except small problems
 *                      (rows * batch < 8192), which
 *                      stay on mma_decode_n32 (exact W; the GEMM rounds W to f16, and over few outputs
 *                      one badly-conditioned dot product could dominate the NMSE).
 *   other types:       batch <= 8 generic_gemv, above generic_gemm.
 * rows < 0 means "large". */
int pick_kernel(int type, int batch, int64_t rows, int64_t row_len, bool frag, int* k) {
  if (frag) {
#if !GG_IS_HIP
    const bool small = rows >= 0 && small_problem(rows, batch);
    const bool i8 = knob_i8() != 0 && type != GG_TYPE_Q6_K && !small;
    /* batch 1: imma_gemv_n1, Q6_K's too (with GG_MM_I8=0 its mma_gemv_n1, which holds shorter rows) */
    bool gemv = false, gemv_q6 = false;
    if (batch == 1 && knob_gemv() != 0 && !small) {
      if (i8 || (type == GG_TYPE_Q6_K && knob_i8() != 0)) GG_TRY(gemv_fits(type, row_len, &gemv));
      else if (type == GG_TYPE_Q6_K) GG_TRY(gemv_f16_fits(row_len, &gemv_q6));
    }
    bool gemv4 = false, gemv8 = false;
    /* imma_gemv_n4 / _n8 give each of their 16 warps a 16th of the row (of a half for _n8): rows under
     * 4096 weights leave warps idle (H200, 4096 x 1024, n = 4: 9.0 against imma_decode_n4's 6.4 us;
     * from 4096 on it wins) */
    const bool long_row = knob_gemv4() != 0 && (row_len == 0 || row_len >= 4096);
    if (i8 && batch >= 2 && batch <= 4 && long_row) GG_TRY(gemvw_fits<1>(type, row_len, &gemv4));
    /* Q6_K's 2 columns on imma_gemv_n4 too, 3 and 4 on imma_gemv_n8 (a tile holds two of its columns: I8Q6_K) */
    const bool q6i8 = type == GG_TYPE_Q6_K && knob_i8() != 0 && !small && long_row;
    if (q6i8 && batch == 2) GG_TRY(gemvw_fits<1>(type, row_len, &gemv4));
    if (q6i8 && batch >= 3 && batch <= 4) GG_TRY(gemvw_fits<2>(type, row_len, &gemv8));
    if (i8 && batch >= 5 && batch <= 8 && long_row) GG_TRY(gemvw_fits<2>(type, row_len, &gemv8));
    bool gemv_f4 = false, gemv_f8 = false;
    /* Q6_K from 3 columns on: at 2, mma_decode_n8 is faster (H200, 4096 x 14336, us, n = 2 / 3 / 4: 24.14 /
     * 26.78 / 27.39 against 25.31 / 25.21 / 25.46) */
    const bool q6 = type == GG_TYPE_Q6_K && !small && long_row;
    if (q6 && batch >= 3 && batch <= 4) GG_TRY((gemv_f16w_fits<mmf::TQ6_K, 4>(row_len, &gemv_f4)));
    if (q6 && batch >= 5 && batch <= 8) GG_TRY((gemv_f16w_fits<mmf::TQ6_K, 8>(row_len, &gemv_f8)));
    bool gemv_f16 = false;
    if (!small && long_row && batch >= 9 && batch <= 16) GG_TRY(gemv_f16_n16_fits(type, row_len, &gemv_f16));
#else
    const bool i8 = false, gemv = false, gemv_q6 = false, gemv4 = false, gemv8 = false, gemv_f4 = false, gemv_f8 = false,
               gemv_f16 = false;
    (void)type;
    (void)row_len;
#endif
    if (gemv) *k = K_GEMV_I8;
    else if (gemv_q6) *k = K_GEMV_F16;
    else if (gemv4) *k = K_GEMV_I8_N4;
    else if (gemv8) *k = K_GEMV_I8_N8;
    else if (gemv_f4) *k = K_GEMV_F16_N4;
    else if (gemv_f8) *k = K_GEMV_F16_N8;
    else if (gemv_f16) *k = K_GEMV_F16_N16;
    else if (i8 && batch <= 4) *k = K_I8_4;
    else if (batch <= 8) *k = K_DEC8;
    else if (batch <= 16) *k = K_DEC16;
    else if (batch <= kDecodeMaxBatch) *k = K_DEC32;
    else if (rows >= 0 && rows * (int64_t)batch < 8192) *k = K_DEC32;
    else {
      *k = K_PREFILL;
#if !GG_IS_HIP
      const DeviceFacts* dev = nullptr;
      GG_TRY(device_facts(&dev));
      if (dev->wgmma && knob_wg() != 0) {
        int sms = 0;
        GG_TRY(gg_sm_count(&sms));
        const bool wide = wg_wide(rows, batch, sms);
        /* k_prefill_wg for every type since its x image comes by bulk copies and its first W before the PDL
         * wait (NOTES v70, v72, v75: faster than the warp-specialized GEMM for Q4_K and Q6_K too, by 0.3-2.2 us
         * at 256-column tiles and 6-12 us at 128) */
        *k = wide ? K_WG_256 : K_WG_128;
      }
#endif
    }
  } else {
    *k = batch <= kGemvMaxBatch ? K_GEN_GEMV : K_GEN_GEMM;
  }
  return GG_OK;
}

int matmul_args(const char* fn, int32_t type, const void* w, const float* x, float* y, int64_t rows, int64_t row_len,
                int32_t batch, int32_t kernel, bool* frag, int* kid) {
  GG_TRY(check_shape(fn, type, rows, row_len));
  if (!w || !x || !y) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: null pointer (w, x or y)", fn);
  if (batch <= 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: batch must be >= 1 (got %d)", fn, (int)batch);
  if (kernel < -1 || kernel >= K_COUNT)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: kernel index %d out of range (-1 .. %d)", fn, (int)kernel, K_COUNT - 1);
  GG_TRY(frag_path(type, frag));
  if (kernel == -1) {
    GG_TRY(pick_kernel(type, batch, rows, row_len, *frag, kid));
  } else {
    const bool kfrag = kernel >= K_DEC8;
    if (kfrag != *frag)
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: kernel %s does not take %s weights in this library's packed layout",
                     fn, kKernelNames[kernel], gg_type_name(type));
    *kid = kernel;
  }
  if (*frag && (((uintptr_t)w) & 15u) != 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: packed weights must be 16-byte aligned", fn);
  return GG_OK;
}

int run_matmul(int32_t type, const void* w, const float* x, float* y, int64_t rows, int64_t row_len, int32_t batch,
               bool frag, int kid) {
#if !GG_IS_HIP
  if (frag) return launch_frag(type, kid, w, x, y, rows, row_len, batch);
#else
  (void)frag;
#endif
  return launch_generic(type, kid, w, x, y, rows, row_len, batch);
}

int copy_name(const char* name, char* buf, int32_t len) {
  if (!buf || len <= 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "kernel name: null buffer or length %d", (int)len);
  const size_t n = strlen(name);
  if ((size_t)len < n + 1) {
    buf[0] = 0;
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "kernel name: buffer of %d bytes too small for \"%s\"", (int)len, name);
  }
  memcpy(buf, name, n + 1);
  return GG_OK;
}

} /* namespace */

/* ================================================================================ ABI */

extern "C" {

GG_API int gg_matmul_packed_size(int32_t ggml_type, int64_t rows, int64_t row_len, uint64_t* bytes) {
  if (!bytes) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul_packed_size: null output pointer");
  GG_TRY(check_shape("gg_matmul_packed_size", ggml_type, rows, row_len));
  bool frag = false;
  GG_TRY(frag_path(ggml_type, &frag));
#if !GG_IS_HIP
  if (frag) {
    *bytes = frag_geom(ggml_type, rows, row_len).bytes;
    return GG_OK;
  }
#endif
  *bytes = raw_bytes(ggml_type, rows, row_len);
  return GG_OK;
}

GG_API int gg_matmul_pack(int32_t ggml_type, const void* raw, void* packed, int64_t rows, int64_t row_len) {
  GG_TRY(check_shape("gg_matmul_pack", ggml_type, rows, row_len));
  if (!raw || !packed) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul_pack: null pointer");
  bool frag = false;
  GG_TRY(frag_path(ggml_type, &frag));
#if !GG_IS_HIP
  if (frag) {
    if (raw == packed)
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul_pack: %s cannot be packed in place (raw == packed)",
                     gg_type_name(ggml_type));
    if ((((uintptr_t)packed) & 15u) != 0)
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul_pack: packed buffer must be 16-byte aligned");
    return pack_frag(ggml_type, raw, packed, rows, row_len);
  }
#endif
  if (raw != packed)
    GG_CHECK(cudaMemcpyAsync(packed, raw, raw_bytes(ggml_type, rows, row_len), cudaMemcpyDeviceToDevice,
                             gg_compute_stream()));
  return GG_OK;
}

GG_API int gg_matmul(int32_t ggml_type, const void* w, const float* x, float* y, int64_t rows, int64_t row_len,
                     int32_t batch, int32_t kernel) {
  bool frag = false;
  int kid = 0;
  GG_TRY(matmul_args("gg_matmul", ggml_type, w, x, y, rows, row_len, batch, kernel, &frag, &kid));
  return run_matmul(ggml_type, w, x, y, rows, row_len, batch, frag, kid);
}

GG_API int gg_matmul_kernel_name(int32_t ggml_type, int64_t rows, int64_t row_len, int32_t batch, char* buf,
                                  int32_t buf_len) {
  if (!type_known(ggml_type))
    return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_matmul_kernel_name: ggml type %d is not supported", (int)ggml_type);
  if (batch <= 0 || rows < 0 || row_len < 0 || row_len > 0x3fffffffLL)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "",
                   "gg_matmul_kernel_name: need batch >= 1, rows >= 0 and 0 <= row_len <= 2^30 - 1 (0: unknown)");
  bool frag = false;
  GG_TRY(frag_path(ggml_type, &frag));
  int kid = 0;
  GG_TRY(pick_kernel(ggml_type, batch, rows, row_len, frag, &kid));
  return copy_name(kKernelNames[kid], buf, buf_len);
}

GG_API int gg_matmul_kernel_info(int32_t index, char* buf, int32_t buf_len) {
  if (index < 0 || index >= K_COUNT)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_matmul_kernel_info: no kernel %d (0 .. %d)", (int)index, K_COUNT - 1);
  return copy_name(kKernelNames[index], buf, buf_len);
}

GG_API int gg_bench_matmul(int32_t ggml_type, void* const* ws, int32_t n_bufs, const float* x, float* y, int64_t rows,
                           int64_t row_len, int32_t batch, int32_t kernel, int32_t warmup, int32_t launches,
                           int32_t samples, float* out_us) {
  if (!ws || n_bufs <= 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_matmul: need at least one weight buffer");
  bool frag = false;
  int kid = 0;
  for (int32_t i = 0; i < n_bufs; ++i)
    GG_TRY(matmul_args("gg_bench_matmul", ggml_type, ws[i], x, y, rows, row_len, batch, kernel, &frag, &kid));
  GG_TRY(gg_bench_check_args(warmup, launches, samples, out_us));
  /* one untimed call first: allocates scratch and sets kernel attributes outside the timing */
  GG_TRY(run_matmul(ggml_type, ws[0], x, y, rows, row_len, batch, frag, kid));
  return gg_time_launches(warmup, launches, samples, out_us, [&](int64_t i) -> int {
    return run_matmul(ggml_type, ws[i % n_bufs], x, y, rows, row_len, batch, frag, kid);
  });
}

} /* extern "C" */
