/* route_emu_lib.cc - the registry of an emulated instance library: the same
 * C API (route_emu_api.c) over routing kernels run by route_emu.h on the CPU.
 * Built by tests/host/test_route_emu.py into libmoekit_route_emu.so, whose
 * "device pointers" are host pointers.
 *
 * Instances: the (kind, experts, top_k) list below, every logits dtype.
 * MK_ROUTE_EMU_THREADS (environment) lowers the threads per CTA (fewer
 * fibers, faster; tokens per CTA follow; never above the plan's).
 */
#include "route_emu.h"

#include "moekit/kernels/route/fused.cuh"
#include "moekit/kernels/route/multi.cuh"

namespace {

template <int kKind, int kExperts, int kTopK, int kDtype>
int run(const mk__route_params *pp) {
  mk__route_params p = *pp;
  const char *env = getenv("MK_ROUTE_EMU_THREADS");
  if (env && atoi(env) > 0 && atoi(env) < p.threads) { /* fewer only: shared memory is sized for p.threads */
    p.threads = atoi(env);
    const int per = p.threads / MK_ROUTE_WARP;
    p.topk_ctas = (p.m + per - 1) / per;
  }
  if (p.path == 1) {
    mk_emu::launch(p.topk_ctas, p.threads, p.fused_smem,
                   [&] { mk::route::fused_kernel<kKind, kExperts, kTopK, kDtype>(p); });
    return 0;
  }
  mk_emu::launch(p.topk_ctas, p.threads, p.topk_smem, [&] { mk::route::topk_kernel<kKind, kExperts, kTopK, kDtype>(p); });
  mk_emu::launch(p.num_chunks, p.threads, p.count_smem, [&] { mk::route::count_kernel<kTopK>(p); });
  mk_emu::launch(p.scan_ctas, p.threads, p.scan_smem, [&] { mk::route::scan_kernel<kTopK>(p); });
  mk_emu::launch(p.num_chunks, p.threads, p.scatter_smem, [&] { mk::route::scatter_kernel<kTopK>(p); });
  return 0;
}

template <int kKind, int kExperts, int kTopK>
int launch(const void *params, void *stream) {
  const mk__route_params *p = (const mk__route_params *)params;
  (void)stream;
  switch (p->dtype) {
    case MK_DTYPE_BF16: return run<kKind, kExperts, kTopK, MK_DTYPE_BF16>(p);
    case MK_DTYPE_F16: return run<kKind, kExperts, kTopK, MK_DTYPE_F16>(p);
    case MK_DTYPE_F32: return run<kKind, kExperts, kTopK, MK_DTYPE_F32>(p);
  }
  return 1;
}

}  // namespace

#define MK_EMU_ROUTE(kind, e, k) \
  {"route_emu_" #kind "_e" #e "_k" #k, MK_OP_ROUTE, 90, kind, 0, 0, e, k, 0, 0, 0, launch<kind, e, k>}

extern "C" {
const char mk__model_name[] = "route_emu";
const mk__entry mk__registry[] = {
    MK_EMU_ROUTE(1, 1, 1),    MK_EMU_ROUTE(1, 8, 2),    MK_EMU_ROUTE(1, 60, 4),   MK_EMU_ROUTE(1, 128, 8),
    MK_EMU_ROUTE(1, 144, 6),  MK_EMU_ROUTE(1, 1024, 32), MK_EMU_ROUTE(2, 64, 1),  MK_EMU_ROUTE(2, 128, 4),
    MK_EMU_ROUTE(2, 160, 6),  MK_EMU_ROUTE(3, 64, 4),   MK_EMU_ROUTE(3, 160, 6),  MK_EMU_ROUTE(3, 256, 8),
    MK_EMU_ROUTE(3, 384, 8),  MK_EMU_ROUTE(3, 1024, 8),
};
const int mk__registry_len = (int)(sizeof mk__registry / sizeof mk__registry[0]);

int mk__device_arch(int *arch) {
  *arch = 90;
  return 0;
}
int mk__device_sm_count(int *count) {
  *count = 132;
  return 0;
}
const char *mk__device_error_string(int code) { return code ? "emulated launch failed" : "no error"; }
int mk__device_event_record(void *event, void *stream) { /* the layer's stage events: nothing to time here */
  (void)event;
  (void)stream;
  return 0;
}
}
