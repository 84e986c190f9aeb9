/* moekit/kernels/route/plan.h - launch geometry, shared memory and workspace
 * of the routing kernels, computed the same way by the C API (host C11), the
 * launchers (CUDA) and the kernels. Plain C: no templates, no device code.
 *
 * Two paths compute the same outputs (docs/route.md):
 *
 *   fused   one launch. ceil(M / tokens_per_cta) CTAs select the top-k of
 *           one token per warp; the last CTA to finish (a ticket counter in
 *           the workspace) ranks and scatters every (token, slot) pair in
 *           shared memory. With one CTA nothing leaves shared memory.
 *   multi   four launches for large M: topk (one token per warp) ->
 *           count (one CTA per chunk of tokens: per-expert histogram) ->
 *           scan (per expert, over the chunks: each chunk's base, totals) ->
 *           scatter (one CTA per chunk: ranks inside the chunk + its base).
 *
 * Workspace (bytes, every offset 256-aligned):
 *   [0, 256)           u32 ticket counter of the fused path (must start at 0;
 *                      every call leaves it at 0)
 *   [ws_sid, +2*M*K)   i16 local expert of each (token, slot), -1 if remote
 *   [ws_chunks, ...)   multi: i32 [num_chunks][local_experts + 1] histograms,
 *                      turned in place into each chunk's base (the last
 *                      column counts remote pairs)
 *   [ws_totals, ...)   multi: i32 [local_experts + 1] pairs per expert, remote
 */
#ifndef MOEKIT_KERNELS_ROUTE_PLAN_H
#define MOEKIT_KERNELS_ROUTE_PLAN_H

#include <stdint.h>

#include "moekit/core/platform.h"

#define MK_ROUTE_MAX_EXPERTS 1024
#define MK_ROUTE_MAX_TOP_K 32
#define MK_ROUTE_MAX_GROUPS 32
#define MK_ROUTE_MAX_BLOCK_M 1024

#define MK__ROUTE_THREADS 512            /* threads per CTA (see mk__route_threads) */
#define MK__ROUTE_SMEM_BUDGET (46 * 1024) /* dynamic shared memory of one CTA, bytes */
#define MK__ROUTE_FUSED_AUTO_PAIRS 4096  /* auto picks fused while M * K <= this */

typedef struct mk__route_plan {
  int32_t warp;           /* lanes per warp the plan is made for (32 NVIDIA, 64 AMD) */
  int32_t threads;        /* threads per CTA of every route kernel */
  int32_t tokens_per_cta; /* top-k phase: one token per warp */
  int32_t topk_ctas;      /* ceil(M / tokens_per_cta) */
  int32_t row_floats;     /* grouped selection: scores row per warp (0: no group step) */
  int32_t fused_smem;     /* dynamic smem of the fused kernel; 0 if M does not fit */
  int32_t topk_smem;      /* multi: dynamic smem of the topk kernel */
  int32_t chunk_tokens;   /* multi: tokens per count/scatter CTA (power of two >= 32) */
  int32_t num_chunks;
  int32_t scan_ctas;      /* multi: 32 expert columns per scan CTA */
  int32_t count_smem, scan_smem, scatter_smem;
  int64_t ws_sid, ws_chunks, ws_totals, ws_bytes;
} mk__route_plan;

