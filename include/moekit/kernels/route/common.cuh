/* moekit/kernels/route/common.cuh - what the routing kernels share: warp and
 * block primitives for three backends, score keys, the block scan.
 *
 * Backends (one of them is active):
 *   MK_CUDA       nvcc, sm_90a / sm_100a (warp 32; redux.sync for warp max)
 *   MK_HIP        clang -x hip, gfx942 / gfx950 (wave 64), with or without
 *                 the HIP headers
 *   MK_ROUTE_EMU  host C++: tests/host/route_emu.h runs every thread of a
 *                 CTA as a fiber and provides mk_emu_*; used to check the
 *                 kernels' logic on machines without a GPU
 *
 * Score keys. Selection compares 64-bit keys (hi, lo):
 *   hi = order_key(score): the f32 bits mapped so that unsigned order is
 *        numeric order; NaN scores become -inf first and -0 becomes +0, so
 *        equal scores give equal keys; 0 is below every real score and marks
 *        "not selectable" (padding lanes, masked groups, already taken)
 *   lo = ~expert: among equal scores the lower expert index wins
 */
#ifndef MOEKIT_KERNELS_ROUTE_COMMON_CUH
#define MOEKIT_KERNELS_ROUTE_COMMON_CUH

#include "moekit/api/internal.h"
#include "moekit/kernels/route/plan.h"
#if defined(MK_CUDA) || defined(MK_HIP)
#include "moekit/core/warp.h"
#elif !defined(MK_ROUTE_EMU)
#error "moekit/kernels/route: compile with nvcc (CUDA), clang -x hip (HIP), or define MK_ROUTE_EMU (host tests)"
#endif

#ifndef MK_ROUTE_WARP
#define MK_ROUTE_WARP MK_WARP_SIZE
#endif

#if defined(MK_CUDA)
#define MK_ROUTE_BOUNDS(n) __launch_bounds__(n, 1)
#define MK_ROUTE_DYN_SMEM(name) extern __shared__ __attribute__((aligned(16))) unsigned char name[]
#elif defined(MK_HIP)
#define MK_ROUTE_BOUNDS(n) __attribute__((amdgpu_flat_work_group_size(1, n)))
#define MK_ROUTE_DYN_SMEM(name) extern __shared__ __attribute__((aligned(16))) unsigned char name[]
#else
#define MK_ROUTE_BOUNDS(n)
#define MK_ROUTE_DYN_SMEM(name) unsigned char *name = mk_emu_dyn_smem()
#endif

namespace mk {
namespace route {

constexpr int kWarp = MK_ROUTE_WARP;
constexpr int kMaxThreads = MK__ROUTE_THREADS;
constexpr float kFltMax = 3.40282347e38f;

/* ---- indices and barriers ---------------------------------------------------------- */
#if defined(MK_ROUTE_EMU)
MK_DEV int thread_x() { return mk_emu_thread_x(); }
MK_DEV int block_x() { return mk_emu_block_x(); }
MK_DEV int block_dim() { return mk_emu_block_dim(); }
MK_DEV int grid_dim() { return mk_emu_grid_dim(); }
MK_DEV void sync_block() { mk_emu_sync_block(); }
MK_DEV void sync_warp() { mk_emu_sync_warp(); }
#else
MK_DEV int thread_x() { return (int)mk_thread_x(); }
MK_DEV int block_x() { return (int)mk_block_x(); }
MK_DEV int block_dim() { return (int)mk_block_dim_x(); }
MK_DEV int grid_dim() { return (int)mk_grid_dim_x(); }
MK_DEV void sync_block() { mk_sync_block(); }
MK_DEV void sync_warp() {
#if defined(MK_HIP)
  /* a wavefront runs in lockstep: order its LDS accesses */
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
  __builtin_amdgcn_wave_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
#else
  __syncwarp();
#endif
}
#endif

/* ---- shuffles and warp reductions (every lane of the warp must call) ----------------- */
MK_DEV uint32_t shfl_u32(uint32_t v, int src_lane) {
#if defined(MK_ROUTE_EMU)
  return mk_emu_shfl(v, src_lane);
#elif defined(MK_HIP)
  return (uint32_t)__builtin_amdgcn_ds_bpermute(src_lane << 2, (int)v);
#else
  return __shfl_sync(0xffffffffu, v, src_lane);
#endif
}

MK_DEV uint32_t shfl_xor_u32(uint32_t v, int mask) {
#if defined(MK_ROUTE_EMU)
  return mk_emu_shfl(v, (thread_x() % kWarp) ^ mask);
#else
  return mk_shfl_xor_u32(v, mask);
#endif
}

MK_DEV float shfl_f32(float v, int src_lane) { return mk_f32_from_bits(shfl_u32(mk_f32_bits(v), src_lane)); }

MK_DEV uint32_t warp_max_u32(uint32_t v) {
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 800
  return __reduce_max_sync(0xffffffffu, v); /* one redux.sync */
#else
#pragma unroll
  for (int m = kWarp / 2; m > 0; m >>= 1) {
    const uint32_t o = shfl_xor_u32(v, m);
    v = o > v ? o : v;
  }
  return v;
#endif
}

MK_DEV int warp_sum_i32(int v) {
#if defined(MK_DEVICE_NV) && __CUDA_ARCH__ >= 800
  return __reduce_add_sync(0xffffffffu, v);
#else
#pragma unroll
  for (int m = kWarp / 2; m > 0; m >>= 1) v += (int)shfl_xor_u32((uint32_t)v, m);
  return v;
#endif
}

/* NOTE: a butterfly: every lane gets the same sum, added in the same order on
 * every call, so weights are deterministic. */
MK_DEV float warp_sum_f32(float v) {
#pragma unroll
  for (int m = kWarp / 2; m > 0; m >>= 1) v += mk_f32_from_bits(shfl_xor_u32(mk_f32_bits(v), m));
  return v;
}

/* Inclusive prefix sum over the lanes of a warp. */
MK_DEV int warp_inclusive_scan(int v, int lane) {
#pragma unroll
  for (int d = 1; d < kWarp; d <<= 1) {
    const int o = (int)shfl_u32((uint32_t)v, lane >= d ? lane - d : lane);
    if (lane >= d) v += o;
  }
  return v;
}

/* ---- atomics and fences ------------------------------------------------------------- */
MK_DEV void smem_or(uint32_t *p, uint32_t v) {
#if defined(MK_ROUTE_EMU)
  *p |= v; /* fibers never interleave inside a statement */
#elif defined(MK_HIP)
  __hip_atomic_fetch_or(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_WORKGROUP);
#else
  atomicOr(p, v);
#endif
}

MK_DEV void smem_add(int *p, int v) {
#if defined(MK_ROUTE_EMU)
  *p += v;
#elif defined(MK_HIP)
  __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_WORKGROUP);
#else
  atomicAdd(p, v);
#endif
}

/* The fused path's ticket: one device-scope acq_rel atomic add. After a
 * block barrier it releases the whole CTA's stores (prefill, sid), and the
 * CTA that draws the last ticket acquires every other CTA's (CUTLASS's
 * generic barrier pattern; no separate fence). */
MK_DEV uint32_t ticket_add(uint32_t *p) {
#if defined(MK_ROUTE_EMU)
  return (*p)++;
#elif defined(MK_HIP)
  return __hip_atomic_fetch_add(p, 1u, __ATOMIC_ACQ_REL, __HIP_MEMORY_SCOPE_AGENT);
#else
  uint32_t old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], 1;" : "=r"(old) : "l"(p) : "memory");
  return old;
#endif
}

