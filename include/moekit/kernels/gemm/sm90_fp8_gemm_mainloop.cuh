/* moekit/kernels/gemm/sm90_fp8_gemm_mainloop.cuh - the math warpgroups'
 * k-loops of the sm90 block-scaled FP8 GEMM (sm90_fp8_gemm_1d2d.cuh): wgmma
 * over one tile's k-blocks, each k-block's f32 product promoted into the
 * running sum with sa(row, kb) * sb(col / 128, kb) right after it leaves the
 * tensor core.
 *
 *   mainloop_lockstep  one product register set: issue a unit, wait, promote
 *   mainloop_pipe      two product register sets: unit u + 1 is issued before
 *                      unit u is promoted (cfg::kPipelined tiles)
 *   mainloop_swap      swap-AB orientation (tokens on the wgmma N side)
 * A "unit" is one wave's (one 64-row slice's) four m64nNk32 wgmmas of one
 * 128-wide k-block: unit u = kb * kWaves + w.
 *
 * NOTE: why two loops. With one product set a warpgroup issues a unit,
 * waits for it and only then runs its N / 2 promotion FFMAs per thread, so
 * its share of the tensor core idles meanwhile unless the other warpgroup's
 * wgmmas fill the gap; both wait on the same stage barrier and tend to run
 * in step. With two sets the tensor core holds this warpgroup's next unit
 * while the FFMAs of the last one run: 128 x 128 tiles gained about 4.5%
 * on an H100 (docs/perf.md). It costs kAccRegs more registers, so it is only for
 * tiles whose kWaves + 2 accumulator sets fit (sm90_fp8_gemm_cfg.cuh).
 * Making the two warpgroups take turns issuing (named barriers) was measured
 * 1-3% slower than letting them run freely, so the lockstep loop has none.
 */
#ifndef MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_MAINLOOP_CUH
#define MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_MAINLOOP_CUH

#include <stdint.h>

#include "moekit/core/platform.h"
#include "moekit/nv/sm90/mbarrier.cuh"
#include "moekit/nv/sm90/smem_desc.h"
#include "moekit/nv/sm90/wgmma.cuh"

namespace mk {
namespace gemm {

/* The operand ring the producer fills: stage i holds A [BLOCK_M, 128] at
 * a + i * kSmemA, B [BLOCK_N, 128] at b + i * kSmemB (both 128B-swizzled,
 * K-major) and sa [BLOCK_M] at sfa + i * kSmemSfa / 4. */
struct sm90_fp8_ring {
  uint8_t *a, *b;
  float *sfa;
  sm90::mbarrier_t *full, *empty;
};

/* Unroll factors of the lockstep k-loop and of the pipelined loop's groups.
 * NOTE: unrolling the lockstep loop 4 or 8 times was measured 3-4% faster
 * than not unrolling it on an H100 (docs/perf.md): the compiler then
 * schedules the next k-block's barrier wait, scale loads and descriptors
 * among the promotion FFMAs. 16 overflows the instruction cache on tiles
 * with straddling B scales (8 specialized loops): up to 1.5x slower.
 * Unrolling the pipelined loop's groups twice changed nothing. */
/* MK_SM90_GEMM_SCALE_FIRST=1: the lockstep loop reads a unit's A scales
 * before issuing its wgmmas rather than after (as DeepGEMM does).
 * NOTE: ptxas puts the scale products right after the unit's first wgmma
 * either way; read after the issue, their shared-memory load is still in
 * flight there and wgmmas 2-4 wait ~30 cycles. Measured on an H100 (docs/
 * perf.md, GEMM run 10g): 0.4-1.3% faster for 256 x 128 at K >= 2048, ~1%
 * slower at K = 512 and 1536, so it stays off until a wider A/B decides. */
#ifndef MK_SM90_GEMM_SCALE_FIRST
#define MK_SM90_GEMM_SCALE_FIRST 0
#endif
#ifndef MK_SM90_GEMM_KLOOP_UNROLL
#define MK_SM90_GEMM_KLOOP_UNROLL 4
#endif
#ifndef MK_SM90_GEMM_GROUP_UNROLL
#define MK_SM90_GEMM_GROUP_UNROLL 1
#endif
#define MK__PRAGMA(x) _Pragma(#x)
#define MK__UNROLL(n) MK__PRAGMA(unroll n)
#define MK__UNROLL_N(n) MK__UNROLL(n)

template <class cfg>
struct sm90_fp8_mainloop {
  static constexpr int kAcc = cfg::kAccRegs;
  static constexpr int kWaves = cfg::kWaves;
  typedef sm90::pipe_state<cfg::kNumStages> pipe;

