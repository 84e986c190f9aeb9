/* moekit/core/sf_layout.h - where a block scale lives in memory.
 *
 * The swizzled 128x4 layout is the one tcgen05 block-scaled MMAs (via
 * tcgen05.cp 32x128b.warpx4) and cuBLASLt's block-scaled GEMMs read: scales
 * are tiled in [128 rows x 4 k-groups] = 512-byte tiles, tiles ordered
 * k-fastest, and inside a tile row r, k-group c sits at
 *     (r % 32) * 16 + (r / 32) * 4 + c
 * so that each 16-byte chunk holds the 4 k-groups of rows r, r+32, r+64, r+96.
 *
 * Worked example (K/G = 6 k-groups, so 2 tile columns): row 37, k-group 5
 *   tile (0, 1) -> 1 * 512; inside: (37 % 32) * 16 + (37 / 32) * 4 + (5 % 4)
 *   = 80 + 4 + 1 -> byte 597.
 */
#ifndef MOEKIT_CORE_SF_LAYOUT_H
#define MOEKIT_CORE_SF_LAYOUT_H

#include "moekit/core/platform.h"

MK_HD int64_t mk_sf_offset_128x4(int64_t row, int64_t kgroup, int64_t num_kgroups) {
  const int64_t k_tiles = (num_kgroups + 3) / 4;
  const int64_t r = row % 128;
  return ((row / 128) * k_tiles + kgroup / 4) * 512 + (r % 32) * 16 + (r / 32) * 4 + (kgroup % 4);
}

/* Bytes of a swizzled 128x4 scale tensor for [rows, num_kgroups]. */
MK_HD int64_t mk_sf_bytes_128x4(int64_t rows, int64_t num_kgroups) {
  return (rows + 127) / 128 * 128 * ((num_kgroups + 3) / 4 * 4);
}

#endif /* MOEKIT_CORE_SF_LAYOUT_H */
