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

/* A valid call: MK_OK with a GPU, MK_ERR_DEVICE ("cannot query the GPU") without. */
static void expect_valid(const char *name, mk_status got) {
  if (have_gpu) expect(name, got, MK_OK, NULL);
  else expect(name, got, MK_ERR_DEVICE, "cannot query the GPU");
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
  expect_valid("fp8_valid_f32", mk_quant_fp8(&a, NULL, 0, NULL));
  a = fp8_args(x, q, sf, 1);
  expect_valid("fp8_valid_ue8m0", mk_quant_fp8(&a, NULL, 0, NULL));
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
    expect_valid("mxfp4_valid_swizzled", mk_quant_mxfp4(&b, NULL, 0, NULL));
    b = a;
    b.x.shape[1] = b.x.strides[0] = K - 8;
    expect("mxfp4_k_not_multiple_of_32", mk_quant_mxfp4(&b, NULL, 0, NULL), MK_ERR_SHAPE, "group size 32");
    expect_valid("mxfp4_valid_row_major", mk_quant_mxfp4(&a, NULL, 0, NULL));
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
  expect_valid("nvfp4_valid", mk_quant_nvfp4(&n, NULL, 0, NULL));
  expect("nvfp4_null_args", mk_quant_nvfp4(NULL, NULL, 0, NULL), MK_ERR_INVALID_ARG, "args is NULL");
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
  b = a; b.signal = mk_tensor_1d(g.sig, MK_DTYPE_I32, 1); /* every block_m leaves more than one counter */
  if (have_gpu) expect(NAME("signal_too_short"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_SHAPE, "signal: length 1");
  else expect(NAME("signal_too_short"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_DEVICE, "cannot query the GPU");
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

int main(void) {
  int count = 0;
  have_gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  printf("# %s GPU\n", have_gpu ? "with a" : "without a");
  test_basics();
  test_quant_fp8();
  test_quant_fp4();
  test_gemm();
  if (have_gpu) report("device_sync", cudaDeviceSynchronize() == cudaSuccess, "a valid call failed on the device");
  return failures ? 1 : 0;
}
