/* moekit/kernels/moe/reference.cuh - a plain float32 reference of a whole MoE
 * layer, for tests and examples. Written for obviousness, not speed: every
 * output element is one loop; nothing is shared with the fast path but the
 * format helpers.
 *
 * For S sampled tokens (tokens[S]):
 *   route    one thread per token, serial over experts: scores, top-k (ties
 *            to the lower index, NaN as -inf), weights (mk_route's rules)
 *   up       h[s, j] = sum_c xa[s, c] * W13[e, j, c] * sW13[e, j/128, c/128]
 *   act      a = silu(gate) * up, or gpt-oss's clamped form
 *   down     o[s, j] = sum_c a[s, c] * W2[e, j, c] * sW2[e, j/128, c/128]
 *   combine  y[s, j] = sum_slot w * o
 * With `mirror`, the activations are rounded where the fast path rounds them:
 * x and a through FP8 1x128 (quantize, dequantize), h and o to bf16. Without,
 * everything stays float32 (the layer's ideal).
 * One warp per dot product (lanes stride over c, then a warp sum).
 */
#ifndef MOEKIT_KERNELS_MOE_REFERENCE_CUH
#define MOEKIT_KERNELS_MOE_REFERENCE_CUH

#include "moekit/api/internal.h"
#include "moekit/core/formats.h"
#include "moekit/core/warp.h"

#if !defined(MK_CUDA)
#error "moekit/kernels/moe/reference.cuh is CUDA only (a test aid for the NVIDIA paths)"
#endif
#include <cuda_fp16.h>

namespace mk {
namespace moe {

constexpr int kRefThreads = 256;

typedef mk__moe_ref_params RefParams;

MK_DEV float ref_logit(const RefParams &p, int64_t t, int e) {
  float v;
  const int64_t i = t * p.experts + e;
  if (p.logits_dtype == MK_DTYPE_F32) v = ((const float *)p.logits)[i];
  else if (p.logits_dtype == MK_DTYPE_BF16) v = mk_bf16_to_f32(((const uint16_t *)p.logits)[i]);
  else v = __half2float(((const __half *)p.logits)[i]);
  return v != v ? -__int_as_float(0x7f800000) : v;   /* NaN counts as -inf */
}

/* ---- route: one thread per sampled token --------------------------------------------------- */
MK_KERNEL void ref_route_kernel(const RefParams p) {
  const int64_t s = (int64_t)mk_block_x() * kRefThreads + mk_thread_x();
  if (s >= p.s) return;
  const int64_t t = p.tokens[s];
  float *sc = p.scores + s * p.experts;          /* selection key of each expert */
  int32_t *ids = p.ids + s * p.top_k;
  float *w = p.wts + s * p.top_k;
  const int E = p.experts, K = p.top_k;
  float mx = -__int_as_float(0x7f800000);
  for (int e = 0; e < E; ++e) mx = fmaxf(mx, ref_logit(p, t, e));
  double denom = 0;
  for (int e = 0; e < E; ++e) {
    const float l = ref_logit(p, t, e);
    if (p.kind == 3) sc[e] = 1.0f / (1.0f + expf(-l)) + (p.bias ? p.bias[e] : 0.0f);
    else sc[e] = l;
    denom += p.kind == 1 ? exp((double)l - mx) : 0.0;
  }
  if (p.kind == 3 && p.topk_group < p.n_group) {   /* keep the topk_group best groups */
    const int per = E / p.n_group;
    bool keep[32];
    float gscore[32];
    for (int g = 0; g < p.n_group; ++g) {
      float b1 = -3e38f, b2 = -3e38f;
      for (int e = g * per; e < (g + 1) * per; ++e) {
        if (sc[e] > b1) { b2 = b1; b1 = sc[e]; }
        else if (sc[e] > b2) b2 = sc[e];
      }
      gscore[g] = per > 1 ? b1 + b2 : b1;
      keep[g] = false;
    }
    for (int n = 0; n < p.topk_group; ++n) {
      int best = -1;
      for (int g = 0; g < p.n_group; ++g)
        if (!keep[g] && (best < 0 || gscore[g] > gscore[best])) best = g;
      keep[best] = true;
    }
    for (int e = 0; e < E; ++e)
      if (!keep[e / per]) sc[e] = -__int_as_float(0x7f800000);
  }
  for (int k = 0; k < K; ++k) {                   /* top-k, ties to the lower index */
    int best = -1;
    for (int e = 0; e < E; ++e) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= ids[j] == e;
      if (!taken && (best < 0 || sc[e] > sc[best])) best = e;
    }
    ids[k] = best;
  }
  double sum = 0;
  for (int k = 0; k < K; ++k) {
    const float l = ref_logit(p, t, ids[k]);
    double v;
    if (p.kind == 1) v = exp((double)l - mx) / denom;
    else if (p.kind == 2) v = exp((double)l - (double)ref_logit(p, t, ids[0]));
    else v = 1.0 / (1.0 + exp(-(double)l));
    w[k] = (float)v;
    sum += v;
  }
  const bool norm = p.kind == 2 || p.renormalize;
  for (int k = 0; k < K; ++k) w[k] = (float)((norm ? w[k] / sum : w[k]) * (p.scaling > 0 ? p.scaling : 1.0f));
}

/* ---- activations through FP8 1x128 and back, in place (one thread, serial) ------------- */
MK_DEV void ref_fp8_roundtrip(float *v, int64_t n) {
  for (int64_t g = 0; g < n; g += 128) {
    float amax = 0.0f;
    for (int i = 0; i < 128; ++i) {
      const float a = fabsf(v[g + i]);
      if (a <= 3.4028235e38f) amax = fmaxf(amax, a);
    }
    amax = fmaxf(amax, 1e-4f);
    const float inv = __fdiv_rn(448.0f, amax), scale = __fdiv_rn(amax, 448.0f);
    for (int i = 0; i < 128; ++i) v[g + i] = mk_e4m3_to_f32(mk_e4m3_from_f32(__fmul_rn(v[g + i], inv))) * scale;
  }
}

MK_KERNEL void ref_x_kernel(const RefParams p) {
  const int64_t s = mk_block_x();
  for (int64_t c = mk_thread_x(); c < p.hidden; c += kRefThreads)
    p.xa[s * p.hidden + c] = mk_bf16_to_f32(p.x[p.tokens[s] * p.hidden + c]);
  mk_sync_block();
  if (p.mirror && mk_thread_x() == 0) ref_fp8_roundtrip(p.xa + s * p.hidden, p.hidden);
}

/* ---- one dot product per warp ------------------------------------------------------------- */
/* out[r, j] = sum_c in[r, c] * W[e, j, c] * S[e, j/128, c/128], r = s * top_k + slot */
MK_KERNEL void ref_gemm_kernel(const RefParams p, const float *in, int64_t in_rows_per_token, const uint8_t *w,
                               const float *ws, int64_t n, int64_t k, float *out) {
  const int64_t warp = ((int64_t)mk_block_x() * kRefThreads + mk_thread_x()) / 32;
  const int lane = (int)(mk_thread_x() % 32);
  const int64_t rows = p.s * p.top_k;
  if (warp >= rows * n) return;
  const int64_t r = warp / n, j = warp % n;
  const int64_t e = p.ids[r];
  const float *x = in + (in_rows_per_token == 1 ? (r / p.top_k) : r) * k;
  const uint8_t *wr = w + (e * n + j) * k;
  const float *sr = ws + (e * ((n + 127) / 128) + j / 128) * (k / 128);
  float acc = 0.0f;
  for (int64_t c = lane; c < k; c += 32) acc += x[c] * mk_e4m3_to_f32(wr[c]) * sr[c / 128];
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) out[r * n + j] = p.mirror ? mk_bf16_to_f32(mk_bf16_from_f32(acc)) : acc;
}

