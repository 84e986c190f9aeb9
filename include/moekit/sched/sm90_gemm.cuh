/* moekit/sched/sm90_gemm.cuh - persistent tile schedulers of the sm90 GEMMs.
 *
 * A persistent GEMM launches about one CTA (or one cluster) per SM; each
 * walks its share of the output tiles: unit u = cluster_id, cluster_id +
 * num_clusters, ... A unit is the work of one cluster: kClusterM x kClusterN
 * tiles that share an operand (kClusterN = 2: two column tiles of one row
 * block share the A tile; kClusterM = 2: two row blocks share the B tile).
 * Every CTA of a cluster walks the same units, so they stay in lockstep.
 *
 * The three kinds (mk_gemm_kind):
 *   dense       D[M, N] = A[M, K] B[N, K]^T, units over a grid of
 *               (row units) x (column units), rasterized in bands so the
 *               tiles running together share their A rows and B rows in
 *               L2 (MK_SM90_GEMM_RASTER below), e.g. bands of 8 row units:
 *                   band 0: (r0,c0) (r1,c0) .. (r7,c0) (r0,c1) (r1,c1) ..
 *   contiguous  A[M_sum, K] holds the experts' rows back to back, each
 *               expert's segment starting at a multiple of block_m;
 *               m_indices[row] is the row's expert, negative (-1) on padding
 *               rows. A row block takes the expert of its first row; a block
 *               whose first row is padding (or names an expert outside
 *               [0, groups)) is skipped without loading anything.
 *               kClusterM = 2 (two row blocks share B): a pair whose blocks
 *               name different experts loads B per CTA (kTileNoMcast); a
 *               padding block next to a real one runs on its partner's
 *               expert, unstored (kTileNoStore), so the pair stays in
 *               lockstep and its B is still shared; two padding blocks are
 *               skipped.
 *   masked      A[G, max_m, K]; group g has masked_m[g] valid rows (read on
 *               the device, so the call can be captured in a CUDA graph).
 *               Units are ordered group by group; row blocks past
 *               ceil(masked_m[g] / block_m) do not exist.
 *
 * The scheduler runs in one warp (every lane computes the same values) and
 * hands tiles to the others through shared memory, so only that warp ever
 * waits on m_indices / masked_m loads.
 */
#ifndef MOEKIT_SCHED_SM90_GEMM_CUH
#define MOEKIT_SCHED_SM90_GEMM_CUH

#include <stdint.h>

#include "moekit/api/internal.h"
#include "moekit/core/platform.h"

/* Rasterization band height, in row blocks (a switch for measuring). */
#ifndef MK_SM90_GEMM_BAND
#define MK_SM90_GEMM_BAND 16
#endif

