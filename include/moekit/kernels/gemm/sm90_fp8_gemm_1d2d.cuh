/* moekit/kernels/gemm/sm90_fp8_gemm_1d2d.cuh - block-scaled FP8 GEMM for
 * Hopper: D = (A * sa) (B * sb)^T in bf16, dense or grouped (MoE experts).
 *
 *   A  e4m3 [M, K] (masked: [G, max_m, K]), K contiguous
 *   sa f32 one scale per row and 128 columns of K ("1d"), MN-major:
 *      sa(g, m, kb) = sfa[g * sfa_group_stride + m + kb * sfa_ld], as
 *      mk_quant_fp8 writes it, so TMA loads a k-block's scales in one box
 *   B  e4m3 [G, N, K], K contiguous (weights, "NT")
 *   sb f32 one scale per 128 x 128 block ("2d"): sb(g, n / 128, k / 128)
 *   D  bf16 [M, N] (masked: [G, max_m, N])
 * D[m, n] = sum over k-blocks kb of sa(m, kb) * sb(n / 128, kb) *
 *           sum_{k in kb} A[m, k] B[n, k],  accumulated in f32.
 * The partial product of each 128-wide k-block comes out of the tensor core
 * in f32 and is scaled into the running sum right away ("promotion"), never
 * accumulated across k-blocks at FP8 scale.
 *
 * Structure (one CTA per SM, persistent; clusters of 2 share an operand):
 *   warpgroup 0, 40 registers (setmaxnreg.dec):
 *     warp 0          TMA producer (one elected lane issues): A, sa, B k-blocks into a kStages ring
 *     warp 1 lane 0   TMA store of finished D tiles, overlap signals
 *     warp 2          scheduler: next tile + that tile's B scales -> smem
 *   warpgroups 1..kMathWGs (setmaxnreg.inc): wgmma, promotion, epilogue.
 *
 *   scheduler --tile_coord[4]--> producer, --tile_full[4] (+ B scales)--> math;
 *   producer, math --tile_empty[4]--> scheduler
 *   producer  --full[kStages]--> math   --empty[kStages]--> producer (both CTAs)
 *   math      --d_full--> store         --d_empty--> math
 *
 * Orientation. Normal: wgmma M = 64 rows of A per math warpgroup (BLOCK_M =
 * 64 or 128), wgmma N = BLOCK_N columns of B; BLOCK_M = 256 runs the two
 * math warpgroups over the tile's two 128-row halves in turn (one product
 * register set, two accumulators), halving B's shared-memory and L2 traffic
 * per flop against 128-row tiles. Swap-AB (small M per group):
 * the weights take the wgmma M side (BLOCK_N = 64 or 128 weight rows, 64 per
 * warpgroup) and the tokens the N side (BLOCK_M = 16..128), computing D^T
 * tiles that the epilogue transposes back with stmatrix.trans. BLOCK_M is
 * always the D-row (token) tile and BLOCK_N the D-column (weight) tile.
 */
#ifndef MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_1D2D_CUH
#define MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_1D2D_CUH

#include <cuda.h>
#include <stdint.h>

#include "moekit/api/internal.h"
#include "moekit/core/platform.h"
#include "moekit/kernels/gemm/sm90_fp8_gemm_cfg.cuh"
#include "moekit/kernels/gemm/sm90_fp8_gemm_mainloop.cuh"
#include "moekit/nv/sm90/barrier.cuh"
#include "moekit/nv/sm90/mbarrier.cuh"
#include "moekit/nv/sm90/smem_desc.h"
#include "moekit/nv/sm90/stmatrix.cuh"
#include "moekit/nv/sm90/tma.cuh"
#include "moekit/nv/sm90/wgmma.cuh"
#include "moekit/sched/sm90_gemm.cuh"
#include "moekit/signal/overlap.cuh"

/* Unroll factor of the producer's k-loop (a switch for measuring).
 * NOTE: unrolling by 2 gained half of what predicating the issue did (GEMM
 * run 9, docs/perf.md) and nothing on top of it. */
