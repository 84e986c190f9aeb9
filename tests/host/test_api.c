/* test_api.c - argument validation of every C entry point.
 *
 * Prints one "ok <name>" or "not ok <name>: <why>" line per check
 * (tests/host/test_api.py turns them into sub-tests). Runs with or without a
 * GPU: with one, buffers are cudaMalloc'd and valid calls must succeed;
 * without, valid calls must get as far as MK_ERR_DEVICE.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/instances.h"
#include "moekit/moekit.h"

static int failures = 0;

static void report(const char *name, int ok, const char *why) {
  if (ok) printf("ok %s\n", name);
  else {
    printf("not ok %s: %s\n", name, why);
    failures++;
  }
}

/* A call must fail with `want` and a message containing `needle`. */
static void expect(const char *name, mk_status got, mk_status want, const char *needle) {
  char why[768];
  if (got != want) {
    snprintf(why, sizeof why, "status %d (%s), expected %d (%s); message: %s", got, mk_status_str(got), want,
             mk_status_str(want), mk_last_error());
    report(name, 0, why);
  } else if (needle && !strstr(mk_last_error(), needle)) {
    snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", mk_last_error(), needle);
    report(name, 0, why);
  } else {
    report(name, 1, "");
  }
}

static int have_gpu = 0;

/* Device memory when there is a GPU, else 256-byte aligned host memory. */
static void *buf(size_t bytes) {
  void *p = NULL;
  if (have_gpu) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) abort();
    cudaMemset(p, 0x5a, bytes);
  } else {
    p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    memset(p, 0x5a, bytes);
  }
  return p;
}

/* Index buffers for valid calls: -1 everywhere (every row skipped), so a
 * valid call on a GPU never follows a poisoned index out of bounds. */
static void *index_buf(size_t bytes) {
  void *p = buf(bytes);
  if (have_gpu) cudaMemset(p, 0xff, bytes);
  else memset(p, 0xff, bytes);
  return p;
}

/* A valid call: MK_OK with a GPU, MK_ERR_DEVICE ("cannot query the GPU") without. */
static void expect_valid(const char *name, mk_status got) {
  if (have_gpu) expect(name, got, MK_OK, NULL);
  else expect(name, got, MK_ERR_DEVICE, "cannot query the GPU");
}

/* A valid call on a shape the library may not build: valid when an instance
 * of `op` serves K, else MK_ERR_UNSUPPORTED naming the miss. */
static void expect_served(const char *name, mk_status got, mk_op op, int64_t k) {
  if (mk_registry_find(op, 0, k, 0, 0) >= 0) expect_valid(name, got);
  else expect(name, got, MK_ERR_UNSUPPORTED, "no instance");
}

/* ---- registry and basics ---------------------------------------------------------- */
static void test_basics(void) {
  int i, distinct = 1;
  for (i = 0; i <= 7; ++i) {
    int j;
    for (j = 0; j < i; ++j)
      if (!strcmp(mk_status_str((mk_status)i), mk_status_str((mk_status)j))) distinct = 0;
  }
  report("status_strings_distinct", distinct, "two statuses share a string");
  report("status_str_unknown", !strcmp(mk_status_str((mk_status)99), "unknown status"), mk_status_str((mk_status)99));
  report("dtype_sizes", mk_dtype_size(MK_DTYPE_BF16) == 2 && mk_dtype_size(MK_DTYPE_UE8M0X4) == 4 &&
                            mk_dtype_size(MK_DTYPE_E2M1X2) == 1 && mk_dtype_size((mk_dtype)99) == 0,
         "wrong size");
  report("dtype_names", !strcmp(mk_dtype_name(MK_DTYPE_E4M3), "e4m3") && !strcmp(mk_dtype_name((mk_dtype)-1), "invalid"),
         mk_dtype_name(MK_DTYPE_E4M3));
  {
    mk_tensor t = mk_tensor_3d((void *)0x100, MK_DTYPE_F32, 2, 3, 4);
    report("tensor_3d_strides", t.ndim == 3 && t.strides[0] == 12 && t.strides[1] == 4 && t.strides[2] == 1, "strides");
  }
  report("library_model", !strcmp(mk_library_model(), MOEKIT_MODEL), mk_library_model());
  report("registry_count", mk_registry_count() == MOEKIT_NUM_INSTANCES, "count differs from instances.h");
  {
    mk_kernel_info info;
    int ok = 1;
    for (i = 0; i < mk_registry_count(); ++i) {
      memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      if (mk_registry_describe(i, &info) != MK_OK || !info.name || !info.arch || info.op <= 0 ||
          strcmp(mk_op_name(info.op), "invalid") == 0)
        ok = 0;
    }
    report("registry_describe_all", ok, mk_last_error());
    info.struct_size = sizeof info;
    expect("registry_describe_negative", mk_registry_describe(-1, &info), MK_ERR_INVALID_ARG, "index -1");
    expect("registry_describe_past_end", mk_registry_describe(mk_registry_count(), &info), MK_ERR_INVALID_ARG,
           "outside");
    expect("registry_describe_null", mk_registry_describe(0, NULL), MK_ERR_INVALID_ARG, "info is NULL");
    info.struct_size = 0;
    expect("registry_describe_struct_size", mk_registry_describe(0, &info), MK_ERR_INVALID_ARG, "struct_size");
  }
  report("registry_find_hit", mk_registry_find(MK_OP_QUANT_FP8, 0, MOEKIT_MODEL_HIDDEN, 0, 0) >= 0, "hidden K missing");
  report("registry_find_miss", mk_registry_find(MK_OP_QUANT_FP8, 0, 12345, 0, 0) == -1, "found K=12345");
}

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

