/* gguf-gpu: the one place that knows about GPU vendors.
 *
 * Every kernel and host file is written in CUDA spelling and includes this header first. Built
 * with nvcc it pulls in the CUDA runtime; built with hipcc for AMD
 * (__HIP_PLATFORM_AMD__) it maps the CUDA names used in kernels/ onto HIP with a flat list of
 * renames. When a file needs a CUDA name that is not in the list, add the rename here, never in
 * the .cu file.
 *
 * Also defined here, for both vendors:
 *   GG_IS_HIP        1 under HIP, 0 under CUDA
 *   GG_HAVE_BLAS     1 when the dense-GEMM baseline (cuBLAS / hipBLAS, loaded at run time) is compiled in
 *   WARP_SIZE        threads per warp/wavefront in device code (32 on NVIDIA; 64 on CDNA such as
 *                    gfx90a, 32 on RDNA such as gfx1030). Host code must not use it under HIP,
 *                    where it is only known per device architecture.
 *   gg_h2f / gg_f2h / gg_f2bf   exact fp16 -> f32, and f32 -> fp16 / bf16 round-to-nearest-even,
 *                    on raw uint16_t bit patterns (NaN results may differ in payload between
 *                    vendors and between gg_f2bf's device and host paths)
 *   gg_f2h2 / gg_f2bf2   the same for two floats packed in one word (one cvt.rn.*x2 on sm_80+)
 *   gg_ld_once16, gg_cp_async16 / gg_cp_async_wait   streaming loads, global -> shared copies
 *   gg_pdl_wait / gg_pdl_release   programmatic dependent launch (sm_90+)
 *   gg_warp_sum      butterfly sum over a whole warp, WARP_SIZE wide
 */
#ifndef GG_COMPAT_H
#define GG_COMPAT_H

#include <stdint.h>

#if defined(__HIP_PLATFORM_AMD__) || defined(__HIPCC__)
/* ------------------------------------------------------------------------------------ HIP */
#define GG_IS_HIP 1
/* HIP's __fmul_rn/__fadd_rn are plain x*y / x+y, which clang would fuse into FMAs under its
 * default -ffp-contract=fast-honor-pragmas; the dequantizers must round every product and sum
 * separately to stay bit-exact with ggml, so contraction is off for everything parsed after this
 * point (the build script also passes -ffp-contract=off). */
#pragma clang fp contract(off)
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
#include <hip/hip_bfloat16.h>

/* types */
#define cudaError_t hipError_t
#define cudaStream_t hipStream_t
#define cudaEvent_t hipEvent_t
#define cudaDeviceProp hipDeviceProp_t
#define __nv_bfloat16 hip_bfloat16

/* status values */
#define cudaSuccess hipSuccess
#define cudaErrorMemoryAllocation hipErrorOutOfMemory
#define cudaErrorNoDevice hipErrorNoDevice
#define cudaErrorInsufficientDriver hipErrorInsufficientDriver
#define cudaErrorInvalidValue hipErrorInvalidValue
#define cudaErrorLaunchFailure hipErrorLaunchFailure
#define cudaErrorIllegalAddress hipErrorIllegalAddress
#define cudaErrorLaunchOutOfResources hipErrorLaunchOutOfResources
#define cudaErrorLaunchTimeout hipErrorLaunchTimeOut
#define cudaErrorInvalidConfiguration hipErrorInvalidConfiguration
#define cudaErrorNoKernelImageForDevice hipErrorNoBinaryForGpu
#define cudaErrorInvalidDeviceFunction hipErrorInvalidDeviceFunction
#define cudaErrorAssert hipErrorAssert
#define cudaErrorNotReady hipErrorNotReady

/* runtime calls */
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString
#define cudaGetLastError hipGetLastError
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaGetDevice hipGetDevice
#define cudaSetDevice hipSetDevice
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaDeviceGetAttribute hipDeviceGetAttribute
#define cudaDevAttrMultiProcessorCount hipDeviceAttributeMultiprocessorCount
#define cudaDeviceSynchronize hipDeviceSynchronize
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaMemGetInfo hipMemGetInfo
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaHostAlloc hipHostMalloc
#define cudaHostAllocPortable hipHostMallocPortable
#define cudaFreeHost hipHostFree
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaStreamWaitEvent hipStreamWaitEvent
#define cudaEventCreate hipEventCreate
#define cudaEventCreateWithFlags hipEventCreateWithFlags
#define cudaEventDisableTiming hipEventDisableTiming
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEventQuery hipEventQuery
#define cudaEventElapsedTime hipEventElapsedTime
#define cudaEventDestroy hipEventDestroy
#define cudaOccupancyMaxActiveBlocksPerMultiprocessor hipOccupancyMaxActiveBlocksPerMultiprocessor

