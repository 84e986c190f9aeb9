/* moekit/kernels/gemm/sm90_fp8_gemm_cfg.cuh - compile-time configuration
 * of the sm90 block-scaled FP8 GEMM (sm90_fp8_gemm_1d2d.cuh): warpgroup
 * counts, register budgets, the B-scale straddle rule, the D staging boxes
 * and the shared-memory layout. gen/ops/gemm.py (smem_bytes) mirrors the
 * layout to choose the stage count.
 */
#ifndef MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_CFG_CUH
#define MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_CFG_CUH

#include <stdint.h>

namespace mk {
namespace gemm {


constexpr int kSm90SmemBytes = 232448; /* opt-in dynamic shared memory per block on H100/H200 */

/* ---- compile-time configuration and shared-memory layout --------------------------- */
template <int kKind, int kN, int kK, int BLOCK_M, int BLOCK_N, int kStages, int kClusterM, int kClusterN,
          bool kSwapAB>
struct sm90_fp8_cfg {
  static constexpr int BLOCK_K = 128;
  static constexpr int kNumStages = kStages;
  static constexpr int kNumKBlocks = kK / BLOCK_K;
  /* BLOCK_M = 256: two math warpgroups, each taking a 64-row slice of both
   * 128-row halves ("waves") of the tile, one after the other */
  static constexpr int kWaves = (!kSwapAB && BLOCK_M == 256) ? 2 : 1;
  static constexpr int kMathWGs = kSwapAB ? BLOCK_N / 64 : BLOCK_M / 64 / kWaves;
  static constexpr int kMathThreads = 128 * kMathWGs;
  static constexpr int kMathWarps = kMathThreads / 32;
  static constexpr int kThreads = 128 + kMathThreads;
  static constexpr int kCluster = kClusterM * kClusterN;
  static constexpr int kMmaN = kSwapAB ? BLOCK_M : BLOCK_N; /* wgmma N */
  static constexpr int kAccRegs = kMmaN / 2;
  /* Registers: ptxas gives every thread min(255, 65536 / kThreads) rounded
   * down to 8 at entry (248 for 256 threads, 168 for 384); the producer
   * warpgroup drops to 40 and two math warpgroups rise to 232
   * (128 x 40 + 256 x 232 = 64512 <= 65536). One math warpgroup keeps 248. */
  static constexpr int kProducerRegs = 40;
  static constexpr int kEntryRegs = (65536 / kThreads > 255 ? 255 : 65536 / kThreads) / 8 * 8;
  static constexpr int kMathRegs = kMathWGs == 1 ? 248 : 232;
  static constexpr int kTileSlots = 4;
  /* Two product register sets (sm90_fp8_gemm_mainloop.cuh) where the
   * kWaves + 2 accumulator sets stay within 192 of the math registers:
   * BLOCK_N <= 128 for 64/128-row tiles, <= 96 for 256-row tiles.
   * MK_SM90_GEMM_PIPELINE=0 turns it off (for measuring the difference).
   * NOTE: splitting a k-block's wgmmas into two column halves so that wider
   * tiles fit too was measured 11-20% slower (docs/perf.md), with A read
   * from shared memory by each half and with A loaded once into registers
   * (branch wip/rs-halves) alike: the narrower wgmmas, not the A reads. */
#ifndef MK_SM90_GEMM_PIPELINE
#define MK_SM90_GEMM_PIPELINE 1
#endif
#ifndef MK_SM90_GEMM_PIPE_GROUP
#define MK_SM90_GEMM_PIPE_GROUP 4
#endif
  static constexpr bool kPipelined = MK_SM90_GEMM_PIPELINE && !kSwapAB && (kWaves + 2) * kAccRegs <= 192;
  static constexpr int kPipeGroup = MK_SM90_GEMM_PIPE_GROUP; /* units per group */
  static_assert(kPipeGroup >= 2 && kPipeGroup % 2 == 0, "MK_SM90_GEMM_PIPE_GROUP: an even number >= 2");

