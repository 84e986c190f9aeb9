/* formats_hw.cu - the hardware conversions against the portable encoders, on
 * all 2^32 float32 inputs (run on a GPU by tests/gpu/run).
 *
 *   nvcc -std=c++17 -O3 -Iinclude -gencode=arch=compute_90a,code=sm_90a tests/gpu/formats_hw.cu -o formats_hw
 *
 * Prints one line per format: "PASS formats_hw.<fmt>" or "FAIL ... first mismatch". */
#include <cstdio>

#include "moekit/core/formats.h"

struct Result {
  unsigned long long mismatches;
  unsigned first_bits, hw, sw;
};

template <int kFmt>
__global__ void compare(Result *r) {
  const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < (1ull << 32); i += stride) {
    const unsigned bits = (unsigned)i;
    const float x = __uint_as_float(bits);
    unsigned hw, sw;
    if (kFmt == 0) {
      hw = mk_e4m3x2_from_f32x2(x, 0.0f) & 0xffu;   /* the input in the low (even) byte */
      sw = mk_e4m3_from_f32(x);
    } else {
      hw = (mk_e5m2x2_from_f32x2(0.0f, x) >> 8) & 0xffu; /* ... and in the high (odd) byte */
      sw = mk_e5m2_from_f32(x);
    }
    if (hw != sw) {
      if (atomicAdd(&r->mismatches, 1ull) == 0) {
        r->first_bits = bits;
        r->hw = hw;
        r->sw = sw;
      }
    }
  }
}

int main() {
  Result *r;
  cudaMallocManaged(&r, sizeof(Result) * 2);
  cudaMemset(r, 0, sizeof(Result) * 2);
  compare<0><<<132 * 8, 256>>>(r);
  compare<1><<<132 * 8, 256>>>(r + 1);
  if (cudaDeviceSynchronize() != cudaSuccess) {
    printf("FAIL formats_hw: %s\n", cudaGetErrorString(cudaGetLastError()));
    return 1;
  }
  const char *names[2] = {"e4m3", "e5m2"};
  int bad = 0;
  for (int f = 0; f < 2; ++f) {
    if (r[f].mismatches)
      printf("FAIL formats_hw.%s: %llu of 2^32 inputs differ; first f32 bits %#010x: hardware %#04x, portable %#04x\n",
             names[f], r[f].mismatches, r[f].first_bits, r[f].hw, r[f].sw);
    else
      printf("PASS formats_hw.%s: cvt.rn.satfinite == portable encoder on all 2^32 inputs\n", names[f]);
    bad += r[f].mismatches != 0;
  }
  return bad;
}
