/* moekit/core/formats.h - the low-precision formats, bit-exact, everywhere.
 *
 * One header for host C, CUDA device and HIP device code. The portable
 * functions (mk_<fmt>_from_f32 / mk_<fmt>_to_f32) are the contract; the
 * paired device functions (mk_<fmt>x2_from_f32x2) use the hardware
 * conversion where the target has one and fall back to the portable code
 * elsewhere. docs/formats.md states every rule with a worked example.
 *
 *   format     bits        bias  max      NaN            notes
 *   e4m3       s.eeee.mmm  7     448      0x7f           OCP E4M3FN, no inf
 *   e4m3fnuz   s.eeee.mmm  8     240      0x80           gfx942 FP8, no -0
 *   e5m2       s.eeeee.mm  15    57344    0x7f           has inf (never produced)
 *   e2m1       s.ee.m      1     6        none: -> +6    FP4, two per byte
 *   ue8m0      eeeeeeee    127   2^127    0xff           power-of-two scale
 *   ue4m3      eeee.mmm    7     448      0x7f           NVFP4 block scale
 *
 * Encoding: round to nearest even; finite overflow and +-inf saturate to
 * +-max (".satfinite"); NaN maps to the format's positive NaN, whatever its
 * sign and payload. These are the rules of PTX cvt.rn.satfinite as an H200
 * executes it (tests/gpu/formats_hw.cu compares all 2^32 inputs), so the
 * hardware and portable paths agree bit for bit.
 */
#ifndef MOEKIT_CORE_FORMATS_H
#define MOEKIT_CORE_FORMATS_H

#include "moekit/core/platform.h"

/* ---- generic RNE + satfinite encoder ------------------------------------- */
/* Encodes |x| (x finite, below the format's max) into a small float with
 * kMbits mantissa bits and exponent bias kBias. Returns the unsigned code.
 * NOTE: works on the f32 significand as an integer, so it is exact and needs
 * no floating-point rounding-mode support from the compiler. */
MK_HD uint32_t mk__encode_abs(uint32_t abs_bits, int mbits, int bias) {
  const int e = (int)(abs_bits >> 23) - 127;  /* unbiased exponent of x */
  const int emin = 1 - bias;                  /* smallest normal exponent */
  uint32_t sig = (abs_bits & 0x7fffffu) | 0x800000u;
  int shift;                                  /* bits of sig to drop */
  uint32_t base;                              /* exponent field already placed */
  if ((abs_bits >> 23) == 0) return 0;        /* f32 zero/subnormal: far below any min subnormal */
  if (e >= emin) {
    shift = 23 - mbits;
    base = (uint32_t)(e - emin) << mbits;     /* (biased_e - 1) << mbits, + implicit 1 below */
  } else {
    shift = 23 - mbits + (emin - e);          /* subnormal: quantum 2^(emin - mbits) */
    base = 0;
  }
  if (shift > 25) return 0;                   /* below half the smallest subnormal */
  {
    const uint32_t q = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t up = (rem > half) || (rem == half && (q & 1u));
    /* q holds the implicit bit at position mbits for normals, so adding base
     * puts the exponent field in place; a carry out of the mantissa moves
     * into the exponent, which is exactly RNE. */
    return base + q + up;
  }
}

/* ---- e4m3 (OCP E4M3FN) --------------------------------------------------- */
MK_HD uint8_t mk_e4m3_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  const uint32_t s = (u >> 24) & 0x80u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7fu;                       /* NaN: sign dropped */
  if (a >= 0x43e00000u) return (uint8_t)(0x7eu | s);      /* >= 448 or inf: saturate */
  return (uint8_t)(mk__encode_abs(a, 3, 7) | s);
}

