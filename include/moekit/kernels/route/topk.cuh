/* moekit/kernels/route/topk.cuh - top-k expert selection of one token by one warp.
 *
 * Portable CUDA/HIP (and the host emulator). A warp reads the token's logits
 * row once; lane l holds experts l, l + W, l + 2W, ... (W = warp size), so
 * every load instruction of the warp reads W consecutive logits:
 *
 *   [P] per lane, P = ceil(E / W)     key[i], val[i] of expert i * W + lane
 *     E = 256, W = 32: lane 5 holds experts 5, 37, 69, ..., 229 (P = 8)
 *
 * Scores (what selection compares) and values (what weights are made of):
 *   softmax, softmax_after_topk   score = logit,             value = logit
 *   sigmoid_grouped               score = sigmoid + bias[e], value = sigmoid
 * NaN logits count as -inf (common.cuh). Selection is k rounds of a warp
 * argmax over keys that order by score, then by lower expert index, so slot
 * j holds the j-th best expert (descending score, as torch.topk(sorted=True)):
 *   softmax kinds, bf16/f16 logits   (ordered logit16 << 16) | (0xffff - e): one warp max
 *   otherwise                        (order_key(score), ~e): two warp maxes
 *
 * Grouped (DeepSeek-V3 noaux_tc): group g holds experts [g*E/G, (g+1)*E/G);
 * its score is the sum of its two largest biased scores (its only score if
 * the group has one expert); the topk_group best groups are kept (ties to
 * the lower group) and selection runs over their experts only.
 *
 * Weights (lane j < k holds slot j), then times routed_scaling_factor:
 *   softmax             e_j / sum_all(e)       e = exp(x - max x)
 *     with renormalize  e_j / sum_selected(e)  (the full sum cancels)
 *   softmax_after_topk  e_j / sum_selected(e)
 *   sigmoid_grouped     s_j / (sum_selected(s) + 1e-20), or s_j without renormalize
 * Infinite logits are clamped to +-FLT_MAX inside exp (all -inf: equal weights).
 */
#ifndef MOEKIT_KERNELS_ROUTE_TOPK_CUH
#define MOEKIT_KERNELS_ROUTE_TOPK_CUH

#include "moekit/kernels/route/common.cuh"

