/* route_sanitize.c - drives mk_route for compute-sanitizer (memcheck,
 * racecheck, synccheck): both paths, every output, an EP range, on the
 * routing instances of the library that match the benchmark models and the
 * largest shapes. Checks the counts add up; correctness is route_check.py's job.
 *
 *   tests/gpu/route_sanitize.sh build-route        (builds this, runs the three tools)
 *   cc -std=c11 -O2 -Ibuild-route/include -I/usr/local/cuda/include tests/gpu/route_sanitize.c \
 *      build-route/lib/libmoekit_route-check.a -L/usr/local/cuda/lib64 -lcudart -lstdc++ -lm -o route_sanitize
 *   compute-sanitizer --tool memcheck --error-exitcode 1 ./route_sanitize
 *   compute-sanitizer --tool racecheck --error-exitcode 1 ./route_sanitize --small
 *
 * Exit 0 when every call succeeded and every count adds up.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/moekit.h"

#define CHECK_CUDA(x)                                                                     \
  do {                                                                                    \
    cudaError_t rc_ = (x);                                                                \
    if (rc_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(rc_)); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

static int failures = 0;
static unsigned rng = 12345u;

static float frand(void) { /* xorshift, [-4, 4) */
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return (float)(rng >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
}

static uint16_t bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static void *dev(size_t bytes) {
  void *p = NULL;
  CHECK_CUDA(cudaMalloc(&p, bytes < 16 ? 16 : bytes));
  CHECK_CUDA(cudaMemset(p, 0x7b, bytes < 16 ? 16 : bytes));
  return p;
}

