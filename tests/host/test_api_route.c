/* test_api_route.c - argument validation of mk_route (tests/host/test_api.py runs it). */
#include "api_harness.h"

/* ---- routing --------------------------------------------------------------------------- */
#define RM 64                      /* tokens */
#define RE MOEKIT_MODEL_EXPERTS
#define RK MOEKIT_MODEL_TOP_K
#define RBM 16                     /* block_m */
#define RWS (1 << 20)              /* workspace bytes, enough for every call below */

/* A valid call on the model's routing instance, every output requested. */
static mk_route_args route_args(void *lg, void *o[11]) {
  const int64_t cap = mk_route_capacity(RM, RK, RE, RBM);
  mk_route_args a;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = (mk_route_kind)MOEKIT_MODEL_ROUTING_KIND;
  a.top_k = RK;
  a.renormalize = MOEKIT_MODEL_RENORMALIZE;
  a.n_group = MOEKIT_MODEL_N_GROUP;
  a.topk_group = MOEKIT_MODEL_TOPK_GROUP;
  a.routed_scaling_factor = MOEKIT_MODEL_ROUTED_SCALING_FACTOR;
  a.block_m = RBM;
  a.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, RM, RE);
  a.topk_ids = mk_tensor_2d(o[0], MK_DTYPE_I32, RM, RK);
  a.topk_weights = mk_tensor_2d(o[1], MK_DTYPE_F32, RM, RK);
  a.sorted_ids = mk_tensor_1d(o[2], MK_DTYPE_I32, cap);
  a.sorted_experts = mk_tensor_1d(o[3], MK_DTYPE_I32, cap);
  a.block_experts = mk_tensor_1d(o[4], MK_DTYPE_I32, cap / RBM);
  a.expert_offsets = mk_tensor_1d(o[5], MK_DTYPE_I32, RE + 1);
  a.inverse = mk_tensor_2d(o[6], MK_DTYPE_I32, RM, RK);
  a.expert_counts = mk_tensor_1d(o[7], MK_DTYPE_I32, RE);
  a.masked_ids = mk_tensor_2d(o[8], MK_DTYPE_I32, RE, RM);
  a.masked_inverse = mk_tensor_2d(o[9], MK_DTYPE_I32, RM, RK);
  a.remote_count = mk_tensor_1d(o[10], MK_DTYPE_I32, 1);
  return a;
}

