/* examples/route/main.c - route random router logits on the GPU with moekit
 * and print what the grouped GEMMs would read.
 *
 * The starting point for wiring moekit's routing into a MoE layer: one
 * mk_route call turns logits [M, E] into the top-k experts and weights of
 * every token and into the sorted layouts (contiguous, padded to block_m, and
 * masked), with the inverse map the combine step needs. The routing kind,
 * experts and top-k are the instance library's model (moekit/instances.h).
 *
 * Build against an instance library (ninja -C build), then run:
 *   cc -std=c11 -O2 -Ibuild/include -I/usr/local/cuda/include examples/route/main.c \
 *      build/lib/libmoekit_default.a -L/usr/local/cuda/lib64 -lcudart -lstdc++ -lm -o route && ./route
 *
 * Exit status: 0 routed and printed; 1 a moekit or CUDA call failed; 2 no GPU.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/instances.h"
#include "moekit/moekit.h"

#define M 6        /* tokens: a small decode batch */
#define E MOEKIT_MODEL_EXPERTS
#define K MOEKIT_MODEL_TOP_K
#define BLOCK_M 4  /* rows per GEMM tile of the contiguous layout */

#define CUDA(x)                                                                \
  do {                                                                         \
    cudaError_t rc_ = (x);                                                     \
    if (rc_ != cudaSuccess) {                                                  \
      fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorString(rc_));         \
      return 1;                                                                \
    }                                                                          \
  } while (0)

/* bf16 by rounding an f32 to nearest even (random logits need no NaN care) */
static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