/* One call with every output; returns 0 on success. */
static int route_once(mk_route_kind kind, int e, int k, int m, int start, int end, int block_m, mk_route_path path) {
  const int local = end - start;
  const int64_t cap = mk_route_capacity(m, k, local, block_m);
  uint16_t *h = (uint16_t *)malloc((size_t)m * e * 2);
  float *hb = (float *)malloc((size_t)e * 4);
  int32_t *counts = (int32_t *)malloc((size_t)(local + 1) * 4), *offs = (int32_t *)malloc((size_t)(local + 1) * 4);
  int32_t remote = -1;
  void *lg, *bias, *o[11], *ws;
  size_t ws_bytes = 0;
  mk_route_args a;
  mk_status st;
  int i, sum = 0, ok = 1, n_group = 1, topk_group = 1;
  for (i = 0; i < m * e; ++i) h[i] = bf16(frand());
  for (i = 0; i < e; ++i) hb[i] = frand() * 0.1f;
  if (kind == MK_ROUTE_SIGMOID_GROUPED && e % 8 == 0 && e / 8 * 4 >= k) n_group = 8, topk_group = 4;
  lg = dev((size_t)m * e * 2);
  bias = dev((size_t)e * 4);
  CHECK_CUDA(cudaMemcpy(lg, h, (size_t)m * e * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(bias, hb, (size_t)e * 4, cudaMemcpyHostToDevice));
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = kind;
  a.top_k = k;
  a.renormalize = 1;
  a.n_group = n_group;
  a.topk_group = topk_group;
  a.routed_scaling_factor = 2.5f;
  a.block_m = block_m;
  a.expert_start = start;
  a.expert_end = end;
  a.path = path;
  a.logits = mk_tensor_2d(lg, MK_DTYPE_BF16, m, e);
  if (kind == MK_ROUTE_SIGMOID_GROUPED) a.bias = mk_tensor_1d(bias, MK_DTYPE_F32, e);
  a.topk_ids = mk_tensor_2d(o[0] = dev((size_t)m * k * 4), MK_DTYPE_I32, m, k);
  a.topk_weights = mk_tensor_2d(o[1] = dev((size_t)m * k * 4), MK_DTYPE_F32, m, k);
  a.sorted_ids = mk_tensor_1d(o[2] = dev((size_t)cap * 4), MK_DTYPE_I32, cap);
  a.sorted_experts = mk_tensor_1d(o[3] = dev((size_t)cap * 4), MK_DTYPE_I32, cap);
  a.block_experts = mk_tensor_1d(o[4] = dev((size_t)(cap / block_m) * 4), MK_DTYPE_I32, cap / block_m);
  a.expert_offsets = mk_tensor_1d(o[5] = dev((size_t)(local + 1) * 4), MK_DTYPE_I32, local + 1);
  a.inverse = mk_tensor_2d(o[6] = dev((size_t)m * k * 4), MK_DTYPE_I32, m, k);
  a.expert_counts = mk_tensor_1d(o[7] = dev((size_t)local * 4), MK_DTYPE_I32, local);
  a.masked_ids = mk_tensor_2d(o[8] = dev((size_t)local * m * 4), MK_DTYPE_I32, local, m);
  a.masked_inverse = mk_tensor_2d(o[9] = dev((size_t)m * k * 4), MK_DTYPE_I32, m, k);
  a.remote_count = mk_tensor_1d(o[10] = dev(4), MK_DTYPE_I32, 1);
  a.path = MK_ROUTE_PATH_AUTO; /* the size serves both paths; a forced path that cannot hold M fails below */
  if ((st = mk_route_workspace_size(&a, &ws_bytes)) != MK_OK) {
    fprintf(stderr, "workspace_size: %s\n", mk_last_error());
    exit(1);
  }
  a.path = path;
  ws = dev(ws_bytes);
  CHECK_CUDA(cudaMemset(ws, 0, ws_bytes));
  st = mk_route(&a, ws, ws_bytes, NULL);
  if (st == MK_OK) st = mk_route(&a, ws, ws_bytes, NULL); /* twice: the workspace must come back zeroed */
  CHECK_CUDA(cudaDeviceSynchronize());
  if (st == MK_ERR_UNSUPPORTED && path == MK_ROUTE_PATH_FUSED && strstr(mk_last_error(), "fused path cannot hold")) {
    printf("skip kind %d E %d k %d M %d: too large for the fused path\n", kind, e, k, m);
  } else if (st != MK_OK) {
    printf("not ok kind %d E %d k %d M %d path %d: %s\n", kind, e, k, m, path, mk_last_error());
    ok = 0;
  } else {
    CHECK_CUDA(cudaMemcpy(counts, o[7], (size_t)local * 4, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(offs, o[5], (size_t)(local + 1) * 4, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(&remote, o[10], 4, cudaMemcpyDeviceToHost));
    for (i = 0; i < local; ++i) {
      sum += counts[i];
      if (offs[i + 1] - offs[i] != (counts[i] + block_m - 1) / block_m * block_m) ok = 0;
    }
    if (sum + remote != m * k || offs[0] != 0) ok = 0;
    printf("%s kind %d E %d k %d M %d local [%d, %d) block_m %d path %d\n", ok ? "ok" : "not ok (counts)", kind, e, k,
           m, start, end, block_m, path);
  }
  for (i = 0; i < 11; ++i) cudaFree(o[i]);
  cudaFree(lg);
  cudaFree(bias);
  cudaFree(ws);
  free(h);
  free(hb);
  free(counts);
  free(offs);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  static const int wanted[][2] = {{256, 8}, {128, 8}, {128, 4}, {60, 4}, {1024, 32}, {1024, 8}};
  const int small = argc > 1 && !strcmp(argv[1], "--small");
  const int ms_full[] = {1, 17, 130, 700, 5000}, ms_small[] = {1, 40};
  const int *ms = small ? ms_small : ms_full;
  const int nm = small ? 2 : 5;
  int i, j, w, runs = 0;
  for (i = 0; i < mk_registry_count(); ++i) {
    mk_kernel_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    mk_registry_describe(i, &info);
    if (info.op != MK_OP_ROUTE) continue;
    for (w = 0; w < 6; ++w)
      if (info.experts == wanted[w][0] && info.top_k == wanted[w][1]) break;
    if (w == 6) continue;
    for (j = 0; j < nm; ++j) {
      const int m = ms[j];
      failures += route_once((mk_route_kind)info.variant, info.experts, info.top_k, m, 0, info.experts, 16,
                             MK_ROUTE_PATH_MULTI);
      runs++;
      if (m <= 700) {
        failures += route_once((mk_route_kind)info.variant, info.experts, info.top_k, m, 0, info.experts, 64,
                               MK_ROUTE_PATH_FUSED);
        runs++;
      }
    }
    failures += route_once((mk_route_kind)info.variant, info.experts, info.top_k, small ? 40 : 300, info.experts / 4,
                           info.experts / 2, 32, MK_ROUTE_PATH_AUTO);
    runs++;
  }
  if (!runs) {
    printf("not ok: the library has none of the routing shapes this driver runs\n");
    return 1;
  }
  printf("%d runs, %d failed\n", runs, failures);
  return failures ? 1 : 0;
}