  /* The warp is done reading stage `stage` (wgmma operands and scales): one
   * arrival per warp on the empty barrier of every CTA whose producer may
   * write into this CTA's copy of the stage. */
  MK_DEV static void release_stage(const sm90_fp8_ring &r, uint32_t stage, uint32_t lane) {
    __syncwarp();
    if (cfg::kCluster == 1) {
      if (lane == 0) sm90::mbar_arrive(&r.empty[stage]);
    } else if (lane < (uint32_t)cfg::kCluster) {
      sm90::mbar_arrive_cluster(&r.empty[stage], lane);
    }
  }

  /* ---- one k-block on the tensor core ------------------------------------------------- */
  /* Four m64nNk32 wgmmas (N = kMmaN) over one 128-wide k-block, 32 bytes
   * apart, from the descriptors of its first A rows (64) and B rows, both
   * K-major with 128-byte swizzle; then commit. The descriptors are
   * warp-uniform (sm90_fp8_gemm_1d2d.cuh's math(): NOTE in sm90::warp_uniform),
   * so the k steps are uniform-register adds between back-to-back wgmmas. */
  MK_DEV static void mma_kblock_desc(uint64_t da, uint64_t db, float (&part)[kAcc]) {
    sm90::wgmma_fence();
#pragma unroll
    for (int k = 0; k < 4; ++k) sm90::wgmma_e4m3<cfg::kMmaN>::mma(part, da + 2u * k, db + 2u * k, k > 0 ? 1u : 0u);
    sm90::wgmma_commit();
  }

  /* the same from shared addresses a (A rows) and b (B rows) */
  MK_DEV static void mma_kblock(uint32_t a, uint32_t b, float (&part)[kAcc]) {
    mma_kblock_desc(mk_wgmma_desc_kmajor_sw128(a), mk_wgmma_desc_kmajor_sw128(b), part);
  }

  /* ---- normal orientation: one unit -------------------------------------------------- */
  /* Issues wave w's four wgmmas of the k-block in `stage` into `part`:
   * rows 128 w + 64 wg + [0, 64) of the tile times all BLOCK_N columns. */
  MK_DEV static void issue(const sm90_fp8_ring &r, uint32_t stage, int w, uint32_t wg, float (&part)[kAcc]) {
    const uint32_t slice = (uint32_t)w * 128 + wg * 64;
    mma_kblock(sm90::smem_u32(r.a + stage * cfg::kSmemA + slice * 128), sm90::smem_u32(r.b + stage * cfg::kSmemB),
               part);
  }

  /* total += part * scale. This thread's rows are row and row + 8 (scales
   * sa0, sa1); 8-column groups [0, kFormer) take the k-block's first B scale
   * sb0, the rest the second sb1 (tiles crossing a 128-column scale block). */
  template <int kFormer>
  MK_DEV static void promote(float (&total)[kAcc], const float (&part)[kAcc], float sa0, float sa1, float sb0,
                             float sb1) {
    const float s00 = sa0 * sb0, s10 = sa1 * sb0, s01 = sa0 * sb1, s11 = sa1 * sb1;
#pragma unroll
    for (int i = 0; i < cfg::kMmaN / 8; ++i) {
      const float r0 = i < kFormer ? s00 : s01, r1 = i < kFormer ? s10 : s11;
      total[4 * i + 0] += part[4 * i + 0] * r0;
      total[4 * i + 1] += part[4 * i + 1] * r0;
      total[4 * i + 2] += part[4 * i + 2] * r1;
      total[4 * i + 3] += part[4 * i + 3] * r1;
    }
  }

