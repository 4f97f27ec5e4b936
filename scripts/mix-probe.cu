// What the memory system gives a stream that writes more than it reads (dequantization writes
// 2-7 bytes per byte read), against the device copy (1:1) that the dequant targets are quoted
// against. No library, no Node: on the GPU host
//   nvcc -O3 -arch=sm_90 -o /tmp/mix-probe scripts/mix-probe.cu && /tmp/mix-probe
// Each kernel writes OUT bytes (4096 x 14336 f16 = 117 MB by default) with 16-byte stores and reads
// OUT / ratio bytes with 16-byte loads (output vector j depends on input vector j * n_in / n_out, so
// every input byte is read from DRAM once); sources rotate over enough buffers that the L2 holds
// none of them. Times: CUDA events around 20 launches after 5 warm-up launches, best of 5.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                        \
  do {                                                                                  \
    cudaError_t e_ = (x);                                                               \
    if (e_ != cudaSuccess) {                                                            \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

__global__ void expand(const uint4* __restrict__ src, uint4* __restrict__ dst, int64_t n_in, int64_t n_out) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n_out; j += stride) {
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (n_in > 0) v = __ldg(src + (j * n_in) / n_out);
    dst[j] = make_uint4(v.x ^ (uint32_t)j, v.y, v.z, v.w);
  }
}

int main(int argc, char** argv) {
  const int64_t out_bytes = argc > 1 ? atoll(argv[1]) : 4096LL * 14336 * 2;
  int dev = 0, sms = 0, l2 = 0;
  CHECK(cudaGetDevice(&dev));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, dev));
  printf("%s, %d SMs, L2 %d MB, output %.1f MB\n", prop.name, sms, l2 >> 20, out_bytes / 1e6);

  const int n_src = 8;
  uint4* src[n_src];
  uint4* dst;
  for (int i = 0; i < n_src; ++i) {
    CHECK(cudaMalloc(&src[i], out_bytes));
    CHECK(cudaMemset(src[i], i + 1, out_bytes));
  }
  CHECK(cudaMalloc(&dst, out_bytes));
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));

  auto best_us = [&](auto launch) {
    for (int i = 0; i < 5; ++i) launch(i);
    CHECK(cudaDeviceSynchronize());
    float best = 1e30f;
    for (int s = 0; s < 5; ++s) {
      CHECK(cudaEventRecord(a));
      for (int i = 0; i < 20; ++i) launch(i);
      CHECK(cudaEventRecord(b));
      CHECK(cudaEventSynchronize(b));
      float ms = 0;
      CHECK(cudaEventElapsedTime(&ms, a, b));
      if (ms * 50.0f < best) best = ms * 50.0f; /* us per launch */
    }
    CHECK(cudaGetLastError());
    return best;
  };

  const float copy_us = best_us([&](int i) {
    CHECK(cudaMemcpyAsync(dst, src[i % n_src], out_bytes, cudaMemcpyDeviceToDevice));
  });
  const double copy_gbps = 2.0 * out_bytes / copy_us / 1e3;
  printf("device copy (cudaMemcpy D2D): %.1f us, %.0f GB/s (read + write)\n", copy_us, copy_gbps);
  printf("%-22s %10s %10s %10s\n", "bytes written per read", "us", "GB/s", "of copy");
  const double ratios[] = {1.0, 1.9, 2.4, 3.56, 7.1, 0.0};
  for (double r : ratios) {
    const int64_t n_out = out_bytes / 16;
    const int64_t n_in = r > 0 ? (int64_t)(n_out / r) : 0;
    const int threads = 256;
    const int grid = sms * 8;
    const float us = best_us([&](int i) {
      expand<<<grid, threads>>>(src[i % n_src], dst, n_in, n_out);
    });
    const double bytes = (double)out_bytes + 16.0 * n_in;
    char label[32];
    if (r > 0) snprintf(label, sizeof label, "%.2f", r);
    else snprintf(label, sizeof label, "writes only");
    printf("%-22s %10.1f %10.0f %9.0f%%\n", label, us, bytes / us / 1e3, 100.0 * bytes / us / 1e3 / copy_gbps);
  }
  return 0;
}
