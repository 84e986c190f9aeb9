/* examples/moe_layer - a whole MoE layer from moekit parts: the flagship example.
 *
 * Builds the layer of the instance library's model (moekit/instances.h: a
 * DeepSeek-V3 library gives hidden 7168, intermediate 2048, 256 experts,
 * top-8, grouped sigmoid routing) with random FP8 weights, runs it for
 * several token counts, checks each run against moekit's plain float32
 * reference of the same layer (calc_diff < 2e-3 on sampled tokens), and
 * prints per-stage and total times. To use another model, link the example
 * against that model's library (./configure --manifest instances/<m>.toml).
 *
 *   ./configure --manifest instances/deepseek-v3.toml --builddir build-ds && ninja -C build-ds
 *   cc -std=c11 -O2 -Ibuild-ds/include -I/usr/local/cuda/include examples/moe_layer/main.c \
 *      build-ds/lib/libmoekit_deepseek-v3.a -L/usr/local/cuda/lib64 -lcudart -lstdc++ -lm -o moe_layer
 *   ./moe_layer [--m 1,16,128,1024,4096] [--iters 20] [--path auto|contiguous|masked]
 *
 * Anatomy (llm.c style): inputs, the layer call, the reference check, timing.
 * Exit status: 0 every check passed; 1 a check or call failed; 2 bad usage.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/core/formats.h"
#include "moekit/instances.h"
#include "moekit/moekit.h"

#define H MOEKIT_MODEL_HIDDEN
#define I MOEKIT_MODEL_MOE_INTERMEDIATE
#define E MOEKIT_MODEL_EXPERTS
#define K MOEKIT_MODEL_TOP_K
#define SAMPLE 64 /* tokens checked against the reference when M is larger */

