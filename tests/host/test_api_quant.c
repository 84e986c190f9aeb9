/* test_api_quant.c - argument validation of mk_quant_fp8, mk_quant_mxfp4, mk_quant_nvfp4 (tests/host/test_api.py runs it). */
#include "api_harness.h"

/* ---- quant fp8 ------------------------------------------------------------------------ */
#define M 64
#define K MOEKIT_MODEL_HIDDEN

static mk_quant_fp8_args fp8_args(void *x, void *q, void *sf, int ue8m0) {
  mk_quant_fp8_args a;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.x = mk_tensor_2d(x, MK_DTYPE_BF16, M, K);
  a.q = mk_tensor_2d(q, MK_DTYPE_E4M3, M, K);
  if (ue8m0) {
    a.scales = mk_tensor_2d(sf, MK_DTYPE_UE8M0X4, M, (K / 128 + 3) / 4);
  } else {
    a.scales = mk_tensor_2d(sf, MK_DTYPE_F32, M, K / 128);
  }
  a.scales.strides[0] = 1; /* MN-major: {1, ld} */
  a.scales.strides[1] = M;
  return a;
}

static void test_quant_fp8(void) {
  void *x = buf((size_t)M * K * 2), *q = buf((size_t)M * K), *sf = buf((size_t)M * K / 128 * 4);
  mk_quant_fp8_args a;
  size_t ws = 1;
  expect("fp8_null_args", mk_quant_fp8(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
  a = fp8_args(x, q, sf, 0);
  a.struct_size = 0;
  expect("fp8_struct_size_zero", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "struct_size");
  a.struct_size = sizeof a + 8;
  expect("fp8_struct_size_too_big", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "struct_size");
  a = fp8_args(NULL, q, sf, 0);
  expect("fp8_x_null", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "x: data is NULL");
  a = fp8_args((char *)x + 2, q, sf, 0);
  expect("fp8_x_misaligned", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "x: data");
  a = fp8_args(x, q, sf, 0);
  a.x.dtype = MK_DTYPE_F16;
  expect("fp8_x_dtype", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_DTYPE, "x: dtype is f16, expected bf16");
  a = fp8_args(x, q, sf, 0);
  a.x.dtype = (mk_dtype)77;
  expect("fp8_x_unknown_dtype", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_DTYPE, "invalid");
  a = fp8_args(x, q, sf, 0);
  a.x.ndim = 3;
  expect("fp8_x_ndim", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "x: ndim is 3");
  a = fp8_args(x, q, sf, 0);
  a.x.shape[0] = 0;
  expect("fp8_x_empty", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "x: shape[0] = 0");
  a = fp8_args(x, q, sf, 0);
  a.x.shape[1] = K - 64;
  a.x.strides[0] = K;
  expect("fp8_k_not_multiple_of_128", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "multiple of the group size 128");
  a = fp8_args(x, q, sf, 0);
  a.x.strides[1] = 2;
  expect("fp8_x_column_stride", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "column stride");
  a = fp8_args(x, q, sf, 0);
  a.x.strides[0] = K + 4;
  expect("fp8_x_row_stride_unaligned", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "row stride");
  a = fp8_args(x, q, sf, 0);
  a.q.shape[0] = M - 1;
  expect("fp8_q_shape", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "q: shape");
  a = fp8_args(x, q, sf, 0);
  a.q.dtype = MK_DTYPE_E5M2;
  expect("fp8_q_dtype", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_DTYPE, "q: dtype is e5m2");
  a = fp8_args(x, NULL, sf, 0);
  expect("fp8_q_null", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "q: data is NULL");
  a = fp8_args(x, q, sf, 0);
  a.scales.dtype = MK_DTYPE_BF16;
  expect("fp8_scales_dtype", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_DTYPE, "expected f32 (sm90 layout) or ue8m0x4");
  a = fp8_args(x, q, sf, 0);
  a.scales.strides[0] = K / 128;
  a.scales.strides[1] = 1;
  expect("fp8_scales_not_mn_major", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "MN-major");
  a = fp8_args(x, q, sf, 0);
  a.scales.strides[1] = M + 1;
  expect("fp8_scales_ld_unaligned", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "TMA-aligned");
  a = fp8_args(x, q, sf, 0);
  a.scales.shape[1] = K / 128 + 1;
  expect("fp8_scales_shape", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_SHAPE, "scales: shape");
  a = fp8_args(x, q, (char *)sf + 4, 0);
  expect("fp8_scales_misaligned", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_INVALID_ARG, "16-byte aligned");
  a = fp8_args(x, q, sf, 0);
  a.x.shape[1] = a.q.shape[1] = 128 * 97; /* no instance for K = 12416 */
  a.x.strides[0] = a.q.strides[0] = 128 * 97;
  a.scales.shape[1] = 97;
  expect("fp8_unsupported_k", mk_quant_fp8(&a, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "no instance");
  expect("fp8_workspace_null", mk_quant_fp8_workspace_size(&a, NULL), MK_ERR_INVALID_ARG, "bytes is NULL");
  a = fp8_args(x, q, sf, 0);
  report("fp8_workspace_zero", mk_quant_fp8_workspace_size(&a, &ws) == MK_OK && ws == 0, mk_last_error());
  expect_served("fp8_valid_f32", mk_quant_fp8(&a, NULL, 0, NULL), MK_OP_QUANT_FP8, K);
  a = fp8_args(x, q, sf, 1);
  expect_served("fp8_valid_ue8m0", mk_quant_fp8(&a, NULL, 0, NULL), MK_OP_QUANT_FP8, K);
  if (!have_gpu) { /* outputs untouched on error (host memory: readable) */
    unsigned char *qq = (unsigned char *)q;
    int i, same = 1;
    for (i = 0; i < M * K; ++i) same &= qq[i] == 0x5a;
    report("fp8_outputs_untouched", same, "q was written by a failing call");
  }
}

/* ---- quant mxfp4 / nvfp4 -------------------------------------------------------------- */
static void test_quant_fp4(void) {
  void *x = buf((size_t)M * K * 2), *q = buf((size_t)M * K / 2), *sf = buf((size_t)128 * K / 16);
  float *gs = (float *)buf(16);
  mk_quant_mxfp4_args a;
  mk_quant_nvfp4_args n;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.x = mk_tensor_2d(x, MK_DTYPE_BF16, M, K);
  a.q = mk_tensor_2d(q, MK_DTYPE_E2M1X2, M, K / 2);
  a.scales = mk_tensor_2d(sf, MK_DTYPE_UE8M0, M, K / 32);
  {
    mk_quant_mxfp4_args b = a;
    b.q.shape[1] = K;
    expect("mxfp4_q_shape", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_SHAPE, "expected [64,");
    b = a;
    b.q.dtype = MK_DTYPE_U8;
    expect("mxfp4_q_dtype", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_DTYPE, "expected e2m1x2");
    b = a;
    b.scales.dtype = MK_DTYPE_UE4M3;
    expect("mxfp4_scales_dtype", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_DTYPE, "expected ue8m0");
    b = a;
    b.sf_layout = (mk_sf_layout)7;
    expect("mxfp4_bad_layout", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "sf_layout 7");
    b = a;
    b.sf_layout = MK_SF_SWIZZLED_128X4;
    b.scales = mk_tensor_1d(sf, MK_DTYPE_UE8M0, (int64_t)M * K / 32);
    expect("mxfp4_swizzled_size", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_SHAPE, "swizzled 128x4");
    b.scales = mk_tensor_1d(sf, MK_DTYPE_UE8M0, (int64_t)128 * K / 32);
    expect_served("mxfp4_valid_swizzled", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_OP_QUANT_MXFP4, K);
    b = a;
    b.x.shape[1] = b.x.strides[0] = K - 8;
    expect("mxfp4_k_not_multiple_of_32", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_SHAPE, "group size 32");
    expect_served("mxfp4_valid_row_major", mk_quant_mxfp4(&a, NULL, 0, NULL), MK_OP_QUANT_MXFP4, K);
  }
  memset(&n, 0, sizeof n);
  n.struct_size = sizeof n;
  n.x = a.x;
  n.q = a.q;
  n.scales = mk_tensor_2d(sf, MK_DTYPE_UE4M3, M, K / 16);
  n.global_scale = mk_tensor_1d(NULL, MK_DTYPE_F32, 1);
  expect("nvfp4_global_scale_null", mk_quant_nvfp4(&n, NULL, 0, NULL), MK_ERR_INVALID_ARG, "global_scale: data is NULL");
  n.global_scale = mk_tensor_1d(gs, MK_DTYPE_F32, 2);
  expect("nvfp4_global_scale_shape", mk_quant_nvfp4(&n, NULL, 0, NULL), MK_ERR_SHAPE, "expected [1]");
  n.global_scale = mk_tensor_1d(gs, MK_DTYPE_BF16, 1);
  expect("nvfp4_global_scale_dtype", mk_quant_nvfp4(&n, NULL, 0, NULL), MK_ERR_DTYPE, "global_scale: dtype");
  n.global_scale = mk_tensor_1d(gs, MK_DTYPE_F32, 1);
  n.scales.shape[1] = K / 32;
  expect("nvfp4_scales_shape", mk_quant_nvfp4(&n, NULL, 0, NULL), MK_ERR_SHAPE, "scales: shape");
  n.scales.shape[1] = K / 16;
  if (have_gpu) {
    const float one = 1.0f;
    cudaMemcpy(gs, &one, sizeof one, cudaMemcpyHostToDevice);
  }
  expect_served("nvfp4_valid", mk_quant_nvfp4(&n, NULL, 0, NULL), MK_OP_QUANT_NVFP4, K);
  expect("nvfp4_null_args", mk_quant_nvfp4(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
}

int main(void) {
  static void (*const tests[])(void) = {test_quant_fp8, test_quant_fp4};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
