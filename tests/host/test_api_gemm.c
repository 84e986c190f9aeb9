/* test_api_gemm.c - argument validation of mk_gemm_fp8 (dense, grouped contiguous, grouped masked) (tests/host/test_api.py runs it). */
#include "api_harness.h"

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
  /* the message lists the (N, K) the library does have */
  expect(NAME("unsupported_k_lists_built"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_UNSUPPORTED, "(built: N=");
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
    b = a; b.expected_groups = -2;
    expect(NAME("expected_groups_negative"), mk_gemm_fp8(&b, NULL, 0, NULL), MK_ERR_INVALID_ARG, "expected_groups");
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
  static void (*const tests[])(void) = {test_gemm};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
