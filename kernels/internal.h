/* gguf-gpu: what the .cu files of the library share with each other (not part of the ABI).
 *
 * Error handling: every runtime call goes through GG_CHECK, every kernel launch is followed by
 * GG_CHECK_LAUNCH. Both record "call failed: cudaErrorX (text) at file.cu:123" as the last error,
 * clear the runtime's non-sticky error state, and return the mapped gg_status from the enclosing
 * function (which must return int).
 *
 * Streams: kernels, device->host copies, memsets and benchmarks run on gg_compute_stream(), the
 * legacy default stream, so work from every .cu file is ordered without extra events. Uploads use
 * a private stream and wait for the compute stream first (capi.cu).
 */
#ifndef GG_INTERNAL_H
#define GG_INTERNAL_H

#include "compat.h"
#include "gguf_gpu.h"

#include <stdint.h>

/* Records a failure with a printf-style message; returns status. name may be NULL or "". */
int gg_fail(int status, const char* name, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Records a failed runtime call (what = the call's text) and returns its mapped status.
 * `launch` nonzero maps every error but out-of-memory and no-device to GG_ERR_LAUNCH. */
int gg_fail_cuda(cudaError_t err, const char* what, const char* file, int line, int launch);

/* Status for a runtime error code (no recording). */
int gg_map_error(cudaError_t err, int launch);

#define GG_CHECK(call)                                                                  \
  do {                                                                                  \
    cudaError_t gg_err_ = (call);                                                       \
    if (gg_err_ != cudaSuccess) return gg_fail_cuda(gg_err_, #call, __FILE__, __LINE__, 0); \
  } while (0)

#define GG_CHECK_LAUNCH(what)                                                           \
  do {                                                                                  \
    cudaError_t gg_err_ = cudaGetLastError();                                           \
    if (gg_err_ != cudaSuccess) return gg_fail_cuda(gg_err_, what, __FILE__, __LINE__, 1); \
  } while (0)

/* Checks a runtime call without returning: evaluates to GG_OK or the recorded status. For paths
 * that must clean up (synchronize a stream, free a buffer) before returning. */
#define GG_CK(call) gg_ck((call), #call, __FILE__, __LINE__)
static inline int gg_ck(cudaError_t err, const char* what, const char* file, int line) {
  return err == cudaSuccess ? GG_OK : gg_fail_cuda(err, what, file, line, 0);
}

/* Propagates a nonzero status. */
#define GG_TRY(expr)                 \
  do {                               \
    int gg_st_ = (expr);             \
    if (gg_st_ != GG_OK) return gg_st_; \
  } while (0)

static inline cudaStream_t gg_compute_stream(void) { return (cudaStream_t)0; }

/* Multiprocessor count of the current device (cached per device). */
int gg_sm_count(int* out);

/* dequant.cu: decode n_elems weights (a multiple of the type's block size) of `type` from raw
 * blocks at src into dst as f32/f16/bf16, one launch on `stream`. Arguments must already be
 * validated (supported type, n_elems > 0, non-null pointers). */
int gg_dequant_launch(int32_t type, const void* src, void* dst, int64_t n_elems, int32_t out_dtype,
                      cudaStream_t stream);

/* Argument checks shared by gg_dequantize and gg_bench_dequantize; sets *n_elems. */
int gg_dequant_check(int32_t type, const void* src, const void* dst, int64_t rows, int64_t row_len,
                     int32_t out_dtype, int64_t* n_elems);

/* Timing loop shared by the gg_bench_* functions (and gg_bench_matmul in matmul.cu):
 * `warmup` calls, then `samples` samples of `launches` back-to-back calls bracketed by events on
 * the compute stream; out_us[s] = elapsed microseconds / launches. launch(i) issues call number i
 * (counting from 0 across warmup and samples, so i % n_bufs rotates buffers) and returns a
 * gg_status; it must check its own launch with GG_CHECK_LAUNCH. */
int gg_bench_events(cudaEvent_t* start, cudaEvent_t* stop);
int gg_bench_check_args(int32_t warmup, int32_t launches, int32_t samples, const float* out_us);

template <class F>
int gg_time_launches(int32_t warmup, int32_t launches, int32_t samples, float* out_us, F&& launch) {
  GG_TRY(gg_bench_check_args(warmup, launches, samples, out_us));
  cudaEvent_t start, stop;
  GG_TRY(gg_bench_events(&start, &stop));
  cudaStream_t s = gg_compute_stream();
  int64_t i = 0;
  for (int32_t w = 0; w < warmup; ++w) GG_TRY(launch(i++));
  for (int32_t k = 0; k < samples; ++k) {
    GG_CHECK(cudaEventRecord(start, s));
    for (int32_t l = 0; l < launches; ++l) GG_TRY(launch(i++));
    GG_CHECK(cudaEventRecord(stop, s));
    GG_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    GG_CHECK(cudaEventElapsedTime(&ms, start, stop));
    out_us[k] = ms * 1000.0f / (float)launches;
  }
  return GG_OK;
}

#endif /* GG_INTERNAL_H */
