/* moekit/api/impl_route.h - argument checks, path choice and dispatch of the
 * routing entry points (mk_route, mk_route_workspace_size, mk_route_pick_path,
 * mk_route_capacity). Compiled into the instance library (see moekit.h).
 *
 * Every check runs before the registry is searched, and the registry is
 * searched before the GPU is queried: argument errors never need a GPU.
 */
#ifndef MOEKIT_API_IMPL_ROUTE_H
#define MOEKIT_API_IMPL_ROUTE_H

#include "moekit/api/impl_core.h"
#include "moekit/kernels/route/plan.h"

/* Lanes per warp of the kernels this library launches (NVIDIA: 32). */
#ifndef MK__ROUTE_PLAN_WARP
#define MK__ROUTE_PLAN_WARP 32
#endif

int64_t mk_route_capacity(int64_t m, int32_t top_k, int32_t local_experts, int32_t block_m) {
  if (m < 0 || top_k < 1 || local_experts < 1 || block_m < 1) return 0;
  return mk__route_capacity(m, top_k, local_experts, block_m);
}

static const char *mk__route_kind_name(int kind) {
  switch (kind) {
    case MK_ROUTE_SOFTMAX: return "softmax";
    case MK_ROUTE_SOFTMAX_AFTER_TOPK: return "softmax_after_topk";
    case MK_ROUTE_SIGMOID_GROUPED: return "sigmoid_grouped";
  }
  return "invalid";
}

/* An optional output: absent (data NULL) or exactly this dtype, contiguous,
 * shape [d0] (ndim 1) or [d0, d1] (ndim 2); min0 / min1: that extent may be
 * larger (then it is read from the tensor). */
static mk_status mk__route_check_out(const char *fn, const char *name, const mk_tensor *t, mk_dtype dtype, int ndim,
                                     int64_t d0, int64_t d1, int min0, int min1) {
  mk_status st;
  if (t->data == NULL) return MK_OK;
  if ((st = mk__check_tensor(fn, name, t, dtype, ndim, 4)) != MK_OK) return st;
  if (ndim == 1) {
    if (min0 ? t->shape[0] < d0 : t->shape[0] != d0)
      return mk__fail(MK_ERR_SHAPE, "%s: %s: shape is [%lld], expected [%s%lld]", fn, name, (long long)t->shape[0],
                      min0 ? ">= " : "", (long long)d0);
    if (t->strides[0] != 1)
      return mk__fail(MK_ERR_SHAPE, "%s: %s: stride is %lld, must be 1 (contiguous)", fn, name, (long long)t->strides[0]);
    return MK_OK;
  }
  if ((min0 ? t->shape[0] < d0 : t->shape[0] != d0) || (min1 ? t->shape[1] < d1 : t->shape[1] != d1))
    return mk__fail(MK_ERR_SHAPE, "%s: %s: shape is [%lld, %lld], expected [%s%lld, %s%lld]", fn, name,
                    (long long)t->shape[0], (long long)t->shape[1], min0 ? ">= " : "", (long long)d0,
                    min1 ? ">= " : "", (long long)d1);
  if (t->strides[1] != 1 || t->strides[0] != t->shape[1])
    return mk__fail(MK_ERR_SHAPE, "%s: %s: strides {%lld, %lld} must be {%lld, 1} (contiguous)", fn, name,
                    (long long)t->strides[0], (long long)t->strides[1], (long long)t->shape[1]);
  return MK_OK;
}

/* Validates args, normalizes the defaults and fills the params (all but the
 * workspace) and the plan. `a` is the caller's args copied by mk__load_args. */
