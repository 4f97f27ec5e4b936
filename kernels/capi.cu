/* gguf-gpu: the C ABI (kernels/gguf_gpu.h) apart from dequant kernels, benchmarks and matmul:
 * errors, library facts, devices, device memory, uploads and downloads, gg_dequantize.
 *
 * Also gg_debug_fail_launch, a deliberately failing launch for the fault tests.
 *
 * Nothing here throws or exits; every runtime call is checked (GG_CHECK / GG_CK) and a failure
 * leaves "call failed: cudaErrorX (text) at capi.cu:123" in gg_last_error().
 */
#include "internal.h"
#include "blocks.h"
#include "upload_pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <vector>

static_assert(sizeof(gg_device_info) == 304, "gg_device_info layout is shared with src/gpu/device.ts");

/* ------------------------------------------------------------------------------- errors */

static char g_error[2048];
static char g_error_name[96];

static const char* base_name(const char* path) {
  const char* b = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/' || *p == '\\') b = p + 1;
  return b;
}

static void set_name(const char* name) {
  snprintf(g_error_name, sizeof g_error_name, "%s", name ? name : "");
}

int gg_fail(int status, const char* name, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_error, sizeof g_error, fmt, ap);
  va_end(ap);
  set_name(name);
  return status;
}

int gg_map_error(cudaError_t err, int launch) {
  switch (err) {
    case cudaSuccess:
      return GG_OK;
    case cudaErrorMemoryAllocation:
      return GG_ERR_OUT_OF_MEMORY;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
#if !GG_IS_HIP
    case cudaErrorStubLibrary:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
#endif
      return GG_ERR_NO_DEVICE;
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchOutOfResources:
    case cudaErrorLaunchTimeout:
    case cudaErrorInvalidConfiguration:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
    case cudaErrorAssert:
#if !GG_IS_HIP
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
#endif
      return GG_ERR_LAUNCH;
    default:
      return launch ? GG_ERR_LAUNCH : GG_ERR_RUNTIME;
  }
}

int gg_fail_cuda(cudaError_t err, const char* what, const char* file, int line, int launch) {
  const char* name = cudaGetErrorName(err);
  const char* text = cudaGetErrorString(err);
  gg_fail(gg_map_error(err, launch), name, "%s failed: %s (%s) at %s:%d", what, name ? name : "?",
          text ? text : "?", base_name(file), line);
  /* clear the runtime's last-error slot; sticky errors (a faulted context) stay, as they must */
  (void)cudaGetLastError();
  return gg_map_error(err, launch);
}

extern "C" GG_API const char* gg_last_error(void) { return g_error; }
extern "C" GG_API const char* gg_last_error_name(void) { return g_error_name; }

/* -------------------------------------------------------------------------- library facts */

extern "C" GG_API int gg_version(void) { return GG_ABI_VERSION; }

extern "C" GG_API int gg_type_layout(int32_t ggml_type, int32_t* block_size, int32_t* type_size) {
  if (block_size == nullptr || type_size == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_type_layout: null output pointer");
  int qk = 0, ts = 0;
  if (!gg_block_layout(ggml_type, &qk, &ts)) {
    *block_size = 0;
    *type_size = 0;
    return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_type_layout: ggml type %d is not supported by this library",
                   (int)ggml_type);
  }
  *block_size = qk;
  *type_size = ts;
  return GG_OK;
}

/* -------------------------------------------------------------------------------- devices */