/* ---- FP8 GEMM ------------------------------------------------------------------------- */
/* Shapes come from the library's registry: the first instance of each kind. */
#define GM 64 /* M (dense, contiguous) or max_m (masked) */
#define GG 2  /* experts */

typedef struct gemm_bufs {
  void *a, *sfa, *b, *sfb, *d, *idx, *mm, *sig;
} gemm_bufs;

static int gemm_shape_of(int kind, int64_t *n, int64_t *k) {
  int i;
  for (i = 0; i < mk_registry_count(); ++i) {
    mk_kernel_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (mk_registry_describe(i, &info) == MK_OK && info.op == MK_OP_GEMM_FP8 && (int)(info.variant & 3u) == kind) {
      *n = info.n;
      *k = info.k;
      return 1;
    }
  }
  return 0;
}

static gemm_bufs gemm_alloc(int64_t n, int64_t k) {
  gemm_bufs g;
  g.a = buf((size_t)GG * GM * k);
  g.sfa = buf((size_t)GG * GM * (k / 128) * 4);
  g.b = buf((size_t)GG * n * k);
  g.sfb = buf((size_t)GG * ((n + 127) / 128) * (k / 128) * 4);
  g.d = buf((size_t)GG * GM * n * 2);
  g.idx = buf((size_t)GM * 4);
  g.mm = buf((size_t)GG * 4);
  g.sig = buf((size_t)GG * GM * 4);
  if (have_gpu) { /* valid routing data: every row to expert 0, every group full */
    int32_t host[GM];
    int i;
    for (i = 0; i < GM; ++i) host[i] = 0;
    cudaMemcpy(g.idx, host, sizeof host, cudaMemcpyHostToDevice);
    for (i = 0; i < GG; ++i) host[i] = GM;
    cudaMemcpy(g.mm, host, GG * sizeof(int32_t), cudaMemcpyHostToDevice);
    cudaMemset(g.sfa, 0, (size_t)GG * GM * (k / 128) * 4);
    cudaMemset(g.sfb, 0, (size_t)GG * ((n + 127) / 128) * (k / 128) * 4);
  }
  return g;
}

static void gemm_free(gemm_bufs *g) {
  void *all[8] = {g->a, g->sfa, g->b, g->sfb, g->d, g->idx, g->mm, g->sig};
  int i;
  for (i = 0; i < 8; ++i) {
    if (have_gpu) cudaFree(all[i]);
    else free(all[i]);
  }
}