#ifndef MK_SM90_GEMM_PRODUCER_UNROLL
#define MK_SM90_GEMM_PRODUCER_UNROLL 1
#endif

namespace mk {
namespace gemm {

/* ---- the kernel body ------------------------------------------------------------------ */
template <int kKind, int kN, int kK, int BLOCK_M, int BLOCK_N, int kStages, int kClusterM, int kClusterN,
          bool kSwapAB>
struct sm90_fp8_gemm {
  typedef sm90_fp8_cfg<kKind, kN, kK, BLOCK_M, BLOCK_N, kStages, kClusterM, kClusterN, kSwapAB> cfg;
  typedef sched::gemm_scheduler<kKind, kN, BLOCK_M, BLOCK_N, kClusterM, kClusterN> scheduler;
  typedef sm90::mbarrier_t mbar;
  typedef sm90::pipe_state<kStages> pipe;
  typedef sm90_fp8_mainloop<cfg> loop;

  /* Pointers into the (1024-aligned) dynamic shared memory. */
  struct smem_t {
    uint8_t *d;            /* [BLOCK_M, BLOCK_N] bf16 in kDBoxes swizzled boxes */
    uint8_t *a;            /* [kStages][BLOCK_M, 128] e4m3, 128B swizzle */
    uint8_t *b;            /* [kStages][BLOCK_N, 128] e4m3, 128B swizzle */
    float *sfa;            /* [kStages][BLOCK_M] */
    sched::gemm_tile *tiles; /* [kTileSlots] */
    float *sfb;            /* [kTileSlots][kNumKBlocks][kSfbPerK] */
    mbar *full, *empty, *tile_full, *tile_empty, *tile_coord, *d_full, *d_empty;
    sched::gemm_tile *d_tile;
  };

  MK_DEV static smem_t carve(uint8_t *raw) {
    const uint32_t addr = sm90::smem_u32(raw);
    uint8_t *base = raw + (((addr + 1023u) & ~1023u) - addr);
    smem_t s;
    s.d = base;
    s.a = base + cfg::kOffA;
    s.b = base + cfg::kOffB;
    s.sfa = (float *)(base + cfg::kOffSfa);
    s.tiles = (sched::gemm_tile *)(base + cfg::kOffTiles);
    s.sfb = (float *)(base + cfg::kOffSfb);
    mbar *bars = (mbar *)(base + cfg::kOffBars);
    s.full = bars;
    s.empty = bars + kStages;
    s.tile_full = bars + 2 * kStages;
    s.tile_empty = bars + 2 * kStages + cfg::kTileSlots;
    s.tile_coord = bars + 2 * kStages + 2 * cfg::kTileSlots;
    s.d_full = bars + 2 * kStages + 3 * cfg::kTileSlots;
    s.d_empty = s.d_full + 1;
    s.d_tile = (sched::gemm_tile *)(base + cfg::kOffDTile);
    return s;
  }

