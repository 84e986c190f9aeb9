/* moekit/api/runtime_cuda.h - device services of the C API on the CUDA runtime.
 * Plain C (cuda_runtime_api.h is C-compatible); compiled into an instance
 * library that holds NVIDIA instances. See internal.h for the contract.
 */
#ifndef MOEKIT_API_RUNTIME_CUDA_H
#define MOEKIT_API_RUNTIME_CUDA_H

#include <cuda_runtime_api.h>

#include "moekit/api/internal.h"

int mk__device_arch(int *arch) {
  int dev = 0, major = 0, minor = 0;
  cudaError_t rc = cudaGetDevice(&dev);
  if (rc == cudaSuccess) rc = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (rc == cudaSuccess) rc = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  if (rc != cudaSuccess) {
    (void)cudaGetLastError(); /* do not leave the error for the caller's next check */
    return (int)rc;
  }
  *arch = major * 10 + minor;
  return 0;
}

int mk__device_sm_count(int *count) {
  int dev = 0;
  cudaError_t rc = cudaGetDevice(&dev);
  if (rc == cudaSuccess) rc = cudaDeviceGetAttribute(count, cudaDevAttrMultiProcessorCount, dev);
  if (rc != cudaSuccess) (void)cudaGetLastError();
  return (int)rc;
}

const char *mk__device_error_string(int code) { return cudaGetErrorString((cudaError_t)code); }

int mk__device_event_record(void *event, void *stream) {
  return (int)cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream);
}

#endif /* MOEKIT_API_RUNTIME_CUDA_H */
