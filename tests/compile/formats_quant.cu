/* formats_quant.cu - the format and quantization headers in one TU, compiled
 * by tests/compile/test_compile.py for sm_90a, sm_100a (nvcc) and gfx942,
 * gfx950 (clang -x hip): the disassembly must show the hardware conversions. */
#include "moekit/core/formats.h"
#include "moekit/kernels/quant/fp4.cuh"
#include "moekit/kernels/quant/fp8_1x128.cuh"

/* One conversion of each kind, so each instruction appears in the ISA. */
MK_KERNEL void mk_test_conversions(const float *in, uint32_t *out) {
  const uint32_t i = mk_thread_x();
  const float a = in[2 * i], b = in[2 * i + 1];
  out[6 * i + 0] = mk_e4m3x2_from_f32x2(a, b);
  out[6 * i + 1] = mk_e5m2x2_from_f32x2(a, b);
  out[6 * i + 2] = mk_e2m1x2_from_f32x2(a, b);
  out[6 * i + 3] = mk_ue8m0x2_from_f32x2_ceil(a, b);
  out[6 * i + 4] = mk_e4m3fnuz_x2_from_f32x2(a, b);
  out[6 * i + 5] = (uint32_t)mk_e4m3_from_f32(a); /* portable path, every arch */
}

template MK_KERNEL void mk::quant::fp8_1x128_kernel<2048, false>(const mk__quant_params);
template MK_KERNEL void mk::quant::fp8_1x128_kernel<2048, true>(const mk__quant_params);
template MK_KERNEL void mk::quant::fp4_kernel<2048, 32>(const mk__quant_params);
template MK_KERNEL void mk::quant::fp4_kernel<2048, 16>(const mk__quant_params);
