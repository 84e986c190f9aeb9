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
int mk__device_event_record(void *event, void *stream);

/* ---- launch flags ---------------------------------------------------------------- */
/* Programmatic dependent launch (core/platform.h, mk_pdl_wait). The layer
 * sets them for its chain of kernels; single entry points launch plainly.
 *   MK__PDL_LAUNCH    launch with cudaLaunchAttributeProgrammaticStreamSerialization
 *   MK__PDL_PREFETCH  GEMM only: read the weights, their scales and the routing
 *                     results (masked_m / m_indices) before mk_pdl_wait. Safe
 *                     only when whatever wrote them ran two or more launches
 *                     earlier and the launch right before waits before it
 *                     triggers (every moekit kernel but the GEMM does). */
#define MK__PDL_LAUNCH 1
#define MK__PDL_PREFETCH 2

/* ---- op params ------------------------------------------------------------------ */
/* Routing (kernels/route/): filled by mk_route (api/impl_route.h). The kind
 * is the registry variant; the launch geometry comes from
 * kernels/route/plan.h. Output pointers are NULL when not wanted. */
typedef struct mk__route_params {
  const void *logits;          /* [m, experts] bf16 / f16 / f32 */
  const float *bias;           /* [experts] or NULL (sigmoid_grouped only) */
  int32_t *topk_ids;           /* [m, top_k] global expert ids */
  float *topk_weights;         /* [m, top_k] */
  int32_t *sorted_ids;         /* [sorted_len] pair ids token * top_k + slot; sentinel m * top_k */
  int32_t *sorted_experts;     /* [sorted_len] local expert per row, -1 on padding */
  int32_t *block_experts;      /* [blocks_len] local expert per block_m rows, -1 past the total */
  int32_t *expert_counts;      /* [local_experts] */
  int32_t *expert_offsets;     /* [local_experts + 1] padded offsets, last = padded total */
  int32_t *inverse;            /* [m, top_k] row in the contiguous layout, -1 if remote */
  int32_t *masked_ids;         /* [local_experts, max_m] pair ids */
  int32_t *masked_inverse;     /* [m, top_k] expert * max_m + rank, -1 if remote */
  int32_t *remote_count;       /* [1] pairs outside [expert_start, expert_end) */
  void *workspace;             /* kernels/route/plan.h: layout */
  int64_t ld_logits;           /* elements */
  int64_t sorted_len, blocks_len, max_m;
  int32_t m, experts, top_k, dtype; /* dtype: mk_dtype of logits */
  int32_t renormalize, n_group, topk_group, grouped_step;
  float scale;                 /* routed_scaling_factor */
  int32_t expert_start, expert_end, block_m, path; /* path: 1 fused, 2 multi */
  /* launch geometry (mk__route_plan) */
  int32_t threads, topk_ctas, fused_smem, topk_smem;
  int32_t chunk_tokens, num_chunks, scan_ctas, count_smem, scan_smem, scatter_smem;
  int64_t ws_sid, ws_chunks, ws_totals;
  int32_t pdl;                 /* MK__PDL_* launch flags */
  int32_t pad_;
} mk__route_params;

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
  int32_t pdl;                 /* MK__PDL_* launch flags */
} mk__quant_params;

/* ---- MoE glue kernels (kernels/moe) ------------------------------------------------ */
/* Scale addressing shared by the FP8 writers: the f32 scale of row r and
 * k-group kb sits at sf[(r / rows_per_group) * sf_group_stride + kb * ld_sf
 * + r % rows_per_group]: MN-major per group (contiguous layout: one group). */
typedef struct mk__dispatch_params {
  const void *x;               /* bf16 [m, k] tokens */
  int64_t ldx;
  const int32_t *inverse;      /* [m, top_k] destination row of each pair, -1 = none */
  const float *topk_weights;   /* [m, top_k] or NULL */
  void *q;                     /* e4m3 / e2m1x2 destination rows */
  int64_t ldq;                 /* bytes */
  void *sf;
  int64_t ld_sf, rows_per_group, sf_group_stride;
  float *row_weights;          /* [rows] weight of each row's pair, or NULL */
  const int32_t *sorted_ids;   /* contiguous layout: pair of each row (sentinel m * top_k = padding), or NULL */
  const int32_t *total_rows;   /* device scalar: rows in use (expert_offsets[E_l]); with sorted_ids */
  int64_t capacity;            /* rows of the destination buffers */
  int64_t m;
  int32_t top_k;
  int32_t pdl;                 /* MK__PDL_* launch flags */
} mk__dispatch_params;

