/* moekit/kernels/moe/swiglu.cuh - the activation between the two expert GEMMs,
 * fused with the FP8 1x128 requantization the down GEMM reads.
 *
 *   h  bf16 [rows, 2 * I]: the gate/up GEMM's output. Gate and up are the two
 *      halves (gate = h[:, :I], up = h[:, I:]), or alternate columns when
 *      kInterleaved (gate = h[:, 0::2], up = h[:, 1::2], gpt-oss's order).
 *   a  = silu(gate) * up                                  (SwiGLU), or
 *   a  = g * sigmoid(alpha * g) * (u + 1),  g = min(gate, limit),
 *        u = clamp(up, -limit, limit)                      (gpt-oss, kClamped)
 *   q  e4m3 [rows, I] + f32 scales per 1x128 group, MN-major per group, with
 *      the same rule as mk_quant_fp8 applied to a in float32 (no bf16 round
 *      trip in between).
 * Rows whose expert is -1 (contiguous layout padding, row_expert) or past
 * masked_m of their group (masked layout) are skipped: the down GEMM's
 * output rows they feed are never read. With a row list (row_list, e.g. the
 * routing's pair -> row map) only the listed rows are visited, and the grid
 * is sized by the list: at decode the masked layout holds E * M rows for
 * M * top_k pairs (DeepSeek-V3, M = 128: 32768 rows, 1024 of them valid).
 *
 * One group = 16 lanes x 8 outputs; groups numbered row-major, kUnroll per
 * 16 lanes with all loads issued first (as quant/fp8_1x128.cuh).
 * NOTE: sigmoid uses the fast exp (ex2.approx): the activation is not part
 * of a bit-exact contract; tests compare against fp64 with a tolerance.
 */
#ifndef MOEKIT_KERNELS_MOE_SWIGLU_CUH
#define MOEKIT_KERNELS_MOE_SWIGLU_CUH

#include "moekit/kernels/quant/common.cuh"
#include "moekit/nv/launch.cuh"