  /* ---- warp 2: scheduler ------------------------------------------------------------ */
  /* Publishes each tile with its B scales [kNumKBlocks][kSfbPerK] (the 128-row
   * block of the tile's first column, and the next one when it straddles). */
  MK_DEV static void schedule(const smem_t &s, const mk__gemm_params &p, uint32_t lane, uint32_t rank) {
    /* masked_m / m_indices come from routing and the B scales are weights: with
     * MK__PDL_PREFETCH (the layer) both were written two or more launches back */
    if (!(p.pdl & MK__PDL_PREFETCH)) mk_pdl_wait();
    scheduler sch;
    sch.init(p, (int32_t)(blockIdx.x / cfg::kCluster), (int32_t)(gridDim.x / cfg::kCluster));
    constexpr int32_t kNumSfbRows = (kN + 127) / 128;
    for (uint32_t t = 0;; ++t) {
      sched::gemm_tile tile;
      const bool more = sch.next(p, rank, &tile);
      const uint32_t slot = t % cfg::kTileSlots;
      sm90::mbar_wait(&s.tile_empty[slot], ((t / cfg::kTileSlots) & 1u) ^ 1u);
      if (!more) {
        if (lane == 0) {
          tile.m_block = tile.n_block = tile.group = 0;
          tile.flags = sched::kTileDone;
          s.tiles[slot] = tile;
          sm90::mbar_arrive(&s.tile_coord[slot]);
        }
        sm90::mbar_arrive(&s.tile_full[slot]);
        return;
      }
      /* NOTE: the producer needs only the coordinates: it starts the tile's
       * loads while this warp fetches the B scales (one global round trip
       * that used to come before every kernel's first TMA load) */
      if (lane == 0) {
        s.tiles[slot] = tile;
        sm90::mbar_arrive(&s.tile_coord[slot]);
      }
      /* NOTE: 32-bit offsets (the API checks b_scales spans < 2^31 elements) and a
       * bounded unroll keep this warp inside its 40 registers */
      const int32_t nb0 = tile.n_block * BLOCK_N / 128;
      const float *sfb = p.sfb + (int64_t)tile.group * p.sfb_stride[0];
      const int32_t s_n = (int32_t)p.sfb_stride[1], s_k = (int32_t)p.sfb_stride[2];
      float *dst = s.sfb + slot * cfg::kSfbFloats;
#pragma unroll 2
      for (int i = (int)lane; i < cfg::kSfbFloats; i += 32) {
        const int kb = i / cfg::kSfbPerK;
        int32_t nb = nb0 + i % cfg::kSfbPerK;
        nb = nb < kNumSfbRows ? nb : kNumSfbRows - 1; /* past N: the columns are never stored */
        dst[i] = __ldg(sfb + (nb * s_n + kb * s_k));
      }
      sm90::mbar_arrive(&s.tile_full[slot]); /* every lane: its scale writes are released */
    }
  }

  /* ---- warp 0: TMA producer --------------------------------------------------------- */
  /* One k-block of A (and its scales) into stage `stage`; issued where `issue` holds. */
  MK_DEV static void load_a(bool issue, const smem_t &s, const CUtensorMap *tmap_a, const CUtensorMap *tmap_sfa,
                            uint32_t stage, int kb, int32_t a_row, int32_t a_grp, uint32_t rank,
                            uint32_t sfa_group_inner) {
    mbar *full = &s.full[stage];
    uint8_t *a = s.a + stage * cfg::kSmemA;
    if (kClusterN == 2) /* both CTAs need this A tile: each loads half and multicasts */
      sm90::tma_load_3d_multicast_if(issue, tmap_a, a + rank * (cfg::kSmemA / 2), full, kb * 128,
                                     a_row + (int32_t)rank * (BLOCK_M / 2), a_grp, 0x3);
    else
      sm90::tma_load_3d_if(issue, tmap_a, a, full, kb * 128, a_row, a_grp);
    /* sa box [BLOCK_M] at (row, kb, group), or (row, group, kb) when the
     * groups' scales interleave inside each k-block column (see the launcher) */
    sm90::tma_load_3d_if(issue, tmap_sfa, s.sfa + stage * (cfg::kSmemSfa / 4), full, a_row,
                         sfa_group_inner ? a_grp : kb, sfa_group_inner ? kb : a_grp);
  }

  /* One k-block of B (weights) into stage `stage`. mcast: the cluster's
   * two tiles share this B (kClusterM = 2): each CTA loads half for both;
   * otherwise (kTileNoMcast) each loads both halves for itself. */
  MK_DEV static void load_b(bool issue, const smem_t &s, const CUtensorMap *tmap_b, uint32_t stage, int kb,
                            int32_t b_row, int32_t b_grp, uint32_t rank, bool mcast) {
    mbar *full = &s.full[stage];
    uint8_t *b = s.b + stage * cfg::kSmemB;
    if (kClusterM == 2) {
      if (mcast) {
        sm90::tma_load_3d_multicast_if(issue, tmap_b, b + rank * (cfg::kSmemB / 2), full, kb * 128,
                                       b_row + (int32_t)rank * (BLOCK_N / 2), b_grp, 0x3);
      } else {
        sm90::tma_load_3d_if(issue, tmap_b, b, full, kb * 128, b_row, b_grp);
        sm90::tma_load_3d_if(issue, tmap_b, b + cfg::kSmemB / 2, full, kb * 128, b_row + BLOCK_N / 2, b_grp);
      }
    } else {
      sm90::tma_load_3d_if(issue, tmap_b, b, full, kb * 128, b_row, b_grp);
    }
  }

