/* moekit/kernels/moe/dispatch.cuh - fused pre-dispatch quantization.
 *
 * bf16 tokens [M, K] -> FP8 1x128 (f32 scales) or MXFP4 (ue8m0 scales),
 * written straight into the expert layout routing produced, in one launch:
 *
 *   CTA t < M   token t: reads its row once, quantizes it group by group,
 *               and stores the codes and scale to each of its top_k
 *               destination rows (inverse[t, s]; -1 = not local, skipped);
 *               also copies topk_weights[t, s] to row_weights[row].
 *   CTA >= M    contiguous layout only (sorted_ids given): kFillRows rows
 *               each; rows below the rows in use whose pair is the sentinel
 *               M * top_k (padding up to block_m) get zero codes and scales.
 *
 * Codes and scales are bit-identical to mk_quant_fp8 / mk_quant_mxfp4 on the
 * same token (same helpers, same arithmetic). Scale addressing (FP8):
 * sf[(r / rows_per_group) * sf_group_stride + kb * ld_sf + r % rows_per_group],
 * MN-major per group (the contiguous layout is one group). MXFP4 scales are
 * row-major: sf[r * ld_sf + kg].
 */
#ifndef MOEKIT_KERNELS_MOE_DISPATCH_CUH
#define MOEKIT_KERNELS_MOE_DISPATCH_CUH

#include "moekit/kernels/quant/common.cuh"
#include "moekit/nv/launch.cuh"

namespace mk {
namespace moe {

constexpr int kDispatchThreads = 256;
constexpr int kFillRows = 8;       /* padding rows per fill CTA: 32 threads each */
constexpr int kMaxTopK = 32;
constexpr int kPreload = 4;        /* passes over the row whose loads are in flight together */

MK_DEV int64_t fp8_sf_index(const mk__dispatch_params &p, int64_t row, int kb) {
  const int64_t g = row / p.rows_per_group;
  return g * p.sf_group_stride + (int64_t)kb * p.ld_sf + (row - g * p.rows_per_group);
}

/* ---- padding rows (contiguous layout) -------------------------------------------------- */
template <int kK, int kGroup>
MK_DEV void fill_padding(const mk__dispatch_params &p, int64_t fill_block) {
  constexpr int kRowBytes = kGroup == 128 ? kK : kK / 2;
  const int64_t total = *p.total_rows < p.capacity ? *p.total_rows : p.capacity;
  const int64_t r = fill_block * kFillRows + mk_thread_x() / 32;
  const int lane = (int)(mk_thread_x() % 32);
  if (r >= total || p.sorted_ids[r] != (int32_t)(p.m * p.top_k)) return;
  mk_u32x4 zero = {0u, 0u, 0u, 0u};
  for (int c = lane; c < kRowBytes / 16; c += 32) *(mk_u32x4 *)((uint8_t *)p.q + r * p.ldq + c * 16) = zero;
  if (kGroup == 128) {
    for (int kb = lane; kb < kK / 128; kb += 32) ((float *)p.sf)[fp8_sf_index(p, r, kb)] = 0.0f;
  } else {
    for (int kg = lane; kg < kK / 32; kg += 32) ((uint8_t *)p.sf)[r * p.ld_sf + kg] = 0;
  }
  if (lane == 0 && p.row_weights) p.row_weights[r] = 0.0f;
}

/* ---- one group: quantize, then store to every destination row --------------------------- */
/* All lanes must call this (group max); lanes of a group past the row end
 * (g >= K / kGroup) only join the shuffles. */
template <int kK, int kGroup>
MK_DEV void quantize_and_scatter(const mk__dispatch_params &p, const mk_u32x4 &v, int g, int lane,
                                 const int32_t *dst, const int64_t *sf_base) {
  constexpr int kLanes = kGroup / 8;
  float f[8];
  float amax = mk_group_max_f32<kLanes>(quant::amax8_bf16(v, f));
  float inv;
  uint32_t sf_bits;
  if (kGroup == 128) {
    amax = mk_fmaxf(amax, quant::kFp8AmaxFloor);
    inv = mk_fdiv_rn(quant::kFp8Max, amax);
    sf_bits = mk_f32_bits(mk_fdiv_rn(amax, quant::kFp8Max));
  } else {
    sf_bits = mk_ue8m0_from_f32_ceil(mk_fdiv_rn(amax, 6.0f));
    inv = quant::ue8m0_inverse(sf_bits);
  }
  if (g >= kK / kGroup) return;
  mk_u32x2 out8;
  uint32_t out4 = 0;
  if (kGroup == 128) {
    out8.x = mk_e4m3x2_from_f32x2(mk_fmul_rn(f[0], inv), mk_fmul_rn(f[1], inv)) |
             (mk_e4m3x2_from_f32x2(mk_fmul_rn(f[2], inv), mk_fmul_rn(f[3], inv)) << 16);
    out8.y = mk_e4m3x2_from_f32x2(mk_fmul_rn(f[4], inv), mk_fmul_rn(f[5], inv)) |
             (mk_e4m3x2_from_f32x2(mk_fmul_rn(f[6], inv), mk_fmul_rn(f[7], inv)) << 16);
  } else {
    out4 = mk_e2m1x2_from_f32x2(mk_fmul_rn(f[0], inv), mk_fmul_rn(f[1], inv)) |
           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[2], inv), mk_fmul_rn(f[3], inv)) << 8) |
           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[4], inv), mk_fmul_rn(f[5], inv)) << 16) |
           (mk_e2m1x2_from_f32x2(mk_fmul_rn(f[6], inv), mk_fmul_rn(f[7], inv)) << 24);
  }
  for (int s = 0; s < p.top_k; ++s) {
    const int64_t d = dst[s];
    if (d < 0) continue;
    uint8_t *qrow = (uint8_t *)p.q + d * p.ldq;
    if (kGroup == 128) {
      *(mk_u32x2 *)(qrow + g * 128 + lane * 8) = out8;
      if (lane == 0) ((float *)p.sf)[sf_base[s] + (int64_t)g * p.ld_sf] = mk_f32_from_bits(sf_bits);
    } else {
      *(uint32_t *)(qrow + g * 16 + lane * 4) = out4;
      if (lane == 0) ((uint8_t *)p.sf)[sf_base[s] + g] = (uint8_t)sf_bits;
    }
  }
}