namespace mk {
namespace route {

/* mk_route_kind values (moekit.h); the registry variant of a route instance. */
constexpr int kSoftmax = 1;
constexpr int kSoftmaxAfterTopk = 2;
constexpr int kSigmoidGrouped = 3;

/* Best remaining element of this lane: (key, value, index); key 0 = none.
 * NOTE: an unrolled compare chain, never key[bi]: a runtime index into a
 * register array would send the arrays to local memory. */
template <int P>
MK_DEV void lane_best(const uint32_t (&key)[P], const float (&val)[P], uint32_t taken, uint32_t &bkey, float &bval,
                      int &bi) {
  bkey = 0u;
  bval = 0.0f;
  bi = 0;
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const uint32_t k = ((taken >> i) & 1u) ? 0u : key[i];
    if (k > bkey) { /* strict: among equal keys of one lane the lower expert stays */
      bkey = k;
      bval = val[i];
      bi = i;
    }
  }
}

/* Softmax kinds with bf16 / f16 logits select on the logit itself, so one
 * 32-bit key is exact: (ordered 16-bit logit << 16) | (0xffff - expert), and
 * a round is one warp max instead of two. NaN -> -inf, -0 -> +0. */
template <int kDtype>
MK_DEV uint32_t order16(uint32_t h) {
  const uint32_t inf = kDtype == MK_DTYPE_BF16 ? 0x7f80u : 0x7c00u;
  if ((h & 0x7fffu) > inf) h = 0x8000u | inf;
  if (h == 0x8000u) h = 0u;
  return (h & 0x8000u) ? (~h & 0xffffu) : (h | 0x8000u);
}

template <int kDtype>
MK_DEV float unorder16(uint32_t o) {
  const uint16_t h = (uint16_t)((o & 0x8000u) ? (o & 0x7fffu) : (~o & 0xffffu));
  return kDtype == MK_DTYPE_BF16 ? mk_bf16_to_f32(h) : f16_to_f32(h);
}

template <int P>
MK_DEV float tree_sum(float (&a)[P]) {
#pragma unroll
  for (int s = 1; s < P; s *= 2)
#pragma unroll
    for (int i = 0; i + s < P; i += 2 * s) a[i] += a[i + s];
  return a[0];
}

/* ---- group limit (sigmoid_grouped with 1 < topk_group < n_group) --------------------- */
/* row: this warp's [E] f32 scratch in shared memory. Clears the keys of the
 * experts outside the kept groups. */
template <int kExperts, int P>
MK_DEV void group_limit(const mk__route_params &p, uint32_t (&key)[P], int lane, float *row) {
  const int gs = kExperts / p.n_group; /* experts per group */
  /* [E] f32 biased scores, expert-major */
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = i * kWarp + lane;
    if (e < kExperts) row[e] = key_to_f32(key[i]);
  }
  sync_warp();
  uint32_t gkey = 0u;
  if (lane < p.n_group) {
    /* lane g scans group g, starting at a lane-dependent element so the
     * lanes hit different banks (gs = 32: lane g reads bank (g + j) % 32) */
    const float *grp = row + lane * gs;
    float m1 = mk_f32_from_bits(0xff800000u), m2 = m1;
    int j = lane % gs;
    for (int n = 0; n < gs; ++n) {
      const float v = grp[j];
      if (v > m1) {
        m2 = m1;
        m1 = v;
      } else if (v > m2) {
        m2 = v;
      }
      j = j + 1 == gs ? 0 : j + 1;
    }
    gkey = order_key(no_nan(gs >= 2 ? m1 + m2 : m1));
  }
  sync_warp(); /* the row is rewritten by the warp's next token */
  uint32_t kept = 0u;
  for (int r = 0; r < p.topk_group; ++r) {
    const uint32_t mh = warp_max_u32(gkey);
    const uint32_t ml = warp_max_u32(gkey != 0u && gkey == mh ? ~(uint32_t)lane : 0u);
    const int g = (int)~ml;
    kept |= 1u << g;
    if (lane == g) gkey = 0u;
  }
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = i * kWarp + lane;
    if (e < kExperts && !((kept >> (e / gs)) & 1u)) key[i] = 0u;
  }
}

/* ---- one token ----------------------------------------------------------------------- */
/* Every lane of the warp calls. Lane j < kTopK returns slot j's expert
 * (global id) and weight. row: [E] f32 shared scratch (grouped step only). */
