/* moekit.h - the C11 host API of a moekit instance library.
 *
 * An instance library (libmoekit_<model>.a / .so) holds the kernels that a
 * model manifest asked for, a registry of them, and the entry points below.
 * Every operation has an args struct that starts with `struct_size` (set it
 * to sizeof) and two calls:
 *
 *   mk_status mk_<op>_workspace_size(const mk_<op>_args *args, size_t *bytes);
 *   mk_status mk_<op>(const mk_<op>_args *args, void *workspace,
 *                     size_t workspace_bytes, void *stream);
 *
 * Tensors are mk_tensor descriptors (strides in elements). The library never
 * allocates device memory and never synchronizes the stream. On error an
 * MK_ERR_* code is returned, mk_last_error() names the argument and the rule
 * it broke, and no output has been written.
 *
 *   #include <moekit/moekit.h>
 *   mk_quant_fp8_args a = {sizeof a};
 *   a.x = mk_tensor_2d(x, MK_DTYPE_BF16, m, 7168);
 *   ...
 *   if (mk_quant_fp8(&a, NULL, 0, stream) != MK_OK) puts(mk_last_error());
 *
 * The implementation is compiled into the instance library from
 * moekit/api/impl_*.h (stb style: MOEKIT_IMPLEMENTATION).
 */
#ifndef MOEKIT_H
#define MOEKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOEKIT_VERSION_MAJOR 0
#define MOEKIT_VERSION_MINOR 1

/* ---- status ---------------------------------------------------------------- */
typedef enum mk_status {
  MK_OK = 0,
  MK_ERR_INVALID_ARG = 1, /* null or misaligned pointer, bad value, bad struct_size */
  MK_ERR_DTYPE = 2,       /* a tensor has the wrong dtype */
  MK_ERR_SHAPE = 3,       /* shapes disagree, or a stride breaks a layout rule */
  MK_ERR_UNSUPPORTED = 4, /* no instance in this library serves the call */
  MK_ERR_WORKSPACE = 5,   /* workspace missing or too small */
  MK_ERR_DEVICE = 6,      /* the GPU runtime failed (no device, launch error) */
  MK_ERR_INTERNAL = 7
} mk_status;

const char *mk_status_str(mk_status status);
/* The message of the last failed call on this thread ("" if none). */
const char *mk_last_error(void);

/* ---- dtypes ---------------------------------------------------------------- */
typedef enum mk_dtype {
  MK_DTYPE_INVALID = 0,
  MK_DTYPE_F32 = 1,
  MK_DTYPE_F16 = 2,
  MK_DTYPE_BF16 = 3,
  MK_DTYPE_E4M3 = 4,      /* OCP E4M3FN */
  MK_DTYPE_E4M3FNUZ = 5,  /* gfx942 FP8 */
  MK_DTYPE_E5M2 = 6,
  MK_DTYPE_E2M1X2 = 7,    /* two FP4 values per byte, even element in the low nibble */
  MK_DTYPE_UE8M0 = 8,     /* one power-of-two scale per byte */
  MK_DTYPE_UE8M0X4 = 9,   /* four ue8m0 scales packed in an int32, first in the low byte */
  MK_DTYPE_UE4M3 = 10,    /* NVFP4 block scale */
  MK_DTYPE_I32 = 11,
  MK_DTYPE_I64 = 12,
  MK_DTYPE_U8 = 13,
  MK_DTYPE_COUNT_ = 14
} mk_dtype;

size_t mk_dtype_size(mk_dtype dtype);     /* bytes per element; 0 if unknown */
const char *mk_dtype_name(mk_dtype dtype); /* "bf16", ...; "invalid" if unknown */

/* ---- tensors --------------------------------------------------------------- */
#define MK_MAX_DIMS 4

typedef struct mk_tensor {
  void *data;
  mk_dtype dtype;
  int32_t ndim;
  int64_t shape[MK_MAX_DIMS];
  int64_t strides[MK_MAX_DIMS]; /* in elements of dtype */
} mk_tensor;