/* ---- kernel ------------------------------------------------------------------------------ */
/* kGroup = 128: FP8 1x128 with f32 scales; kGroup = 32: MXFP4. */
template <int kK, int kGroup>
MK_KERNEL void MK_LAUNCH_BOUNDS(kDispatchThreads) dispatch_kernel(const mk__dispatch_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  static_assert(kGroup == 128 || kGroup == 32, "FP8 1x128 or MXFP4");
  static_assert(kK % kGroup == 0, "K must be a multiple of the group");
  constexpr int kLanes = kGroup / 8;                   /* lanes per group, 8 bf16 each */
  constexpr int kGroups = kK / kGroup;
  constexpr int kPerPass = kDispatchThreads / kLanes;  /* groups per pass of the CTA */
  constexpr int kPasses = (kGroups + kPerPass - 1) / kPerPass;
  __shared__ int32_t dst[kMaxTopK];
  __shared__ int64_t sf_base[kMaxTopK]; /* each destination's scale index at group 0 */

  const int64_t t = mk_block_x();
  if (t >= p.m) {
    fill_padding<kK, kGroup>(p, t - p.m);
    return;
  }
  const int tid = (int)mk_thread_x();
  if (tid < p.top_k) {
    const int32_t d = p.inverse[t * p.top_k + tid];
    dst[tid] = d;
    /* NOTE: once per destination, not per group: the FP8 index divides a
     * 64-bit row by rows_per_group, which lane 0 would otherwise repeat for
     * every (group, destination) on the token's critical path */
    sf_base[tid] = d < 0 ? 0 : kGroup == 128 ? fp8_sf_index(p, d, 0) : (int64_t)d * p.ld_sf;
    if (p.row_weights && d >= 0) p.row_weights[d] = p.topk_weights[t * p.top_k + tid];
  }
  const int lane = tid % kLanes;
  const uint16_t *row = (const uint16_t *)p.x + t * p.ldx;

  mk_sync_block(); /* dst[] */

  /* Passes of the CTA over the row, kPreload at a time: all their loads
   * (16 B per lane each) are issued before the first is used. */
#pragma unroll 1
  for (int i0 = 0; i0 < kPasses; i0 += kPreload) {
    mk_u32x4 v[kPreload];
#pragma unroll
    for (int j = 0; j < kPreload; ++j) {
      const int g = (i0 + j) * kPerPass + tid / kLanes;
      v[j].x = v[j].y = v[j].z = v[j].w = 0u;
      if (i0 + j < kPasses && g < kGroups) v[j] = mk_ld_stream_16(row + g * kGroup + lane * 8);
    }
#pragma unroll
    for (int j = 0; j < kPreload; ++j) {
      if (i0 + j >= kPasses) break;                      /* uniform across the CTA */
      const int g = (i0 + j) * kPerPass + tid / kLanes;
      quantize_and_scatter<kK, kGroup>(p, v[j], g, lane, dst, sf_base);
    }
  }
}

/* ---- launcher ------------------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
template <int kK, int kGroup>
int launch_dispatch(const mk__dispatch_params *p, void *stream) {
  const int64_t fill = p->sorted_ids ? (p->capacity + kFillRows - 1) / kFillRows : 0;
  const int64_t blocks = p->m + fill;
  if (blocks <= 0) return 0;
  return nv::launch(dispatch_kernel<kK, kGroup>, dim3((unsigned)blocks), dim3(kDispatchThreads), 0, stream, p->pdl, 1, *p);
}
#endif

}  // namespace moe
}  // namespace mk

#endif /* MOEKIT_KERNELS_MOE_DISPATCH_CUH */