/* Valid args of `kind` over the buffers. */
static mk_gemm_fp8_args gemm_args(int kind, const gemm_bufs *g, int64_t n, int64_t k) {
  mk_gemm_fp8_args a;
  const int64_t kb = k / 128, nb = (n + 127) / 128;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = (mk_gemm_kind)kind;
  if (kind == MK_GEMM_GROUPED_MASKED) {
    a.a = mk_tensor_3d(g->a, MK_DTYPE_E4M3, GG, GM, k);
    a.a_scales = mk_tensor_3d(g->sfa, MK_DTYPE_F32, GG, GM, kb); /* per-group blocks {GM * kb, 1, GM} */
    a.a_scales.strides[0] = GM * kb;
    a.a_scales.strides[1] = 1;
    a.a_scales.strides[2] = GM;
    a.d = mk_tensor_3d(g->d, MK_DTYPE_BF16, GG, GM, n);
    a.masked_m = mk_tensor_1d(g->mm, MK_DTYPE_I32, GG);
    a.expected_m = 16;
  } else {
    a.a = mk_tensor_2d(g->a, MK_DTYPE_E4M3, GM, k);
    a.a_scales = mk_tensor_2d(g->sfa, MK_DTYPE_F32, GM, kb);
    a.a_scales.strides[0] = 1;
    a.a_scales.strides[1] = GM;
    a.d = mk_tensor_2d(g->d, MK_DTYPE_BF16, GM, n);
  }
  if (kind == MK_GEMM_DENSE) {
    a.b = mk_tensor_2d(g->b, MK_DTYPE_E4M3, n, k);
    a.b_scales = mk_tensor_2d(g->sfb, MK_DTYPE_F32, nb, kb);
  } else {
    a.b = mk_tensor_3d(g->b, MK_DTYPE_E4M3, GG, n, k);
    a.b_scales = mk_tensor_3d(g->sfb, MK_DTYPE_F32, GG, nb, kb);
  }
  if (kind == MK_GEMM_GROUPED_CONTIGUOUS) a.m_indices = mk_tensor_1d(g->idx, MK_DTYPE_I32, GM);
  return a;
}

static void gemm_name(char *out, size_t size, const char *kind, const char *check) {
  snprintf(out, size, "gemm_%s_%s", kind, check);
}

