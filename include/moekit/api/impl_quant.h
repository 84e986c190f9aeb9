/* moekit/api/impl_quant.h - argument checks and dispatch of the
 * activation-quantization entry points (mk_quant_fp8/mxfp4/nvfp4).
 */
#ifndef MOEKIT_API_IMPL_QUANT_H
#define MOEKIT_API_IMPL_QUANT_H

#include "moekit/api/impl_core.h"

/* ---- shared checks -------------------------------------------------------------- */
/* x: bf16 [M, K] with unit column stride and 16-byte aligned rows. */
static mk_status mk__check_quant_input(const char *fn, const mk_tensor *x, int64_t group) {
  mk_status st;
  if ((st = mk__check_tensor(fn, "x", x, MK_DTYPE_BF16, 2, 16)) != MK_OK) return st;
  if (x->strides[1] != 1) return mk__fail(MK_ERR_SHAPE, "%s: x: column stride is %lld, must be 1", fn, (long long)x->strides[1]);
  if (x->shape[1] % group != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: x: K = %lld is not a multiple of the group size %lld", fn,
                    (long long)x->shape[1], (long long)group);
  if (x->strides[0] < x->shape[1] || x->strides[0] % 8 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: x: row stride %lld must be >= K and a multiple of 8 (16 bytes)", fn,
                    (long long)x->strides[0]);
  return MK_OK;
}

/* q: [M, cols] rows of packed codes, unit column stride, row stride a multiple of row_align bytes. */
static mk_status mk__check_quant_output(const char *fn, const mk_tensor *q, mk_dtype dtype, int64_t m, int64_t cols,
                                        int64_t row_align) {
  mk_status st;
  if ((st = mk__check_tensor(fn, "q", q, dtype, 2, 16)) != MK_OK) return st;
  if (q->shape[0] != m || q->shape[1] != cols)
    return mk__fail(MK_ERR_SHAPE, "%s: q: shape is [%lld, %lld], expected [%lld, %lld]", fn, (long long)q->shape[0],
                    (long long)q->shape[1], (long long)m, (long long)cols);
  if (q->strides[1] != 1 || q->strides[0] < cols || q->strides[0] % row_align != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: q: strides {%lld, %lld} must be {ld, 1} with ld >= %lld and ld %% %lld == 0",
                    fn, (long long)q->strides[0], (long long)q->strides[1], (long long)cols, (long long)row_align);
  return MK_OK;
}

/* FP4 scales: row-major [M, K/G] or the swizzled 128x4 layout (1-D). */
static mk_status mk__check_fp4_scales(const char *fn, const mk_tensor *sf, mk_dtype dtype, mk_sf_layout layout,
                                      int64_t m, int64_t groups) {
  mk_status st;
  if (layout == MK_SF_ROW_MAJOR) {
    if ((st = mk__check_tensor(fn, "scales", sf, dtype, 2, 1)) != MK_OK) return st;
    if (sf->shape[0] != m || sf->shape[1] != groups)
      return mk__fail(MK_ERR_SHAPE, "%s: scales: shape is [%lld, %lld], expected [%lld, %lld]", fn,
                      (long long)sf->shape[0], (long long)sf->shape[1], (long long)m, (long long)groups);
    if (sf->strides[1] != 1 || sf->strides[0] < groups)
      return mk__fail(MK_ERR_SHAPE, "%s: scales: strides {%lld, %lld} must be {ld, 1} with ld >= %lld", fn,
                      (long long)sf->strides[0], (long long)sf->strides[1], (long long)groups);
    return MK_OK;
  }
  if (layout == MK_SF_SWIZZLED_128X4) {
    const int64_t need = (m + 127) / 128 * 128 * ((groups + 3) / 4 * 4);
    if ((st = mk__check_tensor(fn, "scales", sf, dtype, 1, 16)) != MK_OK) return st;
    if (sf->shape[0] != need || sf->strides[0] != 1)
      return mk__fail(MK_ERR_SHAPE, "%s: scales: swizzled 128x4 layout needs a contiguous 1-D tensor of %lld bytes, got %lld",
                      fn, (long long)need, (long long)sf->shape[0]);
    return MK_OK;
  }
  return mk__fail(MK_ERR_INVALID_ARG, "%s: sf_layout %d is not an mk_sf_layout", fn, (int)layout);
}

/* ---- FP8 1x128 ----------------------------------------------------------------------- */
mk_status mk_quant_fp8_workspace_size(const mk_quant_fp8_args *a, size_t *bytes) {
  return mk__no_workspace("mk_quant_fp8_workspace_size", a, bytes);
}