  /* ---- normal orientation, one product set ------------------------------------------ */
  template <int kFormer>
  MK_DEV static void mainloop_lockstep(const sm90_fp8_ring &r, pipe &ps, const float *sfb,
                                       float (&total)[kWaves][kAcc], uint32_t wg, uint32_t warp_in_wg,
                                       uint32_t lane) {
    float part[kAcc]; /* one unit's product; the first wgmma overwrites it */
#pragma unroll
    for (int i = 0; i < kAcc; ++i) part[i] = 0.0f;
    /* The current stage's descriptor low words (this warpgroup's first A row,
     * B), stepped by the stage size rather than rebuilt from addresses
     * every k-block (mk_wgmma_desc_sw128_lo in smem_desc.h).
     * NOTE: 197 -> 189 instructions per k-block of a 256 x 128 tile
     * (DeepGEMM's loop: 189); on an H100 neutral for 256 x 128 and 0.5-0.9%
     * faster for 128 x 192 (docs/perf.md, GEMM run 10d). */
    const uint32_t a_first = mk_wgmma_desc_sw128_lo(sm90::smem_u32(r.a)) + wg * (64u * 128u >> 4);
    const uint32_t b_first = mk_wgmma_desc_sw128_lo(sm90::smem_u32(r.b));
    uint32_t a_lo = a_first + ps.stage * (uint32_t)(cfg::kSmemA >> 4);
    uint32_t b_lo = b_first + ps.stage * (uint32_t)(cfg::kSmemB >> 4);
    MK__UNROLL_N(MK_SM90_GEMM_KLOOP_UNROLL)
    for (int kb = 0; kb < cfg::kNumKBlocks; ++kb) {
      const float sb0 = sfb[kb * cfg::kSfbPerK], sb1 = sfb[kb * cfg::kSfbPerK + cfg::kSfbPerK - 1];
      sm90::mbar_wait(&r.full[ps.stage], ps.phase);
      const float *sfa = r.sfa + ps.stage * (cfg::kSmemSfa / 4);
#pragma unroll
      for (int w = 0; w < kWaves; ++w) {
        const uint32_t row = (uint32_t)w * 128 + wg * 64 + warp_in_wg * 16 + lane / 4;
#if MK_SM90_GEMM_SCALE_FIRST
        const float sa0 = sfa[row], sa1 = sfa[row + 8];
#endif
        /* rows 128 w + 64 wg + [0, 64) of the tile: wave w is 128 rows (16 KiB) further */
        mma_kblock_desc(mk_wgmma_desc_sw128_from_lo(a_lo) + (uint32_t)w * (128u * 128u >> 4),
                        mk_wgmma_desc_sw128_from_lo(b_lo), part);
#if !MK_SM90_GEMM_SCALE_FIRST
        const float sa0 = sfa[row], sa1 = sfa[row + 8]; /* while the tensor core runs */
#endif
        sm90::wgmma_wait<0>();
        sm90::wgmma_fence_operands(part);
        if (w == kWaves - 1) release_stage(r, ps.stage, lane);
        promote<kFormer>(total[w], part, sa0, sa1, sb0, sb1);
      }
      sm90::pipe_advance(ps);
      a_lo = ps.stage == 0 ? a_first : a_lo + (uint32_t)(cfg::kSmemA >> 4);
      b_lo = ps.stage == 0 ? b_first : b_lo + (uint32_t)(cfg::kSmemB >> 4);
    }
  }

  /* ---- normal orientation, two product sets ----------------------------------------- */
  static constexpr int kPipeUnits = cfg::kNumKBlocks * kWaves;

