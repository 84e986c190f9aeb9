/* moekit/kernels/route/multi.cuh - routing in three launches, for large M.
 *
 * Portable CUDA/HIP. Same outputs as fused.cuh, bit for bit; designed for
 * bandwidth: the logits are read once, no global atomics, every CTA's work
 * is independent of the order CTAs run in.
 *
 *   topk_kernel     grid ceil(M / tokens_per_cta): one token per warp (topk.cuh);
 *                   also prefills the contiguous outputs (grid-wide slices)
 *   count_kernel    grid num_chunks: chunk c = tokens [c*CH, (c+1)*CH);
 *                   hist[c][e] = pairs of chunk c with local expert e,
 *                   hist[c][E_l] = its remote pairs  ([chunks][E_l + 1] i32)
 *   scatter_kernel  grid num_chunks: every CTA reduces all histograms to the
 *                   totals and padded offsets (identical in every CTA), its
 *                   chunk's base[e] = pairs of e in chunks before it, ranks
 *                   its chunk (sort.cuh) and scatters; CTA 0 writes the totals
 *
 * Workspace: plan.h (sid [M * k] i16, histograms).
 */
#ifndef MOEKIT_KERNELS_ROUTE_MULTI_CUH
#define MOEKIT_KERNELS_ROUTE_MULTI_CUH

#include "moekit/kernels/route/sort.cuh"
#include "moekit/kernels/route/topk.cuh"

namespace mk {
namespace route {

/* ---- 1. top-k ------------------------------------------------------------------------- */
template <int kKind, int kExperts, int kTopK, int kDtype>
MK_KERNEL void MK_ROUTE_BOUNDS(mk__route_threads(kKind, kExperts)) topk_kernel(const mk__route_params p) {
  MK_ROUTE_DYN_SMEM(smem); /* [warps][E] f32 score rows (grouped selection only) */
  const int tid = thread_x(), lane = tid % kWarp, warp = tid / kWarp, warps = block_dim() / kWarp;
  int16_t *ws_sid = (int16_t *)((unsigned char *)p.workspace + p.ws_sid);
  prefill(p, block_x(), grid_dim());
  const int64_t token = (int64_t)block_x() * warps + warp;
  if (token < p.m)
    route_token<kKind, kExperts, kTopK, kDtype>(
        p, token, lane, (float *)smem + (int64_t)warp * (p.grouped_step ? kExperts : 0), ws_sid + token * kTopK);
}

/* ---- 2. per-chunk histograms ------------------------------------------------------------- */
template <int kTopK>
MK_KERNEL void MK_ROUTE_BOUNDS(kMaxThreads) count_kernel(const mk__route_params p) {
  MK_ROUTE_DYN_SMEM(smem); /* [E_l + 1] i32 */
  int *hist = (int *)smem;
  const int tid = thread_x(), nthreads = block_dim(), c = block_x();
  const int local = p.expert_end - p.expert_start;
  const int64_t t0 = (int64_t)c * p.chunk_tokens;
  const int tokens = (int)(p.m - t0 < p.chunk_tokens ? p.m - t0 : p.chunk_tokens);
  const int16_t *sid = (const int16_t *)((const unsigned char *)p.workspace + p.ws_sid) + t0 * kTopK;
  for (int e = tid; e <= local; e += nthreads) hist[e] = 0;
  sync_block();
  for (int q = tid; q < tokens * kTopK; q += nthreads) {
    const int le = sid[q];
    smem_add(&hist[le >= 0 ? le : local], 1);
  }
  sync_block();
  int *out = (int *)((unsigned char *)p.workspace + p.ws_chunks) + (int64_t)c * (local + 1);
  for (int e = tid; e <= local; e += nthreads) out[e] = hist[e];
}

/* ---- 3. offsets, ranks, scatter ---------------------------------------------------------- */
template <int kTopK>
MK_KERNEL void MK_ROUTE_BOUNDS(kMaxThreads) scatter_kernel(const mk__route_params p) {
  MK_ROUTE_DYN_SMEM(smem); /* sort.cuh rank state for chunk_tokens tokens */
  const int tid = thread_x(), nthreads = block_dim(), c = block_x();
  const int local = p.expert_end - p.expert_start;
  const int64_t t0 = (int64_t)c * p.chunk_tokens;
  const int tokens = (int)(p.m - t0 < p.chunk_tokens ? p.m - t0 : p.chunk_tokens);
  const int16_t *ws_sid = (const int16_t *)((const unsigned char *)p.workspace + p.ws_sid) + t0 * kTopK;
  const int *hist = (const int *)((const unsigned char *)p.workspace + p.ws_chunks);
  SortState s = sort_carve(smem, p.chunk_tokens, tokens, kTopK, local);

  /* [tokens * k] sid of this chunk; totals and this chunk's base from the
   * histograms (column `local`: remote pairs) */
  for (int q = tid; q < tokens * kTopK; q += nthreads) s.sid[q] = ws_sid[q];
  if (tid == 0) s.scratch[kScratchRemote] = 0;
  for (int e = tid; e <= local; e += nthreads) {
    int total = 0, before = 0;
    for (int cc = 0; cc < p.num_chunks; ++cc) {
      const int v = hist[(int64_t)cc * (local + 1) + e];
      before += cc < c ? v : 0;
      total += v;
    }
    if (e < local) {
      s.cnt[e] = total;
      s.base[e] = before;
    } else {
      s.scratch[kScratchRemote + 1] = total;
    }
  }
  sync_block();
  padded_offsets(s, p.block_m);
  build_ranks<kTopK>(s, false);
  scatter<kTopK>(p, s, t0, true);
  if (c == 0) write_totals(p, s, s.scratch[kScratchRemote + 1]);
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_MULTI_CUH */
