/* test_api_layer.c - argument validation of mk_moe_layer_forward and its helpers (tests/host/test_api.py runs it). */
#include "api_harness.h"

/* ---- the whole layer ---------------------------------------------------------------------- */
#define LE MOEKIT_MODEL_EXPERTS
#define LH MOEKIT_MODEL_HIDDEN
#define LI MOEKIT_MODEL_MOE_INTERMEDIATE

static void test_layer(void) {
  const int m = 8;
  void *x = buf((size_t)m * LH * 2), *y = buf((size_t)m * LH * 2), *logits = buf((size_t)m * LE * 4);
  void *w13 = buf((size_t)LE * 2 * LI * LH), *w2 = buf((size_t)LE * LH * LI);
  void *s13 = buf((size_t)LE * (2 * LI / 128) * (LH / 128) * 4), *s2 = buf((size_t)LE * (LH / 128) * (LI / 128) * 4);
  mk_moe_layer_args a, b;
  mk_moe_layer_path path;
  size_t bytes = 0;
  void *ws = NULL;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = (mk_route_kind)MOEKIT_MODEL_ROUTING_KIND;
  a.top_k = MOEKIT_MODEL_TOP_K;
  a.renormalize = MOEKIT_MODEL_RENORMALIZE;
  a.n_group = MOEKIT_MODEL_N_GROUP;
  a.topk_group = MOEKIT_MODEL_TOPK_GROUP;
  a.logits = mk_tensor_2d(logits, MK_DTYPE_F32, m, LE);
  a.x = mk_tensor_2d(x, MK_DTYPE_BF16, m, LH);
  a.w13 = mk_tensor_3d(w13, MK_DTYPE_E4M3, LE, 2 * LI, LH);
  a.w13_scales = mk_tensor_3d(s13, MK_DTYPE_F32, LE, 2 * LI / 128, LH / 128);
  a.w2 = mk_tensor_3d(w2, MK_DTYPE_E4M3, LE, LH, LI);
  a.w2_scales = mk_tensor_3d(s2, MK_DTYPE_F32, LE, LH / 128, LI / 128);
  a.y = mk_tensor_2d(y, MK_DTYPE_BF16, m, LH);
  expect("layer_null_args", mk_moe_layer_forward(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
  b = a;
  b.w13.shape[2] = LH / 2;
  expect("layer_w13_shape", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_SHAPE, "w13: shape");
  b = a;
  b.w2.shape[2] = LI + 128;
  expect("layer_w2_shape", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_SHAPE, "w2: shape");
  b = a;
  b.y.shape[0] = m + 1;
  expect("layer_y_shape", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_SHAPE, "y: shape");
  b = a;
  b.logits.shape[1] = LE - 1;
  expect("layer_logits_shape", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_SHAPE, "logits: must be [M, E]");
  b = a;
  b.top_k = 0;
  expect("layer_top_k", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "top_k = 0");
  b = a;
  b.path = (mk_moe_layer_path)9;
  expect("layer_bad_path", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "path 9");
  b = a;
  b.pdl = 3;
  expect("layer_bad_pdl", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "pdl 3");
  b.pdl = -1;
  expect("layer_bad_pdl_negative", mk_moe_layer_workspace_size(&b, &bytes), MK_ERR_INVALID_ARG, "pdl -1");
  b = a;
  b.x.dtype = MK_DTYPE_F16;
  expect("layer_x_dtype", mk_moe_layer_forward(&b, NULL, 0, NULL), MK_ERR_DTYPE, "x: dtype is f16");
  report("layer_workspace_size", mk_moe_layer_workspace_size(&a, &bytes) == MK_OK && bytes > 0, mk_last_error());
  expect("layer_workspace_too_small", mk_moe_layer_forward(&a, x, 64, NULL), MK_ERR_WORKSPACE, "needs");
  report("layer_path_decode_masked", mk_moe_layer_pick_path(&a, &path) == MK_OK && path == MK_MOE_LAYER_MASKED,
         "M = 8 should take the masked layout");
  b = a;
  b.path = MK_MOE_LAYER_CONTIGUOUS;
  report("layer_path_forced", mk_moe_layer_pick_path(&b, &path) == MK_OK && path == MK_MOE_LAYER_CONTIGUOUS,
         "a forced path must be kept");
  if (have_gpu) {
    if (cudaMalloc(&ws, bytes) != cudaSuccess || cudaMemset(ws, 0, bytes) != cudaSuccess) abort();
  } else {
    ws = aligned_alloc(256, (bytes + 255) / 256 * 256);
    memset(ws, 0, bytes);
  }
  expect_valid("layer_valid", mk_moe_layer_forward(&a, ws, bytes, NULL));
}

int main(void) {
  static void (*const tests[])(void) = {test_layer};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