namespace {

constexpr int kMaxDevices = 64;
/* Pinned staging: two buffers of this size. Uploads cycle through all 32 MiB of it: on the H100
 * host that reached 83-85% of the pinned bandwidth where 128 MiB reached 75-80%, in the same runs
 * (scripts/upload-probe.js; likely because the pieces are still in the CPU's cache when the copy
 * engine reads them). */
constexpr size_t kChunk = (size_t)16 << 20;

struct DevState {
  bool ready;
  int sm_count;
  cudaStream_t copy;   /* uploads */
  cudaEvent_t ev[2];   /* downloads: one per staging buffer */
  cudaEvent_t compute; /* "compute stream reached here", for uploads to wait on */
  int n_slot_ev;       /* uploads: one event per staging slot, created on first use */
  cudaEvent_t slot_ev[gg_pipe::kMaxSlots];
};
DevState g_dev[kMaxDevices];
uint8_t* g_stage[2]; /* pinned, portable, one allocation (see staging()); released by process exit */

int current_device(int* dev) {
  GG_CHECK(cudaGetDevice(dev));
  if (*dev < 0 || *dev >= kMaxDevices)
    return gg_fail(GG_ERR_UNSUPPORTED, "", "device ordinal %d is beyond this library's limit of %d", *dev,
                   kMaxDevices);
  return GG_OK;
}

int dev_state(DevState** out) {
  int dev = 0;
  GG_TRY(current_device(&dev));
  DevState& s = g_dev[dev];
  if (!s.ready) {
    GG_CHECK(cudaDeviceGetAttribute(&s.sm_count, cudaDevAttrMultiProcessorCount, dev));
    GG_CHECK(cudaStreamCreateWithFlags(&s.copy, cudaStreamNonBlocking));
    for (int i = 0; i < 2; ++i) GG_CHECK(cudaEventCreateWithFlags(&s.ev[i], cudaEventDisableTiming));
    GG_CHECK(cudaEventCreateWithFlags(&s.compute, cudaEventDisableTiming));
    s.ready = true;
  }
  *out = &s;
  return GG_OK;
}

/* One allocation for both buffers: the upload pipeline joins neighbouring slots into one copy, and
 * a copy must not run from one pinned allocation into another. */
int staging(void) {
  if (g_stage[0] != nullptr) return GG_OK;
  void* p = nullptr;
  cudaError_t err = cudaHostAlloc(&p, 2 * kChunk, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    char what[96];
    snprintf(what, sizeof what, "cudaHostAlloc(&staging, %zu, cudaHostAllocPortable)", 2 * kChunk);
    return gg_fail_cuda(err, what, __FILE__, __LINE__, 0);
  }
  g_stage[0] = static_cast<uint8_t*>(p);
  g_stage[1] = g_stage[0] + kChunk;
  return GG_OK;
}

int slot_events(DevState* s, int n) {
  for (; s->n_slot_ev < n; ++s->n_slot_ev)
    GG_CHECK(cudaEventCreateWithFlags(&s->slot_ev[s->n_slot_ev], cudaEventDisableTiming));
  return GG_OK;
}

int check_device_ordinal(int32_t device) {
  int count = 0;
  GG_CHECK(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "device %d does not exist (%d device%s)", (int)device, count,
                   count == 1 ? "" : "s");
  return GG_OK;
}

}  // namespace

int gg_sm_count(int* out) {
  DevState* s = nullptr;
  GG_TRY(dev_state(&s));
  *out = s->sm_count;
  return GG_OK;
}