  /* Units: u = kb * kWaves + w.
   * Unit J of a group starting at u0 (a multiple of kWaves), product set J % 2.
   * kIssue: issue unit u0 + J + 1 into the other set first (waiting for its
   * stage when it starts a k-block), then wait until only that group is
   * pending; otherwise (the group's last unit) wait for all. Then free the
   * stage when the unit was its k-block's last and promote.
   * ps: stage of this unit; nx: stage of the newest issued unit. */
  template <int kFormer, int J, bool kIssue>
  MK_DEV static void unit(const sm90_fp8_ring &r, pipe &ps, pipe &nx, const float *sfb,
                          float (&total)[kWaves][kAcc], float (&part)[2][kAcc], int u0, uint32_t wg,
                          uint32_t warp_in_wg, uint32_t lane) {
    constexpr int P = J % 2, w = J % kWaves;
    const int kb = (u0 + J) / kWaves;
    if constexpr (kIssue) {
      constexpr int w1 = (J + 1) % kWaves;
      if constexpr (w1 == 0) {
        sm90::pipe_advance(nx);
        sm90::mbar_wait(&r.full[nx.stage], nx.phase);
      }
      issue(r, nx.stage, w1, wg, part[P ^ 1]);
    }
    const float sb0 = sfb[kb * cfg::kSfbPerK], sb1 = sfb[kb * cfg::kSfbPerK + cfg::kSfbPerK - 1];
    const float *sfa = r.sfa + ps.stage * (cfg::kSmemSfa / 4);
    const uint32_t row = (uint32_t)w * 128 + wg * 64 + warp_in_wg * 16 + lane / 4;
    const float sa0 = sfa[row], sa1 = sfa[row + 8];
    if constexpr (kIssue) sm90::wgmma_wait<1>();
    else sm90::wgmma_wait<0>();
    sm90::wgmma_fence_operands(part[P]);
    if constexpr (w == kWaves - 1) {
      release_stage(r, ps.stage, lane);
      sm90::pipe_advance(ps);
    }
    promote<kFormer>(total[w], part[P], sa0, sa1, sb0, sb1);
  }

  /* Units J .. kN - 1 of a group starting at unit u0. */
  template <int kFormer, int J, int kN>
  MK_DEV static void chain(const sm90_fp8_ring &r, pipe &ps, pipe &nx, const float *sfb,
                           float (&total)[kWaves][kAcc], float (&part)[2][kAcc], int u0, uint32_t wg,
                           uint32_t warp_in_wg, uint32_t lane) {
    if constexpr (J < kN) {
      unit<kFormer, J, (J + 1 < kN)>(r, ps, nx, sfb, total, part, u0, wg, warp_in_wg, lane);
      chain<kFormer, J + 1, kN>(r, ps, nx, sfb, total, part, u0, wg, warp_in_wg, lane);
    }
  }

  /* kN units from u0 (a multiple of kWaves): nothing is in flight before or after. */
  template <int kFormer, int kN>
  MK_DEV static void group(const sm90_fp8_ring &r, pipe &ps, const float *sfb, float (&total)[kWaves][kAcc],
                           float (&part)[2][kAcc], int u0, uint32_t wg, uint32_t warp_in_wg, uint32_t lane) {
    pipe nx = ps;
    sm90::mbar_wait(&r.full[nx.stage], nx.phase);
    issue(r, nx.stage, 0, wg, part[0]);
    chain<kFormer, 0, kN>(r, ps, nx, sfb, total, part, u0, wg, warp_in_wg, lane);
  }

