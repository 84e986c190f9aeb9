/* test_wgmma_desc.c - the WGMMA shared-memory descriptor bits
 * (moekit/nv/sm90/smem_desc.h) against values computed by hand from the PTX
 * ISA's descriptor table, and the TMA swizzle offsets the GEMM epilogue uses.
 * Prints "ok <name>" / "not ok <name>: <why>" (tests/host/test_gemm_host.py).
 */
#include <inttypes.h>
#include <stdio.h>

#include "moekit/nv/sm90/smem_desc.h"

static int failures = 0;

static void check_u64(const char *name, uint64_t got, uint64_t want) {
  if (got == want) {
    printf("ok %s\n", name);
  } else {
    printf("not ok %s: got 0x%016" PRIx64 ", want 0x%016" PRIx64 "\n", name, got, want);
    failures++;
  }
}

int main(void) {
  /* The worked example of smem_desc.h: [64 rows, 128 B] e4m3 at 0x400, 128B swizzle.
   * start 0x400 >> 4 = 0x40 (bits 0-13), LBO 16 >> 4 = 1 (bits 16-29),
   * SBO 1024 >> 4 = 0x40 (bits 32-45), swizzle 1 (bits 62-63). */
  check_u64("desc_worked_example", mk_wgmma_desc_kmajor_sw128(0x400), 0x4000004000010040ull);
  check_u64("desc_fields_by_hand", mk_wgmma_desc_kmajor_sw128(0x400),
            (0x400ull >> 4) | (1ull << 16) | ((1024ull >> 4) << 32) | (1ull << 62));
  /* k-steps of 32 bytes: +2 in the start field */
  check_u64("desc_advance_k1", mk_wgmma_desc_advance(mk_wgmma_desc_kmajor_sw128(0x400), 32), 0x4000004000010042ull);
  check_u64("desc_advance_k3", mk_wgmma_desc_advance(mk_wgmma_desc_kmajor_sw128(0x400), 96), 0x4000004000010046ull);
  /* the top of shared memory: 0x37c00 (223 KiB) -> 0x37c0 */
  check_u64("desc_high_address", mk_wgmma_desc_kmajor_sw128(0x37c00), 0x40000040000137c0ull);
  /* only 18 address bits are encoded */
  check_u64("desc_address_wraps", mk_wgmma_desc_kmajor_sw128(0x40400), mk_wgmma_desc_kmajor_sw128(0x400));
  /* the split form the k-loops step by stage: low word + constant high word */
  check_u64("desc_sw128_hi_word", MK_WGMMA_DESC_SW128_HI, mk_wgmma_desc_kmajor_sw128(0) >> 32);
  {
    /* every 16-byte aligned shared address: the words rebuild the descriptor, and
     * stepping the low word by a stage of 48 KiB (256 x 128 + 128 x 128 bytes)
     * or 16 KiB equals the descriptor of the stepped address (no carry into LBO) */
    uint32_t a, bad_split = 0, bad_step = 0;
    for (a = 0; a < (1u << 18); a += 16) {
      if (mk_wgmma_desc_sw128_from_lo(mk_wgmma_desc_sw128_lo(a)) != mk_wgmma_desc_kmajor_sw128(a)) ++bad_split;
      if (a + 49152u < (1u << 18) &&
          mk_wgmma_desc_sw128_from_lo(mk_wgmma_desc_sw128_lo(a) + (49152u >> 4)) != mk_wgmma_desc_kmajor_sw128(a + 49152u))
        ++bad_step;
      if (a + 16384u < (1u << 18) &&
          mk_wgmma_desc_sw128_lo(a) + (16384u >> 4) != mk_wgmma_desc_sw128_lo(a + 16384u))
        ++bad_step;
    }
    check_u64("desc_sw128_split_every_address", bad_split, 0);
    check_u64("desc_sw128_step_every_address", bad_step, 0);
  }
  /* each swizzle code lands in bits 62-63 */
  check_u64("desc_swizzle_none", mk_wgmma_desc(0, 0, 0, MK_WGMMA_SWIZZLE_NONE), 0ull);
  check_u64("desc_swizzle_64b", mk_wgmma_desc(0, 0, 0, MK_WGMMA_SWIZZLE_64B), 2ull << 62);
  check_u64("desc_swizzle_32b", mk_wgmma_desc(0, 0, 0, MK_WGMMA_SWIZZLE_32B), 3ull << 62);
  /* LBO and SBO fields: 14 bits each of (bytes >> 4) */
  check_u64("desc_lbo_field", mk_wgmma_desc(0, 0x3fff0, 0, 0), 0x3fffull << 16);
  check_u64("desc_sbo_field", mk_wgmma_desc(0, 0, 0x3fff0, 0), 0x3fffull << 32);
  check_u64("desc_sbo_512", mk_wgmma_desc(0x800, 0, 512, MK_WGMMA_SWIZZLE_64B), 0x8000002000000080ull);

  /* swizzled byte offsets (TMA's pattern: 16-byte chunk bits ^= row bits) */
  /* 128B: row 3, chunk 5 -> chunk 5 ^ 3 = 6 */
  check_u64("swizzle_128b", mk_swizzle_offset(3 * 128 + 5 * 16, 128), 3 * 128 + 6 * 16);
  /* 128B: row 9 (row % 8 = 1), chunk 0 -> chunk 1 */
  check_u64("swizzle_128b_row9", mk_swizzle_offset(9 * 128, 128), 9 * 128 + 16);
  /* 64B: rows of 64 bytes; row 3 = byte 192 -> bits 7-8 = 1: chunk 1 -> 0 */
  check_u64("swizzle_64b", mk_swizzle_offset(3 * 64 + 16, 64), 3 * 64);
  /* 64B: row 6 = byte 384 -> (384 >> 7) & 3 = 3: chunk 2 -> 1 */
  check_u64("swizzle_64b_row6", mk_swizzle_offset(6 * 64 + 32, 64), 6 * 64 + 16);
  /* 32B: row 5 = byte 160 -> bit 7 set: chunk 1 -> 0 */
  check_u64("swizzle_32b", mk_swizzle_offset(5 * 32 + 16, 32), 5 * 32);
  check_u64("swizzle_32b_row2", mk_swizzle_offset(2 * 32 + 16, 32), 2 * 32 + 16);
  check_u64("swizzle_none", mk_swizzle_offset(1234, 0), 1234);
  /* 8 rows x one 16-byte chunk hit 8 distinct chunks (bank-conflict free stmatrix) */
  {
    unsigned seen = 0, r;
    for (r = 0; r < 8; ++r) seen |= 1u << ((mk_swizzle_offset(r * 128 + 2 * 16, 128) % 128) / 16);
    check_u64("swizzle_128b_conflict_free", seen, 0xff);
  }
  return failures ? 1 : 0;
}
