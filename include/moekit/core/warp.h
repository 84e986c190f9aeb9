/* moekit/core/warp.h - thread indexing, warp shuffles and barriers for CUDA and HIP.
 *
 * Kernels written against these helpers compile for sm_90a/sm_100a (nvcc)
 * and gfx942/gfx950 (clang -x hip, with or without the HIP runtime headers).
 * A "warp" is MK_WARP_SIZE lanes: 32 on NVIDIA, 64 on CDNA. Reductions over
 * a sub-group of 2^n lanes (n <= 5) behave identically on both.
 */
#ifndef MOEKIT_CORE_WARP_H
#define MOEKIT_CORE_WARP_H

#include "moekit/core/platform.h"

#if defined(MK_CUDA) || defined(MK_HIP)

/* ---- indices --------------------------------------------------------------- */
#if defined(MK_HIP)
MK_DEV uint32_t mk_thread_x(void) { return __builtin_amdgcn_workitem_id_x(); }
MK_DEV uint32_t mk_block_x(void) { return __builtin_amdgcn_workgroup_id_x(); }
MK_DEV uint32_t mk_block_y(void) { return __builtin_amdgcn_workgroup_id_y(); }
MK_DEV uint32_t mk_block_dim_x(void) { return __builtin_amdgcn_workgroup_size_x(); }
MK_DEV uint32_t mk_grid_dim_x(void) { return __builtin_amdgcn_grid_size_x() / __builtin_amdgcn_workgroup_size_x(); }
MK_DEV uint32_t mk_lane_id(void) { return __builtin_amdgcn_mbcnt_hi(~0u, __builtin_amdgcn_mbcnt_lo(~0u, 0u)); }
MK_DEV void mk_sync_block(void) {
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
  __builtin_amdgcn_s_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
#else
MK_DEV uint32_t mk_thread_x(void) { return threadIdx.x; }
MK_DEV uint32_t mk_block_x(void) { return blockIdx.x; }
MK_DEV uint32_t mk_block_y(void) { return blockIdx.y; }
MK_DEV uint32_t mk_block_dim_x(void) { return blockDim.x; }
MK_DEV uint32_t mk_grid_dim_x(void) { return gridDim.x; }
MK_DEV uint32_t mk_lane_id(void) { return threadIdx.x & 31u; }
MK_DEV void mk_sync_block(void) { __syncthreads(); }
#endif

/* ---- shuffles -------------------------------------------------------------- */
/* Exchange with lane (lane ^ mask). All lanes of the warp must call it. */
MK_DEV uint32_t mk_shfl_xor_u32(uint32_t v, int mask) {
#if defined(MK_HIP)
  const int src = (int)(mk_lane_id() ^ (uint32_t)mask);
  return (uint32_t)__builtin_amdgcn_ds_bpermute(src << 2, (int)v);
#else
  return __shfl_xor_sync(0xffffffffu, v, mask);
#endif
}

MK_DEV float mk_shfl_xor_f32(float v, int mask) {
  return mk_f32_from_bits(mk_shfl_xor_u32(mk_f32_bits(v), mask));
}

/* Max over groups of kLanes consecutive lanes (kLanes a power of two <= 32).
 * NOTE: fmaxf drops NaN, so one NaN never hides the other lanes' values. */
template <int kLanes>
MK_DEV float mk_group_max_f32(float v) {
#pragma unroll
  for (int m = kLanes / 2; m > 0; m >>= 1) v = mk_fmaxf(v, mk_shfl_xor_f32(v, m));
  return v;
}

/* ---- vector memory ----------------------------------------------------------- */
struct __attribute__((aligned(16))) mk_u32x4 { uint32_t x, y, z, w; };
struct __attribute__((aligned(8))) mk_u32x2 { uint32_t x, y; };

/* 16-byte load that bypasses L1 (streamed, read once). */
MK_DEV mk_u32x4 mk_ld_stream_16(const void *p) {
#if defined(MK_HIP)
  typedef uint32_t mk__v4 __attribute__((ext_vector_type(4)));
  const mk__v4 v = __builtin_nontemporal_load((const mk__v4 *)p);
  mk_u32x4 r = {v[0], v[1], v[2], v[3]};
  return r;
#else
  mk_u32x4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
#endif
}

/* The same, asking L2 to fetch the whole 256-byte block (streams whose
 * neighbours are read next by other warps). */
MK_DEV mk_u32x4 mk_ld_stream_16_pf256(const void *p) {
#if defined(MK_HIP)
  return mk_ld_stream_16(p);
#else
  mk_u32x4 r;
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
#endif
}

#endif /* MK_CUDA || MK_HIP */

#endif /* MOEKIT_CORE_WARP_H */