  /* NOTE: groups of kPipeGroup units, each ending with every wgmma retired:
   * ptxas cannot follow a wgmma group that is still in flight across a loop's
   * back edge and then serializes every wgmma (C7514). So the tensor core
   * idles during one promotion in kPipeGroup instead of during all of them. */
  template <int kFormer>
  MK_DEV static void mainloop_pipe(const sm90_fp8_ring &r, pipe &ps, const float *sfb, float (&total)[kWaves][kAcc],
                                   uint32_t wg, uint32_t warp_in_wg, uint32_t lane) {
    constexpr int kGroup = cfg::kPipeGroup;
    static_assert(kGroup % kWaves == 0, "a group holds whole k-blocks");
    float part[2][kAcc];
#pragma unroll
    for (int i = 0; i < kAcc; ++i) part[0][i] = part[1][i] = 0.0f;
    /* NOTE: the zeros land in their own registers before the first wgmma:
     * otherwise the compiler may fill part[1] (or total) by copying a
     * register that is also one of part[0]'s accumulators while that wgmma
     * is in flight (C7514 again) */
    sm90::wgmma_fence_operands(part[0]);
    sm90::wgmma_fence_operands(part[1]);
#pragma unroll
    for (int w = 0; w < kWaves; ++w) sm90::wgmma_fence_operands(total[w]);
    int u = 0;
    MK__UNROLL_N(MK_SM90_GEMM_GROUP_UNROLL)
    for (; u + kGroup <= kPipeUnits; u += kGroup)
      group<kFormer, kGroup>(r, ps, sfb, total, part, u, wg, warp_in_wg, lane);
    if constexpr (kPipeUnits % kGroup != 0)
      group<kFormer, kPipeUnits % kGroup>(r, ps, sfb, total, part, u, wg, warp_in_wg, lane);
  }

  template <int kFormer>
  MK_DEV static void mainloop(const sm90_fp8_ring &r, pipe &ps, const float *sfb, float (&total)[kWaves][kAcc],
                              uint32_t wg, uint32_t warp_in_wg, uint32_t lane) {
    if constexpr (cfg::kPipelined) mainloop_pipe<kFormer>(r, ps, sfb, total, wg, warp_in_wg, lane);
    else mainloop_lockstep<kFormer>(r, ps, sfb, total, wg, warp_in_wg, lane);
  }

  /* ---- swap-AB orientation ----------------------------------------------------------- */
  /* Rows are weights (one B scale per k-block for the warpgroup's 64 rows),
   * columns are tokens (one A scale each). */
  MK_DEV static void mainloop_swap(const sm90_fp8_ring &r, pipe &ps, const float *sfb, float (&total)[kAcc],
                                   uint32_t wg, uint32_t lane) {
    float part[kAcc];
#pragma unroll
    for (int i = 0; i < kAcc; ++i) part[i] = 0.0f;
#pragma unroll 1
    for (int kb = 0; kb < cfg::kNumKBlocks; ++kb) {
      sm90::mbar_wait(&r.full[ps.stage], ps.phase);
      /* wgmma A: the warpgroup's 64 weight rows; wgmma B: the tokens */
      mma_kblock(sm90::smem_u32(r.b + ps.stage * cfg::kSmemB + wg * 64 * 128),
                 sm90::smem_u32(r.a + ps.stage * cfg::kSmemA), part);
      const float *sfa = r.sfa + ps.stage * (cfg::kSmemSfa / 4);
      const float sb = sfb[kb];
      float sc[cfg::kMmaN / 4]; /* scales of this thread's token columns 8 i + 2 (lane % 4) + {0, 1} */
#pragma unroll
      for (int i = 0; i < cfg::kMmaN / 8; ++i) {
        const float2 v = *(const float2 *)(sfa + 8 * i + 2 * (lane % 4));
        sc[2 * i] = v.x;
        sc[2 * i + 1] = v.y;
      }
      sm90::wgmma_wait<0>();
      sm90::wgmma_fence_operands(part);
      release_stage(r, ps.stage, lane);
#pragma unroll
      for (int i = 0; i < cfg::kMmaN / 8; ++i) {
        const float c0 = sc[2 * i] * sb, c1 = sc[2 * i + 1] * sb;
        total[4 * i + 0] += part[4 * i + 0] * c0;
        total[4 * i + 1] += part[4 * i + 1] * c1;
        total[4 * i + 2] += part[4 * i + 2] * c0;
        total[4 * i + 3] += part[4 * i + 3] * c1;
      }
      sm90::pipe_advance(ps);
    }
  }
};

}  // namespace gemm
}  // namespace mk

#endif /* MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_MAINLOOP_CUH */
