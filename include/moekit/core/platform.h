/* moekit/core/platform.h - one set of qualifiers for host C, CUDA and HIP.
 *
 * Every portable moekit header includes this first. It answers three
 * questions with macros, so the headers below it never test compilers
 * themselves:
 *
 *   MK_HD        a function callable from host C, CUDA device and HIP device
 *   MK_DEV       a device-only function (CUDA or HIP)
 *   MK_KERNEL    a kernel entry point (__global__)
 *   MK_LAUNCH_BOUNDS(n)  the kernel's maximum block size, for the register allocator
 *
 *   MK_DEVICE_NV   compiling NVIDIA device code (__CUDA_ARCH__ set)
 *   MK_DEVICE_AMD  compiling AMD device code (HIP device pass)
 *   MK_WARP_SIZE   32 on NVIDIA, 64 on CDNA (gfx942/gfx950)
 *
 * HIP device code may be compiled without the HIP runtime headers
 * (clang -x hip --cuda-device-only -nogpulib -nogpuinc, as the compile tests
 * do); the attribute spellings are then defined here.
 */
#ifndef MOEKIT_CORE_PLATFORM_H
#define MOEKIT_CORE_PLATFORM_H

#include <stdint.h>

/* ---- compiler flavour ---------------------------------------------------- */
#if defined(__HIP__) || defined(__HIPCC__)
#define MK_HIP 1
#elif defined(__CUDACC__)
#define MK_CUDA 1
#endif

#if defined(MK_HIP) && !defined(__device__)
/* No HIP runtime headers: spell the attributes ourselves. */
#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __forceinline__ inline __attribute__((always_inline))
#endif

#if defined(MK_HIP)
#define MK_LAUNCH_BOUNDS(threads) __attribute__((amdgpu_flat_work_group_size(1, threads)))
#elif defined(MK_CUDA)
#define MK_LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#endif

#if defined(MK_CUDA) || defined(MK_HIP)
#define MK_HD __host__ __device__ __forceinline__
#define MK_DEV __device__ __forceinline__
#define MK_KERNEL __global__
#else
#define MK_HD static inline
#endif

/* ---- which device pass is this ------------------------------------------ */
#if defined(__CUDA_ARCH__)
#define MK_DEVICE_NV 1
#define MK_WARP_SIZE 32
#elif defined(__HIP_DEVICE_COMPILE__) || defined(__AMDGCN__)
#define MK_DEVICE_AMD 1
#define MK_WARP_SIZE 64
#else
#define MK_WARP_SIZE 32
#endif

/* NVIDIA arch tiers used by the headers (see docs/architecture.md). */
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 890
#define MK_NV_HAS_CVT_FP8 1 /* cvt.rn.satfinite.{e4m3,e5m2}x2.f32 */
#endif
#if defined(MK_DEVICE_NV) && \
    ((defined(__CUDA_ARCH_FAMILY_SPECIFIC__) && __CUDA_ARCH_FAMILY_SPECIFIC__ >= 1000) || \
     (defined(__CUDA_ARCH_SPECIFIC__) && __CUDA_ARCH_SPECIFIC__ >= 1000))
#define MK_NV_HAS_CVT_FP4 1 /* cvt.rn.satfinite.e2m1x2.f32, cvt.rp.satfinite.ue8m0x2.f32 */
#endif

#if defined(MK_DEVICE_AMD) && defined(__gfx950__)
#define MK_AMD_GFX950 1 /* v_cvt_scalef32_pk_*, scaled MFMA */
#endif
#if defined(MK_DEVICE_AMD) && defined(__gfx942__)
#define MK_AMD_GFX942 1 /* v_cvt_pk_fp8_f32 (e4m3fnuz) */
#endif

/* ---- float <-> bits, in every language ----------------------------------- */
MK_HD uint32_t mk_f32_bits(float x) {
  union { float f; uint32_t u; } v;
  v.f = x;
  return v.u;
}

MK_HD float mk_f32_from_bits(uint32_t u) {
  union { float f; uint32_t u; } v;
  v.u = u;
  return v.f;
}

/* bf16 is the top half of an f32, so widening is exact. */
MK_HD float mk_bf16_to_f32(uint16_t h) { return mk_f32_from_bits((uint32_t)h << 16); }

/* ---- IEEE arithmetic that the compiler may not contract into FMAs ------------- */
/* NOTE: quantization must be bit-identical to its CPU reference, so the few
 * operations that define a scale are spelled with these. */
#if defined(MK_CUDA)
#define mk_fmul_rn(a, b) __fmul_rn((a), (b))
#define mk_fdiv_rn(a, b) __fdiv_rn((a), (b))
#define mk_fabsf(a) fabsf(a)
#define mk_fmaxf(a, b) fmaxf((a), (b))
#define mk_fmaf(a, b, c) __fmaf_rn((a), (b), (c))
#elif defined(MK_HIP)
MK_HD float mk_fmul_rn(float a, float b) {
#pragma clang fp contract(off)
  return a * b;
}
MK_HD float mk_fdiv_rn(float a, float b) {
#pragma clang fp contract(off)
  return a / b;
}
#define mk_fabsf(a) __builtin_fabsf(a)
#define mk_fmaxf(a, b) __builtin_fmaxf((a), (b))
#define mk_fmaf(a, b, c) __builtin_fmaf((a), (b), (c))
#endif

/* ---- programmatic dependent launch (sm_90+) ------------------------------------ */
/* A kernel launched with the programmatic-serialization attribute may start
 * while the kernel before it on the stream is still running. mk_pdl_wait()
 * blocks until that kernel has completed and its writes are visible: every
 * moekit kernel calls it before its first global-memory access that could
 * depend on an earlier kernel (read or write). mk_pdl_trigger() lets the next
 * kernel start launching; moekit kernels call it only after their own wait,
 * so a kernel that has been launched knows that everything two launches back
 * has completed (the GEMM's weight prefetch relies on this, see
 * docs/moe.md). Both are no-ops without the attribute, on older GPUs, on AMD
 * and in the host emulator. */
#if defined(MK_DEV)
MK_DEV void mk_pdl_wait(void) {
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
MK_DEV void mk_pdl_trigger(void) {
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
#endif

#endif /* MOEKIT_CORE_PLATFORM_H */
