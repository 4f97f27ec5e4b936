/* gguf-gpu: timing helpers of the C ABI: gg_bench_read, gg_bench_copy, gg_bench_dequantize,
 * gg_bench_blas, gg_bench_upload (gg_bench_matmul lives with the matmul kernels).
 *
 * All device timings use gg_time_launches (internal.h): warmup launches, then per sample an event,
 * `launches` back-to-back launches rotating over the buffers, an event; microseconds per launch.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if GG_HAVE_BLAS
#include <dlfcn.h>
#if GG_IS_HIP
#include <link.h> /* dlinfo's link_map */
#endif
#endif

namespace {

constexpr int kMaxDevices = 64;

struct BenchState {
  bool ready;
  cudaEvent_t start, stop;
  unsigned* sink; /* written by the read kernel only when its checksum hits a magic value */
};
BenchState g_bench[kMaxDevices];

int bench_state(BenchState** out) {
  int dev = 0;
  GG_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= kMaxDevices)
    return gg_fail(GG_ERR_UNSUPPORTED, "", "device ordinal %d is beyond this library's limit of %d", dev, kMaxDevices);
  BenchState& s = g_bench[dev];
  if (!s.ready) {
    GG_CHECK(cudaEventCreate(&s.start));
    GG_CHECK(cudaEventCreate(&s.stop));
    void* p = nullptr;
    GG_CHECK(cudaMalloc(&p, sizeof(unsigned)));
    s.sink = static_cast<unsigned*>(p);
    s.ready = true;
  }
  *out = &s;
  return GG_OK;
}

int check_bufs(const char* fn, void* const* bufs, int32_t n_bufs) {
  if (bufs == nullptr || n_bufs < 1)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: need at least one buffer (got %d)", fn, (int)n_bufs);
  for (int32_t i = 0; i < n_bufs; ++i)
    if (bufs[i] == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "%s: buffer %d is null", fn, (int)i);
  return GG_OK;
}

/* Reads n16 16-byte vectors (4 independent loads in flight per thread per step) and `tail` more
 * bytes, folds them into a checksum, and stores it only if it equals a magic value, so the loads
 * cannot be optimised away but nothing is written in practice. */
