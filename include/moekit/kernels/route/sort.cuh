/* moekit/kernels/route/sort.cuh - sorting (token, slot) pairs by expert, in
 * one CTA's shared memory: ranks, padded offsets, scatter into the layouts.
 *
 * Portable CUDA/HIP. A sorting CTA owns `tokens` consecutive tokens starting
 * at t0 (fused path: all M tokens; multi path: one chunk) and their pairs
 * q = t * k + slot (t local to the CTA). The rank of a pair inside its
 * expert is the number of tokens before it that picked the same expert;
 * tokens are distinct within an expert, so a bitmap gives it exactly:
 *
 *   bits[w][e]  u32, bit b set <=> local token 32 * w + b picked expert e
 *   wpre[w][e]  tokens of expert e in words 0 .. w-1
 *   rank(t, e)  = base[e] + wpre[t/32][e] + popc(bits[t/32][e] & ((1 << t%32) - 1))
 *
 * (base[e]: pairs of expert e in earlier chunks; 0 on the fused path.) The
 * bitmap is built with shared atomic ORs, whose result does not depend on
 * their order: the layout is deterministic, ascending token index inside
 * each expert. Word-major [W][E_l] so that one thread per expert walks its
 * words without bank conflicts. The CTA's pairs are then listed by (expert,
 * token) in order[] (shared), so the row-indexed outputs are written by
 * consecutive threads at consecutive rows.
 *
 * Layout of one expert e (local id) in the contiguous outputs, block_m = 4,
 * counts {e0: 3, e1: 0, e2: 5}, M * k = 16 (sentinel 16):
 *   off          0 .. 4 .. 4 .. 12       (e1 has no rows, no blocks)
 *   sorted_ids   p p p 16 | p p p p p 16 16 16 | 16 16 ... (tail to sorted_len)
 *   sorted_exp.  0 0 0 -1 | 2 2 2 2 2 -1 -1 -1 | -1 ...
 *   block_exp.   0 | 2 2 | -1 ...
 * prefill() writes the padding values everywhere first; scatter() then
 * writes the rows that hold pairs (and the first row of each block).
 */
#ifndef MOEKIT_KERNELS_ROUTE_SORT_CUH
#define MOEKIT_KERNELS_ROUTE_SORT_CUH

#include "moekit/kernels/route/common.cuh"

