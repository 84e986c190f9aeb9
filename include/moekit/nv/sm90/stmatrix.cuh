/* moekit/nv/sm90/stmatrix.cuh - register fragments -> shared memory
 * (stmatrix) and bf16 packing, for epilogues that stage a tile for a TMA store.
 *
 * stmatrix.m8n8.x4 stores four 8x8 b16 matrices. Thread l holds, in register
 * j, the pair (row l / 4, columns 2 (l % 4) + {0, 1}) of matrix j, which is
 * exactly the wgmma accumulator fragment of one 8x8 block (wgmma.cuh). Lane
 * l gives the shared address of row l % 8 of matrix l / 8: 16 contiguous
 * bytes. With .trans each matrix is stored transposed: register j of thread l
 * lands in row 2 (l % 4) + {0, 1}, column l / 4 of the stored matrix, and the
 * lane addresses name rows of the stored (transposed) matrix.
 */
#ifndef MOEKIT_NV_SM90_STMATRIX_CUH
#define MOEKIT_NV_SM90_STMATRIX_CUH

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "moekit/nv/sm90/stmatrix.cuh needs sm_90a: compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

#include <stdint.h>

#include "moekit/core/platform.h"

namespace mk {
namespace sm90 {

/* Two floats -> bf16x2 (round to nearest even): `lo` in bits 0-15. */
MK_DEV uint32_t pack_bf16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

MK_DEV void stmatrix_x4(uint32_t smem_addr, uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(smem_addr), "r"(r0),
               "r"(r1), "r"(r2), "r"(r3)
               : "memory");
}

MK_DEV void stmatrix_x4_trans(uint32_t smem_addr, uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(smem_addr), "r"(r0),
               "r"(r1), "r"(r2), "r"(r3)
               : "memory");
}

}  // namespace sm90
}  // namespace mk

#endif /* MOEKIT_NV_SM90_STMATRIX_CUH */