int main(void) {
  const int64_t cap = mk_route_capacity(M, K, E, BLOCK_M);
  static uint16_t logits[M * E];
  static int32_t ids[M * K], sorted[M * K + E * BLOCK_M], sorted_exp[M * K + E * BLOCK_M];
  static int32_t blocks[(M * K + E * BLOCK_M) / BLOCK_M], offsets[E + 1], counts[E], inverse[M * K];
  static int32_t masked[E * M];
  static float weights[M * K], bias[E];
  void *d_logits, *d_bias, *d[9], *ws;
  size_t ws_bytes = 0, sizes[9];
  mk_route_args a;
  int i, j, n, dev_count = 0;

  if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
    fprintf(stderr, "route: no CUDA device; this example needs a GPU\n");
    return 2;
  }
  /* ---- random logits (and a small bias for sigmoid_grouped routing) ---- */
  srand(1);
  for (i = 0; i < M * E; ++i) logits[i] = to_bf16((float)rand() / RAND_MAX * 8.0f - 4.0f);
  for (i = 0; i < E; ++i) bias[i] = (float)rand() / RAND_MAX * 0.2f - 0.1f;
  CUDA(cudaMalloc(&d_logits, sizeof logits));
  CUDA(cudaMalloc(&d_bias, sizeof bias));
  CUDA(cudaMemcpy(d_logits, logits, sizeof logits, cudaMemcpyHostToDevice));
  CUDA(cudaMemcpy(d_bias, bias, sizeof bias, cudaMemcpyHostToDevice));

  /* ---- outputs: top-k, contiguous layout, masked layout ---- */
  sizes[0] = sizeof ids, sizes[1] = sizeof weights, sizes[2] = (size_t)cap * 4, sizes[3] = (size_t)cap * 4;
  sizes[4] = (size_t)(cap / BLOCK_M) * 4, sizes[5] = sizeof offsets, sizes[6] = sizeof counts;
  sizes[7] = sizeof inverse, sizes[8] = sizeof masked;
  for (i = 0; i < 9; ++i) CUDA(cudaMalloc(&d[i], sizes[i]));

  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.kind = (mk_route_kind)MOEKIT_MODEL_ROUTING_KIND;
  a.top_k = K;
  a.renormalize = MOEKIT_MODEL_RENORMALIZE;
  a.n_group = MOEKIT_MODEL_N_GROUP;
  a.topk_group = MOEKIT_MODEL_TOPK_GROUP;
  a.routed_scaling_factor = MOEKIT_MODEL_ROUTED_SCALING_FACTOR;
  a.block_m = BLOCK_M;
  a.logits = mk_tensor_2d(d_logits, MK_DTYPE_BF16, M, E);
  if (a.kind == MK_ROUTE_SIGMOID_GROUPED) a.bias = mk_tensor_1d(d_bias, MK_DTYPE_F32, E);
  a.topk_ids = mk_tensor_2d(d[0], MK_DTYPE_I32, M, K);
  a.topk_weights = mk_tensor_2d(d[1], MK_DTYPE_F32, M, K);
  a.sorted_ids = mk_tensor_1d(d[2], MK_DTYPE_I32, cap);
  a.sorted_experts = mk_tensor_1d(d[3], MK_DTYPE_I32, cap);
  a.block_experts = mk_tensor_1d(d[4], MK_DTYPE_I32, cap / BLOCK_M);
  a.expert_offsets = mk_tensor_1d(d[5], MK_DTYPE_I32, E + 1);
  a.expert_counts = mk_tensor_1d(d[6], MK_DTYPE_I32, E);
  a.inverse = mk_tensor_2d(d[7], MK_DTYPE_I32, M, K);
  a.masked_ids = mk_tensor_2d(d[8], MK_DTYPE_I32, E, M);

  /* ---- the workspace: zeroed once, reusable by every later call ---- */
  if (mk_route_workspace_size(&a, &ws_bytes) != MK_OK) {
    fprintf(stderr, "mk_route_workspace_size: %s\n", mk_last_error());
    return 1;
  }
  CUDA(cudaMalloc(&ws, ws_bytes));
  CUDA(cudaMemset(ws, 0, ws_bytes));

  /* ---- route (one launch at this size: the fused path) ---- */
  {
    mk_route_path path;
    if (mk_route_pick_path(&a, &path) != MK_OK || mk_route(&a, ws, ws_bytes, NULL) != MK_OK) {
      fprintf(stderr, "mk_route: %s\n", mk_last_error());
      return 1;
    }
    CUDA(cudaDeviceSynchronize());
    printf("routed %d tokens over %d experts, top-%d, on the %s path (%s)\n", M, E, K,
           path == MK_ROUTE_PATH_FUSED ? "fused" : "multi-kernel", mk_library_model());
  }
  CUDA(cudaMemcpy(ids, d[0], sizes[0], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(weights, d[1], sizes[1], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(sorted, d[2], sizes[2], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(sorted_exp, d[3], sizes[3], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(blocks, d[4], sizes[4], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(offsets, d[5], sizes[5], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(counts, d[6], sizes[6], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(inverse, d[7], sizes[7], cudaMemcpyDeviceToHost));
  CUDA(cudaMemcpy(masked, d[8], sizes[8], cudaMemcpyDeviceToHost));

  /* ---- print ---- */
  printf("\ntop-k (expert:weight, best first)\n");
  for (i = 0; i < M; ++i) {
    printf("  token %d:", i);
    for (j = 0; j < K; ++j) printf(" %d:%.3f", ids[i * K + j], weights[i * K + j]);
    printf("\n");
  }
  n = offsets[E];
  printf("\ncontiguous layout: %d rows (padded to block_m %d); pair p = token * %d + slot, sentinel %d\n", n,
         BLOCK_M, K, M * K);
  printf("  row  sorted_ids  sorted_experts  (block_experts at each block start)\n");
  for (i = 0; i < n; ++i) {
    printf("  %3d  %10d  %14d", i, sorted[i], sorted_exp[i]);
    if (i % BLOCK_M == 0) printf("  block %d -> expert %d", i / BLOCK_M, blocks[i / BLOCK_M]);
    printf("\n");
  }
  printf("\nexperts with tokens (count, first row), and the masked layout's pairs\n");
  for (i = 0; i < E; ++i) {
    if (!counts[i]) continue;
    printf("  expert %3d: count %d, offset %3d, masked:", i, counts[i], offsets[i]);
    for (j = 0; j < counts[i]; ++j) printf(" %d", masked[i * M + j]);
    printf("\n");
  }
  printf("\ninverse map of token 0 (row of each slot): ");
  for (j = 0; j < K; ++j) printf(" %d", inverse[j]);
  printf("\n");
  return 0;
}
