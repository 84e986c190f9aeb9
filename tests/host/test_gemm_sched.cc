/* test_gemm_sched.cc - the sm90 GEMM tile schedulers (moekit/sched/sm90_gemm.cuh)
 * walked on the host: every cluster of a persistent grid walks its units as
 * the scheduler warp does, and the tiles they produce must cover D exactly.
 *
 *   dense       every (row block, column block) of D stored exactly once; a
 *               tile outside D (odd block counts in clusters) never stored;
 *               the two CTAs of a cluster on the tiles that share an operand
 *   contiguous  every row block whose first row names an expert stored
 *               exactly once, on that expert, nothing stored for padding
 *
 * Run by tests/host/test_gemm_host.py. The masked walk needs a whole warp
 * (its group search is a warp scan) and is checked on the GPU
 * (tests/gpu/gemm_check.py). Prints "ok NAME" or "not ok NAME: WHY" per case. */
#include <stdint.h>
#include <stdio.h>

#include <map>
#include <tuple>
#include <utility>
#include <vector>

/* ---- one-lane stand-ins for the device intrinsics the header names ------------------ */
#define MK_DEV inline
struct mk_emu_tid { unsigned x; };
static const mk_emu_tid threadIdx = {0u};
template <class T> static inline T __ldg(const T *p) { return *p; }
static inline int32_t __shfl_up_sync(unsigned, int32_t v, int) { return v; }
static inline int32_t __shfl_sync(unsigned, int32_t v, int) { return v; }
static inline unsigned __ballot_sync(unsigned, bool b) { return b ? 1u : 0u; }
static inline int __ffs(unsigned x) { return __builtin_ffs((int)x); }

#include "moekit/sched/sm90_gemm.cuh"

using mk::sched::gemm_tile;

static int g_failed = 0;
static void report(bool ok, const char *what, int m, int n, int bm, int bn, int cm, int cn, int sms, const char *why) {
  printf("%s %s_m%d_n%d_%dx%d_c%dx%d_sms%d%s%s\n", ok ? "ok" : "not ok", what, m, n, bm, bn, cm, cn, sms,
         ok ? "" : ": ", ok ? "" : why);
  if (!ok) ++g_failed;
}

/* Walks every cluster's units; returns every tile with its CTA's cluster and rank. */
template <int kKind, int kN, int BM, int BN, int CM, int CN>
static std::vector<std::tuple<int, int, gemm_tile>> walk(const mk__gemm_params &p, int sms) {
  const int csize = CM * CN, clusters = sms / csize;
  std::vector<std::tuple<int, int, gemm_tile>> out;
  for (int c = 0; c < clusters; ++c)
    for (int rank = 0; rank < csize; ++rank) {
      mk::sched::gemm_scheduler<kKind, kN, BM, BN, CM, CN> s;
      s.init(p, c, clusters);
      gemm_tile t;
      while (s.next(p, (uint32_t)rank, &t)) out.emplace_back(c, rank, t);
    }
  return out;
}

/* ---- dense ---------------------------------------------------------------------------- */
template <int kN, int BM, int BN, int CM, int CN>
static void dense_case(int m, int sms) {
  mk__gemm_params p = {};
  p.m = m;
  p.groups = 1;
  const int mb = (m + BM - 1) / BM, nb = (kN + BN - 1) / BN;
  std::vector<int> seen((size_t)mb * nb, 0);
  const char *why = "";
  /* per (cluster, step): the tiles of the cluster's CTAs must share A (CN = 2) or B (CM = 2) */
  std::map<std::pair<int, int>, std::vector<gemm_tile>> steps;
  int last_c = -1, last_rank = -1, step = 0;
  for (auto &e : walk<mk::sched::kGemmDense, kN, BM, BN, CM, CN>(p, sms)) {
    const int c = std::get<0>(e), rank = std::get<1>(e);
    const gemm_tile t = std::get<2>(e);
    step = (c == last_c && rank == last_rank) ? step + 1 : 0;
    last_c = c;
    last_rank = rank;
    steps[std::make_pair(c, step)].push_back(t);
    const bool outside = t.m_block >= mb || t.n_block >= nb;
    if (outside != ((t.flags & mk::sched::kTileNoStore) != 0)) why = "a tile's no-store flag disagrees with its place";
    else if (!outside) ++seen[(size_t)t.m_block * nb + t.n_block];
  }
  for (int v : seen)
    if (v != 1) why = v == 0 ? "a tile of D is never computed" : "a tile of D is computed twice";
  for (auto &kv : steps) {
    const std::vector<gemm_tile> &s = kv.second;
    if ((int)s.size() != CM * CN) why = "the CTAs of a cluster walked different numbers of tiles";
    else if (CN == 2 && (s[0].m_block != s[1].m_block || s[1].n_block != s[0].n_block + 1))
      why = "a cluster sharing A is not on one row block and two adjacent column blocks";
    else if (CM == 2 && (s[0].n_block != s[1].n_block || s[1].m_block != s[0].m_block + 1))
      why = "a cluster sharing B is not on one column block and two adjacent row blocks";
  }
  report(why[0] == 0, "dense", m, kN, BM, BN, CM, CN, sms, why);
}

