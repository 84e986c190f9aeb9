/* test_api_moe.c - argument validation of mk_moe_dispatch, mk_moe_swiglu, mk_moe_combine (tests/host/test_api.py runs it). */
#include "api_harness.h"

#define M 64
#define K MOEKIT_MODEL_HIDDEN
/* ---- MoE glue ------------------------------------------------------------------------------ */
#define TOPK 4
#define ROWS (M * TOPK + 32)
#define SI MOEKIT_MODEL_MOE_INTERMEDIATE

static void test_moe(void) {
  void *x = buf((size_t)M * K * 2), *q = buf((size_t)ROWS * K), *sf = buf((size_t)ROWS * K / 128 * 4 + 64);
  void *inv = index_buf((size_t)M * TOPK * 4), *w = buf((size_t)M * TOPK * 4), *rw = buf((size_t)ROWS * 4);
  void *ids = index_buf((size_t)ROWS * 4), *offs = index_buf(64 * 4), *h = buf((size_t)ROWS * 2 * SI * 2);
  mk_moe_dispatch_args d, b;
  mk_moe_swiglu_args s, t;
  mk_moe_combine_args c, u;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.layout = MK_MOE_CONTIGUOUS;
  d.x = mk_tensor_2d(x, MK_DTYPE_BF16, M, K);
  d.inverse = mk_tensor_2d(inv, MK_DTYPE_I32, M, TOPK);
  d.q = mk_tensor_2d(q, MK_DTYPE_E4M3, ROWS, K);
  d.scales = mk_tensor_2d(sf, MK_DTYPE_F32, ROWS, K / 128);
  d.scales.strides[0] = 1;
  d.scales.strides[1] = (ROWS + 3) / 4 * 4;
  b = d;
  b.layout = (mk_moe_layout)5;
  expect("dispatch_bad_layout", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "layout 5");
  b = d;
  b.inverse.dtype = MK_DTYPE_I64;
  expect("dispatch_inverse_dtype", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_DTYPE, "inverse: dtype is i64");
  b = d;
  b.inverse.shape[0] = M + 1;
  expect("dispatch_inverse_rows", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "expected M = 64");
  b = d;
  b.inverse.shape[1] = 33;
  b.inverse.strides[0] = 33;
  expect("dispatch_top_k_over_32", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "exceeds 32");
  b = d;
  b.q.shape[1] = K / 2;
  expect("dispatch_q_columns", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "q: last dimension");
  b = d;
  b.scales.strides[0] = K / 128;
  b.scales.strides[1] = 1;
  expect("dispatch_scales_not_mn_major", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "MN-major");
  b = d;
  b.topk_weights = mk_tensor_2d(w, MK_DTYPE_F32, M, TOPK);
  expect("dispatch_weights_alone", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "both or neither");
  b.row_weights = mk_tensor_1d(rw, MK_DTYPE_F32, ROWS - 1);
  expect("dispatch_row_weights_rows", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "one entry per row");
  b = d;
  b.sorted_ids = mk_tensor_1d(ids, MK_DTYPE_I32, ROWS);
  expect("dispatch_sorted_ids_alone", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "both or neither");
  b.expert_offsets = mk_tensor_1d(offs, MK_DTYPE_I32, 9);
  b.sorted_ids.shape[0] = ROWS - 1;
  expect("dispatch_sorted_ids_short", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_SHAPE, "sorted_ids");
  b = d;
  b.q.dtype = MK_DTYPE_E2M1X2;
  b.q.shape[1] = K / 2;
  b.q.strides[0] = K / 2;
  expect("dispatch_mxfp4_scales_dtype", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_DTYPE, "scales: dtype is f32");
  b = d;
  b.x.shape[1] = b.x.strides[0] = 128 * 5;
  b.q.shape[1] = b.q.strides[0] = 128 * 5;
  b.scales.shape[1] = 5;
  expect("dispatch_unsupported_k", mk_moe_dispatch(&b, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "no instance");
  expect_served("dispatch_valid", mk_moe_dispatch(&d, NULL, 0, NULL), MK_OP_MOE_DISPATCH, K);

  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  s.layout = MK_MOE_MASKED;
  s.h = mk_tensor_3d(h, MK_DTYPE_BF16, 4, ROWS / 4, 2 * SI);
  s.q = mk_tensor_3d(q, MK_DTYPE_E4M3, 4, ROWS / 4, SI);
  s.scales = mk_tensor_3d(sf, MK_DTYPE_F32, 4, ROWS / 4, SI / 128);
  s.scales.strides[1] = 1;
  s.scales.strides[2] = (ROWS / 4 + 3) / 4 * 4;
  s.scales.strides[0] = SI / 128 * s.scales.strides[2];
  s.masked_m = mk_tensor_1d(offs, MK_DTYPE_I32, 4);
  t = s;
  t.masked_m.data = NULL;
  expect("swiglu_masked_needs_masked_m", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_INVALID_ARG, "masked_m: data is NULL");
  t = s;
  t.h.shape[2] = 700;
  expect("swiglu_h_not_2x128", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_SHAPE, "multiple of 128");
  t = s;
  t.q.shape[1] = ROWS / 4 - 1;
  t.q.strides[0] = (ROWS / 4 - 1) * SI;
  expect("swiglu_q_rows", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_SHAPE, "like the other expert tensors");
  t = s;
  t.h.strides[0] += 8;
  expect("swiglu_h_uneven_groups", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_SHAPE, "evenly spaced");
  t = s;
  t.clamped = 1;
  expect("swiglu_clamped_needs_alpha", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_INVALID_ARG, "alpha");
  t = s;
  t.scales.strides[0] = 4;
  expect("swiglu_scales_group_stride", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_SHAPE, "group stride");
  t = s;
  t.rows = mk_tensor_2d(offs, MK_DTYPE_F32, 2, 2);
  expect("swiglu_rows_dtype", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_DTYPE, "rows: dtype is f32");
  t.rows = mk_tensor_2d(offs, MK_DTYPE_I32, 2, 2);
  t.rows.strides[0] = 3;
  expect("swiglu_rows_not_contiguous", mk_moe_swiglu(&t, NULL, 0, NULL), MK_ERR_SHAPE, "rows: stride 0 is 3");
  t.rows.strides[0] = 2;
  expect_served("swiglu_valid_row_list", mk_moe_swiglu(&t, NULL, 0, NULL), MK_OP_MOE_SWIGLU, SI);
  expect_served("swiglu_valid_masked", mk_moe_swiglu(&s, NULL, 0, NULL), MK_OP_MOE_SWIGLU, SI);

  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.src = mk_tensor_2d(h, MK_DTYPE_BF16, ROWS, K);
  c.inverse = mk_tensor_2d(inv, MK_DTYPE_I32, M, TOPK);
  c.weights = mk_tensor_2d(w, MK_DTYPE_F32, M, TOPK);
  c.y = mk_tensor_2d(x, MK_DTYPE_BF16, M, K);
  u = c;
  u.src.ndim = 4;
  expect("combine_src_ndim", mk_moe_combine(&u, NULL, 0, NULL), MK_ERR_SHAPE, "src: ndim is 4");
  u = c;
  u.weights.shape[1] = TOPK + 1;
  u.weights.strides[0] = TOPK + 1;
  expect("combine_weights_top_k", mk_moe_combine(&u, NULL, 0, NULL), MK_ERR_SHAPE, "weights: top_k = 5, expected 4");
  u = c;
  u.y.data = (char *)x + 8;
  expect("combine_y_misaligned", mk_moe_combine(&u, NULL, 0, NULL), MK_ERR_INVALID_ARG, "y: data");
  u = c;
  u.src.shape[1] = K + 8;
  u.src.strides[0] = K + 8;
  expect("combine_src_hidden", mk_moe_combine(&u, NULL, 0, NULL), MK_ERR_SHAPE, "src: last dimension");
  expect_served("combine_valid", mk_moe_combine(&c, NULL, 0, NULL), MK_OP_MOE_COMBINE, K);
  expect("combine_null_args", mk_moe_combine(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
}

int main(void) {
  static void (*const tests[])(void) = {test_moe};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
