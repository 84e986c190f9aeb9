/* route_emu.h - runs moekit's routing kernels on the CPU, one fiber per GPU
 * thread, to check their logic where there is no GPU (tests/host/test_route_emu.py).
 *
 * Include it before any moekit/kernels/route header. Each CTA of a launch runs
 * to completion before the next one starts (a valid GPU schedule); inside a
 * CTA the threads are fibers switched at every barrier and shuffle, so
 * shared memory, __syncthreads, warp shuffles and the fused path's ticket
 * behave as on a GPU. Strict where a GPU is undefined: a barrier that not
 * every thread of the CTA (or warp) reaches is reported as a deadlock, and
 * dynamic shared memory starts as garbage (0xa5), never zeros.
 *
 * What it cannot show: data races between threads (fibers never interleave
 * inside a statement: run compute-sanitizer racecheck on a GPU), and the GPU
 * math library (expf here is the host's).
 * x86-64 only (a 10-instruction context switch; ucontext would make a
 * system call per switch).
 */
#ifndef MOEKIT_TESTS_ROUTE_EMU_H
#define MOEKIT_TESTS_ROUTE_EMU_H

#if !defined(__x86_64__)
#error "route_emu.h: the fiber switch is written for x86-64"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MK_ROUTE_EMU 1
#define MK_DEV inline
#define MK_KERNEL
#define __shared__ static
#ifndef MK_ROUTE_WARP
#define MK_ROUTE_WARP 32
#endif

/* ---- context switch: save callee-saved registers, swap stacks ------------------------ */
extern "C" void mk_emu_swap(void **save_sp, void *load_sp);
__asm__(
    ".text\n"
    ".globl mk_emu_swap\n"
    ".type mk_emu_swap,@function\n"
    "mk_emu_swap:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size mk_emu_swap, .-mk_emu_swap\n");

