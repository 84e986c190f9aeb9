/* moekit/kernels/quant/fp4.cuh - bf16 -> MXFP4 and NVFP4 (e2m1, two per byte).
 *
 * Portable CUDA/HIP. A group of kGroup elements (32 for MXFP4, 16 for NVFP4)
 * is handled by kGroup/8 lanes holding 8 bf16 (16 B) each. Groups are
 * numbered row-major (k-group fastest), so a warp reads 512 contiguous bytes
 * of a row, writes 128 contiguous bytes of codes and consecutive scales.
 *
 *   MXFP4: e = ue8m0_ceil(amax / 6), scale 2^(e-127), q = e2m1(x * 2^(127-e)).
 *          Rounding the scale up means no element clips (DeepGEMM and aiter
 *          round up too; the OCP floor rule would clip up to 8 -> 6).
 *   NVFP4: s = ue4m3(amax / 6 * gs), q = e2m1(x * (gs / s)), gs the f32
 *          tensor scale; a group whose scale underflows to 0 encodes zeros.
 * amax ignores inf and NaN (common.cuh). With the swizzled 128x4 layout the
 * kernel also covers the padding rows and k-groups of the scale tensor and
 * writes 0 there, so the whole tensor is defined.
 */
#ifndef MOEKIT_KERNELS_QUANT_FP4_CUH
#define MOEKIT_KERNELS_QUANT_FP4_CUH

#include "moekit/kernels/quant/common.cuh"

namespace mk {
namespace quant {

constexpr int kFp4Threads = 256;
constexpr int kFp4Unroll = 4;

/* ---- scales -------------------------------------------------------------------------- */
/* ue4m3 of a scale s >= 0 (NaN -> 0x7f): the e4m3 cvt where there is one. */
MK_DEV uint32_t ue4m3_encode(float s) {
#if defined(MK_NV_HAS_CVT_FP8)
  return s > 0.0f ? (mk_e4m3x2_from_f32x2(s, 0.0f) & 0x7fu) : (s == s ? 0u : 0x7fu);
#else
  return mk_ue4m3_from_f32(s);
#endif
}

MK_DEV float ue4m3_decode(uint32_t c) {
#if defined(MK_NV_HAS_CVT_FP8)
  uint32_t h2; /* e4m3 -> f16 is exact, f16 -> f32 too */
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"((uint16_t)c));
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((uint16_t)(h2 & 0xffffu)));
  return f;
#else
  return mk_ue4m3_to_f32((uint8_t)c);
#endif
}

/* ---- kernel ------------------------------------------------------------------------- */
/* Groups are numbered row-major over [rows, kKgRow] (the padded extents when
 * the scales are swizzled); a block owns kFp4Unroll * kPerPass consecutive
 * groups, and in each unroll step its lanes read one contiguous 4 KB run. */
template <int kK, int kGroup, bool kSwizzled>
MK_DEV void fp4_body(const mk__quant_params &p) {
  constexpr int kLanes = kGroup / 8;            /* lanes per group */
  constexpr int kKg = kK / kGroup;              /* k-groups per row */
  constexpr int kKgRow = kSwizzled ? (kKg + 3) / 4 * 4 : kKg;
  constexpr int kPerPass = kFp4Threads / kLanes;
  const int64_t rows = kSwizzled ? (p.m + 127) / 128 * 128 : p.m;
  const int64_t groups = rows * kKgRow;
  const int lane = (int)(mk_thread_x() % kLanes);
  const int64_t base = (int64_t)mk_block_x() * (kPerPass * kFp4Unroll) + mk_thread_x() / kLanes;
  const float gs = (kGroup == 16) ? *p.global_scale : 0.0f;

  /* [kFp4Unroll] x 16 B per lane: all loads first */
  mk_u32x4 v[kFp4Unroll];
#pragma unroll
  for (int u = 0; u < kFp4Unroll; ++u) {
    const int64_t g = base + u * kPerPass;
    const int64_t m = g / kKgRow;               /* compile-time divisor */
    const int kg = (int)(g - m * kKgRow);
    v[u].x = v[u].y = v[u].z = v[u].w = 0u;
    if (g < groups && m < p.m && kg < kKg)
      v[u] = mk_ld_stream_16((const uint16_t *)p.x + m * p.ldx + kg * kGroup + lane * 8);
  }

#pragma unroll
  for (int u = 0; u < kFp4Unroll; ++u) {
    float f[8];
    const float amax = mk_group_max_f32<kLanes>(amax8_bf16(v[u], f));
    float inv;
    uint32_t sf_code;
    if (kGroup == 32) {
      sf_code = mk_ue8m0_from_f32_ceil(mk_fdiv_rn(amax, 6.0f));
      inv = ue8m0_inverse(sf_code);
    } else {
      sf_code = ue4m3_encode(mk_fmul_rn(mk_fdiv_rn(amax, 6.0f), gs));
      const float s = ue4m3_decode(sf_code);
      inv = s > 0.0f ? mk_fdiv_rn(gs, s) : 0.0f;
    }
    const int64_t g = base + u * kPerPass;
    if (g >= groups) continue;
    const int64_t m = g / kKgRow;
    const int kg = (int)(g - m * kKgRow);
    const bool real = m < p.m && kg < kKg;     /* else: padding of the swizzled scales */
    if (real) {
      const uint32_t out = mk_e2m1x2_from_f32x2(mk_fmul_rn(f[0], inv), mk_fmul_rn(f[1], inv)) |
                           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[2], inv), mk_fmul_rn(f[3], inv)) << 8) |
                           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[4], inv), mk_fmul_rn(f[5], inv)) << 16) |
                           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[6], inv), mk_fmul_rn(f[7], inv)) << 24);
      *(uint32_t *)((uint8_t *)p.q + m * p.ldq + kg * (kGroup / 2) + lane * 4) = out;
    }
    if (lane == 0) {
      const int64_t at = kSwizzled ? mk_sf_offset_128x4(m, kg, kKg) : m * p.ldsf + kg;
      ((uint8_t *)p.sf)[at] = real ? (uint8_t)sf_code : (uint8_t)0;
    }
  }
}