namespace mk {
namespace moe {

constexpr int kSwigluThreads = 256;
constexpr int kSwigluUnroll = 2;

MK_DEV float fast_sigmoid(float x) {
#if defined(MK_CUDA)
  return __fdividef(1.0f, 1.0f + __expf(-x));
#else
  return 1.0f / (1.0f + __builtin_expf(-x));
#endif
}

template <bool kClamped>
MK_DEV float glu(float g, float u, float alpha, float limit) {
  if (kClamped) {
    g = g < limit ? g : limit;                 /* NaN-propagating min */
    u = u < -limit ? -limit : (u > limit ? limit : u);
    return g * fast_sigmoid(alpha * g) * (u + 1.0f);
  }
  return g * fast_sigmoid(g) * u;
}

MK_DEV bool swiglu_row_valid(const mk__swiglu_params &p, int64_t r) {
  if (p.row_list) return r >= 0 && r < p.rows; /* a listed row; r came from the list */
  if (p.row_expert) return p.row_expert[r] >= 0;
  if (p.masked_m) {
    const int64_t g = r / p.rows_per_group;
    return r - g * p.rows_per_group < p.masked_m[g];
  }
  return true;
}

/* ---- kernel ------------------------------------------------------------------------------ */
template <int kI, bool kClamped, bool kInterleaved>
MK_KERNEL void MK_LAUNCH_BOUNDS(kSwigluThreads) swiglu_fp8_kernel(const mk__swiglu_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  static_assert(kI % 128 == 0, "the intermediate size must be a multiple of 128");
  constexpr int kKb = kI / 128;
  constexpr int kHalfWarps = kSwigluThreads / 16;
  const int64_t groups = (p.row_list ? p.n_list : p.rows) * kKb;
  const int lane = (int)(mk_thread_x() & 15u);
  const int64_t base = (int64_t)mk_block_x() * (kHalfWarps * kSwigluUnroll) + (mk_thread_x() >> 4);

  /* [kSwigluUnroll] x (gate, up) 16 B each per lane: all loads first */
  mk_u32x4 a[kSwigluUnroll], b[kSwigluUnroll];
  int64_t rr[kSwigluUnroll];
  bool ok[kSwigluUnroll];
#pragma unroll
  for (int u = 0; u < kSwigluUnroll; ++u) {
    const int64_t g = base + u * kHalfWarps;
    const int64_t i = g / kKb; /* row, or entry of the row list */
    const int kb = (int)(g - i * kKb);
    const int64_t r = p.row_list && g < groups ? (int64_t)p.row_list[i] : i;
    rr[u] = r;
    ok[u] = g < groups && swiglu_row_valid(p, r);
    a[u].x = a[u].y = a[u].z = a[u].w = 0u;
    b[u] = a[u];
    if (ok[u]) {
      const uint16_t *row = (const uint16_t *)p.h + r * p.ldh;
      if (kInterleaved) { /* 8 (gate, up) pairs = 16 consecutive bf16 */
        a[u] = mk_ld_stream_16(row + 2 * (kb * 128 + lane * 8));
        b[u] = mk_ld_stream_16(row + 2 * (kb * 128 + lane * 8) + 8);
      } else {
        a[u] = mk_ld_stream_16(row + kb * 128 + lane * 8);
        b[u] = mk_ld_stream_16(row + kI + kb * 128 + lane * 8);
      }
    }
  }

#pragma unroll
  for (int u = 0; u < kSwigluUnroll; ++u) {
    float ga[8], ub[8], act[8];
    quant::amax8_bf16(a[u], ga); /* unpack only */
    quant::amax8_bf16(b[u], ub);
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      /* interleaved: ga holds g0 u0 g1 u1 g2 u2 g3 u3, ub the next four pairs */
      const float gv = kInterleaved ? (i < 4 ? ga[2 * i] : ub[2 * i - 8]) : ga[i];
      const float uv = kInterleaved ? (i < 4 ? ga[2 * i + 1] : ub[2 * i - 7]) : ub[i];
      act[i] = glu<kClamped>(gv, uv, p.alpha, p.limit);
      const float m = mk_fabsf(act[i]);
      amax = m <= 3.4028235e38f ? mk_fmaxf(amax, m) : amax;
    }
    amax = mk_fmaxf(mk_group_max_f32<16>(amax), quant::kFp8AmaxFloor);
    const float inv = mk_fdiv_rn(quant::kFp8Max, amax);
    if (!ok[u]) continue;
    const int64_t g = base + u * kHalfWarps;
    const int64_t r = rr[u];
    const int kb = (int)(g % kKb);
    mk_u32x2 out;
    out.x = mk_e4m3x2_from_f32x2(mk_fmul_rn(act[0], inv), mk_fmul_rn(act[1], inv)) |
            (mk_e4m3x2_from_f32x2(mk_fmul_rn(act[2], inv), mk_fmul_rn(act[3], inv)) << 16);
    out.y = mk_e4m3x2_from_f32x2(mk_fmul_rn(act[4], inv), mk_fmul_rn(act[5], inv)) |
            (mk_e4m3x2_from_f32x2(mk_fmul_rn(act[6], inv), mk_fmul_rn(act[7], inv)) << 16);
    *(mk_u32x2 *)((uint8_t *)p.q + r * p.ldq + kb * 128 + lane * 8) = out;
    if (lane == 0) {
      const int64_t grp = r / p.rows_per_group;
      p.sf[grp * p.sf_group_stride + (int64_t)kb * p.ld_sf + (r - grp * p.rows_per_group)] =
          mk_fdiv_rn(amax, quant::kFp8Max);
    }
  }
}

/* ---- launcher ------------------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
template <int kI, bool kClamped, bool kInterleaved>
int launch_swiglu_fp8(const mk__swiglu_params *p, void *stream) {
  const int64_t groups = (p->row_list ? p->n_list : p->rows) * (kI / 128);
  const int64_t per_block = (int64_t)(kSwigluThreads / 16) * kSwigluUnroll;
  const int64_t blocks = (groups + per_block - 1) / per_block;
  if (blocks <= 0) return 0;
  return nv::launch(swiglu_fp8_kernel<kI, kClamped, kInterleaved>, dim3((unsigned)blocks), dim3(kSwigluThreads), 0, stream,
                    p->pdl, 1, *p);
}
#endif

}  // namespace moe
}  // namespace mk

#endif /* MOEKIT_KERNELS_MOE_SWIGLU_CUH */
