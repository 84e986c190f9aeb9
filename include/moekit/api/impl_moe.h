/* moekit/api/impl_moe.h - argument checks and dispatch of the MoE glue entry
 * points (mk_moe_dispatch, mk_moe_swiglu, mk_moe_combine).
 */
#ifndef MOEKIT_API_IMPL_MOE_H
#define MOEKIT_API_IMPL_MOE_H

#include "moekit/api/impl_core.h"

/* ---- expert-side tensors ------------------------------------------------------------- */
typedef struct mk__rows {
  int64_t rows, ld, groups, max_m;
} mk__rows;

/* CONTIGUOUS: [R, cols]; MASKED: [G, max_m, cols] whose rows are evenly spaced
 * (strides {max_m * ld, ld, 1}). Unit column stride, ld >= cols and a multiple
 * of row_align elements. If `want` has rows, the shape must match it. */
static mk_status mk__check_rows(const char *fn, const char *name, const mk_tensor *t, mk_dtype dtype,
                                mk_moe_layout layout, int64_t cols, int64_t row_align, const mk__rows *want,
                                mk__rows *out) {
  const int nd = layout == MK_MOE_MASKED ? 3 : 2;
  mk_status st;
  if ((st = mk__check_tensor(fn, name, t, dtype, nd, 16)) != MK_OK) return st;
  if (t->shape[nd - 1] != cols)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: last dimension is %lld, expected %lld", fn, name,
                    (long long)t->shape[nd - 1], (long long)cols);
  if (t->strides[nd - 1] != 1 || t->strides[nd - 2] < cols || t->strides[nd - 2] % row_align != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: row stride %lld must be >= %lld and a multiple of %lld, column stride 1", fn,
                    name, (long long)t->strides[nd - 2], (long long)cols, (long long)row_align);
  out->ld = t->strides[nd - 2];
  if (nd == 3) {
    if (t->strides[0] != t->shape[1] * t->strides[1])
      return mk__fail(MK_ERR_SHAPE, "%s: %s: group stride %lld must be max_m * row stride = %lld (rows evenly spaced)",
                      fn, name, (long long)t->strides[0], (long long)(t->shape[1] * t->strides[1]));
    out->groups = t->shape[0];
    out->max_m = t->shape[1];
  } else {
    out->groups = 1;
    out->max_m = t->shape[0];
  }
  out->rows = out->groups * out->max_m;
  if (want && want->rows && (want->groups != out->groups || want->max_m != out->max_m))
    return mk__fail(MK_ERR_SHAPE, "%s: %s: has %lld x %lld rows, expected %lld x %lld like the other expert tensors", fn,
                    name, (long long)out->groups, (long long)out->max_m, (long long)want->groups,
                    (long long)want->max_m);
  return MK_OK;
}

/* FP8 1x128 scales for `r` rows of `kb` k-groups (see moekit.h): fills
 * ld_sf / rows_per_group / sf_group_stride. */
static mk_status mk__check_fp8_row_scales(const char *fn, const mk_tensor *sf, mk_moe_layout layout, const mk__rows *r,
                                          int64_t kb, int64_t *ld, int64_t *rows_per_group, int64_t *group_stride) {
  const int nd = layout == MK_MOE_MASKED ? 3 : 2;
  mk_status st;
  if ((st = mk__check_tensor(fn, "scales", sf, MK_DTYPE_F32, nd, 16)) != MK_OK) return st;
  if ((nd == 3 && (sf->shape[0] != r->groups || sf->shape[1] != r->max_m || sf->shape[2] != kb)) ||
      (nd == 2 && (sf->shape[0] != r->rows || sf->shape[1] != kb)))
    return mk__fail(MK_ERR_SHAPE, "%s: scales: shape must be %s with K/128 = %lld k-groups", fn,
                    nd == 3 ? "[G, max_m, K/128] like q" : "[R, K/128] like q", (long long)kb);
  *ld = sf->strides[nd - 1];
  if (sf->strides[nd - 2] != 1 || *ld < r->max_m || *ld % 4 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: scales: must be MN-major (row stride 1) with k-group stride >= %lld and a "
                    "multiple of 4 (TMA-aligned), got strides row %lld, k-group %lld", fn, (long long)r->max_m,
                    (long long)sf->strides[nd - 2], (long long)*ld);
  *rows_per_group = r->max_m;
  *group_stride = 0;
  if (nd == 3) {
    *group_stride = sf->strides[0];
    if (*group_stride < kb * *ld || *group_stride % 4 != 0)
      return mk__fail(MK_ERR_SHAPE, "%s: scales: group stride %lld must be >= K/128 * ld = %lld and a multiple of 4", fn,
                      (long long)*group_stride, (long long)(kb * *ld));
  }
  return MK_OK;
}