static void test_gemm_kind(int kind, const char *kt) {
  int64_t n = 0, k = 0;
  gemm_bufs g;
  mk_gemm_fp8_args a, b;
  mk_gemm_fp8_info info;
  char name[96];
  size_t ws = 1;
  if (!gemm_shape_of(kind, &n, &k)) {
    printf("# no %s GEMM instance in this library: skipped\n", kt);
    return;
  }
  g = gemm_alloc(n, k);
  a = gemm_args(kind, &g, n, k);
#define NAME(check) (gemm_name(name, sizeof name, kt, check), name)
  b = a; b.a.data = NULL;
  expect(NAME("a_null"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "a: data is NULL");
  b = a; b.a.data = (char *)g.a + 8;
  expect(NAME("a_misaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "a: data");
  b = a; b.a.dtype = MK_DTYPE_E5M2;
  expect(NAME("a_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "a: dtype is e5m2, expected e4m3");
  b = a; b.a.ndim = kind == MK_GEMM_GROUPED_MASKED ? 2 : 3;
  expect(NAME("a_ndim"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a: ndim");
  b = a; b.a.shape[b.a.ndim - 1] = k - 64; /* K not a multiple of 128 */
  expect(NAME("k_not_multiple_of_128"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "not a multiple of 128");
  b = a; b.a.strides[b.a.ndim - 2] = k + 8;
  expect(NAME("a_row_stride_unaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a: row stride");
  b = a; b.a.strides[b.a.ndim - 1] = 2;
  expect(NAME("a_not_k_contiguous"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a: the last stride");
  b = a; b.b.shape[b.b.ndim - 1] = k + 128; b.b.strides[b.b.ndim - 2] = k + 128;
  if (b.b.ndim == 3) b.b.strides[0] = n * (k + 128);
  expect(NAME("b_k_mismatch"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "differs from a's K");
  b = a; b.b.dtype = MK_DTYPE_U8;
  expect(NAME("b_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "b: dtype");
  b = a; b.b.data = (char *)g.b + 4;
  expect(NAME("b_misaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "b: data");
  b = a; b.b.shape[b.b.ndim - 2] = n - 4;
  expect(NAME("n_not_multiple_of_8"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "not a multiple of 8");
  b = a; b.d.dtype = MK_DTYPE_F16;
  expect(NAME("d_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "d: dtype is f16, expected bf16");
  b = a; b.d.shape[b.d.ndim - 1] = n + 8; b.d.strides[b.d.ndim - 2] = n + 8;
  if (b.d.ndim == 3) b.d.strides[0] = GM * (n + 8);
  expect(NAME("d_shape"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "d: shape");
  b = a; b.d.strides[b.d.ndim - 2] = n + 4;
  expect(NAME("d_row_stride_unaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "d: row stride");
  b = a; b.d.data = NULL;
  expect(NAME("d_null"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "d: data is NULL");
  b = a; b.a_scales.shape[b.a_scales.ndim - 1] += 1;
  expect(NAME("a_scales_shape"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a_scales: shape");
  b = a; b.a_scales.dtype = MK_DTYPE_BF16;
  expect(NAME("a_scales_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "a_scales: dtype");
  b = a; b.a_scales.data = NULL;
  expect(NAME("a_scales_null"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "a_scales: data is NULL");
  b = a; b.a_scales.data = (char *)g.sfa + 4;
  expect(NAME("a_scales_misaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "16-byte aligned");
  b = a;
  if (kind == MK_GEMM_GROUPED_MASKED) {
    b.a_scales.strides[1] = k / 128; b.a_scales.strides[2] = 1; /* K-major */
  } else {
    b.a_scales.strides[0] = k / 128; b.a_scales.strides[1] = 1;
  }
  expect(NAME("a_scales_not_mn_major"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a_scales: strides");
  b = a; b.a_scales.strides[b.a_scales.ndim - 1] = GM + 2;
  expect(NAME("a_scales_ld_unaligned"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a_scales: strides");
  b = a; b.b_scales.shape[b.b_scales.ndim - 2] += 1;
  expect(NAME("b_scales_shape"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "b_scales: shape");
  b = a; b.b_scales.dtype = MK_DTYPE_UE8M0;
  expect(NAME("b_scales_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "b_scales: dtype");
  b = a; b.b_scales.strides[0] = 0;
  expect(NAME("b_scales_stride"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "b_scales: stride");
  b = a; b.kind = (mk_gemm_kind)9;
  expect(NAME("bad_kind"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "kind 9");
  b = a; b.struct_size = 2;
  expect(NAME("struct_size"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "struct_size");
  b = a; b.num_sms = -1;
  expect(NAME("num_sms_negative"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "num_sms");
  b = a; b.signal = mk_tensor_1d(g.sig, MK_DTYPE_F32, GG * GM);
  expect(NAME("signal_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "signal: dtype");
  b = a; b.signal = mk_tensor_1d(g.sig, MK_DTYPE_I32, GG * GM);
  if (have_gpu) { /* the counters needed depend on the config the GPU's heuristic picks */
    mk_gemm_fp8_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (mk_gemm_fp8_query(&b, &info) != MK_OK) {
      report(NAME("signal_too_short"), 0, mk_last_error());
    } else if (info.num_signals > 1) {
      b.signal.shape[0] = info.num_signals - 1;
      expect(NAME("signal_too_short"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "signal: length");
    } else { /* one counter: the only shorter signal is empty */
      b.signal.shape[0] = 0;
      expect(NAME("signal_too_short"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "signal: shape[0] = 0");
    }
  } else {
    b.signal.shape[0] = 1;
    expect(NAME("signal_too_short"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DEVICE, "cannot query the GPU");
  }
  b = a; b.a.shape[b.a.ndim - 1] = b.b.shape[b.b.ndim - 1] = 128 * 97; /* no instance for K = 12416 */
  b.a.strides[b.a.ndim - 2] = b.b.strides[b.b.ndim - 2] = 128 * 97;
  if (b.a.ndim == 3) b.a.strides[0] = GM * 128 * 97;
  if (b.b.ndim == 3) b.b.strides[0] = n * 128 * 97;
  b.a_scales.shape[b.a_scales.ndim - 1] = b.b_scales.shape[b.b_scales.ndim - 1] = 97;
  if (kind == MK_GEMM_GROUPED_MASKED) b.a_scales.strides[0] = GM * 97;
  expect(NAME("unsupported_k"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "no ");
  b = a; b.kernel = "gemm_no_such_kernel";
  expect(NAME("kernel_unknown"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "not in library");
  if (kind == MK_GEMM_GROUPED_MASKED) {
    b = a; b.d.shape[1] = GM / 2; b.d.strides[0] = GM / 2 * n;
    expect(NAME("max_m_mismatch"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "max_m of a");
    b = a; b.a.shape[0] = GG + 1; b.a.strides[0] = GM * k;
    expect(NAME("groups_mismatch"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "groups, but b has");
    b = a; b.masked_m.data = NULL;
    expect(NAME("masked_m_null"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "masked_m: data is NULL");
    b = a; b.masked_m.shape[0] = GG + 1;
    expect(NAME("masked_m_length"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "masked_m: length");
    b = a; b.masked_m.dtype = MK_DTYPE_I64;
    expect(NAME("masked_m_dtype"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DTYPE, "masked_m: dtype");
    b = a; b.expected_m = -1;
    expect(NAME("expected_m_negative"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "expected_m");
    b = a; b.a_scales.strides[0] = GM; /* groups overlap the k-block columns */
    expect(NAME("a_scales_groups_overlap"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a_scales: strides");
    b = a; b.a.strides[0] = (GM - 1) * k;
    expect(NAME("a_group_stride"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "a: group stride");
    b = a; b.m_indices = mk_tensor_1d(g.idx, MK_DTYPE_I32, GM);
    expect(NAME("m_indices_not_taken"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "only grouped contiguous");
    b = a; /* the scales of the flattened [G * max_m, K] rows are accepted */
    b.a_scales.strides[0] = GM; b.a_scales.strides[1] = 1; b.a_scales.strides[2] = GG * GM;
    expect_valid(NAME("valid_flat_scales"), mk_gemm_fp8(&b, NULL, 0, NULL));
  }
  if (kind == MK_GEMM_GROUPED_CONTIGUOUS) {
    b = a; b.m_indices.data = NULL;
    expect(NAME("m_indices_null"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "m_indices: data is NULL");
    b = a; b.m_indices.shape[0] = GM - 1;
    expect(NAME("m_indices_length"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "m_indices: length");
    b = a; b.group_align = -128;
    expect(NAME("group_align_negative"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "group_align");
    b = a; b.masked_m = mk_tensor_1d(g.mm, MK_DTYPE_I32, GG);
    expect(NAME("masked_m_not_taken"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "only grouped masked");
    b = a; b.group_align = 8; /* no configuration tiles 8-row segments */
    if (have_gpu) expect(NAME("group_align_unserved"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "group_align=8");
    else expect(NAME("group_align_unserved"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DEVICE, "cannot query the GPU");
  }
  if (kind == MK_GEMM_DENSE) {
    b = a; b.m_indices = mk_tensor_1d(g.idx, MK_DTYPE_I32, GM);
    expect(NAME("m_indices_not_taken"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "only grouped contiguous");
  }
  expect(NAME("null_args"), mk_gemm_fp8(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
  expect(NAME("workspace_null_bytes"), mk_gemm_fp8_workspace_size(&a, NULL), MK_ERR_INVALID_ARG, "bytes is NULL");
  report(NAME("workspace_zero"), mk_gemm_fp8_workspace_size(&a, &ws) == MK_OK && ws == 0, mk_last_error());
  memset(&info, 0, sizeof info);
  expect(NAME("query_info_struct_size"), mk_gemm_fp8_query(&a, &info), MK_ERR_INVALID_ARG, "struct_size");
  expect(NAME("query_null_info"), mk_gemm_fp8_query(&a, NULL), MK_ERR_INVALID_ARG, "info is NULL");
  info.struct_size = sizeof info;
  if (have_gpu) {
    const mk_status st = mk_gemm_fp8_query(&a, &info);
    report(NAME("query_valid"), st == MK_OK && info.kernel && info.block_m > 0 && info.block_n > 0 &&
                                    info.signal_threshold == (n + info.block_n - 1) / info.block_n &&
                                    info.num_signals > 0, mk_last_error());
  } else {
    expect(NAME("query_valid"), mk_gemm_fp8_query(&a, &info), MK_ERR_DEVICE, "cannot query the GPU");
  }
  expect_valid(NAME("valid"), mk_gemm_fp8(&a, NULL, 0, NULL));
  b = a; b.num_sms = 8; /* fewer SMs than the device has */
  expect_valid(NAME("valid_num_sms"), mk_gemm_fp8(&b, NULL, 0, NULL));
  if (!have_gpu) { /* outputs untouched on error (host memory: readable) */
    const unsigned char *dd = (const unsigned char *)g.d;
    int64_t i;
    int same = 1;
    for (i = 0; i < (int64_t)GM * n * 2; ++i) same &= dd[i] == 0x5a;
    report(NAME("outputs_untouched"), same, "d was written by a failing call");
  }
#undef NAME
  gemm_free(&g);
}

static void test_gemm(void) {
  test_gemm_kind(MK_GEMM_DENSE, "dense");
  test_gemm_kind(MK_GEMM_GROUPED_CONTIGUOUS, "contiguous");
  test_gemm_kind(MK_GEMM_GROUPED_MASKED, "masked");
}

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
  int count = 0;
  have_gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  printf("# %s GPU\n", have_gpu ? "with a" : "without a");
  test_basics();
  test_quant_fp8();
  test_quant_fp4();
  test_moe();
  test_route();
  test_gemm();
  test_layer();
  if (have_gpu) report("device_sync", cudaDeviceSynchronize() == cudaSuccess, "a valid call failed on the device");
  return failures ? 1 : 0;
}