namespace mk {
namespace sched {

enum { kGemmDense = 0, kGemmContiguous = 1, kGemmMasked = 2 };

/* Tile flags. kTileNoMcast: the cluster's two tiles use different B
 * (contiguous, experts differ), so each CTA loads its own. */
enum { kTileDone = 1, kTileNoStore = 2, kTileNoMcast = 4 };

/* One output tile: row block (inside its group for masked), column block,
 * the expert whose B it multiplies, flags. 16 bytes, copied through smem. */
struct gemm_tile {
  int32_t m_block;
  int32_t n_block;
  int32_t group;
  int32_t flags;
};

MK_DEV int32_t ceil_div_i32(int32_t a, int32_t b) { return (a + b - 1) / b; }

/* Unit u of a grid of `rows` x `cols` units, walked band by band: `band` rows
 * per band, the row index fastest inside a band. */
MK_DEV void raster_band(int32_t u, int32_t rows, int32_t cols, int32_t band, int32_t *r, int32_t *c) {
  const int32_t per_band = band * cols;
  const int32_t b = u / per_band;
  const int32_t first = b * band;
  const int32_t height = rows - first < band ? rows - first : band;
  const int32_t local = u - b * per_band;
  *r = first + local % height;
  *c = local / height;
}

/* The same walk with the roles swapped: `band` columns per band, the column
 * index fastest inside a band. */
MK_DEV void raster_band_cols(int32_t u, int32_t rows, int32_t cols, int32_t band, int32_t *r, int32_t *c) {
  raster_band(u, cols, rows, band, c, r);
}

/* Dense raster: 1 (default) = bands of 8 or 16 blocks, whichever makes the
 * tiles of one wave span the fewest rows + columns of D, laid across the
 * shared operand: clusters sharing A walk bands of columns (column fastest),
 * the others bands of rows (row fastest); 0 = bands of MK_SM90_GEMM_BAND row
 * units for every kind (a switch for measuring).
 * NOTE: measured on an H100 (docs/perf.md, GEMM run 9): 256 x 128 tiles
 * without a cluster 1.7-2% faster (8-row bands), the rest unchanged. The
 * grouped kinds keep MK_SM90_GEMM_BAND: contiguous 128 x 192 tiles lost 1-4%
 * with 8-row bands (run 8). */
#ifndef MK_SM90_GEMM_RASTER
#define MK_SM90_GEMM_RASTER 1
#endif

template <int kKind, int kN, int BLOCK_M, int BLOCK_N, int kClusterM, int kClusterN>
struct gemm_scheduler {
  static_assert(kClusterM * kClusterN <= 2, "clusters of 1 or 2 CTAs");
  static_assert(kKind != kGemmMasked || kClusterM == 1, "masked: clusters share A (kClusterN) only");
  static constexpr int32_t kNumNBlocks = (kN + BLOCK_N - 1) / BLOCK_N;
  static constexpr int32_t kColUnits = (kNumNBlocks + kClusterN - 1) / kClusterN;
  /* Row units per band of the grouped kinds (and of dense with
   * MK_SM90_GEMM_RASTER 0): MK_SM90_GEMM_BAND row blocks.
   * NOTE: 16 measured best for contiguous 128 x 192 tiles sharing B on an
   * H100 (docs/perf.md, GEMM run 8): 8, or the height that makes the tiles
   * running at once a square patch of D, lost 1-4% there. */
  static_assert(MK_SM90_GEMM_BAND >= 1, "MK_SM90_GEMM_BAND: at least one row block");
  static constexpr int32_t kBand = (MK_SM90_GEMM_BAND + kClusterM - 1) / kClusterM;

  /* walk state */
  int32_t unit, stride;                 /* next unit of this cluster, number of clusters */
  int32_t row_units;                    /* dense/contiguous: row units of the grid */
  int32_t band;                         /* band height (width with col_bands) in units */
  bool col_bands;                       /* dense: bands of column units, column fastest */
  int32_t group, group_first, group_units, group_rows; /* masked: current group */

  MK_DEV void init(const mk__gemm_params &p, int32_t cluster_id, int32_t num_clusters) {
    unit = cluster_id;
    stride = num_clusters;
    const int32_t m_blocks = (int32_t)((p.m + BLOCK_M - 1) / BLOCK_M);
    row_units = (m_blocks + kClusterM - 1) / kClusterM;
    band = kBand;
    col_bands = false;
    if (MK_SM90_GEMM_RASTER == 1 && kKind == kGemmDense) {
      /* a wave of `sms` tiles in bands of g blocks of dimension X spans g
       * blocks of X and ceil(sms / g) of the other: the smaller extent wins */
      const int32_t sms = num_clusters * kClusterM * kClusterN;
      col_bands = kClusterN == 2;
      const int32_t bx = col_bands ? BLOCK_N : BLOCK_M, by = col_bands ? BLOCK_M : BLOCK_N;
      const int32_t g = 8 * bx + ceil_div_i32(sms, 8) * by <= 16 * bx + ceil_div_i32(sms, 16) * by ? 8 : 16;
      band = g / (col_bands ? kClusterN : kClusterM);
    }
    group = -1;
    group_first = 0;
    group_units = 0;
    group_rows = 0;
  }