static mk_status mk__route_prepare(const char *fn, mk_route_args *a, mk__route_params *p, mk__route_plan *pl) {
  const mk_tensor *lg = &a->logits;
  int64_t m, cap = 0;
  int32_t e, k, local, contiguous;
  mk_status st;
  const mk_tensor *outs[11];
  int i, any = 0;

  if (a->kind != MK_ROUTE_SOFTMAX && a->kind != MK_ROUTE_SOFTMAX_AFTER_TOPK && a->kind != MK_ROUTE_SIGMOID_GROUPED)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: kind %d is not an mk_route_kind (1 softmax, 2 softmax_after_topk, 3 sigmoid_grouped)",
                    fn, (int)a->kind);
  /* ---- logits ---- */
  if (lg->data == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: logits: data is NULL", fn);
  if (lg->dtype != MK_DTYPE_BF16 && lg->dtype != MK_DTYPE_F16 && lg->dtype != MK_DTYPE_F32)
    return mk__fail(MK_ERR_DTYPE, "%s: logits: dtype is %s, expected bf16, f16 or f32", fn, mk_dtype_name(lg->dtype));
  if ((st = mk__check_tensor(fn, "logits", lg, lg->dtype, 2, mk_dtype_size(lg->dtype))) != MK_OK) return st;
  if (lg->strides[1] != 1 || lg->strides[0] < lg->shape[1])
    return mk__fail(MK_ERR_SHAPE, "%s: logits: strides {%lld, %lld} must be {ld, 1} with ld >= E = %lld", fn,
                    (long long)lg->strides[0], (long long)lg->strides[1], (long long)lg->shape[1]);
  if (lg->shape[1] > MK_ROUTE_MAX_EXPERTS)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: logits: E = %lld experts, at most %d are supported", fn,
                    (long long)lg->shape[1], MK_ROUTE_MAX_EXPERTS);
  m = lg->shape[0];
  e = (int32_t)lg->shape[1];
  k = a->top_k;
  /* ---- values ---- */
  if (k < 1 || k > MK_ROUTE_MAX_TOP_K)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: top_k = %d is out of range; allowed: 1..%d", fn, k, MK_ROUTE_MAX_TOP_K);
  if (k > e) return mk__fail(MK_ERR_INVALID_ARG, "%s: top_k = %d exceeds the number of experts E = %d", fn, k, e);
  if (a->n_group == 0) a->n_group = 1;
  if (a->topk_group == 0) a->topk_group = 1;
  if (a->kind != MK_ROUTE_SIGMOID_GROUPED && (a->n_group != 1 || a->topk_group != 1))
    return mk__fail(MK_ERR_INVALID_ARG, "%s: n_group / topk_group (%d / %d) apply to sigmoid_grouped only (kind is %s)", fn,
                    a->n_group, a->topk_group, mk__route_kind_name(a->kind));
  if (a->n_group < 1 || a->n_group > MK_ROUTE_MAX_GROUPS || e % a->n_group != 0)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: n_group = %d must be in 1..%d and divide E = %d", fn, a->n_group,
                    MK_ROUTE_MAX_GROUPS, e);
  if (a->topk_group < 1 || a->topk_group > a->n_group)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: topk_group = %d must be in 1..n_group = %d", fn, a->topk_group, a->n_group);
  if ((int64_t)a->topk_group * (e / a->n_group) < k)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: topk_group = %d groups of %d experts cannot hold top_k = %d", fn,
                    a->topk_group, e / a->n_group, k);
  if (a->routed_scaling_factor == 0.0f) a->routed_scaling_factor = 1.0f;
  if (!(a->routed_scaling_factor > 0.0f && a->routed_scaling_factor <= 3.4028235e38f))
    return mk__fail(MK_ERR_INVALID_ARG, "%s: routed_scaling_factor = %g must be positive and finite", fn,
                    (double)a->routed_scaling_factor);
  if (a->expert_start == 0 && a->expert_end == 0) a->expert_end = e;
  if (a->expert_start < 0 || a->expert_start >= a->expert_end || a->expert_end > e)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: local experts [expert_start, expert_end) = [%d, %d) must satisfy 0 <= start < end <= E = %d",
                    fn, a->expert_start, a->expert_end, e);
  local = a->expert_end - a->expert_start;
  if (a->path != MK_ROUTE_PATH_AUTO && a->path != MK_ROUTE_PATH_FUSED && a->path != MK_ROUTE_PATH_MULTI)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: path %d is not an mk_route_path (0 auto, 1 fused, 2 multi)", fn, (int)a->path);
  /* ---- bias ---- */
  if (a->bias.data != NULL) {
    if (a->kind != MK_ROUTE_SIGMOID_GROUPED)
      return mk__fail(MK_ERR_INVALID_ARG, "%s: bias: only sigmoid_grouped takes a bias (kind is %s)", fn,
                      mk__route_kind_name(a->kind));
    if ((st = mk__route_check_out(fn, "bias", &a->bias, MK_DTYPE_F32, 1, e, 0, 0, 0)) != MK_OK) return st;
  }
  /* ---- sizes that must fit the kernels' int32 indices ---- */
  if (m > (int64_t)INT32_MAX / (2 * k) - MK_ROUTE_MAX_EXPERTS * MK_ROUTE_MAX_BLOCK_M)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: logits: M = %lld tokens is too many for int32 row ids (top_k = %d)", fn,
                    (long long)m, k);
  /* ---- outputs ---- */
  contiguous = a->sorted_ids.data || a->sorted_experts.data || a->block_experts.data || a->expert_offsets.data ||
               a->inverse.data;
  if (contiguous) {
    if (a->block_m < 1 || a->block_m > MK_ROUTE_MAX_BLOCK_M)
      return mk__fail(MK_ERR_INVALID_ARG, "%s: block_m = %d is out of range; allowed: 1..%d (the contiguous layout needs it)",
                      fn, a->block_m, MK_ROUTE_MAX_BLOCK_M);
    cap = mk__route_capacity(m, k, local, a->block_m);
  } else {
    a->block_m = 1;
  }
  if ((st = mk__route_check_out(fn, "topk_ids", &a->topk_ids, MK_DTYPE_I32, 2, m, k, 0, 0)) != MK_OK) return st;
  if ((st = mk__route_check_out(fn, "topk_weights", &a->topk_weights, MK_DTYPE_F32, 2, m, k, 0, 0)) != MK_OK) return st;
  if ((st = mk__route_check_out(fn, "sorted_ids", &a->sorted_ids, MK_DTYPE_I32, 1, cap, 0, 1, 0)) != MK_OK) return st;
  if ((st = mk__route_check_out(fn, "sorted_experts", &a->sorted_experts, MK_DTYPE_I32, 1, cap, 0, 1, 0)) != MK_OK)
    return st;
  if ((st = mk__route_check_out(fn, "block_experts", &a->block_experts, MK_DTYPE_I32, 1, cap / a->block_m, 0, 1, 0)) != MK_OK)
    return st;
  if ((st = mk__route_check_out(fn, "expert_offsets", &a->expert_offsets, MK_DTYPE_I32, 1, local + 1, 0, 0, 0)) != MK_OK)
    return st;
  if ((st = mk__route_check_out(fn, "inverse", &a->inverse, MK_DTYPE_I32, 2, m, k, 0, 0)) != MK_OK) return st;
  if ((st = mk__route_check_out(fn, "expert_counts", &a->expert_counts, MK_DTYPE_I32, 1, local, 0, 0, 0)) != MK_OK)
    return st;
  if ((st = mk__route_check_out(fn, "masked_ids", &a->masked_ids, MK_DTYPE_I32, 2, local, m, 0, 1)) != MK_OK) return st;
  if (a->masked_ids.data && a->masked_ids.shape[1] * local > INT32_MAX)
    return mk__fail(MK_ERR_SHAPE, "%s: masked_ids: %d x %lld rows overflow int32 indices", fn, local,
                    (long long)a->masked_ids.shape[1]);
  if ((st = mk__route_check_out(fn, "masked_inverse", &a->masked_inverse, MK_DTYPE_I32, 2, m, k, 0, 0)) != MK_OK)
    return st;
  if ((st = mk__route_check_out(fn, "remote_count", &a->remote_count, MK_DTYPE_I32, 1, 1, 0, 0, 0)) != MK_OK) return st;
  outs[0] = &a->topk_ids, outs[1] = &a->topk_weights, outs[2] = &a->sorted_ids, outs[3] = &a->sorted_experts;
  outs[4] = &a->block_experts, outs[5] = &a->expert_offsets, outs[6] = &a->inverse, outs[7] = &a->expert_counts;
  outs[8] = &a->masked_ids, outs[9] = &a->masked_inverse, outs[10] = &a->remote_count;
  for (i = 0; i < 11; ++i) any |= outs[i]->data != NULL;
  if (!any) return mk__fail(MK_ERR_INVALID_ARG, "%s: no output requested (every output tensor has data NULL)", fn);

  /* ---- plan and params ---- */
  memset(p, 0, sizeof *p);
  p->grouped_step = a->kind == MK_ROUTE_SIGMOID_GROUPED && a->topk_group < a->n_group;
  mk__route_make_plan(pl, m, (int32_t)a->kind, e, k, local, p->grouped_step, MK__ROUTE_PLAN_WARP);
  if (a->path == MK_ROUTE_PATH_FUSED && pl->fused_smem == 0)
    return mk__fail(MK_ERR_UNSUPPORTED, "%s: path: the fused path cannot hold M = %lld tokens with top_k = %d and %d local experts in shared memory; use MK_ROUTE_PATH_MULTI or AUTO",
                    fn, (long long)m, k, local);
  p->path = a->path != MK_ROUTE_PATH_AUTO ? (int32_t)a->path
            : (pl->fused_smem && m * k <= MK__ROUTE_FUSED_AUTO_PAIRS) ? MK_ROUTE_PATH_FUSED : MK_ROUTE_PATH_MULTI;
  p->logits = lg->data;
  p->bias = (const float *)a->bias.data;
  p->topk_ids = (int32_t *)a->topk_ids.data;
  p->topk_weights = (float *)a->topk_weights.data;
  p->sorted_ids = (int32_t *)a->sorted_ids.data;
  p->sorted_experts = (int32_t *)a->sorted_experts.data;
  p->block_experts = (int32_t *)a->block_experts.data;
  p->expert_counts = (int32_t *)a->expert_counts.data;
  p->expert_offsets = (int32_t *)a->expert_offsets.data;
  p->inverse = (int32_t *)a->inverse.data;
  p->masked_ids = (int32_t *)a->masked_ids.data;
  p->masked_inverse = (int32_t *)a->masked_inverse.data;
  p->remote_count = (int32_t *)a->remote_count.data;
  p->ld_logits = lg->strides[0];
  p->sorted_len = a->sorted_ids.data ? a->sorted_ids.shape[0] : (a->sorted_experts.data ? a->sorted_experts.shape[0] : 0);
  if (a->sorted_ids.data && a->sorted_experts.data && a->sorted_experts.shape[0] != a->sorted_ids.shape[0])
    return mk__fail(MK_ERR_SHAPE, "%s: sorted_experts: length %lld differs from sorted_ids' %lld", fn,
                    (long long)a->sorted_experts.shape[0], (long long)a->sorted_ids.shape[0]);
  p->blocks_len = a->block_experts.data ? a->block_experts.shape[0] : 0;
  p->max_m = a->masked_ids.data ? a->masked_ids.shape[1] : 0;
  p->m = (int32_t)m;
  p->experts = e;
  p->top_k = k;
  p->dtype = (int32_t)lg->dtype;
  p->renormalize = a->renormalize != 0;
  p->n_group = a->n_group;
  p->topk_group = a->topk_group;
  p->scale = a->routed_scaling_factor;
  p->expert_start = a->expert_start;
  p->expert_end = a->expert_end;
  p->block_m = a->block_m;
  p->threads = pl->threads;
  p->topk_ctas = pl->topk_ctas;
  p->fused_smem = pl->fused_smem;
  p->topk_smem = pl->topk_smem;
  p->chunk_tokens = pl->chunk_tokens;
  p->num_chunks = pl->num_chunks;
  p->scan_ctas = pl->scan_ctas;
  p->count_smem = pl->count_smem;
  p->scan_smem = pl->scan_smem;
  p->scatter_smem = pl->scatter_smem;
  p->ws_sid = pl->ws_sid;
  p->ws_chunks = pl->ws_chunks;
  p->ws_totals = pl->ws_totals;
  return MK_OK;
}

