// How fast can a few SMs make x's f16 image? (for a converter beside the n = 512 GEMM, NOTES, the
// seventeenth session). A persistent kernel of `grid` CTAs (one an SM: ~197 KB of shared memory each)
// streams x f32 [512][14336] in items of 8 columns x 512 k (16 KB): thread 0 bulk-copies each item into a
// ring of kStages stages (mbarrier per stage), 256 threads convert and store 16-byte f16 units (the
// GEMM image layout's contiguity: 512 bytes a warp). x rotated over 4 buffers (L2-cold); CUDA events.
// On the GPU host: nvcc -arch=sm_90a -O3 -std=c++17 -o /tmp/xi-persistent scripts/xi-persistent.cu && /tmp/xi-persistent
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_fp16.h>

constexpr int kCols = 512, kK = 14336, kPassK = 512, kStages = 12;
constexpr int kColBytes = kPassK * 4 + 16, kStageBytes = 8 * kColBytes;
constexpr int kSmem = kStages * kStageBytes + kStages * 8;

__device__ __forceinline__ uint32_t sa(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void bar_init(uint64_t* b) { asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(sa(b))); }
__device__ __forceinline__ void bar_expect(uint64_t* b, uint32_t n) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sa(b)), "r"(n) : "memory");
}
__device__ __forceinline__ void bar_wait(uint64_t* b, uint32_t ph) {
  uint32_t done = 0;
  do asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}"
                  : "=r"(done) : "r"(sa(b)), "r"(ph) : "memory");
  while (!done);
}
__device__ __forceinline__ void bulk(void* dst, const void* src, uint32_t n, uint64_t* b) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
               ::"r"(sa(dst)), "l"(src), "r"(n), "r"(sa(b)) : "memory");
}
__device__ __forceinline__ uint32_t h2(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}

__global__ void __launch_bounds__(256, 1) conv(const float* __restrict__ x, uint4* __restrict__ img) {
  extern __shared__ __align__(128) uint8_t sm[];
  uint64_t* full = reinterpret_cast<uint64_t*>(sm + kStages * kStageBytes);
  const int tid = threadIdx.x, jm = tid & 7;
  constexpr int passes = kK / kPassK, items = (kCols / 8) * passes;
  const int mine = (items - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x;
  auto issue = [&](int j) { /* this CTA's item j: item blockIdx.x + j * grid, K-major order (pass, group) */
    const int it = blockIdx.x + j * gridDim.x, pass = it / (kCols / 8), grp = it % (kCols / 8), s = j % kStages;
    bar_expect(full + s, 8 * kPassK * 4);
    for (int q = 0; q < 8; ++q)
      bulk(sm + s * kStageBytes + q * kColBytes, x + (int64_t)(grp * 8 + q) * kK + (int64_t)pass * kPassK, kPassK * 4, full + s);
  };
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) bar_init(full + s);
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    for (int j = 0; j < kStages && j < mine; ++j) issue(j);
  }
  __syncthreads();
  for (int j = 0; j < mine; ++j) {
    const int it = blockIdx.x + j * gridDim.x, pass = it / (kCols / 8), grp = it % (kCols / 8), s = j % kStages;
    bar_wait(full + s, (uint32_t)((j / kStages) & 1));
    const uint8_t* col = sm + s * kStageBytes + jm * kColBytes;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int ul = (tid + 256 * h) >> 3;
      const float4 a = *reinterpret_cast<const float4*>(col + ul * 32), b = *reinterpret_cast<const float4*>(col + ul * 32 + 16);
      const int64_t k = (int64_t)pass * kPassK + ul * 8, c = grp * 8 + jm;
      /* image [chunk][256 columns][64 k] in 8 x 8 core matrices (as k_ximage's, one column tile per 256) */
      const int64_t chunk = k >> 6, ct = c >> 8, r = c & 255, kc = (k & 63) >> 3;
      img[(chunk * 2 + ct) * 2048 + (((r >> 3) * 8 + kc) * 128 + (r & 7) * 16) / 16] =
          make_uint4(h2(a.x, a.y), h2(a.z, a.w), h2(b.x, b.y), h2(b.z, b.w));
    }
    __syncthreads();
    if (tid == 0 && j + kStages < mine) issue(j + kStages);
  }
}

int main() {
  const int64_t n = (int64_t)kCols * kK, nb = 4;
  std::vector<float*> xs(nb);
  std::vector<uint4*> imgs(nb);
  for (int i = 0; i < nb; ++i) {
    cudaMalloc(&xs[i], n * 4);
    cudaMemset(xs[i], 0, n * 4);
    cudaMalloc(&imgs[i], n * 2);
  }
  cudaFuncSetAttribute(conv, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (int grid : {4, 8, 16, 32, 66, 132}) {
    std::vector<float> ts;
    for (int r = 0; r < 25; ++r) {
      cudaEventRecord(e0);
      for (int k = 0; k < 4; ++k) conv<<<grid, 256, kSmem>>>(xs[k % nb], imgs[k % nb]);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      float ms = 0;
      cudaEventElapsedTime(&ms, e0, e1);
      if (r >= 5) ts.push_back(ms * 1000 / 4);
    }
    std::sort(ts.begin(), ts.end());
    const double us = ts[ts.size() / 2];
    printf("%3d SMs: %8.2f us  (x read at %6.0f GB/s, %5.0f GB/s an SM)\n", grid, us, n * 4 / us / 1e3, n * 4 / us / 1e3 / grid);
  }
  printf("err %s\n", cudaGetErrorString(cudaGetLastError()));
}
