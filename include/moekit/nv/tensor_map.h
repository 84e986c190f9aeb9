/* moekit/nv/tensor_map.h - host-side TMA tensor maps (CUtensorMap), plain C.
 *
 * cuTensorMapEncodeTiled lives in the driver (libcuda). It is reached through
 * cudaGetDriverEntryPointByVersion, so a library that uses this header links
 * only the CUDA runtime, never -lcuda.
 *
 *   CUtensorMap map;
 *   const uint64_t dims[3] = {K, M, 1};          // innermost first, in elements
 *   const uint64_t strides[2] = {lda, lda * M};  // bytes, for dims 1..rank-1
 *   const uint32_t box[3] = {128, 64, 1};        // elements
 *   int rc = mk_tma_encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 3, a, dims, strides, box,
 *                          CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
 *
 * Pass the map to a kernel as `const __grid_constant__ CUtensorMap`. Rules the
 * driver enforces (cuda.h): map 64-byte aligned (CUtensorMap is declared
 * 128-byte aligned), base 16-byte aligned, strides multiples of 16 bytes and
 * < 2^40, box sides <= 256, box[0] * element size a multiple of 16 bytes and,
 * with a swizzle, at most the swizzle span (32, 64 or 128 bytes).
 * Out-of-bounds elements of a load are filled with zeros; out-of-bounds
 * elements of a store are not written.
 */
#ifndef MOEKIT_NV_TENSOR_MAP_H
#define MOEKIT_NV_TENSOR_MAP_H

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The prototype of cuTensorMapEncodeTiled (cudaTypedefs.h: PFN_cuTensorMapEncodeTiled_v12000). */
typedef CUresult (*mk_tma_encode_fn)(CUtensorMap *map, CUtensorMapDataType dtype, cuuint32_t rank, void *base,
                                     const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                                     const cuuint32_t *element_strides, CUtensorMapInterleave interleave,
                                     CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                     CUtensorMapFloatOOBfill oob);

/* The driver's encoder, looked up once (NULL if the driver lacks it).
 * NOTE: the cache is a benign race: every thread stores the same pointer. */
static inline mk_tma_encode_fn mk_tma_encoder(void) {
  static mk_tma_encode_fn cached = 0;
  if (!cached) {
    void *fn = 0;
    enum cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) ==
            cudaSuccess &&
        found == cudaDriverEntryPointSuccess)
      cached = (mk_tma_encode_fn)fn;
    else
      (void)cudaGetLastError();
  }
  return cached;
}

/* Encodes a tiled map of rank 1..5. dims: elements, innermost first;
 * strides: bytes of dims 1..rank-1; box: elements per side. Element strides
 * are 1, interleave none, out-of-bounds fill zero. Returns 0, or a
 * cudaError_t code (cudaErrorInvalidValue when the driver rejects the map,
 * cudaErrorNotSupported when it has no encoder). */
static inline int mk_tma_encode(CUtensorMap *map, CUtensorMapDataType dtype, int rank, const void *base,
                                const uint64_t *dims, const uint64_t *strides, const uint32_t *box,
                                CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2) {
  const mk_tma_encode_fn encode = mk_tma_encoder();
  cuuint64_t d[5], s[5];
  cuuint32_t b[5], e[5];
  int i;
  if (!encode) return (int)cudaErrorNotSupported;
  if (rank < 1 || rank > 5) return (int)cudaErrorInvalidValue;
  for (i = 0; i < rank; ++i) {
    d[i] = dims[i];
    b[i] = box[i];
    e[i] = 1;
    if (i + 1 < rank) s[i] = strides[i];
  }
  return encode(map, dtype, (cuuint32_t)rank, (void *)base, d, s, b, e, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, l2,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS
             ? 0
             : (int)cudaErrorInvalidValue;
}

/* 2-D: [rows, cols] with a row stride in bytes; box {box_cols, box_rows}. */
static inline int mk_tma_encode_2d(CUtensorMap *map, CUtensorMapDataType dtype, const void *base, uint64_t rows,
                                   uint64_t cols, uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols,
                                   CUtensorMapSwizzle swizzle) {
  const uint64_t dims[2] = {cols, rows};
  const uint64_t strides[1] = {row_stride_bytes};
  const uint32_t box[2] = {box_cols, box_rows};
  return mk_tma_encode(map, dtype, 2, base, dims, strides, box, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
}

/* 3-D: [depth, rows, cols] with row and depth strides in bytes; box {box_cols, box_rows, 1}. */
static inline int mk_tma_encode_3d(CUtensorMap *map, CUtensorMapDataType dtype, const void *base, uint64_t depth,
                                   uint64_t rows, uint64_t cols, uint64_t row_stride_bytes,
                                   uint64_t depth_stride_bytes, uint32_t box_rows, uint32_t box_cols,
                                   CUtensorMapSwizzle swizzle) {
  const uint64_t dims[3] = {cols, rows, depth};
  const uint64_t strides[2] = {row_stride_bytes, depth_stride_bytes};
  const uint32_t box[3] = {box_cols, box_rows, 1};
  return mk_tma_encode(map, dtype, 3, base, dims, strides, box, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
}

#ifdef __cplusplus
}
#endif

#endif /* MOEKIT_NV_TENSOR_MAP_H */
