/* moekit/kernels/route/fused.cuh - routing in one launch, for decode.
 *
 * Portable CUDA/HIP. Grid: ceil(M / tokens_per_cta) CTAs, one token per warp.
 *
 *   every CTA   prefill its slice of the contiguous outputs (padding values)
 *               select the top-k of its tokens (topk.cuh), write topk_ids /
 *               topk_weights and the local expert of each pair (sid)
 *   last CTA    rank and scatter all M * k pairs in shared memory (sort.cuh)
 *
 * With one CTA (M <= tokens_per_cta) sid stays in shared memory. With more,
 * each CTA writes its sid to the workspace, then takes a ticket; the CTA
 * that draws the last ticket reads all sid back (L2) and sorts. No CTA ever
 * waits for another, so the kernel cannot deadlock whatever the occupancy.
 * NOTE: the ticket counter must be 0 when the kernel starts; the last CTA
 * resets it, so a zeroed workspace stays valid across calls.
 *
 * Dynamic shared memory (plan.h, fused_smem):
 *   [M * k] i16 sid | union { [warps][E] f32 score rows (grouped selection),
 *                             rank state of sort.cuh }
 */
#ifndef MOEKIT_KERNELS_ROUTE_FUSED_CUH
#define MOEKIT_KERNELS_ROUTE_FUSED_CUH

#include "moekit/kernels/route/sort.cuh"
#include "moekit/kernels/route/topk.cuh"

namespace mk {
namespace route {

template <int kKind, int kExperts, int kTopK, int kDtype>
MK_KERNEL void MK_ROUTE_BOUNDS(mk__route_threads(kKind, kExperts)) fused_kernel(const mk__route_params p) {
  mk_pdl_wait(); /* before any global access: the previous kernel may still run */
  mk_pdl_trigger();
  MK_ROUTE_DYN_SMEM(smem);
  __shared__ int s_last;
  const int tid = thread_x(), lane = tid % kWarp, warp = tid / kWarp, warps = block_dim() / kWarp;
  const int ctas = grid_dim(), cta = block_x();
  const int local = p.expert_end - p.expert_start;
  int16_t *ws_sid = (int16_t *)((unsigned char *)p.workspace + p.ws_sid);
  int16_t *sid = (int16_t *)smem;
  float *rows = (float *)(smem + mk__route_align((int64_t)p.m * kTopK * 2, 16));

  /* ---- phase A: padding values, top-k of this CTA's tokens ---- */
  prefill(p, cta, ctas);
  const int64_t token = (int64_t)cta * warps + warp;
  if (token < p.m)
    route_token<kKind, kExperts, kTopK, kDtype>(p, token, lane, rows + (int64_t)warp * (p.grouped_step ? kExperts : 0),
                                                (ctas == 1 ? sid : ws_sid) + token * kTopK);

  /* ---- hand-off: the last CTA continues ---- */
  if (ctas > 1) {
    sync_block();
    if (tid == 0) {
      uint32_t *ticket = (uint32_t *)p.workspace;
      const uint32_t t = ticket_add(ticket); /* releases this CTA's stores, acquires the others' */
      s_last = t == (uint32_t)(ctas - 1);
      if (s_last) *ticket = 0u;            /* every other CTA has taken its ticket */
    }
    sync_block();
    if (!s_last) return;
    for (int q = tid; q < p.m * kTopK; q += block_dim()) sid[q] = ld_shared_gpu_i16(ws_sid + q);
  }

  /* ---- phase B: rank, offsets, scatter ---- */
  SortState s = sort_carve(smem, p.m, p.m, kTopK, local);
  sync_block(); /* sid complete; the score rows are dead */
  if (tid == 0) s.scratch[kScratchRemote] = 0; /* read after build_ranks' barriers */
  build_ranks<kTopK>(s, true);
  padded_offsets(s, p.block_m);
  scatter<kTopK>(p, s, 0, false);
  write_totals(p, s, s.scratch[kScratchRemote]);
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_FUSED_CUH */