  /* NOTE: the whole warp walks the loop and one elected lane issues: with
   * every operand warp-uniform (sm90::warp_uniform) the stage and tile
   * arithmetic stays in uniform registers and the TMA instructions take them
   * directly. Walked by lane 0 alone, each k-block paid R2UR moves and a
   * waterfall loop per TMA: about 330 cycles per k-block, which paced the
   * whole kernel at small tiles (an H100 trace, docs/perf.md). The elected
   * lane's predicate goes on the instructions themselves (the *_if
   * wrappers), so the warp never splits around them; the TMA loads are
   * uniform-datapath instructions that the warp issues once. Against a
   * branch around them: 38 instead of 49 instructions per k-block, and 64 /
   * 128 x 2112 x 7168 7-11% faster on an H100 (GEMM run 9). */
  MK_DEV static void produce(const smem_t &s, const CUtensorMap *tmap_a, const CUtensorMap *tmap_sfa,
                             const CUtensorMap *tmap_b, uint32_t rank, uint32_t sfa_group_inner, int32_t pdl) {
    pipe ps = {0u, 0u};
    const bool leader = sm90::elect_one();
    /* only masked calls interleave the groups' scales: a constant elsewhere */
    sfa_group_inner = kKind == sched::kGemmMasked ? sfa_group_inner : 0u;
    bool waited = !(pdl & MK__PDL_PREFETCH);
    if (waited) mk_pdl_wait();
    for (uint32_t t = 0;; ++t) {
      const uint32_t slot = t % cfg::kTileSlots;
      sm90::mbar_wait(&s.tile_coord[slot], (t / cfg::kTileSlots) & 1u);
      const sched::gemm_tile tile = s.tiles[slot];
      const int32_t flags = (int32_t)sm90::warp_uniform((uint32_t)tile.flags);
      const int32_t m_block = (int32_t)sm90::warp_uniform((uint32_t)tile.m_block);
      const int32_t n_block = (int32_t)sm90::warp_uniform((uint32_t)tile.n_block);
      const int32_t group = (int32_t)sm90::warp_uniform((uint32_t)tile.group);
      if (leader) sm90::mbar_arrive(&s.tile_empty[slot]); /* every lane has read the record */
      if (flags & sched::kTileDone) return;
      /* A: (k, row, group) with the group only for masked; B: (k, row, expert) */
      const int32_t a_row = m_block * BLOCK_M;
      const int32_t a_grp = kKind == sched::kGemmMasked ? group : 0;
      const int32_t b_row = n_block * BLOCK_N;
      const int32_t b_grp = kKind == sched::kGemmDense ? 0 : group;
      const bool mcast_b = !(flags & sched::kTileNoMcast);
      int kb0 = 0;
      if (!waited) {
        /* NOTE: the first tile's weights stream in while the kernel before
         * this one finishes (programmatic dependent launch): the stages are
         * still empty, so their B halves go out first and A follows the wait */
        constexpr int kPre = cfg::kNumKBlocks < kStages ? cfg::kNumKBlocks : kStages;
#pragma unroll 1
        for (int kb = 0; kb < kPre; ++kb) {
          sm90::mbar_arrive_expect_tx_if(leader, &s.full[kb], cfg::kStageTx);
          load_b(leader, s, tmap_b, (uint32_t)kb, kb, b_row, b_grp, rank, mcast_b);
        }
        mk_pdl_wait();
        waited = true;
#pragma unroll 1
        for (int kb = 0; kb < kPre; ++kb) {
          load_a(leader, s, tmap_a, tmap_sfa, (uint32_t)kb, kb, a_row, a_grp, rank, sfa_group_inner);
          sm90::pipe_advance(ps);
        }
        kb0 = kPre;
      }
      MK__UNROLL_N(MK_SM90_GEMM_PRODUCER_UNROLL)
      for (int kb = kb0; kb < cfg::kNumKBlocks; ++kb) {
        sm90::mbar_wait(&s.empty[ps.stage], ps.phase ^ 1u);
        sm90::mbar_arrive_expect_tx_if(leader, &s.full[ps.stage], cfg::kStageTx);
        load_a(leader, s, tmap_a, tmap_sfa, ps.stage, kb, a_row, a_grp, rank, sfa_group_inner);
        load_b(leader, s, tmap_b, ps.stage, kb, b_row, b_grp, rank, mcast_b);
        sm90::pipe_advance(ps);
      }
    }
  }

