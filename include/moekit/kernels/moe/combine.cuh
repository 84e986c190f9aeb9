/* moekit/kernels/moe/combine.cuh - the weighted sum of each token's expert outputs.
 *
 *   y[t, :] (+)= sum over s = 0 .. top_k-1 of weights[t, s] * src[inverse[t, s], :]
 *
 * src holds the down GEMM's output rows in the expert layout (contiguous or
 * masked, viewed as rows); inverse[t, s] = -1 (expert on another rank)
 * contributes nothing. The sum runs in float32 in slot order s = 0, 1, ...,
 * one fused multiply-add per slot, then rounds once to bf16 (RNE): the result
 * is deterministic, independent of the launch geometry. With accumulate,
 * y's old value is added last (e.g. the shared expert's output).
 *
 * Grid [M, hidden / (8 * 128)]: each thread owns 8 columns (16 B) of one
 * token and issues its top_k row loads 8 at a time, so a decode step is one
 * round trip to memory per 8 slots.
 */
#ifndef MOEKIT_KERNELS_MOE_COMBINE_CUH
#define MOEKIT_KERNELS_MOE_COMBINE_CUH

#include "moekit/api/internal.h"
#include "moekit/core/formats.h"
#include "moekit/core/warp.h"
#include "moekit/nv/launch.cuh"

namespace mk {
namespace moe {

constexpr int kCombineThreads = 128;
constexpr int kCombineMaxTopK = 32;

MK_DEV void bf16x8_unpack(const mk_u32x4 &v, float (&f)[8]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = mk_f32_from_bits(w[i] << 16);
    f[2 * i + 1] = mk_f32_from_bits(w[i] & 0xffff0000u);
  }
}

/* ---- kernel ------------------------------------------------------------------------------ */
template <int kH>
MK_KERNEL void MK_LAUNCH_BOUNDS(kCombineThreads) combine_kernel(const mk__combine_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  static_assert(kH % 8 == 0, "hidden must be a multiple of 8");
  constexpr int kChunks = kH / 8;
  __shared__ int64_t rows[kCombineMaxTopK];
  __shared__ float w[kCombineMaxTopK];
  const int64_t t = mk_block_x();
  const int tid = (int)mk_thread_x();
  if (tid < p.top_k) {
    rows[tid] = p.inverse[t * p.top_k + tid];
    w[tid] = p.weights[t * p.top_k + tid];
  }
  mk_sync_block();

  const int c = (int)mk_block_y() * kCombineThreads + tid;
  if (c >= kChunks) return;
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (int s0 = 0; s0 < p.top_k; s0 += 8) {   /* slots in order */
    mk_u32x4 v[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      v[j].x = v[j].y = v[j].z = v[j].w = 0u;
      if (s0 + j < p.top_k && rows[s0 + j] >= 0)
        v[j] = *(const mk_u32x4 *)((const uint16_t *)p.src + rows[s0 + j] * p.lds + c * 8);
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if (s0 + j >= p.top_k || rows[s0 + j] < 0) continue;
      float f[8];
      bf16x8_unpack(v[j], f);
      const float ws = w[s0 + j];
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[i] = mk_fmaf(ws, f[i], acc[i]);
    }
  }
  uint16_t *yrow = (uint16_t *)p.y + t * p.ldy + c * 8;
  if (p.accumulate) {
    float old[8];
    bf16x8_unpack(*(const mk_u32x4 *)yrow, old);
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[i] += old[i];
  }
  mk_u32x4 out;
  out.x = mk_bf16x2_from_f32x2(acc[0], acc[1]);
  out.y = mk_bf16x2_from_f32x2(acc[2], acc[3]);
  out.z = mk_bf16x2_from_f32x2(acc[4], acc[5]);
  out.w = mk_bf16x2_from_f32x2(acc[6], acc[7]);
  *(mk_u32x4 *)yrow = out;
}

/* ---- launcher ------------------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
template <int kH>
int launch_combine(const mk__combine_params *p, void *stream) {
  const dim3 grid((unsigned)p->m, (kH / 8 + kCombineThreads - 1) / kCombineThreads);
  if (p->m <= 0) return 0;
  return nv::launch(combine_kernel<kH>, grid, dim3(kCombineThreads), 0, stream, p->pdl, 1, *p);
}
#endif

}  // namespace moe
}  // namespace mk

#endif /* MOEKIT_KERNELS_MOE_COMBINE_CUH */
