/* gemm_sanitize.c - every FP8 GEMM instance of a library on small shapes,
 * for compute-sanitizer (memcheck, racecheck, synccheck) and as a smoke test.
 *
 * All operands are e4m3 1.0 (0x38) with scales 1.0, so every computed element
 * of D is exactly K; D is poisoned (0xffff = bf16 NaN) before each call and
 * rows the call must not write must stay poisoned. The overlap counters are
 * checked too. Prints "ok <name> <case>" / "not ok ..."; exit 1 on failure.
 * Built and run by tests/gpu/gemm_sanitize.py.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/moekit.h"

#define CK(x)                                                                            \
  do {                                                                                   \
    cudaError_t e_ = (x);                                                                \
    if (e_ != cudaSuccess) {                                                             \
      printf("not ok cuda %s: %s (line %d)\n", #x, cudaGetErrorString(e_), __LINE__);     \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

static int failures = 0;

static float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void *dev_fill(size_t bytes, int byte) {
  void *p = NULL;
  CK(cudaMalloc(&p, bytes));
  CK(cudaMemset(p, byte, bytes));
  return p;
}

static float *dev_ones(size_t count) {
  float *h = (float *)malloc(count * 4), *d = NULL;
  size_t i;
  for (i = 0; i < count; ++i) h[i] = 1.0f;
  CK(cudaMalloc((void **)&d, count * 4));
  CK(cudaMemcpy(d, h, count * 4, cudaMemcpyHostToDevice));
  free(h);
  return d;
}

static int32_t *dev_i32(const int32_t *h, size_t count) {
  int32_t *d = NULL;
  CK(cudaMalloc((void **)&d, count * 4));
  CK(cudaMemcpy(d, h, count * 4, cudaMemcpyHostToDevice));
  return d;
}

/* rows [r0, r1) of a [rows, n] bf16 host copy: all == want (want < 0: all NaN) */
static int rows_are(const uint16_t *d, int64_t n, int64_t r0, int64_t r1, float want) {
  int64_t r, c;
  for (r = r0; r < r1; ++r)
    for (c = 0; c < n; ++c) {
      const float v = bf16_to_f32(d[r * n + c]);
      if (want < 0 ? v == v : v != want) return 0;
    }
  return 1;
}

static void report(const char *name, const char *what, int ok, const char *why) {
  if (ok) printf("ok %s %s\n", name, what);
  else {
    printf("not ok %s %s: %s\n", name, what, why);
    failures++;
  }
}

