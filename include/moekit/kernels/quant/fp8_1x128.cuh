/* moekit/kernels/quant/fp8_1x128.cuh - bf16 -> e4m3 per-token 1x128 groups.
 *
 * Portable CUDA/HIP. One 1x128 group is handled by 16 lanes, 8 bf16 (16 B)
 * each; the group's amax is a 16-lane max. Groups are numbered row-major
 * (g = m * K/128 + kb) so the input streams sequentially; the scales go to
 * the MN-major layout the GEMMs read with TMA (4-byte stores that L2 merges).
 *
 * Scales (see moekit.h, mk_quant_fp8):
 *   f32:     sf[kb * ld + m] = max(amax, 1e-4) / 448,  q = e4m3(x * (448 / amax))
 *   ue8m0x4: byte (kb % 4) of int32 sf[(kb / 4) * ld + m] = ue8m0_ceil(amax / 448),
 *            q = e4m3(x * 2^-(e - 127)); unused bytes of the last int32 are 0.
 * amax ignores inf and NaN: one bad value never destroys its 127 neighbours;
 * inf then saturates to +-448 and NaN gives 0x7f (the multiply returns the
 * canonical NaN, whatever the input sign).
 * NOTE: the arithmetic is spelled with mk_f*_rn so that nvcc cannot contract
 * it into FMAs: results are bit-identical to the CPU references.
 */
#ifndef MOEKIT_KERNELS_QUANT_FP8_1X128_CUH
#define MOEKIT_KERNELS_QUANT_FP8_1X128_CUH

#include "moekit/kernels/quant/common.cuh"

namespace mk {
namespace quant {

constexpr int kFp8Threads = 128;         /* 8 groups per pass (H200: 1-2% faster than 256, docs/perf.md) */
constexpr int kFp8Unroll = 4;            /* groups per 16 lanes, loads issued together */

/* ---- kernel ------------------------------------------------------------------------- */
/* A block owns kFp8Unroll * 16 consecutive groups in row-major order (k-group
 * fastest); in unroll step u its 16 half-warps read 16 consecutive groups
 * (4 KB contiguous), so DRAM sees the input as one stream. */
template <int kK, bool kUe8m0, int kThreads = kFp8Threads, int kUnroll = kFp8Unroll, bool kPf256 = false>
MK_KERNEL void MK_LAUNCH_BOUNDS(kThreads) fp8_1x128_kernel(const mk__quant_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  static_assert(kK % 128 == 0, "K must be a multiple of 128");
  constexpr int kKb = kK / 128;
  constexpr int kHalfWarps = kThreads / 16;
  const int64_t groups = p.m * kKb;
  const int lane = (int)(mk_thread_x() & 15u);             /* lane within the group */
  const int64_t base = (int64_t)mk_block_x() * (kHalfWarps * kUnroll) + (mk_thread_x() >> 4);

  /* [kUnroll] x 16 B per lane: all loads first */
  mk_u32x4 v[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t g = base + u * kHalfWarps;
    v[u].x = v[u].y = v[u].z = v[u].w = 0u;
    if (g < groups) {
      const int64_t m = g / kKb;                              /* compile-time divisor */
      const int kb = (int)(g - m * kKb);
      const uint16_t *src = (const uint16_t *)p.x + m * p.ldx + kb * 128 + lane * 8;
      v[u] = kPf256 ? mk_ld_stream_16_pf256(src) : mk_ld_stream_16(src);
    }
  }

#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    float f[8];
    /* every lane joins the shuffles, valid or not */
    const float amax = mk_fmaxf(mk_group_max_f32<16>(amax8_bf16(v[u], f)), kFp8AmaxFloor);
    float inv;
    uint32_t sf_bits;
    if (kUe8m0) {
      const uint32_t e = mk_ue8m0_from_f32_ceil(mk_fdiv_rn(amax, kFp8Max));
      inv = ue8m0_inverse(e);
      sf_bits = e;
    } else {
      inv = mk_fdiv_rn(kFp8Max, amax);
      sf_bits = mk_f32_bits(mk_fdiv_rn(amax, kFp8Max));
    }
    const int64_t g = base + u * kHalfWarps;
    if (g >= groups) continue;
    const int64_t m = g / kKb;
    const int kb = (int)(g - m * kKb);
    mk_u32x2 out;
    out.x = mk_e4m3x2_from_f32x2(mk_fmul_rn(f[0], inv), mk_fmul_rn(f[1], inv)) |
            (mk_e4m3x2_from_f32x2(mk_fmul_rn(f[2], inv), mk_fmul_rn(f[3], inv)) << 16);
    out.y = mk_e4m3x2_from_f32x2(mk_fmul_rn(f[4], inv), mk_fmul_rn(f[5], inv)) |
            (mk_e4m3x2_from_f32x2(mk_fmul_rn(f[6], inv), mk_fmul_rn(f[7], inv)) << 16);
    *(mk_u32x2 *)((uint8_t *)p.q + m * p.ldq + kb * 128 + lane * 8) = out;
    if (lane == 0) {
      if (kUe8m0) {
        uint8_t *sf = (uint8_t *)p.sf + ((int64_t)(kb / 4) * p.ldsf + m) * 4;
        sf[kb % 4] = (uint8_t)sf_bits;
        if (kb == kKb - 1)                                    /* zero the unused bytes */
          for (int j = kb % 4 + 1; j < 4; ++j) sf[j] = 0;
      } else {
        ((float *)p.sf)[(int64_t)kb * p.ldsf + m] = mk_f32_from_bits(sf_bits);
      }
    }
  }
}

/* ---- launcher ----------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
template <int kK, bool kUe8m0, int kThreads = kFp8Threads, int kUnroll = kFp8Unroll, bool kPf256 = false>
int launch_fp8_1x128(const mk__quant_params *p, void *stream) {
  const int64_t groups = p->m * (kK / 128);
  const int64_t per_block = (int64_t)(kThreads / 16) * kUnroll;
  const unsigned blocks = (unsigned)((groups + per_block - 1) / per_block);
  fp8_1x128_kernel<kK, kUe8m0, kThreads, kUnroll, kPf256><<<blocks, kThreads, 0, (cudaStream_t)stream>>>(*p);
  return (int)cudaGetLastError();
}
#endif

}  // namespace quant
}  // namespace mk

#endif /* MOEKIT_KERNELS_QUANT_FP8_1X128_CUH */
