/* moekit/api/internal.h - what the C API, the generated registry and the
 * generated launchers share. Not part of the public API: names are mk__.
 *
 * Every instance file defines one launcher
 *     extern "C" int mk__launch_<key>(const void *params, void *stream);
 * that reads the op's params struct below, launches its kernel and returns
 * 0 or the runtime's error code. The registry lists every launcher with the
 * constraints the C API checks before calling it.
 */
#ifndef MOEKIT_API_INTERNAL_H
#define MOEKIT_API_INTERNAL_H

#include <stdint.h>
#include "moekit/moekit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- registry entries --------------------------------------------------------- */
typedef int (*mk__launch_fn)(const void *params, void *stream);

typedef struct mk__entry {
  const char *name;
  mk_op op;
  int arch;          /* 90 = sm_90a, 100 = sm_100a, 942 = gfx942, 950 = gfx950 */
  uint32_t variant;  /* op-specific flags (MK__VARIANT_*) */
  int64_t n, k;
  int32_t experts, top_k;
  int32_t block_m, block_n, stages;
  mk__launch_fn launch;
} mk__entry;

/* Defined by the generated registry.c of each instance library. */
extern const mk__entry mk__registry[];
extern const int mk__registry_len;
extern const char mk__model_name[];

/* Variant flags. */
#define MK__VARIANT_SF_UE8M0 1u /* quant fp8: packed ue8m0 scales instead of f32 */

/* ---- device services (implemented by the backend runtime TU) ------------------ */
/* Compute capability of the current device as major*10+minor (90, 100), or an
 * AMD gfx number (942, 950). Returns 0 on success, else a runtime error code. */
int mk__device_arch(int *arch);
int mk__device_sm_count(int *count);
const char *mk__device_error_string(int code);

/* ---- op params ------------------------------------------------------------------ */
typedef struct mk__quant_params {
  const void *x;               /* bf16 [m, k] */
  int64_t ldx;                 /* elements */
  void *q;                     /* e4m3 / e2m1x2 rows */
  int64_t ldq;                 /* bytes */
  void *sf;                    /* scales */
  int64_t ldsf;                /* in scale-container elements (f32, int32 or byte) */
  const float *global_scale;   /* nvfp4 only */
  int64_t m;
  int32_t sf_layout;           /* mk_sf_layout (fp4 only) */
  int32_t pad_;
} mk__quant_params;

/* ---- block-scaled FP8 GEMM (sm90) ------------------------------------------------ */
/* Variant flags of MK_OP_GEMM_FP8 entries: the kind in bits 0-1, then the
 * options. Registry block_m is the token (D row) tile, block_n the weight
 * (D column) tile, whatever the MMA orientation. */
#define MK__GEMM_KIND_MASK 3u      /* mk_gemm_kind */
#define MK__GEMM_SWAP_AB 4u        /* D^T = B A^T: weights fill the 64-row wgmma M */
#define MK__GEMM_MCAST_A 8u        /* cluster of 2 along N, sharing (multicasting) the A tile */
#define MK__GEMM_MCAST_B 16u       /* cluster of 2 along M, sharing the B tile (dense only) */

/* Strides in elements. Scale a_scales(g, m, kb) = sfa[g * sfa_group_stride +
 * m + kb * sfa_ld]; b_scales(g, nb, kb) = sfb[g * sfb_stride[0] + nb *
 * sfb_stride[1] + kb * sfb_stride[2]]. */
typedef struct mk__gemm_params {
  const void *a;                 /* e4m3 [groups?, m, k] */
  const float *sfa;
  const void *b;                 /* e4m3 [groups, n, k] */
  const float *sfb;
  void *d;                       /* bf16 [groups?, m, n] */
  const int32_t *m_indices;      /* contiguous: expert of each row, < 0 on padding */
  const int32_t *masked_m;       /* masked: valid rows per group */
  int32_t *signal;               /* optional completion counters */
  int64_t lda, a_group_stride;
  int64_t sfa_ld, sfa_group_stride;
  int64_t ldb, b_group_stride;
  int64_t sfb_stride[3];
  int64_t ldd, d_group_stride;
  int64_t m;                     /* dense/contiguous: rows of A and D; masked: max_m */
  int64_t signal_group_stride;   /* counters per group: ceil(m / block_m) */
  int32_t groups;                /* experts (dense: 1) */
  int32_t num_sms;               /* persistent grid: CTAs at most */
} mk__gemm_params;

#ifdef __cplusplus
}
#endif

#endif /* MOEKIT_API_INTERNAL_H */