namespace mk {
namespace route {

constexpr int kScratchRemote = 40; /* scratch slot of the remote-pair count (the scan uses 0..16) */

struct SortState {
  int16_t *sid;    /* [tokens * k] local expert of each pair, -1 remote */
  uint16_t *order; /* [tokens * k] this CTA's local pairs, sorted by (expert, token) */
  uint32_t *bits;  /* [W][local] */
  uint16_t *wpre;  /* [W][local] */
  int *cnt;        /* [local] pairs per expert, all tokens of the call */
  int *base;       /* [local] pairs per expert in earlier chunks */
  int *off;        /* [local + 1] padded offsets; off[local] = padded total */
  int *coff;       /* [local + 1] this CTA's pairs of the experts before e (unpadded) */
  int *scratch;    /* [64] */
  int tokens, words, local;
};

/* Carves the state out of dynamic shared memory, as mk__route_sort_smem()
 * sizes it for cap_tokens tokens. */
MK_DEV SortState sort_carve(unsigned char *smem, int cap_tokens, int tokens, int top_k, int local) {
  SortState s;
  const int64_t w_cap = (cap_tokens + 31) / 32, pairs = mk__route_align((int64_t)cap_tokens * top_k * 2, 16);
  unsigned char *at = smem;
  s.sid = (int16_t *)at;
  s.order = (uint16_t *)(at + pairs);
  at += 2 * pairs;
  s.bits = (uint32_t *)at;
  at += mk__route_align(w_cap * local * 4, 16);
  s.wpre = (uint16_t *)at;
  at += mk__route_align(w_cap * local * 2, 16);
  s.cnt = (int *)at;
  s.base = s.cnt + local;
  s.off = s.base + local;
  s.coff = s.off + local + 1;
  s.scratch = (int *)(at + mk__route_align((4 * (int64_t)local + 2) * 4, 16));
  s.tokens = tokens;
  s.words = (tokens + 31) / 32;
  s.local = local;
  return s;
}

/* ---- padding values -------------------------------------------------------------------- */
/* Rows [0, sorted_len) of this CTA's share get (sentinel, -1), blocks
 * [0, blocks_len) get -1. part of parts: contiguous slices, coalesced. */
MK_DEV void prefill(const mk__route_params &p, int part, int parts) {
  const int tid = thread_x(), nthreads = block_dim();
  const int32_t sentinel = p.m * p.top_k;
  if (p.sorted_ids || p.sorted_experts) {
    const int64_t per = (p.sorted_len + parts - 1) / parts, lo = part * per;
    const int64_t hi = lo + per < p.sorted_len ? lo + per : p.sorted_len;
    for (int64_t r = lo + tid; r < hi; r += nthreads) {
      if (p.sorted_ids) p.sorted_ids[r] = sentinel;
      if (p.sorted_experts) p.sorted_experts[r] = -1;
    }
  }
  if (p.block_experts) {
    const int64_t per = (p.blocks_len + parts - 1) / parts, lo = part * per;
    const int64_t hi = lo + per < p.blocks_len ? lo + per : p.blocks_len;
    for (int64_t b = lo + tid; b < hi; b += nthreads) p.block_experts[b] = -1;
  }
}

/* ---- ranks ------------------------------------------------------------------------------- */
/* Builds bits and wpre from sid, adds the CTA's remote pairs to
 * scratch[kScratchRemote] (zeroed by the caller before a barrier), sets
 * coff[e] to the CTA's pairs of the experts before e, and with write_counts
 * cnt[e] to the CTA's pairs of e. Ends with a barrier. */
template <int kTopK>
MK_DEV void build_ranks(const SortState &s, bool write_counts) {
  const int tid = thread_x(), nthreads = block_dim();
  for (int i = tid; i < s.words * s.local; i += nthreads) s.bits[i] = 0u;
  sync_block();
  int remote = 0;
  for (int q = tid; q < s.tokens * kTopK; q += nthreads) {
    const int le = s.sid[q], t = q / kTopK;
    if (le >= 0) smem_or(&s.bits[(t >> 5) * s.local + le], 1u << (t & 31));
    else ++remote;
  }
  if (remote) smem_add(&s.scratch[kScratchRemote], remote);
  sync_block();
  for (int e = tid; e < s.local; e += nthreads) {
    int run = 0;
    for (int w = 0; w < s.words; ++w) {
      s.wpre[w * s.local + e] = (uint16_t)run;
      run += popc(s.bits[w * s.local + e]);
    }
    s.coff[e] = run;
    if (write_counts) s.cnt[e] = run;
  }
  sync_block();
  block_exclusive_scan(s.coff, s.coff, s.local, s.scratch);
}

/* off[e] = sum over e' < e of cnt[e'] rounded up to block_m. Ends with a barrier. */
MK_DEV void padded_offsets(const SortState &s, int block_m) {
  const int tid = thread_x(), nthreads = block_dim();
  for (int e = tid; e < s.local; e += nthreads) s.off[e] = (s.cnt[e] + block_m - 1) / block_m * block_m;
  sync_block();
  block_exclusive_scan(s.off, s.off, s.local, s.scratch);
}

/* ---- scatter ------------------------------------------------------------------------------ */
/* Writes every output row / entry of this CTA's pairs, in two passes so that
 * every store pattern is coalesced:
 *   pair order   inverse, masked_inverse (indexed by pair); order[] in smem
 *   row order    sorted_ids, sorted_experts, block_experts, masked_ids (an
 *                expert's rows are consecutive, and so are its pairs in order[])
 * with_base: add base[e] (multi path). Contains a barrier. */
template <int kTopK>
MK_DEV void scatter(const mk__route_params &p, const SortState &s, int64_t t0, bool with_base) {
  const int tid = thread_x(), nthreads = block_dim();
  const int bm = p.block_m;
  for (int q = tid; q < s.tokens * kTopK; q += nthreads) {
    const int t = q / kTopK, le = s.sid[q];
    const int32_t pair = (int32_t)(t0 * kTopK + q);
    if (le < 0) {
      if (p.inverse) p.inverse[pair] = -1;
      if (p.masked_inverse) p.masked_inverse[pair] = -1;
      continue;
    }
    const int w = (t >> 5) * s.local + le;
    const int rc = (int)s.wpre[w] + popc(s.bits[w] & ((1u << (t & 31)) - 1u)); /* rank inside this CTA */
    const int r = (with_base ? s.base[le] : 0) + rc;
    s.order[s.coff[le] + rc] = (uint16_t)q;
    if (p.inverse) p.inverse[pair] = s.off[le] + r;
    if (p.masked_inverse) p.masked_inverse[pair] = (int32_t)(le * p.max_m + r);
  }
  sync_block();
  for (int j = tid; j < s.coff[s.local]; j += nthreads) {
    const int q = s.order[j], le = s.sid[q];
    const int r = (with_base ? s.base[le] : 0) + j - s.coff[le];
    const int row = s.off[le] + r;
    const int32_t pair = (int32_t)(t0 * kTopK + q);
    if (p.sorted_ids) p.sorted_ids[row] = pair;
    if (p.sorted_experts) p.sorted_experts[row] = le;
    if (p.block_experts && r % bm == 0) p.block_experts[row / bm] = le; /* each block's first row is a pair */
    if (p.masked_ids) p.masked_ids[(int64_t)le * p.max_m + r] = pair;
  }
}

/* expert_counts, expert_offsets (with the padded total) and remote_count. */
MK_DEV void write_totals(const mk__route_params &p, const SortState &s, int remote) {
  const int tid = thread_x(), nthreads = block_dim();
  for (int e = tid; e < s.local; e += nthreads) {
    if (p.expert_counts) p.expert_counts[e] = s.cnt[e];
    if (p.expert_offsets) p.expert_offsets[e] = s.off[e];
  }
  if (tid == 0) {
    if (p.expert_offsets) p.expert_offsets[s.local] = s.off[s.local];
    if (p.remote_count) *p.remote_count = remote;
  }
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_SORT_CUH */
