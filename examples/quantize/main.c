/* examples/quantize - quantize bf16 activations to FP8 1x128, MXFP4 or NVFP4
 * with an instance library, check against a CPU reference, report bandwidth.
 *
 * Build against an installed prefix (docs/getting-started.md):
 *   cc -std=c11 -O2 examples/quantize/main.c -I$PREFIX/include -I$CUDA/include \
 *      $PREFIX/lib/libmoekit_$MODEL.a -L$CUDA/lib64 -lcudart -lstdc++ -lm -o quantize
 * Run:
 *   ./quantize [--format fp8|mxfp4|nvfp4] [--m 4096] [--k <hidden of the library>]
 *
 * Anatomy (as llm.c's dev/cuda files): CPU reference, the library call,
 * validation, timing. The reference uses moekit/core/formats.h's portable
 * encoders, the same bit-exact contract the kernels implement.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/core/formats.h"
#include "moekit/instances.h"
#include "moekit/moekit.h"

#define CHECK_CUDA(call)                                                              \
  do {                                                                                \
    cudaError_t e_ = (call);                                                          \
    if (e_ != cudaSuccess) {                                                          \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

#define CHECK_MK(call)                                                   \
  do {                                                                   \
    if ((call) != MK_OK) {                                               \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, mk_last_error()); \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

/* ---- CPU reference -------------------------------------------------------------- */
static float bf16_to_f32(uint16_t h) { return mk_bf16_to_f32(h); }

/* FP8 1x128 with f32 scales: q = e4m3(x * (448 / amax)), scale = amax / 448. */
static void ref_fp8(const uint16_t *x, int m, int k, uint8_t *q, float *sf, int ld) {
  for (int r = 0; r < m; ++r)
    for (int kb = 0; kb < k / 128; ++kb) {
      float amax = 0.f;
      for (int i = 0; i < 128; ++i) {
        const float a = fabsf(bf16_to_f32(x[(size_t)r * k + kb * 128 + i]));
        if (a <= 3.4028235e38f && a > amax) amax = a;
      }
      if (amax < 1e-4f) amax = 1e-4f;
      const float inv = 448.0f / amax;
      sf[(size_t)kb * ld + r] = amax / 448.0f;
      for (int i = 0; i < 128; ++i) { /* NaN in -> 0x7f, the canonical NaN (docs/formats.md) */
        const float v = bf16_to_f32(x[(size_t)r * k + kb * 128 + i]);
        q[(size_t)r * k + kb * 128 + i] = v != v ? 0x7f : mk_e4m3_from_f32(v * inv);
      }
    }
}

/* MXFP4: e = ue8m0_ceil(amax / 6), q = e2m1(x * 2^(127 - e)), row-major scales. */
static void ref_mxfp4(const uint16_t *x, int m, int k, uint8_t *q, uint8_t *sf) {
  for (int r = 0; r < m; ++r)
    for (int g = 0; g < k / 32; ++g) {
      float amax = 0.f;
      for (int i = 0; i < 32; ++i) {
        const float a = fabsf(bf16_to_f32(x[(size_t)r * k + g * 32 + i]));
        if (a <= 3.4028235e38f && a > amax) amax = a;
      }
      const uint8_t e = mk_ue8m0_from_f32_ceil(amax / 6.0f);
      const float inv = mk_f32_from_bits((uint32_t)(254 - e) << 23);
      sf[(size_t)r * (k / 32) + g] = e;
      for (int i = 0; i < 32; i += 2)
        q[((size_t)r * k + g * 32 + i) / 2] = mk_e2m1x2_pack(mk_e2m1_from_f32(bf16_to_f32(x[(size_t)r * k + g * 32 + i]) * inv),
                                                             mk_e2m1_from_f32(bf16_to_f32(x[(size_t)r * k + g * 32 + i + 1]) * inv));
    }
}

