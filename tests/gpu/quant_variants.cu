/* quant_variants.cu - the FP8 1x128 quantizer's launch shape, measured: CTA
 * size and loads in flight per lane, at K = 7168, against an SM copy kernel
 * moving the same bytes in the same run (tests/gpu/run, step quant-variants).
 *
 *   nvcc -std=c++17 -O3 -Iinclude -gencode=arch=compute_90a,code=sm_90a tests/gpu/quant_variants.cu -o qv && ./qv
 *
 * Every variant must produce the default variant's bytes (checked). Buffers
 * rotate over 8 sets so L2 never holds the input. */
#include <cstdio>
#include <cstring>
#include <vector>

#include "moekit/kernels/quant/fp8_1x128.cuh"

#define CK(x)                                                                \
  do {                                                                       \
    cudaError_t e_ = (x);                                                    \
    if (e_ != cudaSuccess) {                                                 \
      printf("FAIL %s: %s\n", #x, cudaGetErrorString(e_));                   \
      return 1;                                                              \
    }                                                                        \
  } while (0)

constexpr int K = 7168, SETS = 8;

__global__ void copy16(const uint4 *src, uint4 *dst, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = src[i];
}

typedef int (*launch_t)(const mk__quant_params *, void *);

struct Variant {
  const char *name;
  launch_t launch;
};

int main() {
  const Variant variants[] = {
      {"256 threads x 4 (default)", mk::quant::launch_fp8_1x128<K, false, 256, 4>},
      {"256 threads x 2", mk::quant::launch_fp8_1x128<K, false, 256, 2>},
      {"256 threads x 8", mk::quant::launch_fp8_1x128<K, false, 256, 8>},
      {"128 threads x 4", mk::quant::launch_fp8_1x128<K, false, 128, 4>},
      {"128 threads x 8", mk::quant::launch_fp8_1x128<K, false, 128, 8>},
      {"512 threads x 2", mk::quant::launch_fp8_1x128<K, false, 512, 2>},
      {"512 threads x 4", mk::quant::launch_fp8_1x128<K, false, 512, 4>},
      {"256 threads x 4, L2::256B", mk::quant::launch_fp8_1x128<K, false, 256, 4, true>},
      {"128 threads x 4, L2::256B", mk::quant::launch_fp8_1x128<K, false, 128, 4, true>},
      {"256 threads x 2, L2::256B", mk::quant::launch_fp8_1x128<K, false, 256, 2, true>},
  };
  for (int m : {4096, 16384}) {
    const size_t nx = (size_t)m * K, ld = (m + 3) / 4 * 4, nsf = ld * (K / 128);
    std::vector<void *> x(SETS), q(SETS), sf(SETS);
    for (int s = 0; s < SETS; ++s) {
      CK(cudaMalloc(&x[s], nx * 2));
      CK(cudaMalloc(&q[s], nx));
      CK(cudaMalloc(&sf[s], nsf * 4));
      std::vector<uint16_t> h(nx);
      for (size_t i = 0; i < nx; ++i) h[i] = (uint16_t)(0x3c00 + ((i * 2654435761u + s) >> 7) % 0x800) ^ ((i & 1) << 15);
      CK(cudaMemcpy(x[s], h.data(), nx * 2, cudaMemcpyHostToDevice));
    }
    auto params = [&](int s) {
      mk__quant_params p;
      memset(&p, 0, sizeof p);
      p.x = x[s], p.ldx = K, p.q = q[s], p.ldq = K, p.sf = sf[s], p.ldsf = (int64_t)ld, p.m = m;
      return p;
    };
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    const double bytes = nx * 2.0 + nx + (double)m * (K / 128) * 4;
    /* the peer: an SM copy of bytes/2 read + bytes/2 written */
    const size_t half16 = (size_t)(bytes / 2) / 16;
    std::vector<void *> cs(SETS), cd(SETS);
    for (int s = 0; s < SETS; ++s) {
      CK(cudaMalloc(&cs[s], half16 * 16));
      CK(cudaMalloc(&cd[s], half16 * 16));
    }
    for (int i = 0; i < 3; ++i) copy16<<<132 * 8, 512>>>((uint4 *)cs[0], (uint4 *)cd[0], half16);
    CK(cudaEventRecord(t0));
    for (int i = 0; i < 40; ++i) copy16<<<132 * 8, 512>>>((uint4 *)cs[i % SETS], (uint4 *)cd[i % SETS], half16);
    CK(cudaEventRecord(t1));
    CK(cudaEventSynchronize(t1));
    float ms;
    CK(cudaEventElapsedTime(&ms, t0, t1));
    const double copy_gbs = half16 * 32.0 / (ms / 40 * 1e-3) * 1e-9;
    printf("# M=%d K=%d: %.1f MB per call; SM copy of the same bytes %.1f us = %.0f GB/s\n", m, K, bytes / 1e6,
           ms / 40 * 1e3, copy_gbs);
    CK(cudaEventRecord(t0));
    for (int i = 0; i < 40; ++i) CK(cudaMemcpyAsync(cd[i % SETS], cs[i % SETS], half16 * 16, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(t1));
    CK(cudaEventSynchronize(t1));
    CK(cudaEventElapsedTime(&ms, t0, t1));
    const double memcpy_gbs = half16 * 32.0 / (ms / 40 * 1e-3) * 1e-9;
    printf("# cudaMemcpyAsync of the same bytes %.1f us = %.0f GB/s\n", ms / 40 * 1e3, memcpy_gbs);
    std::vector<uint8_t> ref(nx), got(nx);
    for (const Variant &v : variants) {
      mk__quant_params p = params(0);
      CK(cudaMemset(q[0], 0x55, nx));
      if (v.launch(&p, 0) != 0) return 1;
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(got.data(), q[0], nx, cudaMemcpyDeviceToHost));
      if (&v == &variants[0]) ref = got;
      const bool same = ref == got;
      for (int i = 0; i < 3; ++i) {
        p = params(i % SETS);
        v.launch(&p, 0);
      }
      CK(cudaEventRecord(t0));
      for (int i = 0; i < 40; ++i) {
        p = params(i % SETS);
        v.launch(&p, 0);
      }
      CK(cudaEventRecord(t1));
      CK(cudaEventSynchronize(t1));
      CK(cudaEventElapsedTime(&ms, t0, t1));
      const double us = ms / 40 * 1e3, gbs = bytes / (us * 1e-6) * 1e-9;
      printf("%s quant-variant M=%d %-26s %7.2f us %6.0f GB/s = %3.0f%% of SM copy, %3.0f%% of cudaMemcpy%s\n",
             same ? "PASS" : "FAIL", m, v.name, us, gbs, 100 * gbs / copy_gbs, 100 * gbs / memcpy_gbs,
             same ? "" : " (bytes differ from the default!)");
    }
    for (int s = 0; s < SETS; ++s) cudaFree(x[s]), cudaFree(q[s]), cudaFree(sf[s]), cudaFree(cs[s]), cudaFree(cd[s]);
  }
  return 0;
}