static mk_status mk__check_pairs(const char *fn, const char *name, const mk_tensor *t, mk_dtype dtype, int64_t m,
                                 int32_t *top_k) {
  mk_status st;
  if ((st = mk__check_tensor(fn, name, t, dtype, 2, 4)) != MK_OK) return st;
  if (m >= 0 && t->shape[0] != m)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: has %lld rows, expected M = %lld", fn, name, (long long)t->shape[0],
                    (long long)m);
  if (t->shape[1] > 32) return mk__fail(MK_ERR_SHAPE, "%s: %s: top_k = %lld exceeds 32", fn, name, (long long)t->shape[1]);
  if (*top_k && t->shape[1] != *top_k)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: top_k = %lld, expected %d", fn, name, (long long)t->shape[1], (int)*top_k);
  if (t->strides[1] != 1 || t->strides[0] != t->shape[1])
    return mk__fail(MK_ERR_SHAPE, "%s: %s: must be contiguous [M, top_k]", fn, name);
  *top_k = (int32_t)t->shape[1];
  return MK_OK;
}

static mk_status mk__check_layout(const char *fn, mk_moe_layout layout) {
  if (layout != MK_MOE_CONTIGUOUS && layout != MK_MOE_MASKED)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: layout %d is not an mk_moe_layout", fn, (int)layout);
  return MK_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */
mk_status mk_moe_dispatch_workspace_size(const mk_moe_dispatch_args *a, size_t *bytes) {
  return mk__no_workspace("mk_moe_dispatch_workspace_size", a, bytes);
}

mk_status mk_moe_dispatch(const mk_moe_dispatch_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_moe_dispatch";
  mk_moe_dispatch_args a;
  mk__dispatch_params p;
  mk__rows r = {0, 0, 0, 0};
  const mk__entry *e = NULL;
  int64_t m, k;
  int32_t top_k = 0;
  int mx;
  char what[64];
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__check_layout(fn, a.layout)) != MK_OK) return st;
  mx = a.q.dtype == MK_DTYPE_E2M1X2;
  if ((st = mk__check_quant_input(fn, &a.x, mx ? 32 : 128)) != MK_OK) return st;
  m = a.x.shape[0];
  k = a.x.shape[1];
  if ((st = mk__check_pairs(fn, "inverse", &a.inverse, MK_DTYPE_I32, m, &top_k)) != MK_OK) return st;
  if ((st = mk__check_rows(fn, "q", &a.q, mx ? MK_DTYPE_E2M1X2 : MK_DTYPE_E4M3, a.layout, mx ? k / 2 : k, 16, NULL,
                           &r)) != MK_OK)
    return st;
  memset(&p, 0, sizeof p);
  if (mx) {
    mk__rows rs;
    if ((st = mk__check_rows(fn, "scales", &a.scales, MK_DTYPE_UE8M0, a.layout, k / 32, 1, &r, &rs)) != MK_OK)
      return st;
    p.ld_sf = rs.ld;
  } else if ((st = mk__check_fp8_row_scales(fn, &a.scales, a.layout, &r, k / 128, &p.ld_sf, &p.rows_per_group,
                                            &p.sf_group_stride)) != MK_OK) {
    return st;
  }
  if ((a.topk_weights.data == NULL) != (a.row_weights.data == NULL))
    return mk__fail(MK_ERR_INVALID_ARG, "%s: topk_weights and row_weights go together (both or neither)", fn);
  if (a.topk_weights.data) {
    mk__rows rw;
    const mk_tensor *w = &a.row_weights;
    if ((st = mk__check_pairs(fn, "topk_weights", &a.topk_weights, MK_DTYPE_F32, m, &top_k)) != MK_OK) return st;
    if ((st = mk__check_tensor(fn, "row_weights", w, MK_DTYPE_F32, a.layout == MK_MOE_MASKED ? 2 : 1, 4)) != MK_OK)
      return st;
    rw.rows = w->ndim == 2 ? w->shape[0] * w->shape[1] : w->shape[0];
    if (rw.rows != r.rows || w->strides[w->ndim - 1] != 1 || (w->ndim == 2 && w->strides[0] != w->shape[1]))
      return mk__fail(MK_ERR_SHAPE, "%s: row_weights: must be contiguous with one entry per row of q (%lld)", fn,
                      (long long)r.rows);
  }
  if ((a.sorted_ids.data == NULL) != (a.expert_offsets.data == NULL))
    return mk__fail(MK_ERR_INVALID_ARG, "%s: sorted_ids and expert_offsets go together (both or neither)", fn);
  if (a.sorted_ids.data) {
    if (a.layout != MK_MOE_CONTIGUOUS)
      return mk__fail(MK_ERR_INVALID_ARG, "%s: sorted_ids: padding rows exist in the CONTIGUOUS layout only", fn);
    if ((st = mk__check_tensor(fn, "sorted_ids", &a.sorted_ids, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
    if ((st = mk__check_tensor(fn, "expert_offsets", &a.expert_offsets, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
    if (a.sorted_ids.shape[0] < r.rows || a.sorted_ids.strides[0] != 1 || a.expert_offsets.strides[0] != 1)
      return mk__fail(MK_ERR_SHAPE, "%s: sorted_ids: needs >= %lld contiguous entries (one per row of q)", fn,
                      (long long)r.rows);
  }
  snprintf(what, sizeof what, "K=%lld (%s)", (long long)k, mx ? "mxfp4" : "fp8_1x128");
  if ((st = mk__select(fn, MK_OP_MOE_DISPATCH, mx ? MK__VARIANT_DISPATCH_MXFP4 : 0u, 0, k, 0, 0, what, &e)) != MK_OK)
    return st;
  p.x = a.x.data;
  p.ldx = a.x.strides[0];
  p.inverse = (const int32_t *)a.inverse.data;
  p.topk_weights = (const float *)a.topk_weights.data;
  p.q = a.q.data;
  p.ldq = r.ld;
  p.sf = a.scales.data;
  if (mx) {
    p.rows_per_group = r.rows;
    p.sf_group_stride = 0;
  }
  p.row_weights = (float *)a.row_weights.data;
  p.sorted_ids = (const int32_t *)a.sorted_ids.data;
  p.total_rows = a.expert_offsets.data ? (const int32_t *)a.expert_offsets.data + (a.expert_offsets.shape[0] - 1) : NULL;
  p.capacity = r.rows;
  p.m = m;
  p.top_k = top_k;
  p.pdl = mk__pdl_mode & MK__PDL_LAUNCH;
  return mk__launch(fn, e, &p, stream);
}

/* ---- swiglu ---------------------------------------------------------------------------------- */
mk_status mk_moe_swiglu_workspace_size(const mk_moe_swiglu_args *a, size_t *bytes) {
  return mk__no_workspace("mk_moe_swiglu_workspace_size", a, bytes);
}

mk_status mk_moe_swiglu(const mk_moe_swiglu_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_moe_swiglu";
  mk_moe_swiglu_args a;
  mk__swiglu_params p;
  mk__rows rh, rq;
  const mk__entry *e = NULL;
  int64_t inter;
  uint32_t variant;
  char what[64];
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__check_layout(fn, a.layout)) != MK_OK) return st;
  {
    const int nd = a.layout == MK_MOE_MASKED ? 3 : 2;
    if ((st = mk__check_tensor(fn, "h", &a.h, MK_DTYPE_BF16, nd, 16)) != MK_OK) return st;
    if (a.h.shape[nd - 1] % 256 != 0)
      return mk__fail(MK_ERR_SHAPE, "%s: h: last dimension %lld must be 2 * I with I a multiple of 128", fn,
                      (long long)a.h.shape[nd - 1]);
    inter = a.h.shape[nd - 1] / 2;
  }
  if ((st = mk__check_rows(fn, "h", &a.h, MK_DTYPE_BF16, a.layout, 2 * inter, 8, NULL, &rh)) != MK_OK) return st;
  if ((st = mk__check_rows(fn, "q", &a.q, MK_DTYPE_E4M3, a.layout, inter, 16, &rh, &rq)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  if ((st = mk__check_fp8_row_scales(fn, &a.scales, a.layout, &rq, inter / 128, &p.ld_sf, &p.rows_per_group,
                                     &p.sf_group_stride)) != MK_OK)
    return st;
  if (a.layout == MK_MOE_MASKED) {
    if ((st = mk__check_tensor(fn, "masked_m", &a.masked_m, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
    if (a.masked_m.shape[0] != rq.groups || a.masked_m.strides[0] != 1)
      return mk__fail(MK_ERR_SHAPE, "%s: masked_m: needs one contiguous entry per group (%lld)", fn, (long long)rq.groups);
  } else if (a.row_experts.data) {
    if ((st = mk__check_tensor(fn, "row_experts", &a.row_experts, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
    if (a.row_experts.shape[0] < rq.rows || a.row_experts.strides[0] != 1)
      return mk__fail(MK_ERR_SHAPE, "%s: row_experts: needs >= %lld contiguous entries (one per row)", fn,
                      (long long)rq.rows);
  }
  if (a.clamped && !(a.alpha > 0.0f && a.limit > 0.0f))
    return mk__fail(MK_ERR_INVALID_ARG, "%s: clamped: alpha (%g) and limit (%g) must be > 0", fn, (double)a.alpha,
                    (double)a.limit);
  if (a.rows.data) { /* a row list: i32, any shape, contiguous (row-major) */
    int64_t step = 1;
    int i;
    if (a.rows.ndim < 1 || a.rows.ndim > 4)
      return mk__fail(MK_ERR_SHAPE, "%s: rows: ndim is %d, expected 1 to 4", fn, (int)a.rows.ndim);
    if ((st = mk__check_tensor(fn, "rows", &a.rows, MK_DTYPE_I32, a.rows.ndim, 4)) != MK_OK) return st;
    for (i = a.rows.ndim - 1; i >= 0; --i) {
      if (a.rows.strides[i] != step)
        return mk__fail(MK_ERR_SHAPE, "%s: rows: stride %d is %lld, expected %lld (contiguous)", fn, i,
                        (long long)a.rows.strides[i], (long long)step);
      step *= a.rows.shape[i];
    }
    p.row_list = (const int32_t *)a.rows.data;
    p.n_list = step;
  }
  variant = (a.clamped ? MK__VARIANT_SWIGLU_CLAMPED : 0u) | (a.interleaved ? MK__VARIANT_SWIGLU_INTERLEAVED : 0u);
  snprintf(what, sizeof what, "I=%lld (%s%s)", (long long)inter, a.clamped ? "clamped" : "swiglu",
           a.interleaved ? ", interleaved" : "");
  if ((st = mk__select(fn, MK_OP_MOE_SWIGLU, variant, 0, inter, 0, 0, what, &e)) != MK_OK) return st;
  p.h = a.h.data;
  p.ldh = rh.ld;
  p.q = a.q.data;
  p.ldq = rq.ld;
  p.sf = (float *)a.scales.data;
  p.row_expert = a.layout == MK_MOE_CONTIGUOUS ? (const int32_t *)a.row_experts.data : NULL;
  p.masked_m = a.layout == MK_MOE_MASKED ? (const int32_t *)a.masked_m.data : NULL;
  p.rows = rq.rows;
  p.alpha = a.alpha;
  p.limit = a.limit;
  p.pdl = mk__pdl_mode & MK__PDL_LAUNCH;
  return mk__launch(fn, e, &p, stream);
}

/* ---- combine ---------------------------------------------------------------------------------- */
mk_status mk_moe_combine_workspace_size(const mk_moe_combine_args *a, size_t *bytes) {
  return mk__no_workspace("mk_moe_combine_workspace_size", a, bytes);
}

mk_status mk_moe_combine(const mk_moe_combine_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_moe_combine";
  mk_moe_combine_args a;
  mk__combine_params p;
  mk__rows rs;
  const mk__entry *e = NULL;
  int64_t m, hidden;
  int32_t top_k = 0;
  char what[48];
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "y", &a.y, MK_DTYPE_BF16, 2, 16)) != MK_OK) return st;
  m = a.y.shape[0];
  hidden = a.y.shape[1];
  if (a.y.strides[1] != 1 || a.y.strides[0] < hidden || a.y.strides[0] % 8 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: y: row stride %lld must be >= %lld and a multiple of 8, column stride 1", fn,
                    (long long)a.y.strides[0], (long long)hidden);
  if (a.src.ndim != 2 && a.src.ndim != 3)
    return mk__fail(MK_ERR_SHAPE, "%s: src: ndim is %d, expected 2 ([R, H]) or 3 ([G, max_m, H])", fn, (int)a.src.ndim);
  if ((st = mk__check_rows(fn, "src", &a.src, MK_DTYPE_BF16, a.src.ndim == 3 ? MK_MOE_MASKED : MK_MOE_CONTIGUOUS,
                           hidden, 8, NULL, &rs)) != MK_OK)
    return st;
  if ((st = mk__check_pairs(fn, "inverse", &a.inverse, MK_DTYPE_I32, m, &top_k)) != MK_OK) return st;
  if ((st = mk__check_pairs(fn, "weights", &a.weights, MK_DTYPE_F32, m, &top_k)) != MK_OK) return st;
  snprintf(what, sizeof what, "H=%lld", (long long)hidden);
  if ((st = mk__select(fn, MK_OP_MOE_COMBINE, 0u, 0, hidden, 0, 0, what, &e)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  p.src = a.src.data;
  p.lds = rs.ld;
  p.inverse = (const int32_t *)a.inverse.data;
  p.weights = (const float *)a.weights.data;
  p.y = a.y.data;
  p.ldy = a.y.strides[0];
  p.m = m;
  p.top_k = top_k;
  p.accumulate = a.accumulate != 0;
  p.pdl = mk__pdl_mode & MK__PDL_LAUNCH;
  return mk__launch(fn, e, &p, stream);
}

#endif /* MOEKIT_API_IMPL_MOE_H */