/* Row-major contiguous descriptors. */
mk_tensor mk_tensor_1d(void *data, mk_dtype dtype, int64_t n);
mk_tensor mk_tensor_2d(void *data, mk_dtype dtype, int64_t rows, int64_t cols);
mk_tensor mk_tensor_3d(void *data, mk_dtype dtype, int64_t d0, int64_t d1, int64_t d2);

/* ---- registry -------------------------------------------------------------- */
typedef enum mk_op {
  MK_OP_QUANT_FP8 = 1,   /* bf16 -> e4m3, 1x128 groups */
  MK_OP_QUANT_MXFP4 = 2, /* bf16 -> e2m1 + ue8m0 per 32 */
  MK_OP_QUANT_NVFP4 = 3, /* bf16 -> e2m1 + ue4m3 per 16 + f32 tensor scale */
  MK_OP_ROUTE = 4,       /* top-k + sort by expert */
  MK_OP_GEMM_FP8 = 5,    /* block-scaled FP8 GEMM (dense / grouped) */
  MK_OP_MOE_DISPATCH = 6, /* quantize tokens into the expert layout */
  MK_OP_MOE_SWIGLU = 7,  /* SwiGLU + FP8 requantization between the GEMMs */
  MK_OP_MOE_COMBINE = 8, /* weighted sum of each token's expert outputs */
  MK_OP_MOE_REFERENCE = 9, /* plain float32 reference of a whole layer (tests) */
  MK_OP_COUNT_ = 10
} mk_op;

const char *mk_op_name(mk_op op);

typedef struct mk_kernel_info {
  uint32_t struct_size;
  const char *name;   /* the instance key: file name, registry key, tuned-table name */
  mk_op op;
  const char *arch;   /* "sm_90a", "sm_100a", "gfx942", "gfx950" */
  uint32_t variant;   /* op-specific flags, see docs/architecture.md */
  int64_t n, k;       /* GEMM N and K; quantization K (hidden size) */
  int32_t experts, top_k;
  int32_t block_m, block_n, stages;
} mk_kernel_info;

int mk_registry_count(void);
/* Fills *info for entry index (0 <= index < mk_registry_count()). */
mk_status mk_registry_describe(int index, mk_kernel_info *info);
/* Index of the first entry of `op` with these dimensions (0 = any), or -1. */
int mk_registry_find(mk_op op, int64_t n, int64_t k, int32_t experts, int32_t top_k);
/* The model name the library was generated for, e.g. "deepseek-v3". */
const char *mk_library_model(void);

/* ---- routing: top-k selection and sorting by expert --------------------------- */
/* Router logits [M, E] -> the top-k experts and weights of every token, and
 * the (token, slot) pairs sorted by expert into the layouts grouped GEMMs
 * read. docs/route.md has every format with a worked example.
 *
 *   logits          [M, E] bf16, f16 or f32, unit column stride, E <= 1024.
 *                   NaN counts as -inf; ties go to the lower expert index.
 *   bias            sigmoid_grouped: f32 [E] score-correction bias (selection
 *                   only); data NULL = no bias. Other kinds: must be NULL.
 * Outputs are optional (data NULL = not wanted), at least one is required;
 * all are i32 except topk_weights (f32). A pair is p = token * top_k + slot.
 *   topk_ids        [M, top_k] global expert of each slot, best first
 *   topk_weights    [M, top_k]
 *   contiguous layout (needs block_m): each local expert's pairs in
 *   ascending token order, padded to a multiple of block_m rows; experts
 *   without pairs get no rows. capacity = mk_route_capacity(M, top_k, E_l, block_m).
 *   sorted_ids      [>= capacity] pair of each row; padding rows and rows past
 *                   the padded total hold the sentinel M * top_k
 *   sorted_experts  [>= capacity] local expert of each row, -1 on padding and
 *                   past the total (DeepGEMM's m_indices)
 *   block_experts   [>= capacity / block_m] local expert of each block_m rows,
 *                   -1 past the total
 *   expert_offsets  [E_l + 1] first row of each expert; [E_l] = padded total
 *   inverse         [M, top_k] row of each pair, -1 if its expert is remote
 *   expert_counts   [E_l] pairs per local expert (also the masked layout's masked_m)
 *   masked layout:
 *   masked_ids      [E_l, max_m], max_m >= M: row r < expert_counts[e] of expert e
 *                   holds its r-th pair (ascending token); later rows are not written
 *   masked_inverse  [M, top_k] e * max_m + r of each pair, -1 if remote
 *   remote_count    [1] pairs whose expert is outside [expert_start, expert_end)
 * Every entry of a given output is written (masked_ids: rows < count).
 *
 * The workspace (mk_route_workspace_size bytes, device memory) must be
 * zero-filled once before its first use (e.g. cudaMemsetAsync); every call
 * leaves it zeroed. One workspace serves one call at a time. */