static void run_one(const mk_kernel_info *e) {
  const int kind = (int)(e->variant & 3u);
  const int64_t n = e->n, k = e->k, kb = k / 128, nb = (n + 127) / 128, bm = e->block_m;
  /* shapes: dense M = 100; contiguous 3 experts [70, 0, 30] aligned to 128 + one padding block;
   * masked 3 groups, max_m = 100, masked_m = [100, 0, 37] */
  const int64_t groups = kind == MK_GEMM_DENSE ? 1 : 3;
  const int64_t rows = kind == MK_GEMM_DENSE ? 100 : kind == MK_GEMM_GROUPED_CONTIGUOUS ? 3 * 128 : 100;
  const int64_t a_rows = kind == MK_GEMM_GROUPED_MASKED ? groups * rows : rows;
  const int64_t ld = (rows + 3) / 4 * 4;
  mk_gemm_fp8_args a;
  mk_gemm_fp8_info info;
  int32_t idx[3 * 128], masked[3] = {100, 0, 37};
  int32_t *sig_h, *d_idx = NULL, *d_mm = NULL, *d_sig;
  uint16_t *d_h;
  void *A = dev_fill((size_t)a_rows * k, 0x38), *B = dev_fill((size_t)groups * n * k, 0x38);
  float *SA = dev_ones((size_t)groups * kb * ld), *SB = dev_ones((size_t)groups * nb * kb);
  void *D = dev_fill((size_t)a_rows * n * 2, 0xff);
  const int64_t nsig = groups * ((rows + 15) / 16);
  int64_t i, g;
  char why[160];
  mk_status st;
  d_sig = (int32_t *)dev_fill((size_t)nsig * 4, 0);
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = (mk_gemm_kind)kind;
  a.kernel = e->name;
  if (kind == MK_GEMM_GROUPED_MASKED) {
    a.a = mk_tensor_3d(A, MK_DTYPE_E4M3, groups, rows, k);
    a.a_scales = mk_tensor_3d(SA, MK_DTYPE_F32, groups, rows, kb);
    a.a_scales.strides[0] = kb * ld;
    a.a_scales.strides[1] = 1;
    a.a_scales.strides[2] = ld;
    a.d = mk_tensor_3d(D, MK_DTYPE_BF16, groups, rows, n);
    d_mm = dev_i32(masked, 3);
    a.masked_m = mk_tensor_1d(d_mm, MK_DTYPE_I32, 3);
    a.expected_m = 40;
  } else {
    a.a = mk_tensor_2d(A, MK_DTYPE_E4M3, rows, k);
    a.a_scales = mk_tensor_2d(SA, MK_DTYPE_F32, rows, kb);
    a.a_scales.strides[0] = 1;
    a.a_scales.strides[1] = ld;
    a.d = mk_tensor_2d(D, MK_DTYPE_BF16, rows, n);
  }
  if (kind == MK_GEMM_DENSE) {
    a.b = mk_tensor_2d(B, MK_DTYPE_E4M3, n, k);
    a.b_scales = mk_tensor_2d(SB, MK_DTYPE_F32, nb, kb);
  } else {
    a.b = mk_tensor_3d(B, MK_DTYPE_E4M3, groups, n, k);
    a.b_scales = mk_tensor_3d(SB, MK_DTYPE_F32, groups, nb, kb);
  }
  if (kind == MK_GEMM_GROUPED_CONTIGUOUS) { /* expert 0: rows 0-69, expert 2: rows 128-157, then padding */
    for (i = 0; i < 3 * 128; ++i) idx[i] = i < 70 ? 0 : (i >= 128 && i < 158) ? 2 : -1;
    d_idx = dev_i32(idx, 3 * 128);
    a.m_indices = mk_tensor_1d(d_idx, MK_DTYPE_I32, 3 * 128);
  }
  a.signal = mk_tensor_1d(d_sig, MK_DTYPE_I32, nsig);
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if ((st = mk_gemm_fp8_query(&a, &info)) != MK_OK || (st = mk_gemm_fp8(&a, NULL, 0, NULL)) != MK_OK) {
    report(e->name, "call", 0, mk_last_error());
    return;
  }
  CK(cudaDeviceSynchronize());
  d_h = (uint16_t *)malloc((size_t)a_rows * n * 2);
  sig_h = (int32_t *)malloc((size_t)nsig * 4);
  CK(cudaMemcpy(d_h, D, (size_t)a_rows * n * 2, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(sig_h, d_sig, (size_t)nsig * 4, cudaMemcpyDeviceToHost));
  snprintf(why, sizeof why, "a computed element is not K = %lld (or a skipped row was written)", (long long)k);
  if (kind == MK_GEMM_DENSE) {
    report(e->name, "dense M=100", rows_are(d_h, n, 0, 100, (float)k), why);
  } else if (kind == MK_GEMM_GROUPED_CONTIGUOUS) {
    /* block of row 256 is padding: skipped, stays NaN */
    report(e->name, "contiguous [70,0,30]",
           rows_are(d_h, n, 0, 70, (float)k) && rows_are(d_h, n, 128, 158, (float)k) &&
               rows_are(d_h, n, 256, 384, -1.0f),
           why);
  } else {
    int ok = 1;
    for (g = 0; g < 3; ++g) {
      const int64_t written = (masked[g] + bm - 1) / bm * bm < rows ? (masked[g] + bm - 1) / bm * bm : rows;
      ok &= rows_are(d_h + g * rows * n, n, 0, masked[g], (float)k);
      ok &= rows_are(d_h + g * rows * n, n, written, rows, -1.0f);
    }
    report(e->name, "masked [100,0,37]", ok, why);
  }
  { /* counters: threshold on computed row blocks, 0 elsewhere */
    const int64_t per = (rows + bm - 1) / bm;
    int ok = info.num_signals <= nsig;
    for (g = 0; g < groups && ok; ++g)
      for (i = 0; i < per; ++i) {
        int want = 1;
        if (kind == MK_GEMM_GROUPED_CONTIGUOUS) want = idx[i * bm] >= 0;
        if (kind == MK_GEMM_GROUPED_MASKED) want = i * bm < masked[g];
        if (kind != MK_GEMM_GROUPED_MASKED && g > 0) want = 0; /* dense, contiguous: one group of counters */
        if (sig_h[g * per + i] != (want ? info.signal_threshold : 0)) ok = 0;
      }
    report(e->name, "signals", ok, "a counter differs from the threshold / 0");
  }
  free(d_h);
  free(sig_h);
  cudaFree(A), cudaFree(B), cudaFree(SA), cudaFree(SB), cudaFree(D), cudaFree(d_sig);
  if (d_idx) cudaFree(d_idx);
  if (d_mm) cudaFree(d_mm);
}

int main(int argc, char **argv) {
  int i, count = mk_registry_count();
  const char *only = argc > 1 ? argv[1] : "";
  for (i = 0; i < count; ++i) {
    mk_kernel_info e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    if (mk_registry_describe(i, &e) != MK_OK || e.op != MK_OP_GEMM_FP8 || !strstr(e.name, only)) continue;
    run_one(&e);
    fflush(stdout);
  }
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