  /* Masked: moves to the group holding unit u (past the current one), 32
   * groups per step: lane l reads masked_m[group + l], a warp scan of the
   * units gives each group's first unit, a ballot the group that holds u.
   * False when u is past the last group. Every lane calls.
   * NOTE: at decode most groups are empty (8 experts of 256 at M = 1); one
   * group per step was a chain of up to 256 dependent loads before the
   * first tile (about 5 us). */
  MK_DEV bool advance_group(const mk__gemm_params &p, int32_t u) {
    const uint32_t lane = threadIdx.x % 32u;
    group_first += group_units;
    ++group;
    for (; group < p.groups; group += 32) {
      const int32_t g = group + (int32_t)lane;
      int32_t valid = g < p.groups ? __ldg(p.masked_m + g) : 0;
      valid = valid < 0 ? 0 : (valid > p.m ? (int32_t)p.m : valid);
      const int32_t units = ceil_div_i32(valid, BLOCK_M) * kColUnits;
      int32_t incl = units; /* inclusive scan of the units over the lanes */
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const int32_t o = __shfl_up_sync(0xffffffffu, incl, d);
        if ((int32_t)lane >= d) incl += o;
      }
      const uint32_t past = __ballot_sync(0xffffffffu, u < group_first + incl);
      if (past != 0u) { /* lane l: the first group whose units reach past u */
        const int32_t l = __ffs(past) - 1;
        group += l;
        group_units = __shfl_sync(0xffffffffu, units, l);
        group_first += __shfl_sync(0xffffffffu, incl - units, l);
        group_rows = group_units / kColUnits;
        return true;
      }
      group_first += __shfl_sync(0xffffffffu, incl, 31);
    }
    return false;
  }

  /* The row block of CTA `rank` in row unit r. */
  MK_DEV static int32_t row_block(int32_t r, uint32_t rank) {
    return r * kClusterM + (kClusterM == 2 ? (int32_t)rank : 0);
  }

  /* Contiguous: the expert of row block mb, -1 for padding or past M. */
  MK_DEV static int32_t expert_of(const mk__gemm_params &p, int32_t mb) {
    if ((int64_t)mb * BLOCK_M >= p.m) return -1;
    const int32_t g = __ldg(p.m_indices + (int64_t)mb * BLOCK_M);
    return g < 0 || g >= p.groups ? -1 : g;
  }

  /* The next tile of CTA `rank` of the cluster; false when the walk is over. */
  MK_DEV bool next(const mk__gemm_params &p, uint32_t rank, gemm_tile *t) {
    int32_t r, c, flags = 0;
    for (;;) {
      const int32_t u = unit;
      if (kKind == kGemmMasked) {
        if (u >= group_first + group_units && !advance_group(p, u)) return false;
        raster_band(u - group_first, group_rows, kColUnits, band, &r, &c);
        unit += stride;
        t->group = group;
        break;
      }
      if (u >= row_units * kColUnits) return false;
      if (col_bands) raster_band_cols(u, row_units, kColUnits, band, &r, &c);
      else raster_band(u, row_units, kColUnits, band, &r, &c);
      unit += stride;
      if (kKind == kGemmContiguous) {
        int32_t g = expert_of(p, row_block(r, rank));
        if (kClusterM == 2) {
          const int32_t g2 = expert_of(p, row_block(r, rank ^ 1u));
          if (g < 0 && g2 < 0) continue; /* two padding blocks */
          if (g < 0) {
            g = g2;
            flags = kTileNoStore;
          } else if (g2 >= 0 && g2 != g) {
            flags = kTileNoMcast;
          }
        } else if (g < 0) {
          continue; /* padding block: nothing to compute */
        }
        t->group = g;
      } else {
        t->group = 0;
      }
      break;
    }
    t->m_block = row_block(r, rank);
    t->n_block = c * kClusterN + (kClusterN == 2 ? (int32_t)rank : 0);
    /* a cluster's second tile may fall outside D (odd block counts): it is
     * computed on zeros to keep the cluster in lockstep, but never stored */
    const bool outside = t->n_block >= kNumNBlocks || (kKind == kGemmDense && (int64_t)t->m_block * BLOCK_M >= p.m);
    t->flags = flags | (outside ? kTileNoStore : 0);
    return true;
  }
};

}  // namespace sched
}  // namespace mk

#endif /* MOEKIT_SCHED_SM90_GEMM_CUH */