mk_status mk_route_pick_path(const mk_route_args *args, mk_route_path *path) {
  static const char fn[] = "mk_route_pick_path";
  mk_route_args a;
  mk__route_params p;
  mk__route_plan pl;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if (path == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: path is NULL", fn);
  if ((st = mk__route_prepare(fn, &a, &p, &pl)) != MK_OK) return st;
  *path = (mk_route_path)p.path;
  mk__clear_error();
  return MK_OK;
}

mk_status mk_route_workspace_size(const mk_route_args *args, size_t *bytes) {
  static const char fn[] = "mk_route_workspace_size";
  mk_route_args a;
  mk__route_params p;
  mk__route_plan pl;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if (bytes == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: bytes is NULL", fn);
  if ((st = mk__route_prepare(fn, &a, &p, &pl)) != MK_OK) return st;
  *bytes = (size_t)pl.ws_bytes; /* enough for both paths */
  mk__clear_error();
  return MK_OK;
}

mk_status mk_route(const mk_route_args *args, void *workspace, size_t workspace_bytes, void *stream) {
  static const char fn[] = "mk_route";
  mk_route_args a;
  mk__route_params p;
  mk__route_plan pl;
  const mk__entry *entry = NULL;
  char what[96];
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__route_prepare(fn, &a, &p, &pl)) != MK_OK) return st;
  if (workspace == NULL)
    return mk__fail(MK_ERR_WORKSPACE, "%s: workspace is NULL; mk_route_workspace_size() gives %lld bytes", fn,
                    (long long)pl.ws_bytes);
  if ((uintptr_t)workspace % 16 != 0)
    return mk__fail(MK_ERR_WORKSPACE, "%s: workspace %p is not 16-byte aligned", fn, workspace);
  if ((int64_t)workspace_bytes < pl.ws_bytes)
    return mk__fail(MK_ERR_WORKSPACE, "%s: workspace_bytes = %zu, mk_route_workspace_size() gives %lld", fn,
                    workspace_bytes, (long long)pl.ws_bytes);
  snprintf(what, sizeof what, "%s routing of E=%d experts, top_k=%d", mk__route_kind_name(a.kind), p.experts, p.top_k);
  if ((st = mk__select(fn, MK_OP_ROUTE, (uint32_t)a.kind, 0, 0, p.experts, p.top_k, what, &entry)) != MK_OK) return st;
  p.workspace = workspace;
  p.pdl = mk__pdl_mode & MK__PDL_LAUNCH;
  return mk__launch(fn, entry, &p, stream);
}

#endif /* MOEKIT_API_IMPL_ROUTE_H */
