/* formats_shim.c - exposes moekit/core/formats.h to the Python tests (ctypes),
 * compiled as host C11: this also proves the header is usable from plain C. */
#include <stddef.h>
#include <stdint.h>

#include "moekit/core/formats.h"

enum { F_E4M3, F_E4M3FNUZ, F_E5M2, F_E2M1, F_UE8M0_CEIL, F_UE8M0_FLOOR, F_UE4M3 };

/* Encodes the n float32 bit patterns start, start+1, ... (no input array:
 * the exhaustive test walks all 2^32 of them). */
void shim_encode_range(int fmt, uint32_t start, uint8_t *out, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    const float x = mk_f32_from_bits(start + (uint32_t)i);
    switch (fmt) {
      case F_E4M3: out[i] = mk_e4m3_from_f32(x); break;
      case F_E4M3FNUZ: out[i] = mk_e4m3fnuz_from_f32(x); break;
      case F_E5M2: out[i] = mk_e5m2_from_f32(x); break;
      case F_E2M1: out[i] = mk_e2m1_from_f32(x); break;
      case F_UE8M0_CEIL: out[i] = mk_ue8m0_from_f32_ceil(x); break;
      case F_UE8M0_FLOOR: out[i] = mk_ue8m0_from_f32_floor(x); break;
      case F_UE4M3: out[i] = mk_ue4m3_from_f32(x); break;
      default: out[i] = 0; break;
    }
  }
}

void shim_decode(int fmt, const uint8_t *codes, float *out, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    switch (fmt) {
      case F_E4M3: out[i] = mk_e4m3_to_f32(codes[i]); break;
      case F_E4M3FNUZ: out[i] = mk_e4m3fnuz_to_f32(codes[i]); break;
      case F_E5M2: out[i] = mk_e5m2_to_f32(codes[i]); break;
      case F_E2M1: out[i] = mk_e2m1_to_f32(codes[i]); break;
      case F_UE8M0_CEIL:
      case F_UE8M0_FLOOR: out[i] = mk_ue8m0_to_f32(codes[i]); break;
      case F_UE4M3: out[i] = mk_ue4m3_to_f32(codes[i]); break;
      default: out[i] = 0; break;
    }
  }
}

uint8_t shim_e2m1x2_pack(uint8_t even, uint8_t odd) { return mk_e2m1x2_pack(even, odd); }