typedef enum mk_route_kind {
  MK_ROUTE_SOFTMAX = 1,            /* softmax over all experts, then top-k (Mixtral, Qwen3) */
  MK_ROUTE_SOFTMAX_AFTER_TOPK = 2, /* top-k of the logits, softmax over those k (gpt-oss) */
  MK_ROUTE_SIGMOID_GROUPED = 3     /* DeepSeek-V3: sigmoid + bias, group-limited top-k */
} mk_route_kind;

typedef enum mk_route_path {
  MK_ROUTE_PATH_AUTO = 0,  /* fused when M fits, else multi */
  MK_ROUTE_PATH_FUSED = 1, /* one launch; MK_ERR_UNSUPPORTED if M does not fit */
  MK_ROUTE_PATH_MULTI = 2  /* four launches, any M */
} mk_route_path;

typedef struct mk_route_args {
  uint32_t struct_size;
  mk_route_kind kind;
  int32_t top_k;                 /* 1..32, <= E */
  int32_t renormalize;           /* softmax, sigmoid_grouped: weights sum to 1 (times the factor) */
  int32_t n_group, topk_group;   /* sigmoid_grouped: groups (<= 32, divides E) and groups kept; 0 = 1 */
  float routed_scaling_factor;   /* multiplies every weight; 0 = 1 */
  int32_t block_m;               /* contiguous layout: 1..1024 */
  int32_t expert_start, expert_end; /* local experts [start, end); both 0 = all E */
  mk_route_path path;
  mk_tensor logits, bias;
  mk_tensor topk_ids, topk_weights;
  mk_tensor sorted_ids, sorted_experts, block_experts, expert_offsets, inverse;
  mk_tensor expert_counts, masked_ids, masked_inverse, remote_count;
} mk_route_args;