  /* ---- warp 1 lane 0: TMA store and overlap signal ---------------------------------- */
  MK_DEV static void store(const smem_t &s, const CUtensorMap *tmap_d, const mk__gemm_params &p) {
    for (uint32_t t = 0;; ++t) {
      sm90::mbar_wait(s.d_full, t & 1u);
      const sched::gemm_tile tile = *s.d_tile;
      if (tile.flags & sched::kTileDone) break;
      const bool stored = !(tile.flags & sched::kTileNoStore);
      const int32_t grp = kKind == sched::kGemmMasked ? tile.group : 0;
      if (stored) {
#pragma unroll
        for (int i = 0; i < cfg::kDBoxes; ++i)
          sm90::tma_store_3d(tmap_d, s.d + i * BLOCK_M * cfg::kDSpan, tile.n_block * BLOCK_N + i * cfg::kDBoxCols,
                             tile.m_block * BLOCK_M, grp);
        sm90::tma_store_commit();
      }
      sm90::tma_store_wait_read<0>(); /* staging buffer free again */
      sm90::mbar_arrive(s.d_empty);
      if (stored && p.signal != nullptr)
        signal_publish_after_tma_store(p.signal + signal_index(grp, tile.m_block, p.signal_group_stride));
    }
    sm90::tma_store_wait<0>();
  }

  /* ---- math: epilogue (registers -> swizzled smem staging, for the store thread) ---- */
  MK_DEV static void epilogue(const smem_t &s, const float (&acc)[cfg::kWaves][cfg::kAccRegs], uint32_t wg,
                              uint32_t warp_in_wg, uint32_t lane) {
    const uint32_t d = sm90::smem_u32(s.d);
    const uint32_t j = lane / 8; /* the 8x8 matrix whose row address this lane gives */
#pragma unroll
    for (int w = 0; w < cfg::kWaves; ++w) {
      const float(&total)[cfg::kAccRegs] = acc[w];
#pragma unroll
      for (int i = 0; i < cfg::kMmaN / 8; i += 2) {
        const uint32_t r0 = sm90::pack_bf16x2(total[4 * i + 0], total[4 * i + 1]);
        const uint32_t r1 = sm90::pack_bf16x2(total[4 * i + 2], total[4 * i + 3]);
        const uint32_t r2 = sm90::pack_bf16x2(total[4 * i + 4], total[4 * i + 5]);
        const uint32_t r3 = sm90::pack_bf16x2(total[4 * i + 6], total[4 * i + 7]);
        if constexpr (!kSwapAB) {
          /* matrix j: rows 128 wave + 64 wg + 16 warp + 8 (j & 1) + 0..7, columns 8 (i + j / 2) + 0..7 */
          const uint32_t row = (uint32_t)w * 128 + wg * 64 + warp_in_wg * 16 + (j & 1u) * 8 + lane % 8;
          const uint32_t col = 8 * (i + (j >> 1));
          const uint32_t box = col / cfg::kDBoxCols, chunk = (col % cfg::kDBoxCols) / 8;
          const uint32_t o = mk_swizzle_offset(row * cfg::kDSpan + chunk * 16, cfg::kDSpan);
          sm90::stmatrix_x4(d + box * BLOCK_M * cfg::kDSpan + o, r0, r1, r2, r3);
        } else {
          /* stored transposed: D row = token 8 (i + j / 2) + lane % 8, columns = weights
           * 64 w + 16 warp + 8 (j & 1) + 0..7 (box w: 64 columns = 128 bytes) */
          const uint32_t row = 8 * (i + (j >> 1)) + lane % 8;
          const uint32_t chunk = warp_in_wg * 2 + (j & 1u);
          const uint32_t o = mk_swizzle_offset(row * 128 + chunk * 16, 128);
          sm90::stmatrix_x4_trans(d + wg * BLOCK_M * 128 + o, r0, r1, r2, r3);
        }
      }
    }
  }