  /* A tile's B columns may cross a 128-column scale block (BLOCK_N = 96,
   * 112, 144, 160, 192): two scales per k-block, switched at column
   * 128 - n0 % 128. They never span three: BLOCK_N <= 128 + gcd(BLOCK_N, 128). */
  static constexpr int kGcd = (BLOCK_N % 128 == 0) ? 128 : (BLOCK_N % 64 == 0) ? 64 : (BLOCK_N % 32 == 0) ? 32 : 16;
  static constexpr bool kStraddle = !kSwapAB && (128 % BLOCK_N != 0);
  static constexpr int kSfbPerK = kStraddle ? 2 : 1;
  static constexpr int kSfbFloats = kNumKBlocks * kSfbPerK;

  /* D staging for TMA stores: boxes of kDSpan bytes per row (the widest
   * swizzle dividing a row), BLOCK_M rows each. */
  static constexpr int kDSpan = (BLOCK_N * 2) % 128 == 0 ? 128 : (BLOCK_N * 2) % 64 == 0 ? 64 : 32;
  static constexpr int kDBoxCols = kDSpan / 2;
  static constexpr int kDBoxes = BLOCK_N / kDBoxCols;

  static constexpr int align_up(int x, int a) { return (x + a - 1) / a * a; }
  static constexpr int kSmemD = align_up(BLOCK_M * BLOCK_N * 2, 1024);
  static constexpr int kSmemA = BLOCK_M * BLOCK_K;                    /* per stage */
  static constexpr int kSmemB = BLOCK_N * BLOCK_K;
  static constexpr int kSmemSfa = align_up(BLOCK_M * 4, 128);
  static constexpr int kOffA = kSmemD;
  static constexpr int kOffB = kOffA + kStages * kSmemA;
  static constexpr int kOffSfa = kOffB + kStages * kSmemB;
  static constexpr int kOffTiles = kOffSfa + kStages * kSmemSfa;          /* gemm_tile[kTileSlots] */
  static constexpr int kOffSfb = kOffTiles + kTileSlots * 16;            /* f32[kTileSlots][kSfbFloats] */
  static constexpr int kOffBars = align_up(kOffSfb + kTileSlots * kSfbFloats * 4, 8);
  static constexpr int kNumBars = 2 * kStages + 3 * kTileSlots + 2;
  static constexpr int kOffDTile = kOffBars + kNumBars * 8;              /* gemm_tile of the staged D */
  static constexpr int kSmemBytes = kOffDTile + 16 + 1024;               /* + slack to align the base */
  static constexpr uint32_t kStageTx = (uint32_t)(kSmemA + BLOCK_M * 4 + kSmemB);

  static_assert(kK % BLOCK_K == 0, "K must be a multiple of 128");
  static_assert(kSwapAB ? (BLOCK_N == 64 || BLOCK_N == 128) : (BLOCK_M == 64 || BLOCK_M == 128 || BLOCK_M == 256),
                "64, 128 or 256 rows on the wgmma M side (one or two math warpgroups)");
  static_assert(kWaves == 1 || BLOCK_N <= 128, "256-row tiles keep 3 x BLOCK_N / 2 accumulators: BLOCK_N <= 128");
  static_assert(kSwapAB ? (BLOCK_M % 16 == 0 && BLOCK_M >= 16 && BLOCK_M <= 256)
                        : (BLOCK_N % 16 == 0 && BLOCK_N >= 16 && BLOCK_N <= 256),
                "wgmma N: a multiple of 16 (pairs of 8-column groups for stmatrix.x4)");
  static_assert(kSwapAB || BLOCK_N <= 128 + kGcd, "a B tile must not span three 128-column scale blocks");
  static_assert(kSwapAB || BLOCK_N % 128 == 0 || BLOCK_N < 256, "");
  static_assert(kClusterN == 1 || BLOCK_M % 16 == 0, "multicast halves of A must keep 8-row swizzle atoms");
  static_assert(kClusterM == 1 || BLOCK_N % 16 == 0, "multicast halves of B must keep 8-row swizzle atoms");
  static_assert(kStages >= 2, "at least two stages");
  static_assert(kSmemBytes <= kSm90SmemBytes, "shared memory: fewer stages or smaller tiles");
};

}  // namespace gemm
}  // namespace mk

#endif /* MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_CFG_CUH */