/* Rows of the contiguous layout: m * top_k + min(local_experts, m * top_k) * (block_m - 1). */
int64_t mk_route_capacity(int64_t m, int32_t top_k, int32_t local_experts, int32_t block_m);
/* The path mk_route would take (FUSED or MULTI) after validating args; no GPU needed. */
mk_status mk_route_pick_path(const mk_route_args *args, mk_route_path *path);
mk_status mk_route_workspace_size(const mk_route_args *args, size_t *bytes);
mk_status mk_route(const mk_route_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* ---- activation quantization ----------------------------------------------- */
/* bf16 [M, K] -> e4m3 [M, K] with one scale per 1x128 group.
 *   x       bf16 [M, K], unit column stride, row stride a multiple of 8
 *   q       e4m3 [M, K], unit column stride, row stride a multiple of 16
 *   scales  MN-major, DeepGEMM's TMA-aligned layout: shape [M, K/128],
 *           strides {1, ld} with ld >= M and ld % 4 == 0, and either
 *             MK_DTYPE_F32      scale = max(amax, 1e-4) / 448       (sm90 GEMMs), or
 *             MK_DTYPE_UE8M0X4  shape [M, ceil(K/512)]: the scale rounded up to a
 *                               power of two, four k-groups per int32 (sm100 GEMMs). */
typedef struct mk_quant_fp8_args {
  uint32_t struct_size;
  mk_tensor x, q, scales;
} mk_quant_fp8_args;

mk_status mk_quant_fp8_workspace_size(const mk_quant_fp8_args *args, size_t *bytes);
mk_status mk_quant_fp8(const mk_quant_fp8_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* Scale-factor layouts of the FP4 formats. */
typedef enum mk_sf_layout {
  MK_SF_ROW_MAJOR = 0,      /* scales [M, K/G], unit column stride */
  MK_SF_SWIZZLED_128X4 = 1  /* the tcgen05 / cuBLASLt block-scaling layout: 1-D,
                               ceil(M/128)*128 * ceil(K/G/4)*4 bytes, padding zeroed */
} mk_sf_layout;

/* bf16 [M, K] -> MXFP4: e2m1x2 [M, K/2] + ue8m0 scales per 32 elements,
 * scale = 2^ceil(log2(amax / 6)) so no element clips. */
typedef struct mk_quant_mxfp4_args {
  uint32_t struct_size;
  mk_tensor x, q, scales;
  mk_sf_layout sf_layout;
} mk_quant_mxfp4_args;

mk_status mk_quant_mxfp4_workspace_size(const mk_quant_mxfp4_args *args, size_t *bytes);
mk_status mk_quant_mxfp4(const mk_quant_mxfp4_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* bf16 [M, K] -> NVFP4: e2m1x2 [M, K/2] + ue4m3 scales per 16 elements.
 * global_scale: f32 [1] on the device, usually 448 * 6 / amax(tensor).
 * Dequantized value = e2m1 * ue4m3 / global_scale. */
typedef struct mk_quant_nvfp4_args {
  uint32_t struct_size;
  mk_tensor x, q, scales, global_scale;
  mk_sf_layout sf_layout;
} mk_quant_nvfp4_args;

mk_status mk_quant_nvfp4_workspace_size(const mk_quant_nvfp4_args *args, size_t *bytes);
mk_status mk_quant_nvfp4(const mk_quant_nvfp4_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* ---- MoE glue: dispatch quantization, activation, combine ------------------------ */
/* These take the layouts mk_route produces. A pair is p = token * top_k + slot.
 *
 * Layouts of the expert-side tensors ("rows"):
 *   MK_MOE_CONTIGUOUS  rows [R, ...]: R = the contiguous layout's capacity;
 *                      FP8 scales [R, K/128] MN-major, strides {1, ld},
 *                      ld >= R, ld % 4 == 0 (what the grouped GEMM reads).
 *   MK_MOE_MASKED      rows [G, max_m, ...]: FP8 scales [G, max_m, K/128] with
 *                      strides {S, 1, ld}: MN-major per group, ld >= max_m,
 *                      ld % 4 == 0, S >= (K/128) * ld, S % 4 == 0. */
typedef enum mk_moe_layout {
  MK_MOE_CONTIGUOUS = 0,
  MK_MOE_MASKED = 1
} mk_moe_layout;

/* Fused pre-dispatch quantization: every token's bf16 row is quantized once and
 * stored to each of its top_k destination rows, in one launch.
 *   x             bf16 [M, K]
 *   inverse       i32 [M, top_k]: destination row of each pair, -1 = skip
 *                 (mk_route's inverse for CONTIGUOUS, masked_inverse for MASKED)
 *   q, scales     e4m3 rows + f32 scales (the layouts above), or, for MXFP4,
 *                 e2m1x2 rows [.., K/2] + ue8m0 scales [.., K/32] (row-major,
 *                 unit column stride): the dtypes of q and scales choose
 *   topk_weights  f32 [M, top_k] and row_weights f32 [R] or [G, max_m]:
 *                 optional (both or neither): each row gets its pair's weight
 *   sorted_ids    optional, CONTIGUOUS only, with expert_offsets: mk_route's
 *                 outputs; padding rows (sentinel M * top_k) below
 *                 expert_offsets[last] get zero codes, scales and weights. */
typedef struct mk_moe_dispatch_args {
  uint32_t struct_size;
  mk_moe_layout layout;
  mk_tensor x, inverse, topk_weights;
  mk_tensor q, scales, row_weights;
  mk_tensor sorted_ids, expert_offsets;
} mk_moe_dispatch_args;

mk_status mk_moe_dispatch_workspace_size(const mk_moe_dispatch_args *args, size_t *bytes);
mk_status mk_moe_dispatch(const mk_moe_dispatch_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* The activation between the expert GEMMs, fused with FP8 1x128 requantization:
 *   h        bf16 [R, 2I] or [G, max_m, 2I], the gate/up GEMM's output
 *   q        e4m3 [R, I] or [G, max_m, I]; scales f32 as in the layouts above
 *   clamped  0: a = silu(gate) * up; 1: gpt-oss's clamped variant
 *            g = min(gate, limit), u = clamp(up, -limit, limit),
 *            a = g * sigmoid(alpha * g) * (u + 1)
 *   interleaved  0: gate = h[..., :I], up = h[..., I:]; 1: gate = h[..., 0::2],
 *            up = h[..., 1::2]
 *   row_experts  CONTIGUOUS, optional: i32 [R] (mk_route's sorted_experts);
 *            rows with -1 are skipped
 *   masked_m MASKED, required: i32 [G] valid rows per group (expert_counts);
 *            later rows are skipped
 *   rows     optional: i32, any shape, contiguous: the only rows to process,
 *            as flat indices (g * max_m + r when MASKED), e.g. mk_route's
 *            inverse or masked_inverse; entries < 0 or >= R are skipped, the
 *            rows not listed are left untouched, and row_experts / masked_m
 *            are then not read. The grid covers the list, not all R rows:
 *            at decode the masked layout has E * M rows for M * top_k pairs */
typedef struct mk_moe_swiglu_args {
  uint32_t struct_size;
  mk_moe_layout layout;
  int32_t clamped, interleaved;
  float alpha, limit;
  mk_tensor h, q, scales;
  mk_tensor row_experts, masked_m;
  mk_tensor rows;
} mk_moe_swiglu_args;

mk_status mk_moe_swiglu_workspace_size(const mk_moe_swiglu_args *args, size_t *bytes);
mk_status mk_moe_swiglu(const mk_moe_swiglu_args *args, void *workspace, size_t workspace_bytes, void *stream);

/* y[t] (+)= sum_s weights[t, s] * src[inverse[t, s]] in float32, slot order,
 * rounded once to bf16: deterministic.
 *   src      bf16 [R, H] or [G, max_m, H] (the down GEMM's output, as rows)
 *   inverse  i32 [M, top_k], -1 = skip; weights f32 [M, top_k]
 *   y        bf16 [M, H]; accumulate = 1 adds y's old value last */
typedef struct mk_moe_combine_args {
  uint32_t struct_size;
  int32_t accumulate;
  mk_tensor src, inverse, weights, y;
} mk_moe_combine_args;

mk_status mk_moe_combine_workspace_size(const mk_moe_combine_args *args, size_t *bytes);
mk_status mk_moe_combine(const mk_moe_combine_args *args, void *workspace, size_t workspace_bytes, void *stream);
/* ---- block-scaled FP8 GEMM (sm90) ------------------------------------------------ */
/* D = (A * a_scales) (B * b_scales)^T in bf16, f32 accumulation, scales
 * applied after every 128-wide k-block (DeepGEMM's sm90 recipe). K is a
 * multiple of 128 and N a multiple of 8; pointers are 16-byte aligned.
 *
 *   a         e4m3, unit K stride, row stride a multiple of 16:
 *               dense, contiguous [M, K]; masked [G, max_m, K]
 *   a_scales  f32, one per row and 128 columns of K, MN-major (what
 *             mk_quant_fp8 writes): dense, contiguous [M, K/128] with strides
 *             {1, ld}, ld >= M, ld % 4 == 0; masked [G, max_m, K/128] with
 *             strides {gs, 1, ld}, gs and ld multiples of 4, either per-group
 *             blocks (ld >= max_m, gs >= ld * K/128) or the scales of the
 *             flattened [G * max_m, K] rows (gs >= max_m, ld >= G * gs)
 *   b         e4m3 weights, unit K stride: dense [N, K]; grouped [G, N, K]
 *   b_scales  f32, one per 128 x 128 block, any strides:
 *               dense [ceil(N/128), K/128]; grouped [G, ceil(N/128), K/128]
 *   d         bf16, unit N stride, row stride a multiple of 8:
 *               dense, contiguous [M, N]; masked [G, max_m, N]
 *   m_indices contiguous: i32 [M], the expert of each row of A, -1 (any
 *             negative) on padding rows; each expert's rows start at a
 *             multiple of group_align. Row blocks whose first row is padding
 *             are skipped (their rows of D are not written); padding rows
 *             inside a computed block get unspecified values in D.
 *   masked_m  masked: i32 [G] on the device, valid rows per group (clamped
 *             to [0, max_m]). Rows of D past masked_m[g] in the last row
 *             block of a group may be overwritten; rows past that block are
 *             not written.
 *   expected_m masked: host hint of the typical masked_m (0: max_m), used
 *             only to choose the kernel configuration
 *   group_align contiguous: row alignment of the experts' segments (0: 128)
 *   signal    optional i32 completion counters, zeroed by the caller:
 *             counter[g * ceil(max_m / block_m) + m_block] is incremented
 *             (release, GPU scope) once each column tile of that row block
 *             has been written; a row block is complete at
 *             ceil(N / block_n). Dense and contiguous: g = 0, max_m = M.
 *             mk_gemm_fp8_query() gives block_m, the threshold and the
 *             number of counters (the length signal must have).
 *             See moekit/signal/overlap.cuh for the consumer side.
 *   num_sms   SMs the persistent kernel may occupy (0: all), e.g. to leave
 *             some to a communication kernel running beside it
 *   kernel    optional: run this registry instance (its name) instead of
 *             the heuristic's choice; it must serve the call */
typedef enum mk_gemm_kind {
  MK_GEMM_DENSE = 0,              /* D[M, N] = A[M, K] B[N, K]^T */
  MK_GEMM_GROUPED_CONTIGUOUS = 1, /* rows of A sorted by expert, B[G, N, K] */
  MK_GEMM_GROUPED_MASKED = 2      /* A[G, max_m, K], masked_m[G] valid rows */
} mk_gemm_kind;

typedef struct mk_gemm_fp8_args {
  uint32_t struct_size;
  mk_gemm_kind kind;
  mk_tensor a, a_scales, b, b_scales, d;
  mk_tensor m_indices;   /* contiguous */
  mk_tensor masked_m;    /* masked */
  int64_t expected_m;    /* masked: hint (0: max_m) */
  int32_t group_align;   /* contiguous: rows (0: 128) */
  int32_t num_sms;       /* 0: all */
  mk_tensor signal;      /* optional: data NULL for none */
  const char *kernel;    /* optional: force an instance by name */
  int64_t expected_groups; /* masked: hint, groups with rows (0: all); with expected_m */
} mk_gemm_fp8_args;

/* What a call with these args runs, and the overlap-signal protocol. */
typedef struct mk_gemm_fp8_info {
  uint32_t struct_size;
  const char *kernel;        /* registry name of the instance */
  int32_t block_m;           /* rows of D per counter (the token tile) */
  int32_t block_n;           /* columns of D per tile */
  int32_t signal_threshold;  /* ceil(N / block_n): a row block is complete */
  int32_t swap_ab;           /* 1: weights on the MMA's M side (small M) */
  int64_t num_signals;       /* counters the call increments: G * ceil(max_m / block_m) */
} mk_gemm_fp8_info;

mk_status mk_gemm_fp8_workspace_size(const mk_gemm_fp8_args *args, size_t *bytes); /* always 0 */
mk_status mk_gemm_fp8(const mk_gemm_fp8_args *args, void *workspace, size_t workspace_bytes, void *stream);
/* Validates args like mk_gemm_fp8 and reports the instance it would run. */
mk_status mk_gemm_fp8_query(const mk_gemm_fp8_args *args, mk_gemm_fp8_info *info);

/* ---- a whole MoE layer ---------------------------------------------------------------- */
/* y (+)= MoE(x): routing, fused pre-dispatch FP8 quantization, the gate/up
 * grouped GEMM, SwiGLU + FP8 requantization, the down grouped GEMM and the
 * weighted combine, all on `stream`, no host synchronization (docs/moe.md).
 *
 *   routing fields   as in mk_route_args (kind, top_k, renormalize, n_group,
 *                    topk_group, routed_scaling_factor, logits [M, E], bias)
 *   x                bf16 [M, H]
 *   w13, w13_scales  e4m3 [E, 2I, H] (gate then up, or interleaved), f32
 *                    [E, 2I/128, H/128] (128 x 128 blocks)
 *   w2, w2_scales    e4m3 [E, H, I], f32 [E, H/128, I/128]
 *   clamped, interleaved, alpha, limit   the activation (mk_moe_swiglu_args)
 *   y                bf16 [M, H]; accumulate = 1 adds to it
 *   path             the expert layout: AUTO picks MASKED (every expert's rows
 *                    in an [E, M, .] block, no padding compute) while experts
 *                    average at most 32 tokens and E * M <= 131072 rows, and
 *                    CONTIGUOUS (segments padded to 128 rows) otherwise
 *   stage_events     optional: MK_MOE_LAYER_STAGES + 1 cudaEvent_t, recorded
 *                    before each stage and at the end (per-stage timing)
 *   pdl              programmatic dependent launch between the stages (each
 *                    kernel's launch and prologue overlap the tail of the one
 *                    before; the GEMMs start streaming weights early):
 *                    MK_MOE_LAYER_PDL_AUTO (0, default) on for the masked
 *                    path (decode-sized batches), off for the contiguous one;
 *                    _ON / _OFF force it. On H100s the layer at M = 1 was
 *                    5-14% faster with it, M = 16 and 128 the same, M = 4096
 *                    2-12% slower: docs/perf.md
 * The workspace (mk_moe_layer_workspace_size bytes) must be zero-filled once
 * after it is allocated (mk_route's ticket lives in it); calls leave it so. */
#define MK_MOE_LAYER_STAGES 6 /* route, dispatch, gemm1, swiglu, gemm2, combine */

typedef enum mk_moe_layer_path {
  MK_MOE_LAYER_AUTO = 0,
  MK_MOE_LAYER_CONTIGUOUS = 1,
  MK_MOE_LAYER_MASKED = 2
} mk_moe_layer_path;

typedef enum mk_moe_layer_pdl {
  MK_MOE_LAYER_PDL_AUTO = 0, /* on for the masked path, off for the contiguous one */
  MK_MOE_LAYER_PDL_ON = 1,
  MK_MOE_LAYER_PDL_OFF = 2
} mk_moe_layer_pdl;

typedef struct mk_moe_layer_args {
  uint32_t struct_size;
  mk_route_kind kind;
  int32_t top_k, renormalize, n_group, topk_group;
  float routed_scaling_factor;
  mk_tensor logits, bias;
  mk_tensor x, w13, w13_scales, w2, w2_scales, y;
  int32_t clamped, interleaved;
  float alpha, limit;
  int32_t accumulate;
  mk_moe_layer_path path;
  void **stage_events;
  int32_t pdl;           /* mk_moe_layer_pdl: programmatic dependent launch between the stages */
} mk_moe_layer_args;

mk_status mk_moe_layer_workspace_size(const mk_moe_layer_args *args, size_t *bytes);
mk_status mk_moe_layer_forward(const mk_moe_layer_args *args, void *workspace, size_t workspace_bytes, void *stream);
/* The path mk_moe_layer_forward would take (CONTIGUOUS or MASKED). */
mk_status mk_moe_layer_pick_path(const mk_moe_layer_args *args, mk_moe_layer_path *path);

/* A plain float32 reference of the same layer for S sampled tokens (tests
 * and examples): y_ref [S, H] f32 gets the outputs of tokens [S] (i32, device).
 * mirror = 1 rounds activations where the fast path does (x and the
 * activation through FP8 1x128, GEMM outputs to bf16); 0 keeps float32. */
mk_status mk_moe_layer_reference_workspace_size(const mk_moe_layer_args *args, int64_t num_tokens, size_t *bytes);
mk_status mk_moe_layer_reference(const mk_moe_layer_args *args, const mk_tensor *tokens, const mk_tensor *y_ref,
                                 int32_t mirror, void *workspace, size_t workspace_bytes, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* MOEKIT_H */

/* ---- implementation (one translation unit of the instance library) ------------ */
#if defined(MOEKIT_IMPLEMENTATION) && !defined(MOEKIT_IMPLEMENTATION_DONE)
#define MOEKIT_IMPLEMENTATION_DONE
#include "moekit/api/impl_core.h"
#include "moekit/api/impl_quant.h"
#include "moekit/api/impl_route.h"
#include "moekit/api/impl_gemm.h"
#include "moekit/api/impl_moe.h"
#include "moekit/api/impl_layer.h"
#endif
