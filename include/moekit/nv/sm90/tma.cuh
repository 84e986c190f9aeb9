/* moekit/nv/sm90/tma.cuh - TMA (cp.async.bulk.tensor) loads and stores.
 *
 * Loads copy a box of a tensor map (moekit/nv/tensor_map.h) into shared
 * memory and signal complete_tx on an mbarrier of the destination CTA; the
 * barrier's phase completes when the bytes announced with
 * mbar_arrive_expect_tx have landed. Coordinates are in elements, innermost
 * first; out-of-bounds elements are zero-filled and still count as bytes.
 *
 *   mbar_arrive_expect_tx(&full[s], kBytes);
 *   tma_load_3d(&tmap_a, smem_a, &full[s], k0, m0, g);
 *
 * Multicast (cluster of 2..16 CTAs): one CTA issues the load, the box lands
 * at the same shared-memory offset in every CTA of `cta_mask`, and each of
 * them gets complete_tx on its barrier at the same offset.
 *
 * Stores read a box from shared memory and write it to global memory;
 * elements outside the tensor are skipped. They are asynchronous: group them
 * with tma_store_commit(), then
 *   tma_store_wait_read<0>()  -> the shared memory may be overwritten;
 *   tma_store_wait<0>()       -> the global writes are complete (performed).
 * Shared memory written by threads must be fenced (fence_proxy_async_smem)
 * and synchronized with the issuing thread before a store reads it.
 */
#ifndef MOEKIT_NV_SM90_TMA_CUH
#define MOEKIT_NV_SM90_TMA_CUH

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "moekit/nv/sm90/tma.cuh needs sm_90a (TMA multicast): compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

#include <cuda.h> /* CUtensorMap */
#include <stdint.h>

#include "moekit/nv/sm90/mbarrier.cuh"

namespace mk {
namespace sm90 {

MK_DEV uint64_t tmap_ptr(const CUtensorMap *map) { return (uint64_t)(uintptr_t)map; }

/* Brings a tensor map (a __grid_constant__ kernel parameter) into the cache. */
MK_DEV void tma_prefetch(const CUtensorMap *map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(tmap_ptr(map)) : "memory");
}

/* ---- loads ------------------------------------------------------------------------ */
MK_DEV void tma_load_2d(const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0, int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::
          "r"(smem_u32(dst)),
      "l"(tmap_ptr(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1)
      : "memory");
}

MK_DEV void tma_load_2d_multicast(const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0, int32_t c1,
                                  uint16_t cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [%0], "
      "[%1, {%3, %4}], [%2], %5;" ::"r"(smem_u32(dst)),
      "l"(tmap_ptr(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "h"(cta_mask)
      : "memory");
}

/* The same loads issued only where `issue` holds, without a branch: a whole
 * warp walks the producer loop and one lane's predicate is true, so the warp
 * never diverges around the TMA instructions. */
MK_DEV void tma_load_3d_if(bool issue, const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0, int32_t c1,
                           int32_t c2) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
      "@p cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], "
      "[%2];\n}" ::"r"(smem_u32(dst)),
      "l"(tmap_ptr(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2), "r"((uint32_t)issue)
      : "memory");
}

MK_DEV void tma_load_3d_multicast_if(bool issue, const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0,
                                     int32_t c1, int32_t c2, uint16_t cta_mask) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %7, 0;\n"
      "@p cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [%0], "
      "[%1, {%3, %4, %5}], [%2], %6;\n}" ::"r"(smem_u32(dst)),
      "l"(tmap_ptr(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2), "h"(cta_mask), "r"((uint32_t)issue)
      : "memory");
}

MK_DEV void tma_load_3d(const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0, int32_t c1, int32_t c2) {
  tma_load_3d_if(true, map, dst, bar, c0, c1, c2);
}

MK_DEV void tma_load_3d_multicast(const CUtensorMap *map, void *dst, mbarrier_t *bar, int32_t c0, int32_t c1,
                                  int32_t c2, uint16_t cta_mask) {
  tma_load_3d_multicast_if(true, map, dst, bar, c0, c1, c2, cta_mask);
}

/* ---- stores ------------------------------------------------------------------------ */
MK_DEV void tma_store_2d(const CUtensorMap *map, const void *src, int32_t c0, int32_t c1) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%2, %3}], [%1];" ::"l"(
                   tmap_ptr(map)),
               "r"(smem_u32(src)), "r"(c0), "r"(c1)
               : "memory");
}

MK_DEV void tma_store_3d(const CUtensorMap *map, const void *src, int32_t c0, int32_t c1, int32_t c2) {
  asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4}], [%1];" ::"l"(
                   tmap_ptr(map)),
               "r"(smem_u32(src)), "r"(c0), "r"(c1), "r"(c2)
               : "memory");
}

/* Closes the group of stores this thread issued since the last commit. */
MK_DEV void tma_store_commit(void) { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }

/* At most kPending groups of this thread still read their shared memory. */
template <int kPending>
MK_DEV void tma_store_wait_read(void) {
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(kPending) : "memory");
}

/* At most kPending groups of this thread are incomplete: the global writes
 * of the others have been performed. */
template <int kPending>
MK_DEV void tma_store_wait(void) {
  asm volatile("cp.async.bulk.wait_group %0;" ::"n"(kPending) : "memory");
}

}  // namespace sm90
}  // namespace mk

#endif /* MOEKIT_NV_SM90_TMA_CUH */