namespace mk_emu {

constexpr int kWarp = MK_ROUTE_WARP;
constexpr int kStack = 64 * 1024;
constexpr int kMaxThreads = 1024;
constexpr size_t kCanary = 4096;

struct Cta {
  int block_x, grid, nthreads, cur, alive;
  void *sched_sp;
  void *sp[kMaxThreads];
  bool done[kMaxThreads];
  char *stacks;
  uint64_t events, block_gen;
  int block_arrived;
  uint64_t warp_gen[kMaxThreads / 1];
  int warp_arrived[kMaxThreads / 1];
  uint32_t xchg[kMaxThreads];
  unsigned char *smem;
  size_t smem_cap;
  void (*entry)(void *);
  void *arg;
};

inline Cta &cta() {
  static Cta c;
  return c;
}

inline void yield() {
  Cta &c = cta();
  mk_emu_swap(&c.sp[c.cur], c.sched_sp);
}

inline void trampoline() {
  Cta &c = cta();
  c.entry(c.arg);
  c.done[c.cur] = true;
  c.events++;
  mk_emu_swap(&c.sp[c.cur], c.sched_sp);
  abort(); /* a finished fiber is never resumed */
}

inline void block_barrier() {
  Cta &c = cta();
  const uint64_t gen = c.block_gen;
  c.events++;
  if (++c.block_arrived == c.nthreads) {
    c.block_arrived = 0;
    c.block_gen++;
    return;
  }
  while (c.block_gen == gen) yield();
}

inline void warp_barrier() {
  Cta &c = cta();
  const int w = c.cur / kWarp;
  const uint64_t gen = c.warp_gen[w];
  c.events++;
  if (++c.warp_arrived[w] == kWarp) {
    c.warp_arrived[w] = 0;
    c.warp_gen[w]++;
    return;
  }
  while (c.warp_gen[w] == gen) yield();
}

/* Runs fn(arg) as a grid of `grid` CTAs of `threads` threads. */
inline void launch(int grid, int threads, size_t smem_bytes, void (*fn)(void *), void *arg) {
  Cta &c = cta();
  if (threads > kMaxThreads || threads % kWarp) {
    fprintf(stderr, "route_emu: %d threads per CTA (multiple of %d, at most %d)\n", threads, kWarp, kMaxThreads);
    abort();
  }
  if (!c.stacks) c.stacks = (char *)malloc((size_t)kMaxThreads * kStack);
  /* [smem_bytes] dynamic shared memory, then a canary that must survive */
  if (smem_bytes + kCanary > c.smem_cap) {
    free(c.smem);
    c.smem_cap = smem_bytes + kCanary;
    c.smem = (unsigned char *)malloc(c.smem_cap);
  }
  for (int b = 0; b < grid; ++b) {
    c.block_x = b;
    c.grid = grid;
    c.nthreads = threads;
    c.alive = threads;
    c.block_gen = 0;
    c.block_arrived = 0;
    c.entry = fn;
    c.arg = arg;
    memset(c.warp_gen, 0, sizeof c.warp_gen);
    memset(c.warp_arrived, 0, sizeof c.warp_arrived);
    memset(c.smem, 0xa5, smem_bytes + kCanary);
    for (int t = 0; t < threads; ++t) {
      uint64_t *sp = (uint64_t *)(((uintptr_t)(c.stacks + (size_t)(t + 1) * kStack)) & ~(uintptr_t)15);
      *--sp = 0;                          /* trampoline's return address: never used */
      *--sp = (uint64_t)(uintptr_t)&trampoline;
      for (int r = 0; r < 6; ++r) *--sp = 0; /* rbp rbx r12 r13 r14 r15 */
      c.sp[t] = sp;
      c.done[t] = false;
    }
    while (c.alive > 0) {
      const uint64_t before = c.events;
      for (int t = 0; t < threads; ++t) {
        if (c.done[t]) continue;
        c.cur = t;
        mk_emu_swap(&c.sched_sp, c.sp[t]);
      }
      c.alive = 0;
      for (int t = 0; t < threads; ++t) c.alive += !c.done[t];
      if (c.alive > 0 && c.events == before) {
        fprintf(stderr, "route_emu: deadlock in CTA %d: %d of %d threads wait at a barrier that the others "
                        "never reach (block barrier: %d arrived)\n", b, c.alive, threads, c.block_arrived);
        abort();
      }
    }
    for (size_t i = smem_bytes; i < smem_bytes + kCanary; ++i)
      if (c.smem[i] != 0xa5) {
        fprintf(stderr, "route_emu: CTA %d wrote past its %zu bytes of dynamic shared memory (byte %zu)\n", b,
                smem_bytes, i);
        abort();
      }
  }
}

template <class F>
void launch(int grid, int threads, size_t smem_bytes, F f) {
  launch(grid, threads, smem_bytes, [](void *a) { (*(F *)a)(); }, &f);
}

}  // namespace mk_emu

/* ---- what common.cuh calls -------------------------------------------------------------- */
inline int mk_emu_thread_x() { return mk_emu::cta().cur; }
inline int mk_emu_block_x() { return mk_emu::cta().block_x; }
inline int mk_emu_block_dim() { return mk_emu::cta().nthreads; }
inline int mk_emu_grid_dim() { return mk_emu::cta().grid; }
inline void mk_emu_sync_block() { mk_emu::block_barrier(); }
inline void mk_emu_sync_warp() { mk_emu::warp_barrier(); }
inline unsigned char *mk_emu_dyn_smem() { return mk_emu::cta().smem; }
inline uint32_t mk_emu_shfl(uint32_t v, int src_lane) {
  mk_emu::Cta &c = mk_emu::cta();
  const int me = c.cur, base = me - me % mk_emu::kWarp;
  c.xchg[me] = v;
  mk_emu::warp_barrier();
  const uint32_t r = c.xchg[base + (src_lane & (mk_emu::kWarp - 1))];
  mk_emu::warp_barrier();
  return r;
}

#endif /* MOEKIT_TESTS_ROUTE_EMU_H */
