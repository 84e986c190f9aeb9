/* moekit/kernels/gemm/sm90_fp8_gemm_launch.cuh - host launcher of
 * sm90_fp8_gemm_1d2d_kernel: tensor maps, persistent grid, cluster launch.
 * Included by sm90_fp8_gemm_1d2d.cuh; skipped under MK_NO_LAUNCHERS.
 *
 * The tensor maps are encoded on the host for every call (a few
 * microseconds of CPU, no device work) and passed as __grid_constant__
 * parameters, so nothing is allocated and nothing synchronizes.
 */
#ifndef MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_LAUNCH_CUH
#define MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_LAUNCH_CUH

#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)

#include <cuda_runtime.h>

#include "moekit/nv/launch.cuh"
#include "moekit/nv/tensor_map.h"

namespace mk {
namespace gemm {

/* Tensor maps of one call. Every operand is seen as 3-D (groups, rows, inner):
 * dense and contiguous GEMMs have one group of A/D rows. */
template <class cfg, int kKind, int kN, int kK, int BLOCK_M, int BLOCK_N, int kClusterM, int kClusterN>
int encode_sm90_fp8_maps(const mk__gemm_params *p, CUtensorMap *ta, CUtensorMap *tsfa, CUtensorMap *tb,
                         CUtensorMap *td, uint32_t *sfa_group_inner) {
  const bool masked = kKind == sched::kGemmMasked;
  const uint64_t groups = masked ? (uint64_t)p->groups : 1u;
  const uint64_t rows = (uint64_t)p->m;
  const uint64_t kb = (uint64_t)(kK / 128);
  int rc;
  /* A [groups, rows, K] e4m3, 128-byte swizzle; a multicast CTA loads half the rows */
  rc = mk_tma_encode_3d(ta, CU_TENSOR_MAP_DATA_TYPE_UINT8, p->a, groups, rows, kK, (uint64_t)p->lda,
                        masked ? (uint64_t)p->a_group_stride : rows * (uint64_t)p->lda,
                        kClusterN == 2 ? BLOCK_M / 2 : BLOCK_M, 128, CU_TENSOR_MAP_SWIZZLE_128B);
  if (rc) return rc;
  /* sa: rows innermost (MN-major); the group and k-block dims in stride order */
  {
    const uint64_t ld = (uint64_t)p->sfa_ld * 4, gs = (uint64_t)(masked ? p->sfa_group_stride : 0) * 4;
    *sfa_group_inner = masked && gs < ld;
    const uint64_t dims[3] = {rows, *sfa_group_inner ? groups : kb, *sfa_group_inner ? kb : groups};
    const uint64_t strides[2] = {*sfa_group_inner ? gs : ld, *sfa_group_inner ? ld : (masked ? gs : ld * kb)};
    const uint32_t box[3] = {(uint32_t)BLOCK_M, 1, 1};
    rc = mk_tma_encode(tsfa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 3, p->sfa, dims, strides, box,
                       CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    if (rc) return rc;
  }
  /* B [experts, N, K] e4m3 */
  {
    const bool dense = kKind == sched::kGemmDense;
    rc = mk_tma_encode_3d(tb, CU_TENSOR_MAP_DATA_TYPE_UINT8, p->b, dense ? 1u : (uint64_t)p->groups, kN, kK,
                          (uint64_t)p->ldb, dense ? (uint64_t)kN * (uint64_t)p->ldb : (uint64_t)p->b_group_stride,
                          kClusterM == 2 ? BLOCK_N / 2 : BLOCK_N, 128, CU_TENSOR_MAP_SWIZZLE_128B);
    if (rc) return rc;
  }
  /* D [groups, rows, N] bf16 in boxes of kDBoxCols columns */
  {
    const CUtensorMapSwizzle sw = cfg::kDSpan == 128  ? CU_TENSOR_MAP_SWIZZLE_128B
                                  : cfg::kDSpan == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                                      : CU_TENSOR_MAP_SWIZZLE_32B;
    rc = mk_tma_encode_3d(td, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, p->d, groups, rows, kN, (uint64_t)p->ldd * 2,
                          masked ? (uint64_t)p->d_group_stride * 2 : rows * (uint64_t)p->ldd * 2, BLOCK_M,
                          cfg::kDBoxCols, sw);
    if (rc) return rc;
  }
  return 0;
}

template <int kKind, int kN, int kK, int BLOCK_M, int BLOCK_N, int kStages, int kClusterM, int kClusterN,
          bool kSwapAB>
int launch_sm90_fp8_gemm(const mk__gemm_params *p, void *stream) {
  typedef sm90_fp8_cfg<kKind, kN, kK, BLOCK_M, BLOCK_N, kStages, kClusterM, kClusterN, kSwapAB> cfg;
  void (*kernel)(const CUtensorMap, const CUtensorMap, const CUtensorMap, const CUtensorMap, const mk__gemm_params,
                 uint32_t) = sm90_fp8_gemm_1d2d_kernel<kKind, kN, kK, BLOCK_M, BLOCK_N, kStages, kClusterM,
                                                       kClusterN, kSwapAB>;
  /* once per instance: the shared-memory opt-in and how many clusters fit at once */
  static int max_ctas = 0; /* NOTE: benign race, every thread computes the same value */
  if (max_ctas == 0) {
    cudaLaunchConfig_t lc;
    cudaLaunchAttribute attr[1];
    lc.blockDim = dim3(cfg::kThreads, 1, 1);
    lc.dynamicSmemBytes = cfg::kSmemBytes;
    lc.stream = (cudaStream_t)stream;
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = cfg::kCluster;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    lc.attrs = attr;
    lc.numAttrs = cfg::kCluster > 1 ? 1 : 0;
    cudaError_t rc = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, cfg::kSmemBytes);
    if (rc != cudaSuccess) return (int)rc;
    int fit = 1 << 30; /* no limit but the SM count */
    if (cfg::kCluster > 1) {
      int clusters = 0;
      lc.gridDim = dim3((unsigned)cfg::kCluster, 1, 1); /* only the cluster shape matters to the query */
      rc = cudaOccupancyMaxActiveClusters(&clusters, kernel, &lc);
      if (rc != cudaSuccess) return (int)rc;
      fit = clusters * cfg::kCluster;
    }
    if (fit <= 0) return (int)cudaErrorInvalidConfiguration;
    max_ctas = fit;
  }

  CUtensorMap ta, tsfa, tb, td;
  uint32_t sfa_group_inner = 0;
  const int rc = encode_sm90_fp8_maps<cfg, kKind, kN, kK, BLOCK_M, BLOCK_N, kClusterM, kClusterN>(p, &ta, &tsfa, &tb,
                                                                                                   &td, &sfa_group_inner);
  if (rc) return rc;

  /* persistent grid: at most one CTA per SM, no more clusters than units of work */
  int64_t units;
  {
    const int64_t n_units = ((kN + BLOCK_N - 1) / BLOCK_N + kClusterN - 1) / kClusterN;
    const int64_t m_blocks = (p->m + BLOCK_M - 1) / BLOCK_M;
    const int64_t m_units = (m_blocks + kClusterM - 1) / kClusterM;
    units = (kKind == sched::kGemmMasked ? m_units * (int64_t)p->groups : m_units) * n_units;
  }
  int64_t ctas = p->num_sms < max_ctas ? p->num_sms : max_ctas;
  if (ctas > units * cfg::kCluster) ctas = units * cfg::kCluster;
  ctas = ctas / cfg::kCluster * cfg::kCluster;
  if (ctas <= 0) ctas = cfg::kCluster;
  return nv::launch(kernel, dim3((unsigned)ctas), dim3(cfg::kThreads), cfg::kSmemBytes, stream, p->pdl, cfg::kCluster,
                    ta, tsfa, tb, td, *p, sfa_group_inner);
}

}  // namespace gemm
}  // namespace mk

#endif /* MK_CUDA && !MK_NO_LAUNCHERS */

#endif /* MOEKIT_KERNELS_GEMM_SM90_FP8_GEMM_LAUNCH_CUH */