__global__ void __launch_bounds__(256) read_kernel(const uint4* __restrict__ p, int64_t n16, int tail,
                                                   unsigned* __restrict__ sink) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  unsigned acc = 0u;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    const uint4 a = __ldg(p + i);
    const uint4 b = __ldg(p + i + stride);
    const uint4 c = __ldg(p + i + 2 * stride);
    const uint4 d = __ldg(p + i + 3 * stride);
    acc ^= (a.x ^ a.y ^ a.z ^ a.w) + (b.x ^ b.y ^ b.z ^ b.w) + (c.x ^ c.y ^ c.z ^ c.w) + (d.x ^ d.y ^ d.z ^ d.w);
  }
  for (; i < n16; i += stride) {
    const uint4 a = __ldg(p + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    const uint8_t* t = reinterpret_cast<const uint8_t*>(p + n16);
    for (int k = 0; k < tail; ++k) acc += t[k];
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

}  // namespace

int gg_bench_check_args(int32_t warmup, int32_t launches, int32_t samples, const float* out_us) {
  if (warmup < 0 || launches < 1 || samples < 1 || out_us == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "",
                   "bench: need warmup >= 0, launches >= 1, samples >= 1 and an output array (got %d, %d, %d, %s)",
                   (int)warmup, (int)launches, (int)samples, out_us ? "array" : "null");
  return GG_OK;
}

int gg_bench_events(cudaEvent_t* start, cudaEvent_t* stop) {
  BenchState* s = nullptr;
  GG_TRY(bench_state(&s));
  *start = s->start;
  *stop = s->stop;
  return GG_OK;
}

extern "C" GG_API int gg_bench_read(void* const* bufs, int32_t n_bufs, uint64_t bytes, int32_t warmup,
                                    int32_t launches, int32_t samples, float* out_us) {
  GG_TRY(check_bufs("gg_bench_read", bufs, n_bufs));
  for (int32_t i = 0; i < n_bufs; ++i)
    if ((reinterpret_cast<uintptr_t>(bufs[i]) & 15u) != 0)
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_read: buffer %d is not 16-byte aligned", (int)i);
  if (bytes == 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_read: zero bytes");
  BenchState* bs = nullptr;
  GG_TRY(bench_state(&bs));
  int sms = 0;
  GG_TRY(gg_sm_count(&sms));
  const int64_t n16 = (int64_t)(bytes / 16);
  const int tail = (int)(bytes % 16);
  int64_t grid = (int64_t)sms * 8; /* 2048 threads per SM, 4 x 16 B in flight each */
  const int64_t need = (n16 + 255) / 256;
  if (grid > need) grid = need > 0 ? need : 1;
  cudaStream_t s = gg_compute_stream();
  return gg_time_launches(warmup, launches, samples, out_us, [&](int64_t i) {
    read_kernel<<<(unsigned)grid, 256, 0, s>>>(static_cast<const uint4*>(bufs[i % n_bufs]), n16, tail, bs->sink);
    GG_CHECK_LAUNCH("read_kernel<<<grid, 256>>>");
    return (int)GG_OK;
  });
}

extern "C" GG_API int gg_bench_copy(void* dst, const void* src, uint64_t bytes, int32_t warmup, int32_t launches,
                                    int32_t samples, float* out_us) {
  if (dst == nullptr || src == nullptr || bytes == 0)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_copy: need two buffers and a nonzero size");
  cudaStream_t s = gg_compute_stream();
  return gg_time_launches(warmup, launches, samples, out_us, [&](int64_t) {
    GG_CHECK(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice, s));
    return (int)GG_OK;
  });
}

extern "C" GG_API int gg_bench_dequantize(int32_t ggml_type, void* const* srcs, int32_t n_bufs, void* dst,
                                          int64_t rows, int64_t row_len, int32_t out_dtype, int32_t warmup,
                                          int32_t launches, int32_t samples, float* out_us) {
  GG_TRY(check_bufs("gg_bench_dequantize", srcs, n_bufs));
  int64_t n = 0;
  GG_TRY(gg_dequant_check(ggml_type, srcs[0], dst, rows, row_len, out_dtype, &n));
  if (n == 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_dequantize: empty shape");
  cudaStream_t s = gg_compute_stream();
  return gg_time_launches(warmup, launches, samples, out_us, [&](int64_t i) {
    return gg_dequant_launch(ggml_type, srcs[i % n_bufs], dst, n, out_dtype, s);
  });
}

/* ------------------------------------------------------------------ dense GEMM baseline */

#if GG_HAVE_BLAS
namespace {

/* The few cuBLAS / hipBLAS entry points used, declared here (the library is dlopen'ed; no header
 * needed). Enum arguments are passed as int, as the C ABI does. Both GemmEx functions take the same
 * argument list; only the enum values differ. */
typedef int (*blas_create_fn)(void** handle);
typedef int (*blas_set_stream_fn)(void* handle, cudaStream_t stream);
typedef int (*blas_gemm_ex_fn)(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                               const void* A, int Atype, int lda, const void* B, int Btype, int ldb,
                               const void* beta, void* C, int Ctype, int ldc, int computeType, int algo);
typedef const char* (*blas_status_name_fn)(int status);

/* Enum values of one BLAS dialect. */
struct BlasEnums {
  int op_n, op_t;
  int r32f, r16f, r16bf;
  int compute32f;
  int gemm_default;
  int alloc_failed, not_initialized, execution_failed; /* statuses */
};
#if !GG_IS_HIP
/* cublas_api.h / library_types.h */
constexpr BlasEnums kCublas = {0, 1, 0, 2, 14, 68, -1, 3, 1, 13};
constexpr const char* kBlasName = "cuBLAS";
constexpr const char* kBlasEnv = "GGUF_GPU_CUBLAS";
const char* const kBlasLibs[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
#else
/* hipblas.h: the legacy hipblasDatatype_t values (ROCm 5, hipblasGemmEx), and the hipDataType /
 * hipblasComputeType_t values of the v2 API (hipblasGemmEx_v2 in ROCm 6, hipblasGemmEx from ROCm 7) */
constexpr BlasEnums kHipblasV1 = {111, 112, 151, 150, 168, 151, 160, 2, 1, 5};
constexpr BlasEnums kHipblasV2 = {111, 112, 0, 2, 14, 2, 160, 2, 1, 5};
constexpr const char* kBlasName = "hipBLAS";
constexpr const char* kBlasEnv = "GGUF_GPU_HIPBLAS";
const char* const kBlasLibs[] = {"libhipblas.so.3", "libhipblas.so.2", "libhipblas.so.1", "libhipblas.so.0", "libhipblas.so"};
#endif

struct Blas {
  bool tried;
  void* lib;
  char where[512];
  BlasEnums e;
  blas_create_fn create;
  blas_set_stream_fn set_stream;
  blas_gemm_ex_fn gemm_ex;
  blas_status_name_fn status_name;
  void* handle[kMaxDevices];
};
Blas g_blas;

/* Binds the entry points of an opened library; false when one is missing. */
bool blas_bind(void* h, const char* name) {
#if !GG_IS_HIP
  (void)name;
  g_blas.e = kCublas;
  g_blas.create = reinterpret_cast<blas_create_fn>(dlsym(h, "cublasCreate_v2"));
  g_blas.set_stream = reinterpret_cast<blas_set_stream_fn>(dlsym(h, "cublasSetStream_v2"));
  g_blas.gemm_ex = reinterpret_cast<blas_gemm_ex_fn>(dlsym(h, "cublasGemmEx"));
  g_blas.status_name = reinterpret_cast<blas_status_name_fn>(dlsym(h, "cublasGetStatusName"));
#else
  g_blas.create = reinterpret_cast<blas_create_fn>(dlsym(h, "hipblasCreate"));
  g_blas.set_stream = reinterpret_cast<blas_set_stream_fn>(dlsym(h, "hipblasSetStream"));
  g_blas.status_name = reinterpret_cast<blas_status_name_fn>(dlsym(h, "hipblasStatusToString"));
  g_blas.gemm_ex = reinterpret_cast<blas_gemm_ex_fn>(dlsym(h, "hipblasGemmEx_v2"));
  if (g_blas.gemm_ex != nullptr) {
    g_blas.e = kHipblasV2;
  } else {
    g_blas.gemm_ex = reinterpret_cast<blas_gemm_ex_fn>(dlsym(h, "hipblasGemmEx"));
    /* ROCm 7's libhipblas.so.3 dropped the legacy types: its hipblasGemmEx is the v2 one. The file
     * that was loaded decides (a symlink such as libhipblas.so names no version). */
    char real[4096] = "";
    struct link_map* lm = nullptr;
    const char* file = name;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != nullptr && lm->l_name != nullptr && realpath(lm->l_name, real) != nullptr)
      file = real;
    g_blas.e = strstr(file, ".so.3") != nullptr ? kHipblasV2 : kHipblasV1;
  }
#endif
  return g_blas.create && g_blas.set_stream && g_blas.gemm_ex;
}

int blas_load(void) {
  if (g_blas.lib != nullptr) return GG_OK;
  if (g_blas.tried) return gg_fail(GG_ERR_UNSUPPORTED, "", "%s is not available: %s", kBlasName, g_blas.where);
  g_blas.tried = true;
  const char* env = getenv(kBlasEnv);
  char tried[384] = "";
  for (int i = -1; i < (int)(sizeof kBlasLibs / sizeof kBlasLibs[0]); ++i) {
    const char* name = i < 0 ? env : kBlasLibs[i];
    if (name == nullptr || name[0] == '\0') continue;
    const size_t used = strlen(tried);
    snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", name);
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) continue;
    if (blas_bind(h, name)) {
      g_blas.lib = h;
      snprintf(g_blas.where, sizeof g_blas.where, "%s", name);
      return GG_OK;
    }
    dlclose(h);
  }
  snprintf(g_blas.where, sizeof g_blas.where, "dlopen found none of %s (set %s to its path)", tried, kBlasEnv);
  return gg_fail(GG_ERR_UNSUPPORTED, "", "%s is not available: %s", kBlasName, g_blas.where);
}

int blas_fail(int status, const char* what, int line) {
  const char* name = g_blas.status_name ? g_blas.status_name(status) : nullptr;
  char num[32];
  if (name == nullptr) {
    snprintf(num, sizeof num, "%s status %d", kBlasName, status);
    name = num;
  }
  const int st = status == g_blas.e.alloc_failed ? GG_ERR_OUT_OF_MEMORY
                 : status == g_blas.e.not_initialized ? GG_ERR_NO_DEVICE
                 : status == g_blas.e.execution_failed ? GG_ERR_LAUNCH
                                                       : GG_ERR_RUNTIME;
  (void)cudaGetLastError();
  return gg_fail(st, name, "%s failed: %s at bench.cu:%d", what, name, line);
}

int blas_handle(void** out) {
  GG_TRY(blas_load());
  int dev = 0;
  GG_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= kMaxDevices)
    return gg_fail(GG_ERR_UNSUPPORTED, "", "device ordinal %d is beyond this library's limit of %d", dev, kMaxDevices);
  if (g_blas.handle[dev] == nullptr) {
    void* h = nullptr;
    int r = g_blas.create(&h);
    if (r != 0) return blas_fail(r, "creating the BLAS handle", __LINE__);
    r = g_blas.set_stream(h, gg_compute_stream());
    if (r != 0) return blas_fail(r, "setting the BLAS handle's stream", __LINE__);
    g_blas.handle[dev] = h;
  }
  *out = g_blas.handle[dev];
  return GG_OK;
}

}  // namespace
#endif