typedef struct mk__swiglu_params {
  const void *h;               /* bf16 [rows, 2 * inter]: gate and up */
  int64_t ldh;
  void *q;                     /* e4m3 [rows, inter] */
  int64_t ldq;
  float *sf;
  int64_t ld_sf, rows_per_group, sf_group_stride;
  const int32_t *row_expert;   /* contiguous: expert of each row, -1 = skip; or NULL */
  const int32_t *masked_m;     /* masked: valid rows of each group; or NULL */
  const int32_t *row_list;     /* the rows to process (flat index, < 0 skip); or NULL: all */
  int64_t n_list;              /* entries of row_list */
  int64_t rows;
  float alpha, limit;          /* clamped variant */
  int32_t pdl;                 /* MK__PDL_* launch flags */
  int32_t pad_;
} mk__swiglu_params;

typedef struct mk__combine_params {
  const void *src;             /* bf16 [rows, hidden] expert outputs */
  int64_t lds;
  const int32_t *inverse;      /* [m, top_k] row of each pair, -1 = skip */
  const float *weights;        /* [m, top_k] */
  void *y;                     /* bf16 [m, hidden] */
  int64_t ldy;
  int64_t m;
  int32_t top_k;
  int32_t accumulate;          /* 1: y += sum (e.g. onto the shared expert's output) */
  int32_t pdl;                 /* MK__PDL_* launch flags */
  int32_t pad_;
} mk__combine_params;

/* The plain float32 reference of a whole layer (kernels/moe/reference.cuh). */
typedef struct mk__moe_ref_params {
  const void *logits;          /* [m, experts] */
  int32_t logits_dtype;        /* mk_dtype: F32, BF16 or F16 */
  int32_t kind;                /* mk_route_kind */
  const float *bias;           /* [experts] or NULL */
  const uint16_t *x;           /* bf16 [m, hidden] */
  const uint8_t *w13;          /* e4m3 [experts, 2 * inter, hidden] */
  const float *s13;            /* [experts, 2 * inter / 128, hidden / 128] */
  const uint8_t *w2;           /* e4m3 [experts, hidden, inter] */
  const float *s2;             /* [experts, hidden / 128, inter / 128] */
  const int32_t *tokens;       /* [s] the sampled tokens */
  float *y;                    /* [s, hidden] */
  float *scores, *wts, *xa, *h, *a, *o; /* workspace */
  int32_t *ids;
  int64_t m, s, hidden, inter;
  int32_t experts, top_k, renormalize, n_group, topk_group;
  float scaling, alpha, limit;
  int32_t clamped, interleaved, mirror;
} mk__moe_ref_params;

#define MK__VARIANT_SWIGLU_CLAMPED 1u     /* gpt-oss: clamp, alpha, (up + 1) */
#define MK__VARIANT_SWIGLU_INTERLEAVED 2u /* gate/up alternate columns instead of two halves */
#define MK__VARIANT_DISPATCH_MXFP4 1u     /* pre-dispatch quantization to MXFP4 instead of FP8 */
/* ---- block-scaled FP8 GEMM (sm90) ------------------------------------------------ */
/* Variant flags of MK_OP_GEMM_FP8 entries: the kind in bits 0-1, then the
 * options. Registry block_m is the token (D row) tile, block_n the weight
 * (D column) tile, whatever the MMA orientation. */
#define MK__GEMM_KIND_MASK 3u      /* mk_gemm_kind */
#define MK__GEMM_SWAP_AB 4u        /* D^T = B A^T: weights fill the 64-row wgmma M */
#define MK__GEMM_MCAST_A 8u        /* cluster of 2 along N, sharing (multicasting) the A tile */
#define MK__GEMM_MCAST_B 16u       /* cluster of 2 along M, sharing the B tile (dense, contiguous) */

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
  int32_t pdl;                   /* MK__PDL_* launch flags */
  int32_t pad_;
} mk__gemm_params;

#ifdef __cplusplus
}
#endif

#endif /* MOEKIT_API_INTERNAL_H */