static void test_route(void) {
  const int64_t cap = mk_route_capacity(RM, RK, RE, RBM);
  const size_t sizes[11] = {RM * RK * 4, RM * RK * 4, (size_t)cap * 4, (size_t)cap * 4, (size_t)cap / RBM * 4,
                            (RE + 1) * 4, RM * RK * 4, RE * 4, (size_t)RE * RM * 4, RM * RK * 4, 4};
  void *lg = buf((size_t)RM * 1024 * 4), *o[11], *ws;
  size_t ws_bytes = 0;
  mk_route_args a, b;
  mk_route_path path = MK_ROUTE_PATH_AUTO;
  int i;
  for (i = 0; i < 11; ++i) o[i] = buf(sizes[i]);
  a = route_args(lg, o);

  /* helpers */
  report("route_capacity", mk_route_capacity(64, 8, 128, 16) == 64 * 8 + 128 * 15 &&
                               mk_route_capacity(1, 8, 256, 128) == 8 + 8 * 127 && mk_route_capacity(1, 8, 256, 0) == 0,
         "mk_route_capacity formula");
  report("route_workspace_size", mk_route_workspace_size(&a, &ws_bytes) == MK_OK && ws_bytes >= 256 + RM * RK * 2,
         mk_last_error());
  ws = buf(RWS);
  if (have_gpu) cudaMemset(ws, 0, RWS);
  else memset(ws, 0, RWS);
  report("route_pick_path_small_m_fused", mk_route_pick_path(&a, &path) == MK_OK && path == MK_ROUTE_PATH_FUSED,
         mk_last_error());
  b = a;
  b.path = MK_ROUTE_PATH_MULTI;
  report("route_pick_path_forced_multi", mk_route_pick_path(&b, &path) == MK_OK && path == MK_ROUTE_PATH_MULTI,
         mk_last_error());
  b = a;
  b.logits.shape[0] = 16384;
  b.topk_ids.data = b.topk_weights.data = b.inverse.data = b.masked_inverse.data = NULL;
  b.sorted_ids.data = b.sorted_experts.data = b.block_experts.data = b.masked_ids.data = NULL;
  report("route_pick_path_large_m_multi", mk_route_pick_path(&b, &path) == MK_OK && path == MK_ROUTE_PATH_MULTI,
         mk_last_error());
  b.path = MK_ROUTE_PATH_FUSED;
  expect("route_fused_too_large", mk_route_pick_path(&b, &path), MK_ERR_UNSUPPORTED, "fused path cannot hold");
  expect("route_pick_path_null", mk_route_pick_path(&a, NULL), MK_ERR_INVALID_ARG, "path is NULL");
  expect("route_workspace_size_null", mk_route_workspace_size(&a, NULL), MK_ERR_INVALID_ARG, "bytes is NULL");

  /* args struct */
  expect("route_null_args", mk_route(NULL, ws, RWS, NULL), MK_ERR_INVALID_ARG, "args is NULL");
  b = a;
  b.struct_size = 2;
  expect("route_struct_size", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "struct_size");
  b = a;
  b.kind = (mk_route_kind)9;
  expect("route_bad_kind", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "kind 9");
  b = a;
  b.path = (mk_route_path)5;
  expect("route_bad_path", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "path 5");

  /* logits */
  b = a;
  b.logits.data = NULL;
  expect("route_logits_null", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "logits: data is NULL");
  b = a;
  b.logits.dtype = MK_DTYPE_I32;
  expect("route_logits_dtype", mk_route(&b, ws, RWS, NULL), MK_ERR_DTYPE, "logits: dtype is i32");
  b = a;
  b.logits.dtype = MK_DTYPE_E4M3;
  expect("route_logits_dtype_fp8", mk_route(&b, ws, RWS, NULL), MK_ERR_DTYPE, "expected bf16, f16 or f32");
  b = a;
  b.logits.ndim = 3;
  expect("route_logits_ndim", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "logits: ndim is 3");
  b = a;
  b.logits.strides[1] = 2;
  expect("route_logits_column_stride", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "logits: strides");
  b = a;
  b.logits.strides[0] = RE - 1;
  expect("route_logits_row_stride", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "ld >= E");
  b = a;
  b.logits.data = (char *)lg + 1;
  expect("route_logits_misaligned", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "aligned");
  b = a;
  b.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, RM, 1025);
  expect("route_experts_over_1024", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "at most 1024");
  b = a;
  b.logits.shape[0] = 0;
  expect("route_logits_empty", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "logits: shape[0] = 0");

  /* values */
  b = a;
  b.top_k = 0;
  expect("route_top_k_zero", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "top_k = 0 is out of range");
  b = a;
  b.top_k = 33;
  expect("route_top_k_over_32", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "top_k = 33 is out of range");
  b = a;
  b.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, RM, 4);
  b.top_k = 6;
  expect("route_top_k_over_experts", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "exceeds the number of experts");
  b = a;
  b.block_m = 0;
  expect("route_block_m_zero", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "block_m = 0");
  b = a;
  b.block_m = 2048;
  expect("route_block_m_over_1024", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "block_m = 2048");
  b = a;
  b.block_m = -16;
  expect("route_block_m_negative", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "block_m = -16");
  b = a;
  b.kind = MK_ROUTE_SOFTMAX;
  b.n_group = 8;
  b.topk_group = 4;
  expect("route_groups_on_softmax", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "apply to sigmoid_grouped only");
  b = a;
  b.kind = MK_ROUTE_SIGMOID_GROUPED;
  b.n_group = 3; /* 3 divides no power of two */
  b.topk_group = 1;
  b.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, RM, 256);
  expect("route_n_group_not_divisor", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "n_group = 3");
  b.n_group = 64;
  expect("route_n_group_over_32", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "n_group = 64");
  b.n_group = 8;
  b.topk_group = 9;
  expect("route_topk_group_over_n_group", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "topk_group = 9");
  b.n_group = 32;
  b.topk_group = 1;
  b.top_k = 9; /* one group of 8 experts cannot hold 9 */
  expect("route_groups_too_small_for_top_k", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "cannot hold top_k");
  b = a;
  b.routed_scaling_factor = -1.0f;
  expect("route_scale_negative", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "routed_scaling_factor");
  b.routed_scaling_factor = 0.0f / 0.0f;
  expect("route_scale_nan", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "routed_scaling_factor");
  b = a;
  b.expert_start = 10;
  b.expert_end = 10;
  expect("route_ep_range_empty", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "expert_start");
  b.expert_end = RE + 1;
  expect("route_ep_range_past_e", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "expert_end");
  b.expert_start = -1;
  b.expert_end = 4;
  expect("route_ep_range_negative", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "expert_start");

  /* bias */
  b = a;
  b.kind = MK_ROUTE_SOFTMAX;
  b.n_group = b.topk_group = 1;
  b.bias = mk_tensor_1d(o[7], MK_DTYPE_F32, RE);
  expect("route_bias_on_softmax", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "only sigmoid_grouped takes a bias");
  b.kind = MK_ROUTE_SIGMOID_GROUPED;
  b.bias.dtype = MK_DTYPE_BF16;
  expect("route_bias_dtype", mk_route(&b, ws, RWS, NULL), MK_ERR_DTYPE, "bias: dtype is bf16");
  b.bias = mk_tensor_1d(o[7], MK_DTYPE_F32, RE - 1);
  expect("route_bias_shape", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "bias: shape");

  /* outputs */
  b = a;
  b.topk_ids.data = b.topk_weights.data = b.sorted_ids.data = b.sorted_experts.data = NULL;
  b.block_experts.data = b.expert_offsets.data = b.inverse.data = b.expert_counts.data = NULL;
  b.masked_ids.data = b.masked_inverse.data = b.remote_count.data = NULL;
  expect("route_no_output", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "no output requested");
  b = a;
  b.topk_ids.dtype = MK_DTYPE_I64;
  expect("route_topk_ids_dtype", mk_route(&b, ws, RWS, NULL), MK_ERR_DTYPE, "topk_ids: dtype is i64");
  b = a;
  b.topk_ids.shape[1] = RK + 1;
  expect("route_topk_ids_shape", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "topk_ids: shape");
  b = a;
  b.topk_weights.dtype = MK_DTYPE_BF16;
  expect("route_topk_weights_dtype", mk_route(&b, ws, RWS, NULL), MK_ERR_DTYPE, "topk_weights: dtype is bf16");
  b = a;
  b.topk_weights.data = (char *)o[1] + 2;
  expect("route_output_misaligned", mk_route(&b, ws, RWS, NULL), MK_ERR_INVALID_ARG, "topk_weights: data");
  b = a;
  b.sorted_ids.shape[0] = cap - 1;
  expect("route_sorted_ids_below_capacity", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "sorted_ids: shape");
  b = a;
  b.sorted_experts.shape[0] = cap + 4;
  expect("route_sorted_lengths_differ", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "differs from sorted_ids");
  b = a;
  b.block_experts.shape[0] = cap / RBM - 1;
  expect("route_block_experts_short", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "block_experts: shape");
  b = a;
  b.expert_offsets.shape[0] = RE;
  expect("route_expert_offsets_shape", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "expert_offsets: shape");
  b = a;
  b.expert_counts.strides[0] = 2;
  expect("route_expert_counts_stride", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "expert_counts: stride");
  b = a;
  b.masked_ids = mk_tensor_2d(o[8], MK_DTYPE_I32, RE, RM - 1);
  expect("route_masked_ids_max_m_below_m", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "masked_ids: shape");
  b = a;
  b.remote_count = mk_tensor_1d(o[10], MK_DTYPE_I32, 2);
  expect("route_remote_count_shape", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "remote_count: shape");
  b = a;
  b.masked_inverse.ndim = 1;
  expect("route_masked_inverse_ndim", mk_route(&b, ws, RWS, NULL), MK_ERR_SHAPE, "masked_inverse: ndim");

  /* workspace */
  expect("route_workspace_null", mk_route(&a, NULL, ws_bytes, NULL), MK_ERR_WORKSPACE, "workspace is NULL");
  expect("route_workspace_small", mk_route(&a, ws, ws_bytes - 1, NULL), MK_ERR_WORKSPACE, "workspace_bytes");
  expect("route_workspace_misaligned", mk_route(&a, (char *)ws + 4, ws_bytes, NULL), MK_ERR_WORKSPACE, "aligned");

  /* registry */
  b = a;
  b.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, RM, 1000);
  b.expert_offsets.data = b.expert_counts.data = b.masked_ids.data = NULL;
  b.sorted_ids.data = b.sorted_experts.data = b.block_experts.data = NULL;
  expect("route_unsupported_experts", mk_route(&b, ws, RWS, NULL), MK_ERR_UNSUPPORTED, "no instance");

  if (!have_gpu) { /* every call above failed: outputs untouched (host memory, readable) */
    int same = 1;
    size_t j;
    for (i = 0; i < 11; ++i)
      for (j = 0; j < sizes[i]; ++j) same &= ((unsigned char *)o[i])[j] == 0x5a;
    report("route_outputs_untouched", same, "an output was written by a failing call");
  }
  expect_valid("route_valid_auto", mk_route(&a, ws, RWS, NULL));
  b = a;
  b.path = MK_ROUTE_PATH_MULTI;
  b.logits.dtype = MK_DTYPE_F32;
  expect_valid("route_valid_multi_f32", mk_route(&b, ws, RWS, NULL));
  b = a;
  b.expert_start = 1;
  b.expert_end = RE / 2;
  b.expert_offsets.shape[0] = RE / 2;
  b.expert_counts.shape[0] = RE / 2 - 1;
  b.masked_ids.shape[0] = RE / 2 - 1;
  b.masked_ids.strides[0] = RM;
  expect_valid("route_valid_local_range", mk_route(&b, ws, RWS, NULL));
}

int main(void) {
  static void (*const tests[])(void) = {test_route};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
