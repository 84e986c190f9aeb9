/* moekit/nv/sm90/barrier.cuh - named barriers, proxy fences, register
 * reallocation and cluster synchronization on Hopper (sm_90a).
 *
 *   named_barrier_sync(1, 256);      // bar.sync 1, 256: the two math warpgroups only
 *   fence_proxy_async_smem();        // generic smem writes -> visible to TMA / WGMMA
 *   setmaxnreg_dec<40>();            // producer warpgroup gives registers back
 *   cluster_sync();                  // every thread of every CTA of the cluster
 */
#ifndef MOEKIT_NV_SM90_BARRIER_CUH
#define MOEKIT_NV_SM90_BARRIER_CUH

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "moekit/nv/sm90/barrier.cuh needs sm_90a (setmaxnreg, clusters): compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

#include <stdint.h>

#include "moekit/core/platform.h"

namespace mk {
namespace sm90 {

/* The 32-bit shared-state-space address of a pointer into shared memory. */
MK_DEV uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* A value every lane of the warp holds alike, read from lane 0 so that ptxas
 * knows it warp-uniform.
 * NOTE: ptxas builds wgmma descriptors in uniform registers (UIADD3 between
 * back-to-back QGMMAs) only where it proves their inputs and the enclosing
 * control flow warp-uniform. A role branch on threadIdx.x / 32, a warpgroup
 * index from threadIdx.x / 128 or a loop exit on a value loaded from shared
 * memory each count as divergent: descriptors then live in per-thread
 * registers and every wgmma waits for 64-bit adds and R2UR moves. */
MK_DEV uint32_t warp_uniform(uint32_t v) { return __shfl_sync(0xffffffffu, v, 0); }

/* One lane of the (converged) warp is elected: true there, false elsewhere.
 * NOTE: ptxas knows elect.sync picks a single lane, so a TMA issued under
 * it takes uniform operands without a waterfall loop around it. */
MK_DEV bool elect_one(void) {
  uint32_t pred;
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "elect.sync _|p, 0xffffffff;\n"
      "selp.u32 %0, 1, 0, p;\n"
      "}"
      : "=r"(pred));
  return pred != 0u;
}

/* ---- named barriers (bar.sync id, count): count is a multiple of 32 ------------ */
MK_DEV void named_barrier_sync(uint32_t id, uint32_t count) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}
MK_DEV void named_barrier_arrive(uint32_t id, uint32_t count) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(count) : "memory");
}

/* ---- proxy fences ------------------------------------------------------------------ */
/* Generic-proxy writes to shared memory become visible to the async proxy
 * (a TMA store or WGMMA issued after a following barrier). */
MK_DEV void fence_proxy_async_smem(void) { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
/* Orders async-proxy global accesses (completed TMA stores) with later
 * generic-proxy operations of this thread, e.g. a release that publishes them. */
MK_DEV void fence_proxy_async_global(void) { asm volatile("fence.proxy.async.global;" ::: "memory"); }
/* Makes mbarrier.init visible to the other CTAs of the cluster and to the async proxy. */
MK_DEV void fence_mbarrier_init(void) { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }

/* ---- register reallocation between warpgroups ------------------------------------ */
/* NOTE: ptxas drops setmaxnreg (warning C7508) unless the kernel has
 * __launch_bounds__(threads, 1) or -maxrregcount. Every warp of the warpgroup
 * must execute the same call. kRegs is a multiple of 8 in [24, 256]. */
template <int kRegs>
MK_DEV void setmaxnreg_inc(void) {
  static_assert(kRegs % 8 == 0 && kRegs >= 24 && kRegs <= 256, "setmaxnreg: multiple of 8 in [24, 256]");
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}
template <int kRegs>
MK_DEV void setmaxnreg_dec(void) {
  static_assert(kRegs % 8 == 0 && kRegs >= 24 && kRegs <= 256, "setmaxnreg: multiple of 8 in [24, 256]");
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}

/* ---- clusters ------------------------------------------------------------------------ */
MK_DEV uint32_t cluster_ctarank(void) {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
MK_DEV void cluster_arrive(void) { asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory"); }
MK_DEV void cluster_wait(void) { asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory"); }
/* Every non-exited thread of every CTA in the cluster must call it. */
MK_DEV void cluster_sync(void) {
  cluster_arrive();
  cluster_wait();
}

}  // namespace sm90
}  // namespace mk

#endif /* MOEKIT_NV_SM90_BARRIER_CUH */