  MK_DEV static void math(const smem_t &s, uint32_t math_thread) {
    /* NOTE: wg and the loop exit are made visibly warp-uniform (warp_uniform):
     * then every descriptor of the k-loops is uniform-register arithmetic */
    const uint32_t wg = sm90::warp_uniform(math_thread / 128), warp_in_wg = (math_thread / 32) % 4;
    const uint32_t lane = math_thread % 32;
    const sm90_fp8_ring r = {s.a, s.b, s.sfa, s.full, s.empty};
    pipe ps = {0u, 0u};
    uint32_t t = 0;
    for (;; ++t) {
      const uint32_t slot = t % cfg::kTileSlots;
      sm90::mbar_wait(&s.tile_full[slot], (t / cfg::kTileSlots) & 1u);
      const sched::gemm_tile tile = s.tiles[slot];
      if (sm90::warp_uniform(tile.flags) & sched::kTileDone) break;
      const float *sfb = s.sfb + slot * cfg::kSfbFloats;
      float total[cfg::kWaves][cfg::kAccRegs];
#pragma unroll
      for (int w = 0; w < cfg::kWaves; ++w)
#pragma unroll
        for (int i = 0; i < cfg::kAccRegs; ++i) total[w][i] = 0.0f;
      if constexpr (kSwapAB) {
        loop::mainloop_swap(r, ps, sfb, total[0], wg, lane);
      } else if constexpr (!cfg::kStraddle) {
        loop::template mainloop<BLOCK_N / 8>(r, ps, sfb, total, wg, warp_in_wg, lane);
      } else {
        /* where the tile's columns cross into the next scale block: one
         * specialized k-loop per reachable offset n0 % 128 (a multiple of kGcd) */
        const int32_t rem = (int32_t)(((int64_t)tile.n_block * BLOCK_N) % 128);
        switch (rem / 16) {
#define MK__STRADDLE_CASE(c)                                                                          \
  case c:                                                                                             \
    if constexpr ((16 * (c)) % cfg::kGcd == 0)                                                        \
      loop::template mainloop<((128 - 16 * (c)) < BLOCK_N ? (128 - 16 * (c)) : BLOCK_N) / 8>(     \
          r, ps, sfb, total, wg, warp_in_wg, lane);                                                   \
    break;
          MK__STRADDLE_CASE(0)
          MK__STRADDLE_CASE(1)
          MK__STRADDLE_CASE(2)
          MK__STRADDLE_CASE(3)
          MK__STRADDLE_CASE(4)
          MK__STRADDLE_CASE(5)
          MK__STRADDLE_CASE(6)
          MK__STRADDLE_CASE(7)
#undef MK__STRADDLE_CASE
          default:
            break;
        }
      }
      sm90::mbar_arrive(&s.tile_empty[slot]); /* done with the tile record and its B scales */
      sm90::mbar_wait(s.d_empty, (t & 1u) ^ 1u); /* the previous tile's store has read the staging buffer */
      epilogue(s, total, wg, warp_in_wg, lane);
      if (math_thread == 0) *s.d_tile = tile;
      sm90::fence_proxy_async_smem(); /* stmatrix writes -> visible to the TMA store */
      sm90::mbar_arrive(s.d_full);
    }
    sm90::mbar_wait(s.d_empty, (t & 1u) ^ 1u);
    if (math_thread == 0) {
      sched::gemm_tile done = {0, 0, 0, sched::kTileDone};
      *s.d_tile = done;
    }
    sm90::mbar_arrive(s.d_full);
  }