extern "C" GG_API int gg_bench_blas(int32_t dtype, void* const* ws, int32_t n_bufs, const void* x, void* y,
                                    int64_t rows, int64_t row_len, int32_t batch, int32_t warmup, int32_t launches,
                                    int32_t samples, float* out_us) {
#if !GG_HAVE_BLAS
  (void)dtype; (void)ws; (void)n_bufs; (void)x; (void)y; (void)rows; (void)row_len; (void)batch;
  (void)warmup; (void)launches; (void)samples; (void)out_us;
  return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_bench_blas: this " GG_RUNTIME_NAME " build has no BLAS baseline");
#else
  GG_TRY(check_bufs("gg_bench_blas", ws, n_bufs));
  if (dtype != GG_DTYPE_F16 && dtype != GG_DTYPE_BF16)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_blas: dtype must be f16 (1) or bf16 (2), got %d", (int)dtype);
  if (x == nullptr || y == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_blas: null x or y");
  if (rows < 1 || row_len < 1 || batch < 1 || rows > 0x7fffffff || row_len > 0x7fffffff)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_blas: bad shape rows %lld, row_len %lld, batch %d",
                   (long long)rows, (long long)row_len, (int)batch);
  GG_TRY(gg_bench_check_args(warmup, launches, samples, out_us));
  void* h = nullptr;
  GG_TRY(blas_handle(&h));
  const BlasEnums& e = g_blas.e;
  const int ab = dtype == GG_DTYPE_F16 ? e.r16f : e.r16bf;
  const int m = (int)rows, n = (int)batch, k = (int)row_len;
  const float alpha = 1.0f, beta = 0.0f;
  /* column-major view: y (rows x batch, ld rows) = W^T (W stored k x rows, ld k) * x (k x batch) */
  return gg_time_launches(warmup, launches, samples, out_us, [&](int64_t i) {
    const int r = g_blas.gemm_ex(h, e.op_t, e.op_n, m, n, k, &alpha, ws[i % n_bufs], ab, k, x, ab, k, &beta, y, e.r32f,
                                 m, e.compute32f, e.gemm_default);
    if (r != 0) return blas_fail(r, "GemmEx(handle, T, N, rows, batch, row_len, ...)", __LINE__);
    GG_CHECK_LAUNCH("GemmEx kernel");
    return (int)GG_OK;
  });
#endif
}