/* ---- main --------------------------------------------------------------------------- */
static uint16_t f32_to_bf16(float f) { /* round to nearest even */
  uint32_t u = mk_f32_bits(f);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

int main(int argc, char **argv) {
  const char *format = "fp8";
  int m = 4096, k = MOEKIT_MODEL_HIDDEN;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
    else if (!strcmp(argv[i], "--m") && i + 1 < argc) m = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
    else {
      printf("usage: %s [--format fp8|mxfp4] [--m M] [--k K]   (library %s, default K %d)\n", argv[0],
             mk_library_model(), MOEKIT_MODEL_HIDDEN);
      return !!strcmp(argv[i], "--help");
    }
  }
  const int fp8 = !strcmp(format, "fp8");
  if (!fp8 && strcmp(format, "mxfp4")) {
    fprintf(stderr, "unknown --format %s (fp8 or mxfp4)\n", format);
    return 2;
  }
  const int ld = (m + 3) / 4 * 4;
  const size_t nx = (size_t)m * k, nq = fp8 ? nx : nx / 2;
  const size_t nsf = fp8 ? (size_t)ld * (k / 128) * 4 : (size_t)m * (k / 32);

  /* fresh random inputs, with a few special values */
  uint16_t *hx = malloc(nx * 2);
  srand(1234);
  for (size_t i = 0; i < nx; ++i) hx[i] = f32_to_bf16(((float)rand() / RAND_MAX - 0.5f) * 8.0f);
  hx[3] = 0x7f80; /* +inf */
  hx[200] = 0x7fc0; /* NaN */

  void *dx, *dq, *dsf;
  CHECK_CUDA(cudaMalloc(&dx, nx * 2));
  CHECK_CUDA(cudaMalloc(&dq, nq));
  CHECK_CUDA(cudaMalloc(&dsf, nsf));
  CHECK_CUDA(cudaMemcpy(dx, hx, nx * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dq, 0xff, nq)); /* poison */
  CHECK_CUDA(cudaMemset(dsf, 0xff, nsf));

  mk_quant_fp8_args a8 = {sizeof a8};
  mk_quant_mxfp4_args a4 = {sizeof a4};
  if (fp8) {
    a8.x = mk_tensor_2d(dx, MK_DTYPE_BF16, m, k);
    a8.q = mk_tensor_2d(dq, MK_DTYPE_E4M3, m, k);
    a8.scales = mk_tensor_2d(dsf, MK_DTYPE_F32, m, k / 128);
    a8.scales.strides[0] = 1; /* MN-major, TMA-aligned */
    a8.scales.strides[1] = ld;
  } else {
    a4.x = mk_tensor_2d(dx, MK_DTYPE_BF16, m, k);
    a4.q = mk_tensor_2d(dq, MK_DTYPE_E2M1X2, m, k / 2);
    a4.scales = mk_tensor_2d(dsf, MK_DTYPE_UE8M0, m, k / 32);
    a4.sf_layout = MK_SF_ROW_MAJOR;
  }
#define RUN() (fp8 ? mk_quant_fp8(&a8, NULL, 0, NULL) : mk_quant_mxfp4(&a4, NULL, 0, NULL))
  CHECK_MK(RUN());
  CHECK_CUDA(cudaDeviceSynchronize());

  /* validate bit-exactly */
  uint8_t *q = malloc(nq), *rq = malloc(nq), *sf = malloc(nsf), *rsf = calloc(1, nsf);
  CHECK_CUDA(cudaMemcpy(q, dq, nq, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(sf, dsf, nsf, cudaMemcpyDeviceToHost));
  if (fp8) ref_fp8(hx, m, k, rq, (float *)rsf, ld);
  else ref_mxfp4(hx, m, k, rq, rsf);
  size_t bad = 0;
  for (size_t i = 0; i < nq; ++i) bad += q[i] != rq[i];
  if (fp8) {
    for (int kb = 0; kb < k / 128; ++kb)
      for (int r = 0; r < m; ++r) bad += memcmp(sf + ((size_t)kb * ld + r) * 4, rsf + ((size_t)kb * ld + r) * 4, 4) != 0;
  } else {
    for (size_t i = 0; i < nsf; ++i) bad += sf[i] != rsf[i];
  }
  printf("%s M=%d K=%d: %s (%zu mismatches)\n", format, m, k, bad ? "FAIL" : "bit-exact", bad);

  /* time */
  cudaEvent_t t0, t1;
  CHECK_CUDA(cudaEventCreate(&t0));
  CHECK_CUDA(cudaEventCreate(&t1));
  const int iters = 50;
  CHECK_CUDA(cudaEventRecord(t0, 0));
  for (int i = 0; i < iters; ++i) CHECK_MK(RUN());
  CHECK_CUDA(cudaEventRecord(t1, 0));
  CHECK_CUDA(cudaEventSynchronize(t1));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
  const double us = ms * 1e3 / iters, bytes = (double)nx * 2 + nq + (fp8 ? (double)m * (k / 128) * 4 : (double)nsf);
  printf("%.2f us per call, %.0f GB/s (bytes read + written)\n", us, bytes / us * 1e-3);
  return bad ? 1 : 0;
}
