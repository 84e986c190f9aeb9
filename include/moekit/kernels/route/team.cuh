/* moekit/kernels/route/team.cuh - top-k of one token by a team of warps (the
 * fused path at decode).
 *
 * Portable CUDA/HIP (and the host emulator). One warp per token (topk.cuh)
 * runs k rounds of warp argmax over E / W values per lane, a chain of about
 * 1700 dependent instructions for DeepSeek-V3's 256 experts, while the
 * CTA's other warps wait at the next barrier. At decode a CTA holds all M
 * tokens with warps to spare, so T warps (mk__route_team, plan.h) share a
 * token:
 *
 *   member t    experts [t * S, (t + 1) * S), S = E / T; lane l holds
 *               t * S + i * W + l, i < S / W (E = 256, T = 8: one per lane)
 *   grouped     scores -> shared row; member t scores groups t, t + T, ...
 *               (lanes over the group's experts, top-2 by warp max); every
 *               member then keeps the same topk_group groups
 *   each member k rounds of argmax over its slice -> k candidates (shared)
 *   member 0    k rounds over the T * k candidates, then the weights
 *
 * Selected experts, slot order, values and weights are those of the one-warp
 * selection bit for bit: a token's top k are each in their member's top k;
 * both orders are (key descending, expert ascending); values come from the
 * same code; softmax without renormalize sums the same exps in the same
 * order (from the shared row).
 *
 * Shared scratch per token (plan.h, mk__route_team_slot):
 *   row f32 [E] | gkey u32 [32] | ckey u32 [T * k] | cval f32 [T * k] | cexp i32 [T * k]
 * Every warp of the CTA calls (block barriers inside), with or without a
 * token.
 */
#ifndef MOEKIT_KERNELS_ROUTE_TEAM_CUH
#define MOEKIT_KERNELS_ROUTE_TEAM_CUH

#include "moekit/kernels/route/topk.cuh"

namespace mk {
namespace route {

template <int kKind, int kExperts, int kTopK, int kDtype>
struct team_select {
  static constexpr int T = mk__route_team(kKind, kExperts, kWarp);
  static constexpr int S = kExperts / T; /* experts per member */
  static constexpr int Ps = S / kWarp;   /* per lane */
  static constexpr int C = T * kTopK;    /* candidates */
  static constexpr int Pm = (C + kWarp - 1) / kWarp;
  static constexpr bool kKey32 = kKind != kSigmoidGrouped && kDtype != MK_DTYPE_F32;
  static_assert(T > 1 && kExperts % (T * kWarp) == 0, "a team splits the experts evenly, whole warps each");
  static_assert(Pm <= 32, "a candidate mask per lane is one u32");

  struct scratch {
    float *row;
    uint32_t *gkey, *ckey;
    float *cval;
    int32_t *cexp;
  };

  MK_DEV static scratch carve(unsigned char *base) {
    scratch s;
    s.row = (float *)base;
    s.gkey = (uint32_t *)(base + kExperts * 4);
    s.ckey = s.gkey + 32;
    s.cval = (float *)(s.ckey + C);
    s.cexp = (int32_t *)(s.cval + C);
    return s;
  }

  /* ---- group limit, as group_limit() in topk.cuh with the work split ---- */
  /* Member t (live: it has a token) clears the keys of its experts outside
   * the kept groups. Contains two block barriers. */
  MK_DEV static void group_limit_team(const mk__route_params &p, bool live, int t, int lane, uint32_t (&key)[Ps],
                                      const scratch &s) {
    const int gs = kExperts / p.n_group;
    if (live) {
#pragma unroll
      for (int i = 0; i < Ps; ++i) s.row[t * S + i * kWarp + lane] = key_to_f32(key[i]); /* biased scores */
    }
    sync_block();
    if (live) {
      for (int g = t; g < p.n_group; g += T) {
        /* the group's two largest scores: lane-local top two, then the warp's */
        float m1 = mk_f32_from_bits(0xff800000u), m2 = m1;
        for (int j = lane; j < gs; j += kWarp) {
          const float v = s.row[g * gs + j];
          if (v > m1) {
            m2 = m1;
            m1 = v;
          } else if (v > m2) {
            m2 = v;
          }
        }
        const uint32_t k1 = order_key(m1), top = warp_max_u32(k1);
        /* the second: another lane's best, or this lane's second when its best is the top */
        const uint32_t ties = warp_max_u32(k1 == top ? ~(uint32_t)lane : 0u); /* lowest lane holding top */
        const uint32_t k2 = (uint32_t)lane == ~ties ? order_key(m2) : k1;
        const float second = key_to_f32(warp_max_u32(k2));
        const float first = key_to_f32(top);
        if (lane == 0) s.gkey[g] = order_key(no_nan(gs >= 2 ? first + second : first));
      }
    }
    sync_block();
    if (!live) return;
    uint32_t gkey = lane < p.n_group ? s.gkey[lane] : 0u;
    uint32_t kept = 0u;
    for (int r = 0; r < p.topk_group; ++r) {
      const uint32_t mh = warp_max_u32(gkey);
      const uint32_t ml = warp_max_u32(gkey != 0u && gkey == mh ? ~(uint32_t)lane : 0u);
      const int g = (int)~ml;
      kept |= 1u << g;
      if (lane == g) gkey = 0u;
    }
#pragma unroll
    for (int i = 0; i < Ps; ++i) {
      const int e = t * S + i * kWarp + lane;
      if (!((kept >> (e / gs)) & 1u)) key[i] = 0u;
    }
  }