/* A load of data another CTA wrote in this launch (after the ticket): from
 * L2, never a stale L1 line. */
MK_DEV int16_t ld_shared_gpu_i16(const int16_t *p) {
#if defined(MK_CUDA)
  return __ldcg(p);
#else
  return *(const volatile int16_t *)p; /* AMD: the acquire fence invalidated L1 */
#endif
}

MK_DEV int popc(uint32_t x) {
#if defined(MK_CUDA)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

/* ---- numbers -------------------------------------------------------------------------- */
MK_DEV float exp_f32(float x) {
#if defined(MK_CUDA)
  return expf(x); /* full precision (about 2 ulp), not __expf */
#else
  return __builtin_expf(x);
#endif
}

MK_DEV float f16_to_f32(uint16_t h) {
#if defined(MK_CUDA)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#elif defined(MK_HIP)
  return (float)__builtin_bit_cast(_Float16, h);
#else
  const uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return mk_f32_from_bits(s | 0x7f800000u | (m << 13));
  if (e == 0) return (s ? -1.0f : 1.0f) * (float)m * 5.9604644775390625e-8f; /* m * 2^-24 */
  return mk_f32_from_bits(s | ((e + 112u) << 23) | (m << 13));
#endif
}

/* NaN -> -inf (the documented rule: a NaN logit or score can be selected
 * only after every real one). */
MK_DEV float no_nan(float x) { return x != x ? mk_f32_from_bits(0xff800000u) : x; }

/* Infinities -> +-FLT_MAX before exp: an all -inf row then has equal weights
 * and +inf experts share the weight instead of producing NaN. */
MK_DEV float clamp_finite(float x) { return x < -kFltMax ? -kFltMax : (x > kFltMax ? kFltMax : x); }

MK_DEV uint32_t order_key(float x) {
  uint32_t u = mk_f32_bits(x);
  if (u == 0x80000000u) u = 0; /* -0 == +0 */
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

MK_DEV float key_to_f32(uint32_t k) { return mk_f32_from_bits((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }

template <int kDtype>
MK_DEV float load_logit(const void *row, int e) {
  if (kDtype == MK_DTYPE_F32) return ((const float *)row)[e];
  const uint16_t h = ((const uint16_t *)row)[e];
  return kDtype == MK_DTYPE_BF16 ? mk_bf16_to_f32(h) : f16_to_f32(h);
}

/* ---- block scan --------------------------------------------------------------------------- */
/* out[i] = in[0] + ... + in[i-1] for i in [0, n], so out[n] is the total.
 * Every thread of the CTA calls; scratch holds >= kMaxThreads/kWarp + 1 ints.
 * in and out may be the same array. Ends with a block barrier. */
MK_DEV void block_exclusive_scan(const int *in, int *out, int n, int *scratch) {
  const int tid = thread_x(), nthreads = block_dim(), lane = tid % kWarp, warp = tid / kWarp;
  const int per = (n + nthreads - 1) / nthreads;
  const int lo = tid * per < n ? tid * per : n, hi = lo + per < n ? lo + per : n;
  int sum = 0;
  for (int i = lo; i < hi; ++i) sum += in[i];
  const int incl = warp_inclusive_scan(sum, lane);
  if (lane == kWarp - 1) scratch[warp] = incl;
  sync_block();
  if (tid == 0) {
    int run = 0;
    for (int w = 0; w < nthreads / kWarp; ++w) {
      const int t = scratch[w];
      scratch[w] = run;
      run += t;
    }
    scratch[nthreads / kWarp] = run;
  }
  sync_block();
  int run = scratch[warp] + incl - sum;
  for (int i = lo; i < hi; ++i) {
    const int v = in[i];
    out[i] = run;
    run += v;
  }
  if (tid == 0) out[n] = scratch[nthreads / kWarp];
  sync_block();
}

}  // namespace route
}  // namespace mk

#endif /* MOEKIT_KERNELS_ROUTE_COMMON_CUH */
