/* moekit/kernels/route/multi.cuh - routing in four launches, for large M.
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
 *   scan_kernel     grid ceil((E_l + 1) / W): one lane per expert column;
 *                   hist[c][e] becomes the pairs of e in chunks before c (in
 *                   place), totals[e] the pairs of e in all chunks
 *   scatter_kernel  grid num_chunks: padded offsets from the totals (the same
 *                   in every CTA), ranks its chunk (sort.cuh) on top of the
 *                   chunk's base and scatters; CTA 0 writes the totals
 * Every CTA reads O(E_l) histogram entries, whatever the number of chunks.
 *
 * Workspace: plan.h (sid [M * k] i16, histograms, totals).
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
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
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
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
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

/* ---- 3. per-expert scan over the chunks --------------------------------------------------- */
/* CTA b owns the expert columns [b*W, (b+1)*W) (column E_l: remote pairs),
 * lane = column, so every load of a warp reads W consecutive entries of one
 * chunk's row; warp w covers a contiguous range of chunks. */
template <int kTopK>
MK_KERNEL void MK_ROUTE_BOUNDS(kMaxThreads) scan_kernel(const mk__route_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  MK_ROUTE_DYN_SMEM(smem); /* [warps][W] i32: the warps' partial column sums */
  int *part = (int *)smem;
  const int tid = thread_x(), lane = tid % kWarp, warp = tid / kWarp, warps = block_dim() / kWarp;
  const int cols = p.expert_end - p.expert_start + 1, col = block_x() * kWarp + lane;
  const int per = (p.num_chunks + warps - 1) / warps;
  const int c0 = warp * per < p.num_chunks ? warp * per : p.num_chunks;
  const int c1 = c0 + per < p.num_chunks ? c0 + per : p.num_chunks;
  int *hist = (int *)((unsigned char *)p.workspace + p.ws_chunks);
  int *totals = (int *)((unsigned char *)p.workspace + p.ws_totals);
  int sum = 0;
  if (col < cols)
    for (int c = c0; c < c1; ++c) sum += hist[(int64_t)c * cols + col];
  part[warp * kWarp + lane] = sum;
  sync_block();
  if (warp == 0) {
    int run = 0;
    for (int w = 0; w < warps; ++w) {
      const int v = part[w * kWarp + lane];
      part[w * kWarp + lane] = run;
      run += v;
    }
    if (col < cols) totals[col] = run;
  }
  sync_block();
  if (col < cols) {
    int run = part[warp * kWarp + lane];
    for (int c = c0; c < c1; ++c) {
      const int v = hist[(int64_t)c * cols + col];
      hist[(int64_t)c * cols + col] = run;
      run += v;
    }
  }
}

/* ---- 4. offsets, ranks, scatter ---------------------------------------------------------- */
template <int kTopK>
MK_KERNEL void MK_ROUTE_BOUNDS(kMaxThreads) scatter_kernel(const mk__route_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  MK_ROUTE_DYN_SMEM(smem); /* sort.cuh rank state for chunk_tokens tokens */
  const int tid = thread_x(), nthreads = block_dim(), c = block_x();
  const int local = p.expert_end - p.expert_start;
  const int64_t t0 = (int64_t)c * p.chunk_tokens;
  const int tokens = (int)(p.m - t0 < p.chunk_tokens ? p.m - t0 : p.chunk_tokens);
  const int16_t *ws_sid = (const int16_t *)((const unsigned char *)p.workspace + p.ws_sid) + t0 * kTopK;
  const int *base = (const int *)((const unsigned char *)p.workspace + p.ws_chunks) + (int64_t)c * (local + 1);
  const int *totals = (const int *)((const unsigned char *)p.workspace + p.ws_totals);
  SortState s = sort_carve(smem, p.chunk_tokens, tokens, kTopK, local);

  /* [tokens * k] sid of this chunk; totals and this chunk's base (scan_kernel) */
  for (int q = tid; q < tokens * kTopK; q += nthreads) s.sid[q] = ws_sid[q];
  if (tid == 0) s.scratch[kScratchRemote] = 0;
  for (int e = tid; e < local; e += nthreads) {
    s.cnt[e] = totals[e];
    s.base[e] = base[e];
  }
  if (tid == 0) s.scratch[kScratchRemote + 1] = totals[local];
  sync_block();
  padded_offsets(s, p.block_m);
  build_ranks<kTopK>(s, false);
  scatter<kTopK>(p, s, t0, true);
  if (c == 0) write_totals(p, s, s.scratch[kScratchRemote + 1]);
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_MULTI_CUH */
