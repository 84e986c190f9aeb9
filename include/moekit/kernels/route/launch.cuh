/* moekit/kernels/route/launch.cuh - host launchers of the routing kernels
 * (CUDA runtime). One call = one launch (fused) or four (multi), on the
 * caller's stream, no synchronization, no allocation. The geometry was
 * computed by the C API with plan.h and travels in mk__route_params.
 */
#ifndef MOEKIT_KERNELS_ROUTE_LAUNCH_CUH
#define MOEKIT_KERNELS_ROUTE_LAUNCH_CUH

#include "moekit/kernels/route/fused.cuh"
#include "moekit/kernels/route/multi.cuh"

#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
namespace mk {
namespace route {

template <int kKind, int kExperts, int kTopK, int kDtype>
int launch_route_dtype(const mk__route_params *p, void *stream) {
  const cudaStream_t st = (cudaStream_t)stream;
  if (p->path == 1) {
    fused_kernel<kKind, kExperts, kTopK, kDtype><<<p->topk_ctas, p->threads, p->fused_smem, st>>>(*p);
    return (int)cudaGetLastError();
  }
  topk_kernel<kKind, kExperts, kTopK, kDtype><<<p->topk_ctas, p->threads, p->topk_smem, st>>>(*p);
  count_kernel<kTopK><<<p->num_chunks, p->threads, p->count_smem, st>>>(*p);
  scan_kernel<kTopK><<<p->scan_ctas, p->threads, p->scan_smem, st>>>(*p);
  scatter_kernel<kTopK><<<p->num_chunks, p->threads, p->scatter_smem, st>>>(*p);
  return (int)cudaGetLastError();
}

/* The logits dtype is a runtime choice: all three are instantiated. */
template <int kKind, int kExperts, int kTopK>
int launch_route(const mk__route_params *p, void *stream) {
  switch (p->dtype) {
    case MK_DTYPE_BF16: return launch_route_dtype<kKind, kExperts, kTopK, MK_DTYPE_BF16>(p, stream);
    case MK_DTYPE_F16: return launch_route_dtype<kKind, kExperts, kTopK, MK_DTYPE_F16>(p, stream);
    case MK_DTYPE_F32: return launch_route_dtype<kKind, kExperts, kTopK, MK_DTYPE_F32>(p, stream);
  }
  return (int)cudaErrorInvalidValue;
}

}  // namespace route
}  // namespace mk
#endif

#endif /* MOEKIT_KERNELS_ROUTE_LAUNCH_CUH */
