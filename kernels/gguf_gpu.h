/* gguf-gpu: the plain C ABI of the kernel library (libgguf_gpu.so).
 *
 * Every function returns a status: 0 (GG_OK) on success, nonzero on failure; gg_last_error() then
 * describes the failure (the failing call, its CUDA/HIP error name, file and line). Nothing here
 * throws, aborts or exits. Device pointers cross the ABI as void*; sizes and counts are 64-bit.
 * Functions are not thread-safe: call them from one host thread (Node's main thread).
 */
#ifndef GGUF_GPU_H
#define GGUF_GPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define GG_API __declspec(dllexport)
#else
#define GG_API __attribute__((visibility("default")))
#endif

/* What gg_version() returns; bumped on any incompatible change to this header. */
#define GG_ABI_VERSION 4 /* 4: gg_matmul_kernel_name takes row_len */

enum gg_status {
  GG_OK = 0,
  GG_ERR_INVALID_ARGUMENT = 1, /* bad pointer, size or unsupported type/shape */
  GG_ERR_NO_DEVICE = 2,        /* no GPU, or the driver is missing/too old */
  GG_ERR_OUT_OF_MEMORY = 3,    /* device or pinned host memory exhausted */
  GG_ERR_LAUNCH = 4,           /* kernel launch or execution failure */
  GG_ERR_IO = 5,               /* reading the file failed (gg_upload_file) */
  GG_ERR_UNSUPPORTED = 6,      /* the operation is not built into this library */
  GG_ERR_RUNTIME = 7           /* any other CUDA/HIP runtime error */
};

enum gg_dtype { GG_DTYPE_F32 = 0, GG_DTYPE_F16 = 1, GG_DTYPE_BF16 = 2 };

typedef struct gg_device_info {
  char name[256];
  int32_t cc_major;
  int32_t cc_minor;
  int32_t sm_count;
  int32_t l2_bytes;
  uint64_t total_bytes;
  uint64_t free_bytes;
  int32_t is_hip; /* 1 when built with HIP */
  int32_t runtime_version;
  int32_t driver_version;
  int32_t max_shared_per_block_optin;
} gg_device_info;

/* Errors and library facts */
GG_API const char* gg_last_error(void);
/* Name of the runtime error in the last failure, e.g. "cudaErrorMemoryAllocation" ("" if none). */
GG_API const char* gg_last_error_name(void);
GG_API int gg_version(void); /* GG_ABI_VERSION of the build */
/* Bytes per block and weights per block this library was compiled with, for a ggml type id;
 * returns GG_ERR_UNSUPPORTED for types it cannot dequantize. */
GG_API int gg_type_layout(int32_t ggml_type, int32_t* block_size, int32_t* type_size);

/* Devices */
GG_API int gg_device_count(int32_t* count);
GG_API int gg_device_get_info(int32_t device, gg_device_info* info);
GG_API int gg_set_device(int32_t device);
GG_API int gg_mem_info(uint64_t* free_bytes, uint64_t* total_bytes);

/* Device memory */
GG_API int gg_malloc(void** ptr, uint64_t bytes);
GG_API int gg_free(void* ptr);
GG_API int gg_memset(void* ptr, int32_t byte_value, uint64_t bytes);
/* Host -> device from host memory, through pinned staging buffers: up to 14 threads copy 1 MiB
 * pieces into staging slots while earlier slots copy to the device; returns once the data is on
 * the device (src may be reused at once). Uploads and downloads are ordered after work already
 * queued on the compute stream. */
GG_API int gg_upload(void* dst, const void* src, uint64_t bytes);
/* File -> device: reads `bytes` at `file_offset` of an open file descriptor the same way, with
 * pread from up to 14 threads, so reading and copying overlap. */
GG_API int gg_upload_file(void* dst, int32_t fd, uint64_t file_offset, uint64_t bytes);
/* Device -> host, through the same pinned buffers; returns once dst holds the data. */
GG_API int gg_download(void* dst, const void* src, uint64_t bytes);
GG_API int gg_synchronize(void);

/* Dequantization: `rows` rows of `row_len` weights (row_len a multiple of the block size), raw ggml
 * blocks in `src`, row-major f32, f16 or bf16 out (f16/bf16: round-to-nearest-even of the f32
 * value). Bit-exact with ggml's CPU dequantization. Asynchronous: queued on the compute stream,
 * ordered before later gg_download / gg_memset / kernels; execution errors surface at the next
 * gg_synchronize or gg_download. Fastest with src and dst 16-byte aligned. */
GG_API int gg_dequantize(int32_t ggml_type, const void* src, void* dst, int64_t rows, int64_t row_len,
                         int32_t out_dtype);