MK_HD int64_t mk__route_align(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/* Threads per CTA of an instance: 512, but 256 with more than 512 experts
 * (2 x 32 values per lane, and sigmoid_grouped's [warps][E] score rows: the
 * kernels' launch bounds then allow 255 registers). Kind: mk_route_kind. */
#ifdef __cplusplus
#define MK__ROUTE_CONSTEXPR constexpr /* the kernels' launch bounds use it */
#else
#define MK__ROUTE_CONSTEXPR
#endif
MK__ROUTE_CONSTEXPR MK_HD int32_t mk__route_threads(int32_t kind, int32_t experts) {
  (void)kind;
  return experts > 512 ? 256 : MK__ROUTE_THREADS;
}

/* Largest power of two <= x (x >= 1). */
MK_HD int32_t mk__route_pow2_floor(int64_t x) {
  int32_t p = 1;
  while ((int64_t)p * 2 <= x && p < (1 << 30)) p *= 2;
  return p;
}

/* Bytes of the rank/scan state of one sorting CTA over `tokens` tokens
 * (kernels/route/sort.cuh), W = ceil(tokens / 32), every piece 16-aligned:
 * sid i16 [tokens * K] | order u16 [tokens * K] | bits u32 [W][E_l] |
 * wpre u16 [W][E_l] | cnt, base i32 [E_l] | off, coff i32 [E_l + 1] | scratch i32 [64] */
MK_HD int64_t mk__route_sort_smem(int64_t tokens, int32_t top_k, int32_t local_experts) {
  const int64_t w = (tokens + 31) / 32, pairs = mk__route_align(tokens * top_k * 2, 16);
  return 2 * pairs + mk__route_align(w * local_experts * 4, 16) + mk__route_align(w * local_experts * 2, 16) +
         mk__route_align((4 * (int64_t)local_experts + 2) * 4, 16) + 64 * 4;
}

/* Fills *pl for M tokens. grouped_step: the kind is sigmoid_grouped and the
 * group limit is active (1 < topk_group < n_group). Returns 0. */
MK_HD int mk__route_make_plan(mk__route_plan *pl, int64_t m, int32_t kind, int32_t experts, int32_t top_k,
                              int32_t local_experts, int grouped_step, int32_t warp) {
  int64_t rows, fused, ch, ch_max;
  pl->warp = warp;
  pl->threads = mk__route_threads(kind, experts);
  pl->tokens_per_cta = pl->threads / warp;
  pl->topk_ctas = (int32_t)((m + pl->tokens_per_cta - 1) / pl->tokens_per_cta);
  pl->row_floats = grouped_step ? experts : 0;
  rows = (int64_t)pl->tokens_per_cta * pl->row_floats * 4;
  pl->topk_smem = (int32_t)(rows > 16 ? rows : 16);

  /* fused: sid of all M tokens, then phase A's score rows and phase B's rank
   * state share the rest (phase A is over before phase B starts). */
  fused = mk__route_sort_smem(m, top_k, local_experts);
  if (mk__route_align(m * top_k * 2, 16) + rows > fused) fused = mk__route_align(m * top_k * 2, 16) + rows;
  pl->fused_smem = fused <= MK__ROUTE_SMEM_BUDGET ? (int32_t)fused : 0;

  /* multi: chunks of about M / 132 tokens (one per SM of an H100), at least
   * 32, at most what one CTA's shared memory holds (32 always fits: 1024
   * experts at top-32 need 27 KB) */
  ch_max = 4096;
  while (ch_max > 32 && mk__route_sort_smem(ch_max, top_k, local_experts) > MK__ROUTE_SMEM_BUDGET) ch_max /= 2;
  ch = 32;
  while (ch * 132 < m && ch < ch_max) ch *= 2;
  pl->chunk_tokens = (int32_t)ch;
  pl->num_chunks = (int32_t)((m + ch - 1) / ch);
  pl->scan_ctas = (local_experts + 1 + warp - 1) / warp;
  pl->count_smem = (local_experts + 1) * 4;
  pl->scan_smem = pl->threads * 4;
  pl->scatter_smem = (int32_t)mk__route_sort_smem(ch, top_k, local_experts);

  pl->ws_sid = 256;
  pl->ws_chunks = mk__route_align(pl->ws_sid + m * top_k * 2, 256);
  pl->ws_totals = mk__route_align(pl->ws_chunks + (int64_t)pl->num_chunks * (local_experts + 1) * 4, 256);
  pl->ws_bytes = pl->ws_totals + (int64_t)(local_experts + 1) * 4;
  return 0;
}

/* Rows the contiguous layout may need: every pair local, and each expert
 * that got a token padded by up to block_m - 1 rows. */
MK_HD int64_t mk__route_capacity(int64_t m, int32_t top_k, int32_t local_experts, int32_t block_m) {
  const int64_t pairs = m * top_k;
  const int64_t nz = pairs < local_experts ? pairs : local_experts;
  return pairs + nz * (block_m - 1);
}

#endif /* MOEKIT_KERNELS_ROUTE_PLAN_H */