  /* ---- entry ------------------------------------------------------------------------------ */
  MK_DEV static void run(const CUtensorMap *tmap_a, const CUtensorMap *tmap_sfa, const CUtensorMap *tmap_b,
                         const CUtensorMap *tmap_d, const mk__gemm_params &p, uint32_t sfa_group_inner,
                         uint8_t *raw_smem) {
    const smem_t s = carve(raw_smem);
    const uint32_t warp = sm90::warp_uniform(threadIdx.x / 32), lane = threadIdx.x % 32; /* uniform roles */
    const uint32_t rank = cfg::kCluster > 1 ? sm90::cluster_ctarank() : 0u;

    if (threadIdx.x == 0) {
      for (int i = 0; i < kStages; ++i) {
        sm90::mbar_init(&s.full[i], 1);                                   /* the producer's expect_tx */
        sm90::mbar_init(&s.empty[i], cfg::kMathWarps * cfg::kCluster);    /* every math warp of the cluster */
      }
      for (int i = 0; i < cfg::kTileSlots; ++i) {
        sm90::mbar_init(&s.tile_full[i], 32);                             /* the scheduler warp */
        sm90::mbar_init(&s.tile_empty[i], 1 + cfg::kMathThreads);         /* producer + math threads */
        sm90::mbar_init(&s.tile_coord[i], 1);                             /* the scheduler's lane 0 */
      }
      sm90::mbar_init(s.d_full, cfg::kMathThreads);
      sm90::mbar_init(s.d_empty, 1);
      sm90::fence_mbarrier_init();
    } else if (threadIdx.x == 32) {
      sm90::tma_prefetch(tmap_a);
      sm90::tma_prefetch(tmap_sfa);
      sm90::tma_prefetch(tmap_b);
      sm90::tma_prefetch(tmap_d);
    }
    /* barriers initialized, in this CTA and (clusters) in the peer */
    __syncwarp();
    if (cfg::kCluster > 1) sm90::cluster_sync();
    else __syncthreads();
    /* NOTE: early, before this CTA's wait (producer, scheduler): the kernels
     * after a GEMM wait before they read anything (core/platform.h) */
    mk_pdl_trigger();

    if (warp < 4) {
      sm90::setmaxnreg_dec<cfg::kProducerRegs>();
      if (warp == 0) {
        produce(s, tmap_a, tmap_sfa, tmap_b, rank, sfa_group_inner, p.pdl);
      } else if (warp == 1) {
        if (lane == 0) store(s, tmap_d, p);
      } else if (warp == 2) {
        schedule(s, p, lane, rank);
      }
    } else {
      if constexpr (cfg::kMathRegs > cfg::kEntryRegs) sm90::setmaxnreg_inc<cfg::kMathRegs>();
      math(s, threadIdx.x - 128);
    }
    /* NOTE: the peer CTA's math warps arrive on our empty barriers and its
     * producer multicasts into our shared memory: stay until both are done. */
    if (cfg::kCluster > 1) {
      __syncwarp();
      sm90::cluster_sync();
    }
  }
};

template <int kKind, int kN, int kK, int BLOCK_M, int BLOCK_N, int kStages, int kClusterM, int kClusterN,
          bool kSwapAB>
__global__ void __launch_bounds__(
    (sm90_fp8_cfg<kKind, kN, kK, BLOCK_M, BLOCK_N, kStages, kClusterM, kClusterN, kSwapAB>::kThreads), 1)
    sm90_fp8_gemm_1d2d_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_sfa,
                              const __grid_constant__ CUtensorMap tmap_b, const __grid_constant__ CUtensorMap tmap_d,
                              const __grid_constant__ mk__gemm_params p, uint32_t sfa_group_inner) {
  extern __shared__ __align__(1024) uint8_t mk__gemm_smem[];
  sm90_fp8_gemm<kKind, kN, kK, BLOCK_M, BLOCK_N, kStages, kClusterM, kClusterN, kSwapAB>::run(
      &tmap_a, &tmap_sfa, &tmap_b, &tmap_d, p, sfa_group_inner, mk__gemm_smem);
}

}  // namespace gemm
}  // namespace mk

#include "moekit/kernels/gemm/sm90_fp8_gemm_launch.cuh"

#endif /* MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_1D2D_CUH */
