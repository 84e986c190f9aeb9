/* moekit/api/gemm_cost.h - the cost model that chooses an FP8 GEMM
 * configuration (docs/gemm.md, "Choosing a configuration"). Plain C with no
 * other dependency, so the generator's Python port (gen/ops/gemm.py) is
 * checked against it on the host (tests/host/test_gemm_host.py).
 *
 * The model estimates a call's duration in SM clock cycles on an H100 SXM:
 *   - a tile takes K/128 k-blocks, each costing the larger of
 *       math: wgmma (64 x N x 128 x 2 flops per warpgroup at 8192 flops/clk)
 *             plus the promotion FMAs (N/2 per thread), overlapped across
 *             two warpgroups, serialized with one; 256-row tiles run two
 *             such 128-row halves one after the other;
 *       L2:   the rows of A and B loaded (a multicast operand counts half;
 *             contiguous B only where experts span two blocks or more)
 *             x 128 bytes at 48 bytes/clk per SM (dense: 56);
 *       shared memory: the TMA writes plus the tensor cores' reads, 128
 *             bytes per row, at 128 bytes/clk;
 *       latency: a 1200-cycle load round trip spread over stages - 1;
 *     plus a tenth of the L2 term on top (dense: a fifth; contention: of two
 *     tiles with the same bound, the one moving fewer bytes runs faster),
 *     plus 1500 cycles per tile (pipeline fill, epilogue);
 *   - tiles run in waves of one per CTA (SM): compute = waves x tile, so
 *     the last wave's idle SMs are paid for; clusters of 2 pay 5% for
 *     lockstep (25% more when everything fits in one wave);
 *   - memory: the unique bytes (A, its scales, the weights of the groups in
 *     use, D) over min(1900 B/clk, 32 B/clk x active CTAs); dense calls
 *     also pay the last wave's D tiles once more (their stores start when
 *     the loads are over: one wave of large tiles leaves all of D exposed)
 *     and 5% for clusters;
 *   - the estimate is the larger of compute and memory.
 * Only the ranking matters; the constants are H100 SXM figures.
 */
#ifndef MOEKIT_API_GEMM_COST_H
#define MOEKIT_API_GEMM_COST_H

#include <stdint.h>

#include "moekit/moekit.h"

/* H100 SXM per-SM and device rates, in bytes or flops per SM clock. */
#define MK__GEMM_MMA_FLOPS_PER_CLK 8192.0   /* dense FP8 wgmma per SM */
#define MK__GEMM_L2_BYTES_PER_CLK 48.0      /* L2 -> shared memory per SM with every SM loading */
#define MK__GEMM_SMEM_BYTES_PER_CLK 128.0   /* shared memory per SM */
#define MK__GEMM_HBM_BYTES_PER_CLK 1900.0   /* device HBM (3.35 TB/s at 1.755 GHz) */
#define MK__GEMM_SM_HBM_BYTES_PER_CLK 32.0  /* what one SM can pull: few tiles cannot saturate HBM */
#define MK__GEMM_TILE_OVERHEAD 1500.0       /* pipeline fill and epilogue per tile */
#define MK__GEMM_LOAD_LATENCY 1200.0        /* a TMA load's round trip: hidden by stages - 1 k-blocks */
#define MK__GEMM_CLUSTER_FACTOR 1.05        /* two CTAs in lockstep run at the slower one's pace */
#define MK__GEMM_CLUSTER_ONE_WAVE 1.25      /* ... and gain little when every tile runs at once */
/* NOTE: fitted to the H100 sweep of GEMM run 6 (docs/perf.md): 128 x 192
 * tiles sharing B (mc2b) beat sharing A (mc2a) by 5-11% on contiguous
 * (4096, 7168) and dense 4096 x 2112 x 7168, where both are math-bound and
 * tied without it. Over 24 swept shapes the pick's loss against the best
 * built configuration went from 2.3% to 1.2% (geometric mean). */
#define MK__GEMM_L2_CONTENTION 0.1
/* Dense calls: refitted to the full sweep of GEMM run 8 (docs/perf.md, 28
 * shapes, the pick's loss against the best built configuration 2.2% -> 0.3%
 * geometric mean, worst 15% -> 5.4%): a faster L2, a stronger contention
 * term, the exposed last-wave stores, and clusters paying 5% on the memory
 * side (a pair waits for the slower CTA's loads, and where HBM sets the pace
 * the L2 traffic it saves does not matter: 128 x 32768 x 512 ran 11.0 us
 * with 64 x 128 tiles sharing B, 9.8 without).
 * NOTE: grouped calls keep the fit above. The dense terms moved 120 of 198
 * grouped picks over the layer's shapes, and the layer A/B of run 8 had
 * them both ways: DeepSeek-V3 M = 512 -4.4%, Qwen3 M = 2048 -5.6%, but
 * DeepSeek-V3 M = 4096 +3% and Qwen3 M = 512 +16% (masked path). They wait
 * for a sweep of the layer's grouped shapes. */
