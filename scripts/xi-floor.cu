// What k_ximage's traffic costs at best on this GPU: x f32 [512][14336] read, an f16 image (14.7 MB) and
// y's zeros (8.4 MB) written, each by a plain grid-stride kernel; x rotated over 4 buffers (L2-cold).
// On the GPU host: nvcc -arch=sm_90a -O3 -std=c++17 -o /tmp/xi-floor scripts/xi-floor.cu && /tmp/xi-floor
// (kernels/NOTES.md, the seventeenth session: k_ximage runs at this floor).
#include <cstdio>
#include <cuda_fp16.h>
#include <vector>
#include <algorithm>
__global__ void rd(const float4* __restrict__ x, long n4, float* sink) {
  float4 a = make_float4(0, 0, 0, 0);
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n4; i += (long)gridDim.x * blockDim.x) {
    float4 v = __ldg(x + i); a.x += v.x; a.y += v.y; a.z += v.z; a.w += v.w;
  }
  if (a.x + a.y + a.z + a.w == 1234.5f) *sink = a.x;
}
// grid-stride: zeros over z[0, nz)
__device__ void zeros(float4* __restrict__ z, long nz) {
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < nz; i += (long)gridDim.x * blockDim.x) z[i] = make_float4(0, 0, 0, 0);
}
// grid-stride: read 2 float4, write 1 uint4 of f16 (same index order: sequential image)
__device__ void image(const float4* __restrict__ x, uint4* __restrict__ img, long n8) {
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n8; i += (long)gridDim.x * blockDim.x) {
    float4 a = __ldg(x + 2 * i), b = __ldg(x + 2 * i + 1);
    __half2 h0 = __floats2half2_rn(a.x, a.y), h1 = __floats2half2_rn(a.z, a.w), h2 = __floats2half2_rn(b.x, b.y), h3 = __floats2half2_rn(b.z, b.w);
    img[i] = make_uint4(*(unsigned*)&h0, *(unsigned*)&h1, *(unsigned*)&h2, *(unsigned*)&h3);
  }
}
__global__ void rw(const float4* __restrict__ x, uint4* __restrict__ img, long n8) { image(x, img, n8); }
__global__ void rwz(const float4* __restrict__ x, uint4* __restrict__ img, long n8, float4* __restrict__ z, long nz) {
  zeros(z, nz);
  image(x, img, n8);
}
__global__ void wz(float4* __restrict__ z, long nz) { zeros(z, nz); }
int main() {
  const long n = 512L * 14336, nb = 4;
  std::vector<float*> xs(nb); std::vector<uint4*> imgs(nb); std::vector<float*> ys(nb);
  for (int i = 0; i < nb; ++i) { cudaMalloc(&xs[i], n * 4); cudaMemset(xs[i], 0, n * 4); cudaMalloc(&imgs[i], n * 2); cudaMalloc(&ys[i], 512L * 4096 * 4); }
  float* sink; cudaMalloc(&sink, 4);
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  auto time = [&](const char* name, auto launch) {
    std::vector<float> ts;
    for (int r = 0; r < 40; ++r) {
      cudaEventRecord(e0);
      for (int k = 0; k < 8; ++k) launch(k % nb);
      cudaEventRecord(e1); cudaEventSynchronize(e1);
      float ms; cudaEventElapsedTime(&ms, e0, e1); if (r >= 5) ts.push_back(ms * 1000 / 8);
    }
    std::sort(ts.begin(), ts.end());
    printf("%-28s %8.2f us\n", name, ts[ts.size() / 2]);
  };
  for (int g : {2, 4, 8}) {
    const int grid = sms * g;
    printf("-- grid %d CTAs x 256\n", grid);
    time("read x 29.4 MB", [&](int b) { rd<<<grid, 256>>>((const float4*)xs[b], n / 4, sink); });
    time("read x + write image", [&](int b) { rw<<<grid, 256>>>((const float4*)xs[b], imgs[b], n / 8); });
    time("read x + image + y zeros", [&](int b) { rwz<<<grid, 256>>>((const float4*)xs[b], imgs[b], n / 8, (float4*)ys[b], 512L * 4096 / 4); });
    time("y zeros 8.4 MB", [&](int b) { wz<<<grid, 256>>>((float4*)ys[b], 512L * 4096 / 4); });
    time("image only (zeros) 14.7 MB", [&](int b) { wz<<<grid, 256>>>((float4*)imgs[b], n / 8); });
  }
  printf("err %s\n", cudaGetErrorString(cudaGetLastError()));
}