MK_HD float mk_e4m3_to_f32(uint8_t c) {
  const uint32_t s = (uint32_t)(c & 0x80u) << 24;
  const uint32_t e = (c >> 3) & 0xfu, m = c & 7u;
  if ((c & 0x7fu) == 0x7fu) return mk_f32_from_bits(0x7fc00000u | s);
  if (e == 0) return (s ? -1.0f : 1.0f) * (float)m * 0.001953125f; /* m * 2^-9 */
  return mk_f32_from_bits(s | ((e + 120u) << 23) | (m << 20));
}

/* ---- e4m3fnuz (gfx942) --------------------------------------------------- */
MK_HD uint8_t mk_e4m3fnuz_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  const uint32_t a = u & 0x7fffffffu;
  uint32_t c;
  if (a > 0x7f800000u) return 0x80u;                       /* the only NaN */
  c = (a >= 0x43700000u) ? 0x7fu : mk__encode_abs(a, 3, 8); /* >= 240 saturates */
  return (uint8_t)(c == 0 ? 0 : (c | ((u >> 24) & 0x80u))); /* no negative zero */
}

MK_HD float mk_e4m3fnuz_to_f32(uint8_t c) {
  const uint32_t s = (uint32_t)(c & 0x80u) << 24;
  const uint32_t e = (c >> 3) & 0xfu, m = c & 7u;
  if (c == 0x80u) return mk_f32_from_bits(0x7fc00000u);
  if (e == 0) return (s ? -1.0f : 1.0f) * (float)m * 0.0009765625f; /* m * 2^-10 */
  return mk_f32_from_bits(s | ((e + 119u) << 23) | (m << 20));
}

/* ---- e5m2 ---------------------------------------------------------------- */
MK_HD uint8_t mk_e5m2_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  const uint32_t s = (u >> 24) & 0x80u;
  const uint32_t a = u & 0x7fffffffu;
  /* NOTE: the hardware gives 0x7f for every NaN (checked on all 2^32 inputs
   * on an H200); CUDA's host emulation in cuda_fp8.hpp differs (0x7e/0x7f by
   * payload, sign kept) and ml_dtypes gives 0x7e | sign. */
  if (a > 0x7f800000u) return 0x7fu;
  if (a >= 0x47600000u) return (uint8_t)(0x7bu | s);      /* >= 57344 or inf */
  return (uint8_t)(mk__encode_abs(a, 2, 15) | s);
}

MK_HD float mk_e5m2_to_f32(uint8_t c) {
  const uint32_t s = (uint32_t)(c & 0x80u) << 24;
  const uint32_t e = (c >> 2) & 0x1fu, m = c & 3u;
  if (e == 0x1fu) return mk_f32_from_bits(s | (m ? 0x7fc00000u : 0x7f800000u));
  if (e == 0) return (s ? -1.0f : 1.0f) * (float)m * 0.0000152587890625f; /* m * 2^-16 */
  return mk_f32_from_bits(s | ((e + 112u) << 23) | (m << 21));
}

/* ---- e2m1 (FP4) ---------------------------------------------------------- */
/* Returns a nibble. NaN -> +6 (0x7), as cvt.rn.satfinite.e2m1x2.f32 does.
 * NOTE: a dozen integer ops, no branches: it is the FP4 path on sm_90, which
 * has no FP4 cvt. Below 1 the codes are 0, 0.5, 1 apart by 0.5, so
 * 2|x| + 2^23 rounds to the code (RNE) in the low mantissa bits. From 1 up,
 * rounding the f32 bits at mantissa bit 22 (RNE) leaves (exponent, m1) =
 * code + 252 in bits 22.., and min(., 7) saturates; inf and NaN land there. */
MK_HD uint8_t mk_e2m1_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  const uint32_t b = u & 0x7fffffffu;
  const uint32_t lo = mk_f32_bits(mk_f32_from_bits(b) * 2.0f + 8388608.0f) - 0x4b000000u;
  const uint32_t hi = ((b + 0x1fffffu + ((b >> 22) & 1u)) >> 22) - 252u;
  const uint32_t c = b < 0x3f800000u ? lo : (hi < 7u ? hi : 7u);
  return (uint8_t)(c | (b <= 0x7f800000u ? (u >> 28) & 0x8u : 0u));
}