#define MK__GEMM_DENSE_L2_BYTES_PER_CLK 56.0
#define MK__GEMM_DENSE_L2_CONTENTION 0.2
#define MK__GEMM_PAIR_HBM 1.05

typedef struct mk__gemm_problem {
  int kind;            /* mk_gemm_kind */
  int64_t m;           /* dense: M; contiguous: rows of A (padding included); masked: expected rows per group */
  int64_t groups;      /* experts (dense: 1; masked: the groups expected to hold rows) */
  int64_t n, k;
  int sms;
} mk__gemm_problem;

typedef struct mk__gemm_config {
  int block_m, block_n; /* token tile, weight tile */
  int stages;
  int swap_ab;
  int cluster;          /* 1 or 2 */
  int mcast_a;          /* the two CTAs of a cluster share A (else B, when cluster == 2) */
} mk__gemm_config;

static int64_t mk__ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Estimated cycles of a whole call; *compute gets the compute/L2 part. */
static double mk__gemm_cost(const mk__gemm_problem *pb, const mk__gemm_config *c, double *compute) {
  const int64_t kb = pb->k / 128;
  const int64_t m_rows = pb->m > 0 ? pb->m : 1;
  /* a cluster pairs two column blocks (A shared) or two row blocks (B shared):
   * an odd count leaves one idle partner tile */
  const int pair_n = c->cluster == 2 && c->mcast_a, pair_m = c->cluster == 2 && !c->mcast_a;
  const int64_t n_blocks = mk__ceil_div(mk__ceil_div(pb->n, c->block_n), pair_n ? 2 : 1) * (pair_n ? 2 : 1);
  const int64_t m_per_group = mk__ceil_div(mk__ceil_div(m_rows, c->block_m), pair_m ? 2 : 1) * (pair_m ? 2 : 1);
  const int64_t m_blocks = pb->kind == MK_GEMM_GROUPED_MASKED ? pb->groups * m_per_group : m_per_group;
  const int64_t tiles = m_blocks * n_blocks;
  const int64_t ctas = (pb->sms / c->cluster) * c->cluster > 0 ? (pb->sms / c->cluster) * c->cluster : c->cluster;
  const int64_t waves = mk__ceil_div(tiles, ctas);
  const int64_t active = tiles < ctas ? tiles : ctas;
  /* one k-block of one CTA */
  const double mma_n = c->swap_ab ? c->block_m : c->block_n;           /* wgmma N */
  const int halves = !c->swap_ab && c->block_m == 256 ? 2 : 1;          /* 128-row halves, one after the other */
  const int wgs = c->swap_ab ? c->block_n / 64 : c->block_m / 64 / halves; /* math warpgroups */
  const double mma = 64.0 * mma_n * 128.0 * 2.0 / MK__GEMM_MMA_FLOPS_PER_CLK; /* one warpgroup */
  const double mma_wg = mma > 64.0 ? mma : 64.0;
  const double promote = mma_n / 2.0 + (c->swap_ab ? mma_n / 4.0 : 0.0) + 40.0;
  const double math = halves * (wgs == 1 ? mma_wg + promote
                                         : (wgs * mma_wg > mma_wg + promote ? wgs * mma_wg : mma_wg + promote));
  double rows_loaded = (double)c->block_m + (double)c->block_n;
  if (c->cluster == 2) {
    /* contiguous pairs of row blocks share B only inside one expert: none
     * up to 1.5 blocks of A rows per expert, all from 2 on (A's rows are
     * usually the routing capacity, about half a block per expert more than
     * the rows in use).
     * NOTE: fitted to the layer's GEMMs on an H100 (docs/perf.md, layer run
     * 5): at 1.2-1.5 blocks per expert (M = 1024) B-sharing pairs ran 3-9%
     * slower than A-sharing ones, at 2-3 (M = 4096) up to 11% faster. */
    double share = 1.0;
    if (pb->kind == MK_GEMM_GROUPED_CONTIGUOUS && !c->mcast_a) {
      const double per = (double)mk__ceil_div(m_rows, c->block_m) / (double)(pb->groups > 0 ? pb->groups : 1);
      share = 2.0 * (per - 1.5);
      share = share < 0.0 ? 0.0 : (share > 1.0 ? 1.0 : share);
    }
    rows_loaded -= (c->mcast_a ? c->block_m : c->block_n * share) / 2.0;
  }
  const int dense = pb->kind == MK_GEMM_DENSE;
  const double l2 = rows_loaded * 128.0 / (dense ? MK__GEMM_DENSE_L2_BYTES_PER_CLK : MK__GEMM_L2_BYTES_PER_CLK);
  /* shared memory: the TMA writes of both tiles plus the tensor cores' reads
   * (the wgmma M side at least 64 rows, and the N side) */
  const double m_side = c->swap_ab ? c->block_n : c->block_m;
  const double smem = ((double)c->block_m + (double)c->block_n + (m_side > 64.0 ? m_side : 64.0) + mma_n) * 128.0 /
                      MK__GEMM_SMEM_BYTES_PER_CLK;
  const double hidden = MK__GEMM_LOAD_LATENCY / (double)(c->stages > 1 ? c->stages - 1 : 1);
  double per_kb = math > l2 ? math : l2;
  double tile;
  if (per_kb < smem) per_kb = smem;
  if (per_kb < hidden) per_kb = hidden;
  tile = (double)kb * (per_kb + (dense ? MK__GEMM_DENSE_L2_CONTENTION : MK__GEMM_L2_CONTENTION) * l2) +
         MK__GEMM_TILE_OVERHEAD;
  if (c->cluster == 2) tile *= waves <= 1 ? MK__GEMM_CLUSTER_FACTOR * MK__GEMM_CLUSTER_ONE_WAVE : MK__GEMM_CLUSTER_FACTOR;
  const double t_compute = (double)waves * tile;
  /* unique bytes from HBM: A and its scales, the weights of the groups used, D */
  const int64_t a_rows = pb->kind == MK_GEMM_GROUPED_MASKED ? pb->groups * m_rows : m_rows;
  int64_t b_groups = 1;
  if (pb->kind == MK_GEMM_GROUPED_MASKED) b_groups = pb->groups;
  if (pb->kind == MK_GEMM_GROUPED_CONTIGUOUS) {
    const int64_t used = mk__ceil_div(m_rows, c->block_m);
    b_groups = used < pb->groups ? used : pb->groups;
  }
  double bytes = (double)a_rows * (double)pb->k * (1.0 + 4.0 / 128.0) +
                 (double)b_groups * (double)pb->n * (double)pb->k + (double)a_rows * (double)pb->n * 2.0;
  const double hbm_rate = active * MK__GEMM_SM_HBM_BYTES_PER_CLK < MK__GEMM_HBM_BYTES_PER_CLK
                              ? active * MK__GEMM_SM_HBM_BYTES_PER_CLK
                              : MK__GEMM_HBM_BYTES_PER_CLK;
  if (dense) { /* the last wave's D tiles, stored after every load */
    const double last = (double)active * c->block_m * c->block_n * 2.0, d = (double)m_rows * (double)pb->n * 2.0;
    bytes += last < d ? last : d;
  }
  const double t_hbm = bytes / hbm_rate * (dense && c->cluster == 2 ? MK__GEMM_PAIR_HBM : 1.0);
  *compute = t_compute;
  return t_compute > t_hbm ? t_compute : t_hbm;
}

/* Tie-break: masked decode (at most 16 rows per group) whose candidates all
 * stream the weights at the same modelled rate prefers swap-AB tiles.
 * NOTE: measured on an H100 (docs/perf.md, the layer's decode GEMMs): with 8
 * experts x 1-4 tokens the 64-row normal tiles the compute term prefers ran
 * 1-6% slower than the swap-AB ones (7168 x 2048: 55.1 against 52.6 us). */
static int mk__gemm_swap_first(const mk__gemm_problem *pb) {
  return pb->kind == MK_GEMM_GROUPED_MASKED && pb->m <= 16;
}

/* Whether a candidate scored (cost, compute) beats the best so far: lower
 * cost; on a tie, swap-AB first where mk__gemm_swap_first, then lower
 * compute; of equals the first stays. gen/ops/gemm.py best() orders alike. */
static int mk__gemm_better(const mk__gemm_problem *pb, double cost, double compute, int swap_ab, double best_cost,
                           double best_compute, int best_swap) {
  if (cost != best_cost) return cost < best_cost;
  if (mk__gemm_swap_first(pb) && swap_ab != best_swap) return swap_ab;
  return compute < best_compute;
}

#endif /* MOEKIT_API_GEMM_COST_H */