mk_status mk_quant_fp8(const mk_quant_fp8_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_quant_fp8";
  mk_quant_fp8_args local;
  const mk_quant_fp8_args *a = &local;
  const mk__entry *e = NULL;
  mk__quant_params p;
  int64_t m, k, kb, sf_cols;
  uint32_t variant;
  char what[64];
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &local, sizeof local, args)) != MK_OK) return st;
  if ((st = mk__check_quant_input(fn, &a->x, 128)) != MK_OK) return st;
  m = a->x.shape[0];
  k = a->x.shape[1];
  kb = k / 128;
  if ((st = mk__check_quant_output(fn, &a->q, MK_DTYPE_E4M3, m, k, 16)) != MK_OK) return st;
  if (a->scales.dtype != MK_DTYPE_F32 && a->scales.dtype != MK_DTYPE_UE8M0X4)
    return mk__fail(MK_ERR_DTYPE, "%s: scales: dtype is %s, expected f32 (sm90 layout) or ue8m0x4 (sm100 layout)", fn,
                    mk_dtype_name(a->scales.dtype));
  variant = a->scales.dtype == MK_DTYPE_UE8M0X4 ? MK__VARIANT_SF_UE8M0 : 0u;
  sf_cols = variant ? (kb + 3) / 4 : kb;
  if ((st = mk__check_tensor(fn, "scales", &a->scales, a->scales.dtype, 2, 16)) != MK_OK) return st;
  if (a->scales.shape[0] != m || a->scales.shape[1] != sf_cols)
    return mk__fail(MK_ERR_SHAPE, "%s: scales: shape is [%lld, %lld], expected [%lld, %lld]", fn,
                    (long long)a->scales.shape[0], (long long)a->scales.shape[1], (long long)m, (long long)sf_cols);
  if (a->scales.strides[0] != 1 || a->scales.strides[1] < m || a->scales.strides[1] % 4 != 0)
    return mk__fail(MK_ERR_SHAPE,
                    "%s: scales: strides {%lld, %lld} must be MN-major {1, ld} with ld >= M and ld %% 4 == 0 (TMA-aligned)",
                    fn, (long long)a->scales.strides[0], (long long)a->scales.strides[1]);
  snprintf(what, sizeof what, "K=%lld with %s scales", (long long)k, mk_dtype_name(a->scales.dtype));
  if ((st = mk__select(fn, MK_OP_QUANT_FP8, variant, 0, k, 0, 0, what, &e)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  p.x = a->x.data;
  p.ldx = a->x.strides[0];
  p.q = a->q.data;
  p.ldq = a->q.strides[0];
  p.sf = a->scales.data;
  p.ldsf = a->scales.strides[1];
  p.m = m;
  return mk__launch(fn, e, &p, stream);
}

/* ---- MXFP4 and NVFP4 ----------------------------------------------------------------- */
static mk_status mk__quant_fp4(const char *fn, mk_op op, int64_t group, mk_dtype sf_dtype, const mk_tensor *x,
                               const mk_tensor *q, const mk_tensor *sf, mk_sf_layout layout, const float *global_scale,
                               void *stream) {
  const mk__entry *e = NULL;
  mk__quant_params p;
  int64_t m, k;
  char what[48];
  mk_status st;
  if ((st = mk__check_quant_input(fn, x, group)) != MK_OK) return st;
  m = x->shape[0];
  k = x->shape[1];
  if ((st = mk__check_quant_output(fn, q, MK_DTYPE_E2M1X2, m, k / 2, 4)) != MK_OK) return st;
  if ((st = mk__check_fp4_scales(fn, sf, sf_dtype, layout, m, k / group)) != MK_OK) return st;
  snprintf(what, sizeof what, "K=%lld", (long long)k);
  if ((st = mk__select(fn, op, 0u, 0, k, 0, 0, what, &e)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  p.x = x->data;
  p.ldx = x->strides[0];
  p.q = q->data;
  p.ldq = q->strides[0];
  p.sf = sf->data;
  p.ldsf = layout == MK_SF_ROW_MAJOR ? sf->strides[0] : 0;
  p.global_scale = global_scale;
  p.m = m;
  p.sf_layout = (int32_t)layout;
  return mk__launch(fn, e, &p, stream);
}

mk_status mk_quant_mxfp4_workspace_size(const mk_quant_mxfp4_args *a, size_t *bytes) {
  return mk__no_workspace("mk_quant_mxfp4_workspace_size", a, bytes);
}

mk_status mk_quant_mxfp4(const mk_quant_mxfp4_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_quant_mxfp4";
  mk_quant_mxfp4_args a;
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  return mk__quant_fp4(fn, MK_OP_QUANT_MXFP4, 32, MK_DTYPE_UE8M0, &a.x, &a.q, &a.scales, a.sf_layout, NULL, stream);
}

mk_status mk_quant_nvfp4_workspace_size(const mk_quant_nvfp4_args *a, size_t *bytes) {
  return mk__no_workspace("mk_quant_nvfp4_workspace_size", a, bytes);
}

mk_status mk_quant_nvfp4(const mk_quant_nvfp4_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_quant_nvfp4";
  mk_quant_nvfp4_args a;
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "global_scale", &a.global_scale, MK_DTYPE_F32, 1, 4)) != MK_OK) return st;
  if (a.global_scale.shape[0] != 1)
    return mk__fail(MK_ERR_SHAPE, "%s: global_scale: shape is [%lld], expected [1]", fn,
                    (long long)a.global_scale.shape[0]);
  return mk__quant_fp4(fn, MK_OP_QUANT_NVFP4, 16, MK_DTYPE_UE4M3, &a.x, &a.q, &a.scales, a.sf_layout,
                       (const float *)a.global_scale.data, stream);
}

#endif /* MOEKIT_API_IMPL_QUANT_H */