/* ---- contiguous ----------------------------------------------------------------------- */
/* Experts' segments of `sizes[g]` rows, each padded to a multiple of BM with -1 rows. */
template <int kN, int BM, int BN, int CM, int CN>
static void contiguous_case(const std::vector<int> &sizes, int sms) {
  std::vector<int32_t> idx;
  for (size_t g = 0; g < sizes.size(); ++g) {
    for (int r = 0; r < sizes[g]; ++r) idx.push_back((int32_t)g);
    while (idx.size() % BM) idx.push_back(-1);
  }
  mk__gemm_params p = {};
  p.m = (int64_t)idx.size();
  p.groups = (int32_t)sizes.size();
  p.m_indices = idx.data();
  const int mb = (int)(idx.size() / BM), nb = (kN + BN - 1) / BN;
  std::vector<int> seen((size_t)mb * nb, 0);
  const char *why = "";
  for (auto &e : walk<mk::sched::kGemmContiguous, kN, BM, BN, CM, CN>(p, sms)) {
    const gemm_tile t = std::get<2>(e);
    if (t.flags & mk::sched::kTileNoStore) continue;
    if (t.m_block >= mb || t.n_block >= nb) { why = "a stored tile outside D"; continue; }
    if (idx[(size_t)t.m_block * BM] < 0) why = "a padding block is stored";
    else if (t.group != idx[(size_t)t.m_block * BM]) why = "a block runs on another expert's weights";
    ++seen[(size_t)t.m_block * nb + t.n_block];
  }
  for (int r = 0; r < mb; ++r)
    for (int n = 0; n < nb; ++n) {
      const int want = idx[(size_t)r * BM] >= 0 ? 1 : 0;
      if (seen[(size_t)r * nb + n] != want) why = want ? "an expert's tile is never stored" : "padding stored";
    }
  report(why[0] == 0, "contiguous", (int)p.m, kN, BM, BN, CM, CN, sms, why);
}

int main() {
  const int sms_list[] = {132, 114, 78, 7};
  const int ms[] = {1, 64, 130, 1000, 4096, 4100};
  for (int sms : sms_list)
    for (int m : ms) {
      dense_case<4096, 256, 128, 1, 1>(m, sms);
      dense_case<4096, 256, 128, 1, 2>(m, sms);
      dense_case<2112, 128, 192, 1, 1>(m, sms);
      dense_case<2112, 128, 192, 2, 1>(m, sms);
      dense_case<7168, 128, 160, 2, 1>(m, sms);
      dense_case<2112, 64, 16, 1, 1>(m, sms);
      dense_case<2112, 64, 32, 1, 2>(m, sms);
      dense_case<24576, 128, 192, 1, 2>(m, sms);
    }
  const std::vector<std::vector<int>> layouts = {{4096, 4096, 4096, 4096}, {1, 0, 300, 129, 0, 0, 700, 5},
                                                 {0, 0, 0, 17}, {128, 128, 128}};
  for (int sms : sms_list)
    for (auto &l : layouts) {
      contiguous_case<4096, 128, 192, 2, 1>(l, sms);
      contiguous_case<4096, 128, 192, 1, 2>(l, sms);
      contiguous_case<7168, 128, 160, 1, 1>(l, sms);
      contiguous_case<2112, 64, 128, 1, 1>(l, sms);
    }
  return g_failed ? 1 : 0;
}