template <int kKind, int kExperts, int kTopK, int kDtype>
MK_DEV void select_token(const mk__route_params &p, int64_t token, int lane, float *row, int &out_expert,
                         float &out_weight) {
  constexpr int P = (kExperts + kWarp - 1) / kWarp;
  constexpr int kSize = kDtype == MK_DTYPE_F32 ? 4 : 2;
  constexpr bool kKey32 = kKind != kSigmoidGrouped && kDtype != MK_DTYPE_F32;
  static_assert(kTopK >= 1 && kTopK <= MK_ROUTE_MAX_TOP_K && kTopK <= kExperts, "1 <= top_k <= min(32, experts)");
  static_assert(kExperts >= 1 && kExperts <= MK_ROUTE_MAX_EXPERTS, "1 <= experts <= 1024");
  static_assert(P <= 32, "an expert mask per lane is one u32");
  const void *logits = (const char *)p.logits + token * p.ld_logits * kSize;

  /* [P] logits per lane (raw 16-bit or f32): every load first */
  uint32_t raw[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = i * kWarp + lane;
    raw[i] = e >= kExperts ? 0u
             : kDtype == MK_DTYPE_F32 ? ((const uint32_t *)logits)[e] : (uint32_t)((const uint16_t *)logits)[e];
  }
  uint32_t key[P];
  float val[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = i * kWarp + lane;
    const float xi = no_nan(kDtype == MK_DTYPE_F32 ? mk_f32_from_bits(raw[i])
                            : kDtype == MK_DTYPE_BF16 ? mk_bf16_to_f32((uint16_t)raw[i]) : f16_to_f32((uint16_t)raw[i]));
    if (kKey32) {
      val[i] = xi;
      key[i] = (order16<kDtype>(raw[i]) << 16) | (0xffffu - (uint32_t)e);
    } else if (kKind == kSigmoidGrouped) {
      const float s = 1.0f / (1.0f + exp_f32(-xi)); /* -inf -> 0, +inf -> 1 */
      const float b = p.bias ? p.bias[e < kExperts ? e : 0] : 0.0f;
      val[i] = s;
      key[i] = order_key(no_nan(s + b));
    } else {
      val[i] = xi;
      key[i] = order_key(xi);
    }
    if (e >= kExperts) key[i] = 0u;
  }
  if (kKind == kSigmoidGrouped && p.grouped_step) group_limit<kExperts, P>(p, key, lane, row);

  /* ---- k rounds of warp argmax ---- */
  uint32_t taken = 0u, bkey;
  float bval;
  int bi;
  lane_best<P>(key, val, taken, bkey, bval, bi);
  int my_e = 0;
  float my_v = 0.0f;
#pragma unroll
  for (int r = 0; r < kTopK; ++r) {
    uint32_t e;
    float v;
    if (kKey32) { /* (logit, expert) in one key */
      const uint32_t mk = warp_max_u32(bkey);
      e = 0xffffu - (mk & 0xffffu);
      v = unorder16<kDtype>(mk >> 16);
    } else { /* (score, ~expert): the expert breaks ties in a second max */
      const uint32_t lo = bkey ? ~(uint32_t)(bi * kWarp + lane) : 0u;
      const uint32_t mh = warp_max_u32(bkey);
      e = ~warp_max_u32(bkey == mh ? lo : 0u);
      v = shfl_f32(bval, (int)(e % kWarp));
    }
    /* NOTE: every lane recomputes its best, not only the owner: a divergent
     * branch costs the warp the same time, and without one no value has to
     * stay live across a reconvergence point (ptxas spilled one there). */
    taken |= (uint32_t)lane == e % kWarp ? 1u << (e / kWarp) : 0u;
    lane_best<P>(key, val, taken, bkey, bval, bi);
    my_e = lane == r ? (int)e : my_e;
    my_v = lane == r ? v : my_v;
  }

  /* ---- weights ---- */
  float w;
  if (kKind == kSigmoidGrouped) {
    w = my_v;
    if (p.renormalize) w = my_v / (warp_sum_f32(lane < kTopK ? my_v : 0.0f) + 1e-20f);
  } else {
    const float vmax = clamp_finite(shfl_f32(my_v, 0)); /* slot 0 holds the largest logit */
    const float ex = lane < kTopK ? exp_f32(clamp_finite(my_v) - vmax) : 0.0f;
    float denom;
    if (kKind == kSoftmax && !p.renormalize) {
      float part[P];
#pragma unroll
      for (int i = 0; i < P; ++i)
        part[i] = i * kWarp + lane < kExperts ? exp_f32(clamp_finite(val[i]) - vmax) : 0.0f;
      denom = warp_sum_f32(tree_sum<P>(part));
    } else {
      denom = warp_sum_f32(ex);
    }
    w = ex / denom;
  }
  out_expert = my_e;
  out_weight = w * p.scale;
}

/* Selects one token and writes its outputs: topk_ids / topk_weights (when
 * wanted) and sid[0..k): the local expert of each slot, -1 if remote. */
template <int kKind, int kExperts, int kTopK, int kDtype>
MK_DEV void route_token(const mk__route_params &p, int64_t token, int lane, float *row, int16_t *sid) {
  int e;
  float w;
  select_token<kKind, kExperts, kTopK, kDtype>(p, token, lane, row, e, w);
  if (lane < kTopK) {
    const int64_t q = token * kTopK + lane;
    if (p.topk_ids) p.topk_ids[q] = e;
    if (p.topk_weights) p.topk_weights[q] = w;
    sid[lane] = (e >= p.expert_start && e < p.expert_end) ? (int16_t)(e - p.expert_start) : (int16_t)-1;
  }
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_TOPK_CUH */
