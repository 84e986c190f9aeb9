/* moekit/signal/overlap.cuh - per-tile completion counters, so that a
 * consumer kernel (communication, the next op) can start on finished tiles
 * while the kernel that produces them is still running.
 *
 * Protocol (the GEMMs of moekit/kernels/gemm/ follow it):
 *   - the counters are int32, zeroed by the caller before the producer starts;
 *   - a tile of D rows [block_m * m_block, +block_m) of group g, columns
 *     [block_n * n_block, +block_n), adds 1 to
 *         counter[g * ceil(max_m / block_m) + m_block]
 *     once its global writes are complete (dense and contiguous GEMMs: g = 0,
 *     max_m = M);
 *   - a row block is complete when its counter reaches the threshold
 *     ceil(N / block_n), the number of column tiles.
 * mk_gemm_fp8_query() reports block_m, the threshold and the counter count.
 *
 * Producer, after the tile's TMA store was committed by this thread:
 *   signal_publish_after_tma_store(&counter[idx]);
 * waits for the store's global writes (cp.async.bulk.wait_group 0: not
 * .read, which only means the shared memory may be reused), orders them
 * before the counter update (fence.proxy.async.global: the writes came from
 * the async proxy) and adds with release semantics at GPU scope.
 *
 * Consumer (any kernel, any SM arch >= 7.0):
 *   if (threadIdx.x == 0) signal_wait(&counter[idx], threshold);
 *   __syncthreads();                  // the acquire now covers the whole block
 *   ... read rows of D with ordinary loads ...
 * A consumer that reads the tile with TMA (the async proxy) must also
 * execute fence.proxy.async.global after the wait.
 *
 * NOTE: launch the producer once before a consumer first spins on its
 * counters (or run with CUDA_MODULE_LOADING=EAGER): CUDA loads modules
 * lazily, and loading the producer's module waits for the spinning consumer
 * to finish, so the two never overlap (seen on an H200 with examples/overlap).
 */
#ifndef MOEKIT_SIGNAL_OVERLAP_CUH
#define MOEKIT_SIGNAL_OVERLAP_CUH

#include <stdint.h>

#include "moekit/core/platform.h"

namespace mk {

/* The counter of (group, m_block) when each group has m_blocks_per_group row blocks. */
MK_HD int64_t signal_index(int64_t group, int64_t m_block, int64_t m_blocks_per_group) {
  return group * m_blocks_per_group + m_block;
}

#if defined(MK_CUDA)
/* counter += v, release at GPU scope: every write of this thread before it
 * (and what those writes depend on) is visible to a thread that acquires. */
MK_DEV void signal_release_add(int32_t *counter, int32_t v) {
  asm volatile("red.release.gpu.global.add.s32 [%0], %1;" ::"l"(counter), "r"(v) : "memory");
}

MK_DEV int32_t signal_load_acquire(const int32_t *counter) {
  int32_t v;
  asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(counter) : "memory");
  return v;
}

/* Spins until *counter >= threshold (acquire). Backs off with nanosleep
 * after a few polls so a waiting block leaves issue slots to its SM. */
MK_DEV void signal_wait(const int32_t *counter, int32_t threshold) {
  int polls = 0;
  while (signal_load_acquire(counter) < threshold) {
    if (++polls > 8) __nanosleep(128);
  }
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
/* Producer side for tiles written by TMA stores (sm_90+): call it from the
 * thread that issued and committed the stores. */
MK_DEV void signal_publish_after_tma_store(int32_t *counter) {
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
  asm volatile("fence.proxy.async.global;" ::: "memory");
  signal_release_add(counter, 1);
}
#endif
#endif /* MK_CUDA */

}  // namespace mk

#endif /* MOEKIT_SIGNAL_OVERLAP_CUH */