#define CUDA(x)                                                                            \
  do {                                                                                     \
    cudaError_t rc_ = (x);                                                                 \
    if (rc_ != cudaSuccess) {                                                              \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(rc_)); \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

#define MK(x)                                                                  \
  do {                                                                         \
    if ((x) != MK_OK) {                                                        \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, mk_last_error());     \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* ---- random inputs --------------------------------------------------------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}
static float uniform(void) { return (float)(next_u32() >> 8) * (1.0f / 16777216.0f); }
static float normal(void) { /* Box-Muller */
  const float u = uniform() + 1e-7f, v = uniform();
  return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* Device buffer of n random e4m3 codes (NaN codes avoided): a 16 MB random
 * block tiled across the buffer, so multi-GB weights cost seconds, not minutes. */
static void *random_fp8(size_t n) {
  const size_t block = (size_t)16 << 20;
  uint8_t *h = malloc(block);
  void *d;
  for (size_t i = 0; i < block; ++i) {
    uint8_t c = (uint8_t)next_u32();
    if ((c & 0x7f) == 0x7f) c ^= 0x01; /* 0x7f / 0xff are NaN */
    h[i] = c;
  }
  CUDA(cudaMalloc(&d, n));
  for (size_t at = 0, tile = 0; at < n; ++tile) { /* each tile starts at another offset */
    const size_t shift = (tile % 7) * 4096, len = n - at < block - shift ? n - at : block - shift;
    CUDA(cudaMemcpy((char *)d + at, h + shift, len, cudaMemcpyHostToDevice));
    at += len;
  }
  free(h);
  return d;
}

static void *random_f32(size_t n, float lo, float hi) {
  float *h = malloc(n * 4);
  void *d;
  for (size_t i = 0; i < n; ++i) h[i] = lo + (hi - lo) * uniform();
  CUDA(cudaMalloc(&d, n * 4));
  CUDA(cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice));
  free(h);
  return d;
}

/* ---- the check ------------------------------------------------------------------------- */
/* DeepGEMM's calc_diff: 1 - 2 sum(x y) / sum(x^2 + y^2); 0 when equal. */
static double calc_diff(const float *a, const float *b, size_t n) {
  double xy = 0, xx = 0;
  for (size_t i = 0; i < n; ++i) xy += (double)a[i] * b[i], xx += (double)a[i] * a[i] + (double)b[i] * b[i];
  return xx > 0 ? 1.0 - 2.0 * xy / xx : 0.0;
}

int main(int argc, char **argv) {
  int ms[16] = {1, 16, 128, 1024, 4096}, nm = 5, iters = 20;
  mk_moe_layer_path path = MK_MOE_LAYER_AUTO;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--m") && i + 1 < argc) {
      char *s = argv[++i];
      for (nm = 0; s && *s && nm < 16; ++nm) {
        ms[nm] = atoi(s);
        s = strchr(s, ',');
        s = s ? s + 1 : NULL;
      }
    } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--path") && i + 1 < argc) {
      const char *p = argv[++i];
      path = !strcmp(p, "masked") ? MK_MOE_LAYER_MASKED : !strcmp(p, "contiguous") ? MK_MOE_LAYER_CONTIGUOUS : MK_MOE_LAYER_AUTO;
    } else {
      printf("usage: %s [--m 1,16,128,1024,4096] [--iters N] [--path auto|contiguous|masked]\n"
             "library %s: hidden %d, intermediate %d, %d experts, top-%d\n",
             argv[0], MOEKIT_MODEL, H, I, E, K);
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    fprintf(stderr, "no CUDA GPU\n");
    return 1;
  }
  printf("moe_layer: %s, hidden %d, intermediate %d, %d experts, top-%d, %s routing\n", MOEKIT_MODEL, H, I, E, K,
         MOEKIT_MODEL_ROUTING_KIND == 3 ? "grouped sigmoid" : MOEKIT_MODEL_ROUTING_KIND == 2 ? "softmax after top-k" : "softmax");

  /* ---- weights: FP8 e4m3 with 128 x 128 block scales (random) ---- */
  void *w13 = random_fp8((size_t)E * 2 * I * H), *w2 = random_fp8((size_t)E * H * I);
  /* a code averages ~|60|: scales that keep the activations O(1) */
  void *s13 = random_f32((size_t)E * (2 * I / 128) * (H / 128), 0.5f / 60.0f / sqrtf(H), 1.5f / 60.0f / sqrtf(H));
  void *s2 = random_f32((size_t)E * (H / 128) * (I / 128), 0.5f / 60.0f / sqrtf(I), 1.5f / 60.0f / sqrtf(I));
  void *bias = MOEKIT_MODEL_ROUTING_KIND == 3 ? random_f32(E, -0.05f, 0.05f) : NULL;

  int failures = 0;
  for (int mi = 0; mi < nm; ++mi) {
    const int m = ms[mi];
    /* ---- inputs ---- */
    uint16_t *hx = malloc((size_t)m * H * 2);
    float *hl = malloc((size_t)m * E * 4);
    for (size_t i = 0; i < (size_t)m * H; ++i) hx[i] = mk_bf16_from_f32(normal());
    for (size_t i = 0; i < (size_t)m * E; ++i) hl[i] = normal();
    void *x, *logits, *y, *ws, *yref, *toks, *rws;
    CUDA(cudaMalloc(&x, (size_t)m * H * 2));
    CUDA(cudaMalloc(&logits, (size_t)m * E * 4));
    CUDA(cudaMalloc(&y, (size_t)m * H * 2));
    CUDA(cudaMemcpy(x, hx, (size_t)m * H * 2, cudaMemcpyHostToDevice));
    CUDA(cudaMemcpy(logits, hl, (size_t)m * E * 4, cudaMemcpyHostToDevice));
    CUDA(cudaMemset(y, 0xff, (size_t)m * H * 2)); /* poison: NaN */

    mk_moe_layer_args a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.kind = (mk_route_kind)MOEKIT_MODEL_ROUTING_KIND;
    a.top_k = K;
    a.renormalize = MOEKIT_MODEL_RENORMALIZE;
    a.n_group = MOEKIT_MODEL_N_GROUP;
    a.topk_group = MOEKIT_MODEL_TOPK_GROUP;
    a.routed_scaling_factor = MOEKIT_MODEL_ROUTED_SCALING_FACTOR;
    a.logits = mk_tensor_2d(logits, MK_DTYPE_F32, m, E);
    if (bias) a.bias = mk_tensor_1d(bias, MK_DTYPE_F32, E);
    a.x = mk_tensor_2d(x, MK_DTYPE_BF16, m, H);
    a.w13 = mk_tensor_3d(w13, MK_DTYPE_E4M3, E, 2 * I, H);
    a.w13_scales = mk_tensor_3d(s13, MK_DTYPE_F32, E, 2 * I / 128, H / 128);
    a.w2 = mk_tensor_3d(w2, MK_DTYPE_E4M3, E, H, I);
    a.w2_scales = mk_tensor_3d(s2, MK_DTYPE_F32, E, H / 128, I / 128);
    a.y = mk_tensor_2d(y, MK_DTYPE_BF16, m, H);
    a.clamped = MOEKIT_MODEL_ACTIVATION_CLAMPED;
    a.alpha = MOEKIT_MODEL_ACTIVATION_ALPHA;
    a.limit = MOEKIT_MODEL_ACTIVATION_LIMIT;
    a.path = path;
    size_t ws_bytes = 0;
    mk_moe_layer_path taken;
    MK(mk_moe_layer_workspace_size(&a, &ws_bytes));
    MK(mk_moe_layer_pick_path(&a, &taken));
    CUDA(cudaMalloc(&ws, ws_bytes));
    CUDA(cudaMemset(ws, 0, ws_bytes)); /* once, as the API asks */

    /* ---- run once and check against the reference ---- */
    MK(mk_moe_layer_forward(&a, ws, ws_bytes, NULL));
    CUDA(cudaDeviceSynchronize());
    const int s = m < SAMPLE ? m : SAMPLE;
    int32_t *ht = malloc((size_t)s * 4);
    for (int i = 0; i < s; ++i) ht[i] = (int32_t)((int64_t)i * m / s); /* spread over the batch */
    size_t rbytes = 0;
    MK(mk_moe_layer_reference_workspace_size(&a, s, &rbytes));
    CUDA(cudaMalloc(&toks, (size_t)s * 4));
    CUDA(cudaMalloc(&yref, (size_t)s * H * 4));
    CUDA(cudaMalloc(&rws, rbytes));
    CUDA(cudaMemcpy(toks, ht, (size_t)s * 4, cudaMemcpyHostToDevice));
    mk_tensor tt = mk_tensor_1d(toks, MK_DTYPE_I32, s), yt = mk_tensor_2d(yref, MK_DTYPE_F32, s, H);
    float *ref = malloc((size_t)s * H * 4), *ideal = malloc((size_t)s * H * 4), *got = malloc((size_t)s * H * 4);
    uint16_t *hy = malloc((size_t)m * H * 2);
    MK(mk_moe_layer_reference(&a, &tt, &yt, 1, rws, rbytes, NULL));
    CUDA(cudaMemcpy(ref, yref, (size_t)s * H * 4, cudaMemcpyDeviceToHost));
    MK(mk_moe_layer_reference(&a, &tt, &yt, 0, rws, rbytes, NULL));
    CUDA(cudaMemcpy(ideal, yref, (size_t)s * H * 4, cudaMemcpyDeviceToHost));
    CUDA(cudaMemcpy(hy, y, (size_t)m * H * 2, cudaMemcpyDeviceToHost));
    for (int i = 0; i < s; ++i)
      for (int c = 0; c < H; ++c) got[(size_t)i * H + c] = mk_bf16_to_f32(hy[(size_t)ht[i] * H + c]);
    const double diff = calc_diff(got, ref, (size_t)s * H), diff_ideal = calc_diff(got, ideal, (size_t)s * H);
    int finite = 1;
    for (size_t i = 0; i < (size_t)s * H; ++i) finite &= isfinite(got[i]);
    const int ok = finite && diff < 2e-3;
    failures += !ok;

    /* ---- time: stages through stage_events, the whole layer back to back ---- */
    cudaEvent_t ev[MK_MOE_LAYER_STAGES + 1], t0, t1;
    void *evp[MK_MOE_LAYER_STAGES + 1];
    for (int i = 0; i <= MK_MOE_LAYER_STAGES; ++i) {
      CUDA(cudaEventCreate(&ev[i]));
      evp[i] = ev[i];
    }
    CUDA(cudaEventCreate(&t0));
    CUDA(cudaEventCreate(&t1));
    double stage_ms[MK_MOE_LAYER_STAGES] = {0};
    a.stage_events = evp;
    for (int it = 0; it < iters; ++it) {
      MK(mk_moe_layer_forward(&a, ws, ws_bytes, NULL));
      CUDA(cudaEventSynchronize(ev[MK_MOE_LAYER_STAGES]));
      for (int i = 0; i < MK_MOE_LAYER_STAGES; ++i) {
        float t;
        CUDA(cudaEventElapsedTime(&t, ev[i], ev[i + 1]));
        stage_ms[i] += t / iters;
      }
    }
    a.stage_events = NULL;
    CUDA(cudaEventRecord(t0, NULL));
    for (int it = 0; it < iters; ++it) MK(mk_moe_layer_forward(&a, ws, ws_bytes, NULL));
    CUDA(cudaEventRecord(t1, NULL));
    CUDA(cudaEventSynchronize(t1));
    float total;
    CUDA(cudaEventElapsedTime(&total, t0, t1));
    printf("M=%5d %-10s %s calc_diff %.2e (vs the fp32-activation ideal %.2e) | us: route %.1f dispatch %.1f "
           "gemm1 %.1f swiglu %.1f gemm2 %.1f combine %.1f | total %.1f\n",
           m, taken == MK_MOE_LAYER_MASKED ? "masked" : "contiguous", ok ? "PASS" : "FAIL", diff, diff_ideal,
           stage_ms[0] * 1e3, stage_ms[1] * 1e3, stage_ms[2] * 1e3, stage_ms[3] * 1e3, stage_ms[4] * 1e3,
           stage_ms[5] * 1e3, total * 1e3 / iters);
    fflush(stdout);
    for (int i = 0; i <= MK_MOE_LAYER_STAGES; ++i) cudaEventDestroy(ev[i]);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(x), cudaFree(logits), cudaFree(y), cudaFree(ws), cudaFree(yref), cudaFree(toks), cudaFree(rws);
    free(hx), free(hl), free(ht), free(ref), free(ideal), free(got), free(hy);
  }
  printf("moe_layer: %s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