MK_HD float mk_e2m1_to_f32(uint8_t c) {
  /* codes 0..7: 0, 0.5, 1, 1.5, 2, 3, 4, 6 */
  const uint32_t m = c & 7u;
  const float v = (m < 2) ? 0.5f * (float)m : mk_f32_from_bits(((m >> 1) + 126u) << 23) * (1.0f + 0.5f * (float)(m & 1u));
  return (c & 8u) ? -v : v;
}

/* Two e2m1 per byte: the even element in the low nibble. */
MK_HD uint8_t mk_e2m1x2_pack(uint8_t even, uint8_t odd) { return (uint8_t)((even & 0xfu) | ((odd & 0xfu) << 4)); }

/* ---- ue8m0 (power-of-two scale) ------------------------------------------ */
/* ceil: the smallest 2^e >= |x| (what amax -> scale needs: nothing clips).
 * floor: 2^floor(log2|x|). Both saturate to 0xfe, NaN -> 0xff, 0 -> 0x00. */
MK_HD uint8_t mk_ue8m0_from_f32_ceil(float x) {
  const uint32_t a = mk_f32_bits(x) & 0x7fffffffu;
  uint32_t e;
  if (a > 0x7f800000u) return 0xffu;
  if (a >= 0x7f000000u) return 0xfeu;                     /* > 2^126... up to inf: 2^127 */
  if (a <= 0x00400000u) return 0x00u;                     /* <= 2^-127 */
  e = a >> 23;
  if (e == 0) return 1u;                                  /* (2^-127, 2^-126) rounds up to 2^-126 */
  return (uint8_t)(e + ((a & 0x7fffffu) != 0));
}

MK_HD uint8_t mk_ue8m0_from_f32_floor(float x) {
  const uint32_t a = mk_f32_bits(x) & 0x7fffffffu;
  if (a > 0x7f800000u) return 0xffu;
  if (a >= 0x7f000000u) return 0xfeu;
  return (uint8_t)(a >> 23);                              /* f32 subnormals -> 2^-127 */
}

MK_HD float mk_ue8m0_to_f32(uint8_t c) {
  if (c == 0xffu) return mk_f32_from_bits(0x7fc00000u);
  if (c == 0) return mk_f32_from_bits(0x00400000u);       /* 2^-127, an f32 subnormal */
  return mk_f32_from_bits((uint32_t)c << 23);
}

/* ---- ue4m3 (NVFP4 block scale: e4m3 without a sign) ---------------------- */
MK_HD uint8_t mk_ue4m3_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fu;
  if (u >> 31) return 0;                                  /* scales are >= 0 */
  return mk_e4m3_from_f32(x);
}

MK_HD float mk_ue4m3_to_f32(uint8_t c) { return mk_e4m3_to_f32((uint8_t)(c & 0x7fu)); }

/* ---- bf16 ----------------------------------------------------------------- */
/* Round to nearest even; NaN -> 0x7fc0 | sign (quiet). Widening is
 * mk_bf16_to_f32 in platform.h (exact). */