/* Fused dequant + matmul: y[j][r] = sum_k W[r][k] * x[j][k] for r < rows, j < batch, x f32
 * [batch][row_len], y f32 [batch][rows] (x and y must not overlap), W the `rows` x `row_len` matrix of a ggml type (row_len a
 * multiple of its block size) in this library's PACKED layout: the raw ggml blocks go through
 * gg_matmul_pack once (on the GPU) and gg_matmul / gg_bench_matmul take the packed copy.
 *
 * Packing keeps every bit and the bytes per weight. For Q4_0, Q8_0, Q4_K and Q6_K on CUDA devices
 * of compute capability >= 8.0 the blocks are re-laid out for the tensor-core kernels (rows padded
 * to a multiple of 16 with zero blocks, and Q4_0/Q8_0 rows padded to an even block count, so the
 * packed size can exceed the raw size by up to 15 rows plus one block per row); every other type,
 * and every type under HIP, keeps the raw layout (packing is a copy). Always size the packed buffer
 * with gg_matmul_packed_size, for the device that will run the matmul. Packed weights must be
 * 16-byte aligned (gg_malloc's are).
 *
 * Accuracy: sum((y - ref)^2) / sum(ref^2) <= 1e-6 against a float64 reference. Activations are
 * rounded to f16 inside the tensor-core kernels after a per-column power-of-two scaling (so any
 * finite range is fine); the batch > 32 kernel also rounds the scaled weights to f16.
 * Asynchronous on the compute stream, like gg_dequantize. Uses a grow-only device scratch buffer
 * per device (split-K partials, converted activations), allocated on first need.
 *
 * `kernel` -1 picks by the dispatch table; otherwise an index 0 .. n-1 named by
 * gg_matmul_kernel_info; a kernel that does not take the type's packed layout is refused with
 * GG_ERR_INVALID_ARGUMENT. */
GG_API int gg_matmul(int32_t ggml_type, const void* w, const float* x, float* y, int64_t rows,
                     int64_t row_len, int32_t batch, int32_t kernel);
/* Bytes of the packed copy of a `rows` x `row_len` matrix of ggml_type (on the current device). */
GG_API int gg_matmul_packed_size(int32_t ggml_type, int64_t rows, int64_t row_len, uint64_t* bytes);
/* Raw ggml blocks (device) -> packed layout (device, gg_matmul_packed_size bytes, 16-byte aligned,
 * not overlapping raw). One kernel launch on the compute stream. */
GG_API int gg_matmul_pack(int32_t ggml_type, const void* raw, void* packed, int64_t rows, int64_t row_len);
/* Name of the kernel the dispatch table picks for (type, rows, row_len, batch), into buf
 * (NUL-terminated). The row count matters: problems with rows * batch < 8192 stay on the decode
 * kernels; so does the row length: batch 1 of the int8 types and Q6_K takes imma_gemv_n1, batches 2
 * to 4 imma_gemv_n4 and 5 to 8 imma_gemv_n8 (of Q6_K 2 imma_gemv_n4, 3 and 4 imma_gemv_n8, 5 to 8
 * mma_gemv_n8), 9 to 16 of every packed type mma_gemv_n16 (rows of 4096 weights and more),
 * only where a row fits the kernel's shared memory (row_len 0: unknown, counted as fitting). */
GG_API int gg_matmul_kernel_name(int32_t ggml_type, int64_t rows, int64_t row_len, int32_t batch, char* buf,
                                  int32_t buf_len);
/* Name of kernel index `index` (the `kernel` argument of gg_matmul); GG_ERR_INVALID_ARGUMENT past
 * the last index. */
GG_API int gg_matmul_kernel_info(int32_t index, char* buf, int32_t buf_len);

/* Timing. Each bench function runs `warmup` launches, then `samples` samples of `launches`
 * back-to-back launches timed with events, rotating over the `n_bufs` weight buffers (L2-cold when
 * their total exceeds the L2; pass one buffer for L2-warm), and writes each sample's microseconds
 * per launch into out_us[samples]. */
GG_API int gg_bench_read(void* const* bufs, int32_t n_bufs, uint64_t bytes, int32_t warmup,
                         int32_t launches, int32_t samples, float* out_us);
GG_API int gg_bench_copy(void* dst, const void* src, uint64_t bytes, int32_t warmup, int32_t launches,
                         int32_t samples, float* out_us);
GG_API int gg_bench_dequantize(int32_t ggml_type, void* const* srcs, int32_t n_bufs, void* dst,
                               int64_t rows, int64_t row_len, int32_t out_dtype, int32_t warmup,
                               int32_t launches, int32_t samples, float* out_us);
/* gg_bench_matmul: ws are PACKED weights (gg_matmul_pack), as for gg_matmul. */
GG_API int gg_bench_matmul(int32_t ggml_type, void* const* ws, int32_t n_bufs, const float* x, float* y,
                           int64_t rows, int64_t row_len, int32_t batch, int32_t kernel, int32_t warmup,
                           int32_t launches, int32_t samples, float* out_us);
/* Dense GEMM baseline through cuBLAS: y[batch][rows] = x[batch][k] * W^T with W and x in
 * f16 (GG_DTYPE_F16) or bf16 (GG_DTYPE_BF16), f32 accumulation, y f32. cuBLAS is loaded at run
 * time (libcublas.so.13, .12, or the path in $GGUF_GPU_CUBLAS); GG_ERR_UNSUPPORTED when it cannot
 * be loaded, and always in the HIP build. */
GG_API int gg_bench_blas(int32_t dtype, void* const* ws, int32_t n_bufs, const void* x, void* y,
                         int64_t rows, int64_t row_len, int32_t batch, int32_t warmup, int32_t launches,
                         int32_t samples, float* out_us);
/* Host -> device bandwidth from pinned memory, bytes per second (median of `samples` copies of
 * `bytes`). */
GG_API int gg_bench_upload(uint64_t bytes, int32_t samples, double* out_bytes_per_s);

/* For tests: makes a failure happen on purpose, through the normal error path. how = 0 launches a
 * kernel with 4096 threads per block, which the runtime refuses (cudaErrorInvalidConfiguration):
 * returns GG_ERR_LAUNCH, gg_last_error_name() names the runtime error, and the device stays usable.
 * Any other `how` is GG_ERR_INVALID_ARGUMENT. */
GG_API int gg_debug_fail_launch(int32_t how);

#ifdef __cplusplus
}
#endif

#endif /* GGUF_GPU_H */