/* warp intrinsics: HIP 5.2 has no *_sync forms and no __syncwarp; a wavefront runs in lockstep */
#define __shfl_sync(mask, v, lane) __shfl((v), (lane))
#define __shfl_xor_sync(mask, v, m) __shfl_xor((v), (m))
#define __shfl_down_sync(mask, v, d) __shfl_down((v), (d))
#define __shfl_up_sync(mask, v, d) __shfl_up((v), (d))
#define __syncwarp(...) ((void)0)

/* hipBLAS is loaded at run time (dlopen, bench.cu) like cuBLAS: no header or library at build time
 * (Debian bookworm's HIP 5.2 has none) */
#define GG_HAVE_BLAS 1

#if defined(__AMDGCN_WAVEFRONT_SIZE)
#define GG_WARP_SIZE_VALUE __AMDGCN_WAVEFRONT_SIZE
#else
#define GG_WARP_SIZE_VALUE 64 /* host pass: not meaningful, see above */
#endif

#define GG_RUNTIME_NAME "HIP"

#else
/* ----------------------------------------------------------------------------------- CUDA */
#define GG_IS_HIP 0
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
/* cuBLAS is loaded at run time (dlopen, bench.cu), so neither its headers nor its library are
 * needed to build, and the library still loads where cuBLAS is missing. */
#define GG_HAVE_BLAS 1
#define GG_WARP_SIZE_VALUE 32
#define GG_RUNTIME_NAME "CUDA"
#endif

#ifndef WARP_SIZE
#define WARP_SIZE GG_WARP_SIZE_VALUE
#endif

/* --------------------------------------------------------------------- shared helpers */

/* fp16 bits -> f32, exact (subnormals included). */
__device__ __forceinline__ float gg_h2f(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

/* f32 -> fp16 bits, round to nearest even. */
__device__ __forceinline__ uint16_t gg_f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }

/* f32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet bit set). Pure integer code, so
 * both vendors round identically. */
__host__ __device__ __forceinline__ uint16_t gg_f2bf(float f) {
#if !GG_IS_HIP && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  /* one cvt.rn.bf16.f32; same bits as the integer path for every non-NaN input */
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
#endif
}

/* Two f32 -> one word of two fp16 / bf16 (lo in bits 0-15), each rounded to nearest even as
 * gg_f2h / gg_f2bf do: one packed conversion (cvt.rn.f16x2.f32) where there is one. */
__device__ __forceinline__ uint32_t gg_f2h2(float lo, float hi) {
#if !GG_IS_HIP && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const __half2 h = __floats2half2_rn(lo, hi);
  uint32_t u;
  __builtin_memcpy(&u, &h, 4);
  return u;
#else
  return (uint32_t)gg_f2h(lo) | ((uint32_t)gg_f2h(hi) << 16);
#endif
}
__device__ __forceinline__ uint32_t gg_f2bf2(float lo, float hi) {
#if !GG_IS_HIP && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  uint32_t u;
  __builtin_memcpy(&u, &h, 4);
  return u;
#else
  return (uint32_t)gg_f2bf(lo) | ((uint32_t)gg_f2bf(hi) << 16);
#endif
}

/* Streaming 16-byte loads of read-once data, and asynchronous global -> shared copies.
 * gg_ld_once16: read-only load that skips L1 (ld.global.cg) where the vendor has one.
 * gg_cp_async16 / gg_cp_async_wait: 16-byte global -> shared copy that bypasses registers and L1
 * (cp.async.cg, sm_80+); under HIP a plain copy, and the wait does nothing. Pointers 16-aligned. */
__device__ __forceinline__ uint4 gg_ld_once16(const void* p) {
#if GG_IS_HIP
  return *static_cast<const uint4*>(p);
#else
  return __ldcg(static_cast<const uint4*>(p));
#endif
}
__device__ __forceinline__ void gg_cp_async16(void* smem, const void* gmem) {
#if GG_IS_HIP
  *static_cast<uint4*>(smem) = *static_cast<const uint4*>(gmem);
#else
  const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
#endif
}
__device__ __forceinline__ void gg_cp_async_wait(void) {
#if !GG_IS_HIP
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

/* Programmatic dependent launch (CUDA, sm_90+; no-ops elsewhere). A kernel launched with it may
 * start while the kernel before it in the stream is still running: gg_pdl_wait() blocks until that
 * kernel has completed and its writes are visible (at once when there is no such kernel);
 * gg_pdl_release() lets the next kernel, if launched with it, start before this one ends. */
__device__ __forceinline__ void gg_pdl_wait(void) {
#if !GG_IS_HIP && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void gg_pdl_release(void) {
#if !GG_IS_HIP && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

/* Sum of v over the whole warp/wavefront; every lane gets the total. */
__device__ __forceinline__ float gg_warp_sum(float v) {
#pragma unroll
  for (int m = WARP_SIZE / 2; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

#endif /* GG_COMPAT_H */
