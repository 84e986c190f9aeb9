/* route_plan_check.c - invariants of kernels/route/plan.h over every shape the
 * API accepts (experts 1..1024, top_k 1..32, local ranges, M up to 2^20),
 * for warps of 32 and 64. Prints "ok N plans" or the first violations; exit 1
 * on any. Run by tests/host/test_route_plan.py. */
#include <stdio.h>

#include "moekit/kernels/route/plan.h"

static int bad = 0;

static void fail(const char *what, int e, int k, int l, long long m, int warp, long long v) {
  if (bad++ < 20) printf("violation: %s (E %d, k %d, local %d, M %lld, warp %d): %lld\n", what, e, k, l, m, warp, v);
}

int main(void) {
  static const long long ms[] = {1, 2, 15, 16, 17, 100, 129, 512, 1000, 4097, 16384, 100000, 1 << 20};
  long long n = 0;
  int e, k, li, mi, w;
  for (e = 1; e <= 1024; e += (e < 64 ? 1 : 37)) {
    for (k = 1; k <= 32 && k <= e; k = k < 8 ? k + 1 : k * 2) {
      for (li = 0; li < 3; ++li) {
        const int local = li == 0 ? e : (li == 1 ? (e + 1) / 2 : 1);
        for (mi = 0; mi < (int)(sizeof ms / sizeof ms[0]); ++mi) {
          for (w = 32; w <= 64; w += 32) {
            const long long m = ms[mi];
            mk__route_plan p;
            int kind;
            for (kind = 1; kind <= 3; ++kind) {
              const int grouped = kind == 3 && e % 2 == 0 && e >= 4;
              mk__route_make_plan(&p, m, kind, e, k, local, grouped, w);
              ++n;
              if (p.threads != mk__route_threads(kind, e) || p.threads % w) fail("threads", e, k, local, m, w, p.threads);
              if ((long long)p.topk_ctas * (p.threads / w) < m) fail("topk grid covers M", e, k, local, m, w, p.topk_ctas);
              if (p.fused_smem < 0 || p.fused_smem > MK__ROUTE_SMEM_BUDGET) fail("fused smem", e, k, local, m, w, p.fused_smem);
              if (p.fused_smem && m * k > 65535) fail("fused order[] fits u16", e, k, local, m, w, m * k);
              if (p.fused_smem && p.fused_smem < mk__route_sort_smem(m, k, local))
                fail("fused smem holds the rank state", e, k, local, m, w, p.fused_smem);
              if (m <= 8 && k <= 8 && e <= 256 && !p.fused_smem) fail("decode fits the fused path", e, k, local, m, w, 0);
              if (p.topk_smem > MK__ROUTE_SMEM_BUDGET) fail("topk smem", e, k, local, m, w, p.topk_smem);
              if (p.scatter_smem > MK__ROUTE_SMEM_BUDGET) fail("scatter smem", e, k, local, m, w, p.scatter_smem);
              if (p.scatter_smem < mk__route_sort_smem(p.chunk_tokens, k, local)) fail("scatter smem size", e, k, local, m, w, p.scatter_smem);
              if (p.chunk_tokens < 32 || (p.chunk_tokens & (p.chunk_tokens - 1))) fail("chunk power of two >= 32", e, k, local, m, w, p.chunk_tokens);
              if ((long long)p.chunk_tokens * k > 65535) fail("chunk order[] fits u16", e, k, local, m, w, p.chunk_tokens);
              if ((long long)p.num_chunks * p.chunk_tokens < m || (long long)(p.num_chunks - 1) * p.chunk_tokens >= m)
                fail("chunks cover M exactly", e, k, local, m, w, p.num_chunks);
              if ((long long)p.scan_ctas * w < local + 1) fail("scan covers the columns", e, k, local, m, w, p.scan_ctas);
              if (p.scan_smem < p.threads * 4) fail("scan smem", e, k, local, m, w, p.scan_smem);
              if (p.ws_sid < 4 || p.ws_sid % 256 || p.ws_chunks < p.ws_sid + m * k * 2 || p.ws_chunks % 256 ||
                  p.ws_totals < p.ws_chunks + (long long)p.num_chunks * (local + 1) * 4 || p.ws_totals % 256 ||
                  p.ws_bytes < p.ws_totals + (local + 1) * 4)
                fail("workspace layout", e, k, local, m, w, p.ws_bytes);
            }
          }
        }
      }
    }
  }
  if (mk__route_capacity(3, 2, 4, 2) != 10 || mk__route_capacity(1, 8, 256, 128) != 8 + 8 * 127)
    fail("capacity formula", 0, 0, 0, 0, 0, 0);
  if (bad) printf("%d violations in %lld plans\n", bad, n);
  else printf("ok %lld plans\n", n);
  return bad ? 1 : 0;
}
