/* moekit/nv/sm90/mbarrier.cuh - shared-memory mbarriers with phase tracking.
 *
 * An mbarrier completes a phase when `count` arrivals have happened and every
 * byte announced with expect_tx has landed (TMA loads signal complete_tx on
 * it). Waiters name the parity of the phase they wait for:
 *
 *   consumer:  mbar_wait(&full[s], phase);        // data of stage s landed
 *   producer:  mbar_wait(&empty[s], phase ^ 1);   // stage s was released
 *
 * A freshly initialized barrier is in phase 0, so a wait on parity 1 returns
 * at once: the producer's first pass over the stages does not block.
 * pipe_state tracks (stage, phase) for a ring of kStages barriers.
 */
#ifndef MOEKIT_NV_SM90_MBARRIER_CUH
#define MOEKIT_NV_SM90_MBARRIER_CUH

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "moekit/nv/sm90/mbarrier.cuh needs sm_90a: compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

#include <stdint.h>

#include "moekit/nv/sm90/barrier.cuh"

namespace mk {
namespace sm90 {

typedef uint64_t mbarrier_t;

MK_DEV void mbar_init(mbarrier_t *bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}

/* One arrival (release semantics at CTA scope). */
MK_DEV void mbar_arrive(mbarrier_t *bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(bar)) : "memory");
}

/* One arrival that also announces `bytes` of transactions (TMA) for this
 * phase, made only where `issue` holds, without a branch. */
MK_DEV void mbar_arrive_expect_tx_if(bool issue, mbarrier_t *bar, uint32_t bytes) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %2, 0;\n@p mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n}" ::"r"(
          smem_u32(bar)),
      "r"(bytes), "r"((uint32_t)issue)
      : "memory");
}

MK_DEV void mbar_arrive_expect_tx(mbarrier_t *bar, uint32_t bytes) { mbar_arrive_expect_tx_if(true, bar, bytes); }

/* One arrival on the barrier at the same shared-memory offset in CTA
 * `cta_rank` of this cluster (`cta_rank` may be this CTA's own rank).
 * NOTE: default semantics (release at CTA scope), as CUTLASS's cluster
 * pipelines use to hand a stage back: the .release.cluster spelling costs a
 * MEMBAR.ALL.GPU per call (SASS), and a consumer that releases a stage only
 * needs its own reads of it to be complete, which they are (wgmma.wait_group,
 * values already in registers). */
MK_DEV void mbar_arrive_cluster(mbarrier_t *bar, uint32_t cta_rank) {
  asm volatile(
      "{\n"
      ".reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n"
      "}" ::"r"(smem_u32(bar)),
      "r"(cta_rank)
      : "memory");
}

/* True when the phase with this parity has completed (does not block long). */
MK_DEV bool mbar_try_wait(mbarrier_t *bar, uint32_t parity) {
  uint32_t done;
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
      "selp.u32 %0, 1, 0, p;\n"
      "}"
      : "=r"(done)
      : "r"(smem_u32(bar)), "r"(parity)
      : "memory");
  return done != 0;
}

/* Blocks until the phase with this parity has completed (acquire at CTA scope).
 * NOTE: the label is local to the { } block, so the loop can be inlined many times. */
MK_DEV void mbar_wait(mbarrier_t *bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "mk_mbar_wait:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra mk_mbar_wait;\n"
      "}" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

/* (stage, phase) of a ring of kStages barriers; advance() moves to the next
 * stage and flips the phase when the ring wraps. */
template <int kStages>
struct pipe_state {
  uint32_t stage;
  uint32_t phase;
};

template <int kStages>
MK_DEV void pipe_advance(pipe_state<kStages> &p) {
  if (++p.stage == kStages) {
    p.stage = 0;
    p.phase ^= 1u;
  }
}

}  // namespace sm90
}  // namespace mk

#endif /* MOEKIT_NV_SM90_MBARRIER_CUH */
