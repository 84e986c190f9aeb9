/* moekit/kernels/route/launch.cuh - host launchers of the routing kernels
 * (CUDA runtime). One call = one launch (fused) or four (multi), on the
 * caller's stream, no synchronization, no allocation. The geometry was
 * computed by the C API with plan.h and travels in mk__route_params.
 */
#ifndef MOEKIT_KERNELS_ROUTE_LAUNCH_CUH
#define MOEKIT_KERNELS_ROUTE_LAUNCH_CUH

#include "moekit/kernels/route/fused.cuh"
#include "moekit/kernels/route/multi.cuh"
#include "moekit/nv/launch.cuh"

#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)
namespace mk {
namespace route {

template <int kKind, int kExperts, int kTopK, int kDtype>
int launch_route_dtype(const mk__route_params *p, void *stream) {
  const cudaStream_t st = (cudaStream_t)stream;
  const int32_t f = p->pdl;
  if (p->path == 1)
    return nv::launch(fused_kernel<kKind, kExperts, kTopK, kDtype>, dim3(p->topk_ctas), dim3(p->threads), p->fused_smem,
                      st, f, 1, *p);
  int rc = nv::launch(topk_kernel<kKind, kExperts, kTopK, kDtype>, dim3(p->topk_ctas), dim3(p->threads), p->topk_smem,
                      st, f, 1, *p);
  if (!rc) rc = nv::launch(count_kernel<kTopK>, dim3(p->num_chunks), dim3(p->threads), p->count_smem, st, f, 1, *p);
  if (!rc) rc = nv::launch(scan_kernel<kTopK>, dim3(p->scan_ctas), dim3(p->threads), p->scan_smem, st, f, 1, *p);
  if (!rc) rc = nv::launch(scatter_kernel<kTopK>, dim3(p->num_chunks), dim3(p->threads), p->scatter_smem, st, f, 1, *p);
  return rc;
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