/* kGroup = 32: MXFP4 (ue8m0 scales); kGroup = 16: NVFP4 (ue4m3 scales). */
template <int kK, int kGroup>
MK_KERNEL void MK_LAUNCH_BOUNDS(kFp4Threads) fp4_kernel(const mk__quant_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  static_assert(kGroup == 32 || kGroup == 16, "MXFP4 groups are 32, NVFP4 groups 16");
  static_assert(kK % kGroup == 0, "K must be a multiple of the group size");
  if (p.sf_layout == MK_SF_SWIZZLED_128X4) fp4_body<kK, kGroup, true>(p);
  else fp4_body<kK, kGroup, false>(p);
}

/* ---- launcher ----------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
template <int kK, int kGroup>
int launch_fp4(const mk__quant_params *p, void *stream) {
  constexpr int kKg = kK / kGroup;
  const bool swizzled = p->sf_layout == MK_SF_SWIZZLED_128X4;
  const int64_t rows = swizzled ? (p->m + 127) / 128 * 128 : p->m;
  const int64_t groups = rows * (swizzled ? (kKg + 3) / 4 * 4 : kKg);
  const int64_t per_block = (int64_t)kFp4Threads / (kGroup / 8) * kFp4Unroll;
  const unsigned blocks = (unsigned)((groups + per_block - 1) / per_block);
  fp4_kernel<kK, kGroup><<<blocks, kFp4Threads, 0, (cudaStream_t)stream>>>(*p);
  return (int)cudaGetLastError();
}
#endif

}  // namespace quant
}  // namespace mk

#endif /* MOEKIT_KERNELS_QUANT_FP4_CUH */