  /* ---- the best remaining candidate of this lane (experts stored, not implied) ---- */
  MK_DEV static void cand_best(const uint32_t (&ck)[Pm], const float (&cv)[Pm], const int32_t (&ce)[Pm],
                               uint32_t taken, uint32_t &bkey, float &bval, int32_t &bexp, int &bi) {
    bkey = 0u;
    bval = 0.0f;
    bexp = 0;
    bi = 0;
#pragma unroll
    for (int i = 0; i < Pm; ++i) {
      const uint32_t k = ((taken >> i) & 1u) ? 0u : ck[i];
      /* NOTE: a tie of score keys inside one lane goes to the lower expert */
      if (k > bkey || (k == bkey && k != 0u && ce[i] < bexp)) {
        bkey = k;
        bval = cv[i];
        bexp = ce[i];
        bi = i;
      }
    }
  }

  /* ---- one token ---- */
  /* Every warp of the CTA calls; warp `warp` is member warp % T of token
   * slot warp / T, whose token is `token` (live when < M). Member 0 of a live
   * slot returns lane j < kTopK: slot j's expert and weight. */
  MK_DEV static bool select(const mk__route_params &p, int64_t token, bool live, int t, int lane,
                            unsigned char *slot_smem, int &out_expert, float &out_weight) {
    constexpr int kSize = kDtype == MK_DTYPE_F32 ? 4 : 2;
    const scratch s = carve(slot_smem);
    uint32_t key[Ps];
    float val[Ps];
    const void *logits = (const char *)p.logits + (live ? token : 0) * p.ld_logits * kSize;
    if (live) make_keys<kKind, kExperts, kDtype, Ps>(p, logits, t * S, lane, key, val);
    if (kKind == kSigmoidGrouped && p.grouped_step) {
      group_limit_team(p, live, t, lane, key, s);
    } else if (kKind == kSoftmax && !p.renormalize && live) {
#pragma unroll
      for (int i = 0; i < Ps; ++i) s.row[t * S + i * kWarp + lane] = val[i]; /* for the full sum */
    }

    /* ---- this member's top k -> candidates ---- */
    if (live) {
      int my_e;
      float my_v;
      uint32_t my_key;
      argmax_rounds<kKind, kTopK, kDtype, Ps>(key, val, t * S, lane, my_e, my_v, my_key);
      if (lane < kTopK) {
        s.ckey[t * kTopK + lane] = my_key;
        s.cval[t * kTopK + lane] = my_v;
        s.cexp[t * kTopK + lane] = my_e;
      }
    }
    sync_block();
    if (!live || t != 0) return false;

    /* ---- member 0: the team's top k ---- */
    uint32_t ck[Pm];
    float cv[Pm];
    int32_t ce[Pm];
#pragma unroll
    for (int i = 0; i < Pm; ++i) {
      const int c = i * kWarp + lane;
      ck[i] = c < C ? s.ckey[c] : 0u;
      cv[i] = c < C ? s.cval[c] : 0.0f;
      ce[i] = c < C ? s.cexp[c] : 0;
    }
    uint32_t taken = 0u, bkey;
    float bval;
    int32_t bexp;
    int bi;
    cand_best(ck, cv, ce, taken, bkey, bval, bexp, bi);
    int my_e = 0;
    float my_v = 0.0f;
#pragma unroll
    for (int r = 0; r < kTopK; ++r) {
      const uint32_t mh = warp_max_u32(bkey);
      uint32_t e, mine;
      float v;
      if (kKey32) { /* the expert is in the key: one lane holds it */
        e = 0xffffu - (mh & 0xffffu);
        v = unorder16<kDtype>(mh >> 16);
        mine = bkey == mh && bkey != 0u;
      } else {
        e = ~warp_max_u32(bkey == mh && bkey != 0u ? ~(uint32_t)bexp : 0u);
        mine = bkey == mh && bkey != 0u && (uint32_t)bexp == e;
        v = 0.0f;
      }
      const uint32_t owner = ~warp_max_u32(mine ? ~(uint32_t)lane : 0u) & (kWarp - 1);
      if (!kKey32) v = shfl_f32(bval, (int)owner);
      taken |= (uint32_t)lane == owner && mine ? 1u << bi : 0u;
      cand_best(ck, cv, ce, taken, bkey, bval, bexp, bi);
      my_e = lane == r ? (int)e : my_e;
      my_v = lane == r ? v : my_v;
    }
    out_expert = my_e;
    out_weight = slot_weight<kKind, kExperts, kTopK>(p, lane, my_v, [&](int i) { return s.row[i * kWarp + lane]; });
    return true;
  }
};

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_TEAM_CUH */