/* ------------------------------------------------------------------ host -> device rate */

extern "C" GG_API int gg_bench_upload(uint64_t bytes, int32_t samples, double* out_bytes_per_s) {
  if (bytes == 0 || samples < 1 || out_bytes_per_s == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_bench_upload: need bytes > 0, samples >= 1 and an output");
  *out_bytes_per_s = 0.0;
  BenchState* bs = nullptr;
  GG_TRY(bench_state(&bs));
  void* host = nullptr;
  void* dev = nullptr;
  float* us = static_cast<float*>(malloc(sizeof(float) * (size_t)samples));
  if (us == nullptr) return gg_fail(GG_ERR_OUT_OF_MEMORY, "", "gg_bench_upload: malloc of %d floats failed", (int)samples);
  char what[96];
  int st = GG_OK;
  cudaError_t err = cudaHostAlloc(&host, (size_t)bytes, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    snprintf(what, sizeof what, "cudaHostAlloc(&host, %llu, cudaHostAllocPortable)", (unsigned long long)bytes);
    st = gg_fail_cuda(err, what, __FILE__, __LINE__, 0);
    host = nullptr;
  }
  if (st == GG_OK) st = gg_malloc(&dev, bytes);
  if (st == GG_OK) {
    memset(host, 0x5a, (size_t)bytes); /* touch every page */
    cudaStream_t s = gg_compute_stream();
    st = gg_time_launches(1, 1, samples, us, [&](int64_t) {
      GG_CHECK(cudaMemcpyAsync(dev, host, (size_t)bytes, cudaMemcpyHostToDevice, s));
      return (int)GG_OK;
    });
  }
  if (st == GG_OK) {
    /* median sample */
    for (int32_t a = 1; a < samples; ++a)
      for (int32_t b = a; b > 0 && us[b - 1] > us[b]; --b) {
        const float t = us[b];
        us[b] = us[b - 1];
        us[b - 1] = t;
      }
    const double med = samples % 2 ? us[samples / 2] : 0.5 * ((double)us[samples / 2 - 1] + us[samples / 2]);
    *out_bytes_per_s = med > 0.0 ? (double)bytes / (med * 1e-6) : 0.0;
  }
  if (dev != nullptr) {
    const int st2 = gg_free(dev);
    if (st == GG_OK) st = st2;
  }
  if (host != nullptr) {
    const int st2 = GG_CK(cudaFreeHost(host));
    if (st == GG_OK) st = st2;
  }
  free(us);
  return st;
}
