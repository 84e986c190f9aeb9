/* moekit/nv/launch.cuh - one kernel launch on the CUDA runtime, with the
 * optional launch attributes moekit uses: programmatic dependent launch
 * (MK__PDL_LAUNCH in the params' pdl flags, see core/platform.h) and
 * thread-block clusters.
 *
 * Returns a cudaError_t as int; a failed launch's error is also cleared so
 * it does not surface in the caller's next unrelated check.
 */
#ifndef MOEKIT_NV_LAUNCH_CUH
#define MOEKIT_NV_LAUNCH_CUH

#if defined(MK_CUDA) && !defined(MK_NO_LAUNCHERS)

#include <cuda_runtime.h>

#include <utility>

#include "moekit/api/internal.h"

namespace mk {
namespace nv {

template <typename... Params, typename... Args>
int launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, void *stream, int32_t pdl_flags,
           int cluster, Args &&...args) {
  cudaLaunchConfig_t lc;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  lc.gridDim = grid;
  lc.blockDim = block;
  lc.dynamicSmemBytes = smem;
  lc.stream = (cudaStream_t)stream;
  if (pdl_flags & MK__PDL_LAUNCH) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (cluster > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = (unsigned)cluster;
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  lc.attrs = attr;
  lc.numAttrs = n;
  const cudaError_t err = cudaLaunchKernelEx(&lc, kernel, std::forward<Args>(args)...);
  if (err != cudaSuccess) (void)cudaGetLastError();
  return (int)err;
}

}  // namespace nv
}  // namespace mk

#endif /* MK_CUDA && !MK_NO_LAUNCHERS */

#endif /* MOEKIT_NV_LAUNCH_CUH */