extern "C" GG_API int gg_device_count(int32_t* count) {
  if (count == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_device_count: null output pointer");
  *count = 0;
  int n = 0;
  GG_CHECK(cudaGetDeviceCount(&n));
  *count = n;
  return GG_OK;
}

extern "C" GG_API int gg_device_get_info(int32_t device, gg_device_info* info) {
  if (info == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_device_get_info: null output pointer");
  memset(info, 0, sizeof *info);
  GG_TRY(check_device_ordinal(device));
  cudaDeviceProp prop;
  memset(&prop, 0, sizeof prop);
  GG_CHECK(cudaGetDeviceProperties(&prop, device));
  snprintf(info->name, sizeof info->name, "%s", prop.name);
  info->cc_major = prop.major;
  info->cc_minor = prop.minor;
  info->sm_count = prop.multiProcessorCount;
  info->l2_bytes = prop.l2CacheSize;
  info->total_bytes = prop.totalGlobalMem;
#if GG_IS_HIP
  info->is_hip = 1;
  info->max_shared_per_block_optin = (int32_t)prop.sharedMemPerBlock;
#else
  info->is_hip = 0;
  info->max_shared_per_block_optin = (int32_t)prop.sharedMemPerBlockOptin;
#endif
  int v = 0;
  GG_CHECK(cudaRuntimeGetVersion(&v));
  info->runtime_version = v;
  v = 0;
  GG_CHECK(cudaDriverGetVersion(&v));
  info->driver_version = v;
  /* free memory is per current device: switch over for the query, then back */
  int prev = 0;
  GG_CHECK(cudaGetDevice(&prev));
  if (prev != device) GG_CHECK(cudaSetDevice(device));
  size_t free_b = 0, total_b = 0;
  const int st = GG_CK(cudaMemGetInfo(&free_b, &total_b));
  if (prev != device) {
    const int st2 = GG_CK(cudaSetDevice(prev));
    if (st == GG_OK && st2 != GG_OK) return st2;
  }
  if (st != GG_OK) return st;
  info->free_bytes = free_b;
  return GG_OK;
}

extern "C" GG_API int gg_set_device(int32_t device) {
  GG_TRY(check_device_ordinal(device));
  GG_CHECK(cudaSetDevice(device));
  return GG_OK;
}

extern "C" GG_API int gg_mem_info(uint64_t* free_bytes, uint64_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_mem_info: null output pointer");
  size_t f = 0, t = 0;
  GG_CHECK(cudaMemGetInfo(&f, &t));
  *free_bytes = f;
  *total_bytes = t;
  return GG_OK;
}

/* ------------------------------------------------------------------------- device memory */

extern "C" GG_API int gg_malloc(void** ptr, uint64_t bytes) {
  if (ptr == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_malloc: null output pointer");
  *ptr = nullptr;
  if (bytes == 0) return GG_OK;
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, (size_t)bytes);
  if (err != cudaSuccess) {
    char what[96];
    snprintf(what, sizeof what, "cudaMalloc(&p, %llu)", (unsigned long long)bytes);
    const int st = gg_fail_cuda(err, what, __FILE__, __LINE__, 0);
    if (st == GG_ERR_OUT_OF_MEMORY) {
      size_t f = 0, t = 0;
      if (cudaMemGetInfo(&f, &t) == cudaSuccess) {
        const size_t len = strlen(g_error);
        snprintf(g_error + len, sizeof g_error - len, "; requested %llu bytes, %llu of %llu bytes free",
                 (unsigned long long)bytes, (unsigned long long)f, (unsigned long long)t);
      }
      (void)cudaGetLastError();
    }
    return st;
  }
  *ptr = p;
  return GG_OK;
}

extern "C" GG_API int gg_free(void* ptr) {
  if (ptr == nullptr) return GG_OK;
  GG_CHECK(cudaFree(ptr));
  return GG_OK;
}

extern "C" GG_API int gg_memset(void* ptr, int32_t byte_value, uint64_t bytes) {
  if (bytes == 0) return GG_OK;
  if (ptr == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_memset: null pointer");
  GG_CHECK(cudaMemsetAsync(ptr, byte_value & 0xff, (size_t)bytes, gg_compute_stream()));
  return GG_OK;
}

extern "C" GG_API int gg_synchronize(void) {
  GG_CHECK(cudaDeviceSynchronize());
  return GG_OK;
}

/* ------------------------------------------------------------------ uploads and downloads */

namespace {

/* How uploads cut their work (upload_pipeline.h): pieces of 1 MiB through the two pinned buffers
 * (32 slots), filled by gg_pipe::default_threads() threads (14 on a 16-thread host). Tuning knobs for experiments
 * (environment, read once): GG_UPLOAD_PIECE_KB, a power of two from 256 to 16384;
 * GG_UPLOAD_THREADS, 1 (fill on the calling thread) to 16. */
gg_pipe::Plan read_upload_plan() {
  gg_pipe::Plan plan;
  size_t kb = 1024;
  if (const char* v = getenv("GG_UPLOAD_PIECE_KB")) {
    const long k = atol(v);
    if (k >= 256 && k <= (long)(kChunk >> 10) && (k & (k - 1)) == 0) kb = (size_t)k;
  }
  plan.piece = kb << 10;
  plan.slots = (int)(2 * kChunk / plan.piece);
  plan.threads = gg_pipe::default_threads();
  if (const char* v = getenv("GG_UPLOAD_THREADS")) {
    const int t = atoi(v);
    if (t >= 1 && t <= gg_pipe::kMaxThreads) plan.threads = t;
  }
  return plan;
}
const gg_pipe::Plan& upload_plan() {
  static const gg_pipe::Plan plan = read_upload_plan();
  return plan;
}

/* GG_UPLOAD_TRACE=1 (read once): two lines per upload on stderr saying where its time went (see
 * scripts/upload-probe.js): when pieces finished filling, and per copy when it was queued (host
 * clock) and when it was done (GPU clock, from an event recorded on the idle copy stream at the
 * start; the two clocks start within microseconds of each other, but the copies also wait for
 * compute work queued before the call). Microseconds from the start of the call. Diagnostic only:
 * its runtime calls are not checked, and their errors are cleared. */
struct UploadTrace {
  using clock = std::chrono::steady_clock;
  const clock::time_point t0 = clock::now();
  std::atomic<int64_t> fill_ns{0}, first_fill{INT64_MAX}, last_fill{0};
  int64_t slot_wait_ns = 0;
  int slot_waits = 0;
  cudaEvent_t start = nullptr;
  std::vector<cudaEvent_t> done;
  std::vector<int64_t> queued;

  static bool enabled() {
    static const bool on = [] { const char* v = getenv("GG_UPLOAD_TRACE"); return v && *v && *v != '0'; }();
    return on;
  }
  int64_t now() const { return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count(); }
  void begin(cudaStream_t s) {
    (void)cudaEventCreate(&start);
    (void)cudaEventRecord(start, s);
    (void)cudaGetLastError(); /* a failure here must not surface as a later call's */
  }
  void filled(int64_t from, int64_t to) { /* any thread */
    fill_ns += to - from;
    for (int64_t v = first_fill.load(); to < v && !first_fill.compare_exchange_weak(v, to);) {}
    for (int64_t v = last_fill.load(); to > v && !last_fill.compare_exchange_weak(v, to);) {}
  }
  void copied(cudaStream_t s, int64_t at) {
    cudaEvent_t e = nullptr;
    (void)cudaEventCreate(&e);
    (void)cudaEventRecord(e, s);
    (void)cudaGetLastError();
    done.push_back(e);
    queued.push_back(at);
  }
  void print(uint64_t bytes, int threads) {
    fprintf(stderr, "upload-trace bytes=%llu threads=%d total=%.0f first_fill=%.0f last_fill=%.0f fill_busy=%.0f slot_waits=%d (%.0f)\n",
            (unsigned long long)bytes, threads, now() * 1e-3, first_fill.load() * 1e-3, last_fill.load() * 1e-3,
            fill_ns.load() * 1e-3, slot_waits, slot_wait_ns * 1e-3);
    fprintf(stderr, "upload-trace copies queued->done:");
    for (size_t i = 0; i < done.size(); ++i) {
      float ms = 0;
      (void)cudaEventElapsedTime(&ms, start, done[i]);
      fprintf(stderr, " %.0f->%.0f", queued[i] * 1e-3, ms * 1e3);
      (void)cudaEventDestroy(done[i]);
    }
    fprintf(stderr, "\n");
    (void)cudaEventDestroy(start);
    (void)cudaGetLastError();
  }
};

template <class Fill>
struct TracedFill {
  const Fill& fill;
  UploadTrace* trace;
  int operator()(uint8_t* buf, uint64_t off, size_t n, gg_pipe::FillError* e) const {
    const int64_t from = trace->now();
    const int st = fill(buf, off, n, e);
    trace->filled(from, trace->now());
    return st;
  }
};

/* The runtime side of the pipeline: slot s is piece-sized, in staging buffer s / (slots / 2). */
struct CopyOps {
  DevState* ds;
  uint8_t* dst;
  size_t piece;
  int per_buffer;
  UploadTrace* trace; /* null unless GG_UPLOAD_TRACE */

  uint8_t* slot(int s) const { return g_stage[s / per_buffer] + (size_t)(s % per_buffer) * piece; }
  int copy(int s, uint64_t dst_offset, size_t n) {
    const int64_t at = trace ? trace->now() : 0;
    GG_CHECK(cudaMemcpyAsync(dst + dst_offset, slot(s), n, cudaMemcpyHostToDevice, ds->copy));
    GG_CHECK(cudaEventRecord(ds->slot_ev[s], ds->copy));
    if (trace) trace->copied(ds->copy, at);
    return GG_OK;
  }
  int poll(int s, bool* idle) {
    const cudaError_t err = cudaEventQuery(ds->slot_ev[s]);
    *idle = err == cudaSuccess;
    if (err == cudaErrorNotReady) {
      (void)cudaGetLastError(); /* "not ready" is an answer, not an error */
      return GG_OK;
    }
    return gg_ck(err, "cudaEventQuery(ds->slot_ev[s])", __FILE__, __LINE__);
  }
  int wait(int s) {
    const int64_t from = trace ? trace->now() : 0;
    GG_CHECK(cudaEventSynchronize(ds->slot_ev[s]));
    if (trace) {
      trace->slot_wait_ns += trace->now() - from;
      ++trace->slot_waits;
    }
    return GG_OK;
  }
  int fail_fill(const gg_pipe::FillError& e) {
    if (e.sys_errno != 0)
      return gg_fail(e.status, "", "%s: %s (errno %d)", e.text, strerror(e.sys_errno), e.sys_errno);
    return gg_fail(e.status, "", "%s", e.text);
  }
};

/* Host -> device through the pinned staging buffers (see upload_pipeline.h): the source is read
 * by several threads into staging slots while earlier slots copy. Ordered after the work queued
 * on the compute stream; always leaves the copy stream and the staging buffers idle. */
template <class Fill>
int staged_upload(uint8_t* dst, uint64_t bytes, const Fill& fill) {
  UploadTrace trace_store;
  UploadTrace* trace = UploadTrace::enabled() ? &trace_store : nullptr;
  DevState* ds = nullptr;
  GG_TRY(dev_state(&ds));
  GG_TRY(staging());
  const gg_pipe::Plan& plan = upload_plan();
  GG_TRY(slot_events(ds, plan.slots));
  if (trace) trace->begin(ds->copy); /* before the wait below: the copy stream is idle here */
  /* writes must not overtake compute work already queued on the same memory */
  GG_CHECK(cudaEventRecord(ds->compute, gg_compute_stream()));
  GG_CHECK(cudaStreamWaitEvent(ds->copy, ds->compute, 0));
  CopyOps ops{ds, dst, plan.piece, plan.slots / 2, trace};
  const int st = trace ? gg_pipe::run(ops, TracedFill<Fill>{fill, trace}, bytes, plan) : gg_pipe::run(ops, fill, bytes, plan);
  const cudaError_t sync = cudaStreamSynchronize(ds->copy);
  if (trace) trace->print(bytes, plan.threads);
  if (st != GG_OK) {
    (void)cudaGetLastError(); /* keep the first failure's message */
    return st;
  }
  return gg_ck(sync, "cudaStreamSynchronize(ds->copy)", __FILE__, __LINE__);
}

}  // namespace

extern "C" GG_API int gg_upload(void* dst, const void* src, uint64_t bytes) {
  if (bytes == 0) return GG_OK;
  if (dst == nullptr || src == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_upload: null %s pointer", dst == nullptr ? "destination" : "source");
  return staged_upload(static_cast<uint8_t*>(dst), bytes, gg_pipe::MemoryFill{static_cast<const uint8_t*>(src)});
}

extern "C" GG_API int gg_upload_file(void* dst, int32_t fd, uint64_t file_offset, uint64_t bytes) {
#if defined(_WIN32)
  (void)dst; (void)fd; (void)file_offset; (void)bytes;
  return gg_fail(GG_ERR_UNSUPPORTED, "", "gg_upload_file: not available on Windows");
#else
  if (bytes == 0) return GG_OK;
  if (dst == nullptr) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_upload_file: null destination pointer");
  if (fd < 0) return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_upload_file: bad file descriptor %d", (int)fd);
  if (file_offset > (uint64_t)INT64_MAX - bytes)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_upload_file: offset %llu + %llu bytes overflows",
                   (unsigned long long)file_offset, (unsigned long long)bytes);
  return staged_upload(static_cast<uint8_t*>(dst), bytes, gg_pipe::FileFill{(int)fd, file_offset, bytes});
#endif
}

extern "C" GG_API int gg_download(void* dst, const void* src, uint64_t bytes) {
  if (bytes == 0) return GG_OK;
  if (dst == nullptr || src == nullptr)
    return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_download: null %s pointer", dst == nullptr ? "destination" : "source");
  DevState* ds = nullptr;
  GG_TRY(dev_state(&ds));
  GG_TRY(staging());
  /* device -> pinned on the compute stream (after the kernels that wrote src), pinned -> dst on
   * the host while the next chunk copies into the other buffer */
  cudaStream_t s = gg_compute_stream();
  const uint8_t* from = static_cast<const uint8_t*>(src);
  uint8_t* to = static_cast<uint8_t*>(dst);
  const uint64_t n_chunks = (bytes + kChunk - 1) / kChunk;
  auto chunk_len = [&](uint64_t c) { return (size_t)(c + 1 < n_chunks ? kChunk : bytes - c * kChunk); };
  auto issue = [&](uint64_t c) {
    const int b = (int)(c & 1);
    int st = GG_CK(cudaMemcpyAsync(g_stage[b], from + c * kChunk, chunk_len(c), cudaMemcpyDeviceToHost, s));
    if (st == GG_OK) st = GG_CK(cudaEventRecord(ds->ev[b], s));
    return st;
  };
  int st = issue(0);
  for (uint64_t c = 0; st == GG_OK && c < n_chunks; ++c) {
    if (c + 1 < n_chunks && (st = issue(c + 1)) != GG_OK) break;
    if ((st = GG_CK(cudaEventSynchronize(ds->ev[c & 1]))) != GG_OK) break;
    memcpy(to + c * kChunk, g_stage[c & 1], chunk_len(c));
  }
  if (st != GG_OK) (void)cudaStreamSynchronize(s); /* the staging buffers must be idle on return */
  return st;
}

/* ------------------------------------------------------------------------ dequantization */

extern "C" GG_API int gg_dequantize(int32_t ggml_type, const void* src, void* dst, int64_t rows, int64_t row_len,
                                    int32_t out_dtype) {
  int64_t n = 0;
  GG_TRY(gg_dequant_check(ggml_type, src, dst, rows, row_len, out_dtype, &n));
  if (n == 0) return GG_OK;
  return gg_dequant_launch(ggml_type, src, dst, n, out_dtype, gg_compute_stream());
}

/* ----------------------------------------------------------------------------- debugging */

namespace {
__global__ void k_debug_noop(int* out) {
  if (out != nullptr) *out = 0;
}
}  // namespace

extern "C" GG_API int gg_debug_fail_launch(int32_t how) {
  switch (how) {
    case 0:
      /* 4096 threads per block: more than any device allows (1024), so the launch itself fails
       * with cudaErrorInvalidConfiguration (HIP: hipErrorInvalidConfiguration), a non-sticky error */
      k_debug_noop<<<1, 4096, 0, gg_compute_stream()>>>(nullptr);
      GG_CHECK_LAUNCH("k_debug_noop<<<1, 4096>>> (a deliberately invalid launch)");
      return gg_fail(GG_ERR_RUNTIME, "", "gg_debug_fail_launch: the runtime accepted a launch of 4096 threads per block");
    default:
      return gg_fail(GG_ERR_INVALID_ARGUMENT, "", "gg_debug_fail_launch: no failure number %d (0: invalid launch configuration)",
                     (int)how);
  }
}
