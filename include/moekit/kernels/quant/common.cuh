/* moekit/kernels/quant/common.cuh - what the quantization kernels share. */
#ifndef MOEKIT_KERNELS_QUANT_COMMON_CUH
#define MOEKIT_KERNELS_QUANT_COMMON_CUH

#include "moekit/api/internal.h"
#include "moekit/core/formats.h"
#include "moekit/core/sf_layout.h"
#include "moekit/core/warp.h"

namespace mk {
namespace quant {

constexpr float kFp8Max = 448.0f;
constexpr float kFp8AmaxFloor = 1e-4f;   /* DeepGEMM's clamp: all-zero groups get a finite scale */

/* Unpacks 8 bf16 (one 16-byte load) into f[0..7] and returns their largest
 * finite magnitude (0 if none). NOTE: inf and NaN do not enter the amax, so
 * one bad value never destroys the scale of its group. */
MK_DEV float amax8_bf16(const mk_u32x4 &v, float (&f)[8]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = mk_f32_from_bits(w[i] << 16);
    f[2 * i + 1] = mk_f32_from_bits(w[i] & 0xffff0000u);
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const float a = mk_fabsf(f[i]);
    amax = a <= 3.4028235e38f ? mk_fmaxf(amax, a) : amax; /* NaN and inf fail the test */
  }
  return amax;
}

/* 2^(127 - e) for a ue8m0 code e in [0, 253] (every scale a finite
 * bf16 amax can produce): the exact inverse of the scale. */
MK_DEV float ue8m0_inverse(uint32_t e) { return mk_f32_from_bits((254u - e) << 23); }

}  // namespace quant
}  // namespace mk

#endif /* MOEKIT_KERNELS_QUANT_COMMON_CUH */