MK_KERNEL void ref_act_kernel(const RefParams p) {
  const int64_t r = mk_block_x();
  const float *h = p.h + r * 2 * p.inter;
  float *a = p.a + r * p.inter;
  for (int64_t c = mk_thread_x(); c < p.inter; c += kRefThreads) {
    float g = p.interleaved ? h[2 * c] : h[c], u = p.interleaved ? h[2 * c + 1] : h[p.inter + c];
    if (p.clamped) {
      g = fminf(g, p.limit);
      u = fminf(fmaxf(u, -p.limit), p.limit);
      a[c] = g / (1.0f + expf(-p.alpha * g)) * (u + 1.0f);
    } else {
      a[c] = g / (1.0f + expf(-g)) * u;
    }
  }
  mk_sync_block();
  if (p.mirror && mk_thread_x() == 0) ref_fp8_roundtrip(a, p.inter);
}

MK_KERNEL void ref_combine_kernel(const RefParams p) {
  const int64_t s = mk_block_x();
  for (int64_t c = mk_thread_x(); c < p.hidden; c += kRefThreads) {
    float acc = 0.0f;
    for (int k = 0; k < p.top_k; ++k) acc += p.wts[s * p.top_k + k] * p.o[(s * p.top_k + k) * p.hidden + c];
    p.y[s * p.hidden + c] = acc;
  }
}

/* ---- launcher ------------------------------------------------------------------------------- */
#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
inline int launch_reference(const mk__moe_ref_params *pp, void *stream_) {
  const RefParams &p = *pp;
  cudaStream_t st = (cudaStream_t)stream_;
  const int64_t rows = p.s * p.top_k;
  auto warps_grid = [](int64_t warps) { return (unsigned)((warps * 32 + kRefThreads - 1) / kRefThreads); };
  ref_route_kernel<<<(unsigned)((p.s + kRefThreads - 1) / kRefThreads), kRefThreads, 0, st>>>(p);
  ref_x_kernel<<<(unsigned)p.s, kRefThreads, 0, st>>>(p);
  ref_gemm_kernel<<<warps_grid(rows * 2 * p.inter), kRefThreads, 0, st>>>(p, p.xa, 1, p.w13, p.s13, 2 * p.inter,
                                                                         p.hidden, p.h);
  ref_act_kernel<<<(unsigned)rows, kRefThreads, 0, st>>>(p);
  ref_gemm_kernel<<<warps_grid(rows * p.hidden), kRefThreads, 0, st>>>(p, p.a, 0, p.w2, p.s2, p.hidden, p.inter, p.o);
  ref_combine_kernel<<<(unsigned)p.s, kRefThreads, 0, st>>>(p);
  return (int)cudaGetLastError();
}
#endif

}  // namespace moe
}  // namespace mk

#endif /* MOEKIT_KERNELS_MOE_REFERENCE_CUH */
