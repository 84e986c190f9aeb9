/* moekit/nv/sm90/smem_desc.h - WGMMA shared-memory matrix descriptors.
 * Plain C (host and device), so the bit layout is unit-tested on the CPU
 * (tests/host/test_wgmma_desc.c).
 *
 * A descriptor tells wgmma.mma_async where an operand tile lives in shared
 * memory and how it is laid out (PTX ISA, "Matrix Descriptor Format"):
 *
 *   bits  0-13  start address >> 4 (18-bit shared address: 256 KiB)
 *   bits 16-29  leading-dimension byte offset (LBO) >> 4
 *   bits 32-45  stride-dimension byte offset (SBO) >> 4
 *   bits 49-51  base offset (0 when the swizzle pattern starts aligned)
 *   bits 62-63  swizzle: 0 none, 1 128B, 2 64B, 3 32B
 *
 * The GEMMs use K-major tiles with the 128-byte swizzle, as TMA writes them
 * with CU_TENSOR_MAP_SWIZZLE_128B and a box {128 bytes, rows}: row r of the
 * tile occupies bytes [128 r, 128 r + 128) with its 16-byte chunks permuted
 * (chunk c stored at c ^ (r % 8)); 8 rows form a 1024-byte swizzle atom.
 * For this layout LBO is unused (the K extent of one wgmma, 32 e4m3 = 32
 * bytes, never leaves a row; the field is set to 1) and SBO = 1024 bytes,
 * the distance between 8-row groups.
 *
 * Worked example: an e4m3 tile [64 rows, 128 bytes of K] at shared address
 * 0x400 (1024-byte aligned, so base offset 0):
 *   start  0x400 >> 4 = 0x40          -> bits 0-13   = 0x0040
 *   LBO    16 >> 4    = 1             -> bits 16-29  = 0x0001
 *   SBO    1024 >> 4  = 0x40          -> bits 32-45  = 0x0040
 *   swizzle 128B      = 1             -> bits 62-63  = 01
 *   descriptor = 0x4000004000010040
 * The k-th 32-byte step of K (one m64nNk32 wgmma) starts 32 k bytes further:
 * descriptor + (32 k >> 4), e.g. 0x4000004000010042 for k = 1. Bits 7-9 of
 * the address do not change, so the hardware's XOR pattern (address bits
 * 4-6 ^ 7-9) still lines up with the one TMA wrote, and the base offset stays 0.
 */
#ifndef MOEKIT_NV_SM90_SMEM_DESC_H
#define MOEKIT_NV_SM90_SMEM_DESC_H

#include <stdint.h>

#include "moekit/core/platform.h"

#define MK_WGMMA_SWIZZLE_NONE 0u
#define MK_WGMMA_SWIZZLE_128B 1u
#define MK_WGMMA_SWIZZLE_64B 2u
#define MK_WGMMA_SWIZZLE_32B 3u

/* The descriptor of a tile at shared address `addr` (bytes). */
MK_HD uint64_t mk_wgmma_desc(uint32_t addr, uint32_t lbo_bytes, uint32_t sbo_bytes, uint32_t swizzle) {
  return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo_bytes >> 4) & 0x3FFFu) << 16) |
         ((uint64_t)((sbo_bytes >> 4) & 0x3FFFu) << 32) | ((uint64_t)(swizzle & 3u) << 62);
}

/* K-major, 128-byte swizzle, rows of 128 bytes: the layout of the GEMM tiles. */
MK_HD uint64_t mk_wgmma_desc_kmajor_sw128(uint32_t addr) {
  return mk_wgmma_desc(addr, 16u, 1024u, MK_WGMMA_SWIZZLE_128B);
}

/* The same descriptor moved `bytes` further (a multiple of 16; the start
 * field must not overflow, which holds for offsets inside one tile). */
MK_HD uint64_t mk_wgmma_desc_advance(uint64_t desc, uint32_t bytes) { return desc + (uint64_t)(bytes >> 4); }

/* mk_wgmma_desc_kmajor_sw128 split into its words: the low word (start
 * address >> 4, LBO) depends on the address, the high word (SBO, swizzle)
 * does not. A loop over pipeline stages can keep the low word and step it
 * by stage_bytes >> 4: the 14-bit start field never carries into LBO while
 * addresses stay below 256 KiB (all of shared memory).
 *   mk_wgmma_desc_sw128_from_lo(mk_wgmma_desc_sw128_lo(a)) == mk_wgmma_desc_kmajor_sw128(a)
 *   mk_wgmma_desc_sw128_lo(a) + (b >> 4) == mk_wgmma_desc_sw128_lo(a + b), a + b < 256 KiB */
#define MK_WGMMA_DESC_SW128_HI ((1024u >> 4) | (MK_WGMMA_SWIZZLE_128B << 30))
MK_HD uint32_t mk_wgmma_desc_sw128_lo(uint32_t addr) { return (uint32_t)mk_wgmma_desc_kmajor_sw128(addr); }
MK_HD uint64_t mk_wgmma_desc_sw128_from_lo(uint32_t lo) { return ((uint64_t)MK_WGMMA_DESC_SW128_HI << 32) | lo; }

/* Byte offset `o` inside a region written by TMA with a swizzle of `span`
 * bytes (32, 64 or 128; 0 = none): where the byte actually lives. The region
 * must be aligned to 8 * span bytes. 16-byte chunk bits (4..) are XORed with
 * the row bits (7..): 32B -> bit 4 ^ bit 7, 64B -> bits 4-5 ^ 7-8, 128B -> 4-6 ^ 7-9. */
MK_HD uint32_t mk_swizzle_offset(uint32_t o, uint32_t span) {
  return span >= 32u ? (o ^ (((o >> 7) & (span / 16u - 1u)) << 4)) : o;
}

#endif /* MOEKIT_NV_SM90_SMEM_DESC_H */