MK_HD uint16_t mk_bf16_from_f32(float x) {
  const uint32_t u = mk_f32_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* ---- device fast paths: two values at a time ----------------------------- */
/* Each returns the pair with the EVEN element (a) in the low byte/nibble,
 * matching memory order. Without a hardware instruction they call the
 * portable code above. */

#if defined(MK_CUDA) || defined(MK_HIP)
MK_DEV uint32_t mk_e4m3x2_from_f32x2(float a, float b) {
#if defined(MK_NV_HAS_CVT_FP8)
  uint16_t r; /* cvt puts its first source in the HIGH byte */
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(b), "f"(a));
  return r;
#elif defined(MK_AMD_GFX950)
  /* NOTE: pre-clamp so the result does not depend on the chip's overflow
   * mode; NaN passes through the comparisons untouched. compile-verified. */
  typedef short mk__s16x2 __attribute__((ext_vector_type(2)));
  a = a > 448.f ? 448.f : (a < -448.f ? -448.f : a);
  b = b > 448.f ? 448.f : (b < -448.f ? -448.f : b);
  mk__s16x2 r = __builtin_amdgcn_cvt_scalef32_pk_fp8_f32((mk__s16x2){0, 0}, a, b, 1.0f, false);
  return (uint16_t)r[0];
#else
  return (uint32_t)mk_e4m3_from_f32(a) | ((uint32_t)mk_e4m3_from_f32(b) << 8);
#endif
}

MK_DEV uint32_t mk_e5m2x2_from_f32x2(float a, float b) {
#if defined(MK_NV_HAS_CVT_FP8)
  uint16_t r;
  asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(r) : "f"(b), "f"(a));
  return r;
#else
  return (uint32_t)mk_e5m2_from_f32(a) | ((uint32_t)mk_e5m2_from_f32(b) << 8);
#endif
}

MK_DEV uint32_t mk_e4m3fnuz_x2_from_f32x2(float a, float b) {
#if defined(MK_AMD_GFX942)
  a = a > 240.f ? 240.f : (a < -240.f ? -240.f : a);
  b = b > 240.f ? 240.f : (b < -240.f ? -240.f : b);
  return (uint32_t)__builtin_amdgcn_cvt_pk_fp8_f32(a, b, 0, false) & 0xffffu;
#else
  return (uint32_t)mk_e4m3fnuz_from_f32(a) | ((uint32_t)mk_e4m3fnuz_from_f32(b) << 8);
#endif
}

/* One byte: even element in the low nibble. */
MK_DEV uint32_t mk_e2m1x2_from_f32x2(float a, float b) {
#if defined(MK_NV_HAS_CVT_FP4)
  uint32_t r;
  asm("{ .reg .b8 t; cvt.rn.satfinite.e2m1x2.f32 t, %1, %2; mov.b32 %0, {t, t, t, t}; }"
      : "=r"(r) : "f"(b), "f"(a));
  return r & 0xffu;
#elif defined(MK_AMD_GFX950)
  /* compile-verified: low nibble <- a. Pre-clamp as above; NaN -> +6. */
  a = (a != a) ? 6.f : (a > 6.f ? 6.f : (a < -6.f ? -6.f : a));
  b = (b != b) ? 6.f : (b > 6.f ? 6.f : (b < -6.f ? -6.f : b));
  return __builtin_amdgcn_cvt_scalef32_pk_fp4_f32(0u, a, b, 1.0f, 0) & 0xffu;
#else
  return mk_e2m1x2_pack(mk_e2m1_from_f32(a), mk_e2m1_from_f32(b));
#endif
}

/* Two bf16 (a in the low half), round to nearest even. */
MK_DEV uint32_t mk_bf16x2_from_f32x2(float a, float b) {
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 800
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a));
  return r;
#else
  return (uint32_t)mk_bf16_from_f32(a) | ((uint32_t)mk_bf16_from_f32(b) << 16);
#endif
}

/* Round-up power-of-two scale for two values (low byte <- a). */
MK_DEV uint32_t mk_ue8m0x2_from_f32x2_ceil(float a, float b) {
#if defined(MK_NV_HAS_CVT_FP4)
  uint16_t r;
  asm("cvt.rp.satfinite.ue8m0x2.f32 %0, %1, %2;" : "=h"(r) : "f"(b), "f"(a));
  return r;
#else
  return (uint32_t)mk_ue8m0_from_f32_ceil(a) | ((uint32_t)mk_ue8m0_from_f32_ceil(b) << 8);
#endif
}
#endif /* device fast paths */

#endif /* MOEKIT_CORE_FORMATS_H */
