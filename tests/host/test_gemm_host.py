"""Host-side pieces of the FP8 GEMMs: the WGMMA descriptor bits
(tests/host/test_wgmma_desc.c), the tile schedulers' walks
(tests/host/test_gemm_sched.cc), the generator's port of the C cost model
(gen/ops/gemm.py against include/moekit/api/impl_gemm.h through a small C
shim), and the instances a manifest gets."""

import ctypes
import sys


def test_wgmma_descriptor(ctx):
    exe = ctx.mkdtemp("desc") / "test_wgmma_desc"
    ctx.run([ctx.tool("cc"), "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic",
             f"-I{ctx.srcdir}/include", ctx.srcdir / "tests/host/test_wgmma_desc.c", "-o", exe])
    return ctx.run_ok_lines(exe)


def test_gemm_scheduler_walks(ctx):
    """The sm90 tile schedulers walked on the host (tests/host/test_gemm_sched.cc):
    every tile of D exactly once, clusters on tiles that share an operand."""
    import shutil
    cxx = shutil.which("g++") or shutil.which("c++")
    assert cxx, "no C++ compiler (g++) for the scheduler walk test: apt-get install g++"
    exe = ctx.mkdtemp("sched") / "test_gemm_sched"
    ctx.run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas",
             f"-I{ctx.srcdir}/include", ctx.srcdir / "tests/host/test_gemm_sched.cc", "-o", exe])
    return ctx.run_ok_lines(exe)


SHIM = r'''
#include "moekit/api/gemm_cost.h"
double shim_cost(int kind, int64_t m, int64_t groups, int64_t n, int64_t k, int sms, int bm, int bn, int stages,
                 int swap, int cluster, int mcast_a, double *compute) {
  mk__gemm_problem p = {kind, m, groups, n, k, sms};
  mk__gemm_config c;
  c.block_m = bm; c.block_n = bn; c.stages = stages; c.swap_ab = swap; c.cluster = cluster; c.mcast_a = mcast_a;
  return mk__gemm_cost(&p, &c, compute);
}
/* the C API's choice among cfg[count][6] = {bm, bn, stages, swap, cluster, mcast_a}, as mk__gemm_select makes it */
int shim_best(int kind, int64_t m, int64_t groups, int64_t n, int64_t k, int sms, int count, const int *cfg) {
  mk__gemm_problem p = {kind, m, groups, n, k, sms};
  int i, best = -1, best_swap = 0;
  double best_cost = 0, best_compute = 0;
  for (i = 0; i < count; ++i) {
    const int *x = cfg + 6 * i;
    mk__gemm_config c;
    double cost, compute;
    c.block_m = x[0]; c.block_n = x[1]; c.stages = x[2]; c.swap_ab = x[3]; c.cluster = x[4]; c.mcast_a = x[5];
    cost = mk__gemm_cost(&p, &c, &compute);
    if (best < 0 || mk__gemm_better(&p, cost, compute, c.swap_ab, best_cost, best_compute, best_swap)) {
      best = i; best_cost = cost; best_compute = compute; best_swap = c.swap_ab;
    }
  }
  return best;
}
'''


def test_cost_model_matches_c(ctx):
    """gen/ops/gemm.py must score configurations exactly as the C API does,
    or the library would be built for choices the API never makes."""
    sys.path.insert(0, str(ctx.srcdir))
    from gen.ops import gemm
    d = ctx.mkdtemp("cost")
    (d / "shim.c").write_text(SHIM)
    so = d / "libcost.so"
    ctx.run([ctx.tool("cc"), "-std=c11", "-O1", "-shared", "-fPIC", "-w", f"-I{ctx.srcdir}/include",
             f"-I{ctx.config['cuda_include']}", d / "shim.c", "-o", so])
    lib = ctypes.CDLL(str(so))
    lib.shim_cost.restype = ctypes.c_double
    lib.shim_cost.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                              ctypes.c_int] + [ctypes.c_int] * 6 + [ctypes.POINTER(ctypes.c_double)]
    results, bad = [], []
    count = 0
    for kind in gemm.KINDS:
        for n, k in ((2112, 7168), (4096, 7168), (7168, 2048), (768, 4096), (32768, 512)):
            for c in gemm.candidates(kind, n, k):
                for m, groups in ((1, 32), (16, 32), (100, 8), (4096, 4), (65536, 256)):
                    comp = ctypes.c_double()
                    want = lib.shim_cost(gemm.KINDS.index(kind), m, groups, n, k, 132, c.block_m, c.block_n,
                                         gemm.stages_for(c, k), int(c.swap_ab), c.cluster, int(c.mcast == "a"),
                                         ctypes.byref(comp))
                    got, got_comp = gemm.cost(kind, m, groups, n, k, c)
                    count += 1
                    if abs(got - want) > 1e-6 * max(1.0, want) or abs(got_comp - comp.value) > 1e-6 * max(1.0, comp.value):
                        bad.append(f"{kind} m={m} g={groups} n={n} k={k} {c}: python {got:.1f}/{got_comp:.1f}, "
                                   f"C {want:.1f}/{comp.value:.1f}")
    results.append((f"{count}_scores_agree", not bad, "\n".join(bad[:10])))

    # the choice itself (tie-breaks included): Python's best() against the C API's order
    lib.shim_best.restype = ctypes.c_int
    lib.shim_best.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                              ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    bad, count, swaps = [], 0, 0
    for kind in gemm.KINDS:
        for n, k in ((2112, 7168), (4096, 7168), (7168, 2048), (3072, 4096), (4096, 1536), (768, 4096)):
            cands = gemm.candidates(kind, n, k)
            flat = [v for c in cands for v in (c.block_m, c.block_n, gemm.stages_for(c, k), int(c.swap_ab), c.cluster,
                                              int(c.mcast == "a"))]
            arr = (ctypes.c_int * len(flat))(*flat)
            for m, groups in ((1, 8), (2, 8), (4, 8), (16, 32), (17, 32), (64, 32), (100, 8), (4096, 4)):
                want = lib.shim_best(gemm.KINDS.index(kind), m, groups, n, k, 132, len(cands), arr)
                got = gemm.best(kind, m, groups, n, k, cands)
                count += 1
                swaps += int(cands[want].swap_ab)
                if cands[want] is not got:
                    bad.append(f"{kind} m={m} g={groups} n={n} k={k}: C {cands[want]}, python {got}")
    results.append((f"{count}_choices_agree", not bad, "\n".join(bad[:10])))
    # masked decode ties go to swap-AB: with 8 experts x 1-4 rows the API picks a swap-AB tile
    dec = [(n, k) for n, k in ((4096, 7168), (7168, 2048), (3072, 4096), (4096, 1536))
           if not gemm.best("grouped_masked", 1, 8, n, k, gemm.candidates("grouped_masked", n, k)).swap_ab]
    results.append(("masked_decode_picks_swap_ab", not dec, f"normal tiles picked for {dec}"))
    return results


def test_gemm_instances(ctx):
    """Every FP8 manifest builds every GEMM kind; names are unique and
    carry the configuration; MXFP4 models build none."""
    sys.path.insert(0, str(ctx.srcdir))
    import gen
    from gen.ops import gemm
    results = []
    for m in ("default", "deepseek-v3", "qwen3-235b-a22b", "gpt-oss-120b"):
        man = gen.load(ctx.srcdir / "instances" / f"{m}.toml")
        insts = [i for i in gen.plan(man, ["sm_90a"]).instances if i.family == "gemm"]
        kinds = {gemm.KINDS[i.variant & 3] for i in insts}
        if man.quant["recipe"] == "fp8_1x128":
            ok = kinds == set(gemm.KINDS)
            results.append((f"{m}_every_kind", ok, f"kinds built: {sorted(kinds)}"))
            bad = [i.name for i in insts if f"_n{i.n}_k{i.k}_bm{i.block_m}_bn{i.block_n}_st{i.stages}_" not in i.name]
            results.append((f"{m}_names", not bad, ", ".join(bad)))
        else:
            results.append((f"{m}_none_for_{man.quant['recipe']}", not insts, ", ".join(i.name for i in insts)))
        # sm_100a only: the Hopper GEMMs are not built
        results.append((f"{m}_not_for_sm100a", not [i for i in gen.plan(man, ["sm_100a"]).instances
                                                     if i.family == "gemm"], ""))
    return results


def test_gemm_manifest_keys(ctx):
    """[gemm] dense shapes and configs = "minimal"; bad shapes are one-line errors naming the key."""
    sys.path.insert(0, str(ctx.srcdir))
    import gen
    from gen.manifest import ManifestError, validate
    base = {"model": {"name": "t", "hidden": 2048, "moe_intermediate": 768, "experts": 16, "top_k": 2},
            "routing": {"kind": "softmax"}, "quant": {"recipe": "fp8_1x128"}}
    results = []
    m = validate(dict(base, gemm={"dense": ["4096x2048"], "configs": "minimal"}))
    insts = [i for i in gen.plan(m, ["sm_90a"]).instances if i.family == "gemm"]
    keys = [(i.variant & 3, i.n, i.k) for i in insts]
    results.append(("minimal_one_per_shape", len(keys) == len(set(keys)) == 5, f"{keys}"))
    for bad, needle in (("4096x2000", "multiple of 128"), ("4090x2048", "multiple of 8"), ("4096*2048", "NxK")):
        try:
            validate(dict(base, gemm={"dense": [bad]}), "x.toml")
            results.append((f"rejects_{bad}", False, "accepted"))
        except ManifestError as e:
            results.append((f"rejects_{bad}", "gemm.dense" in str(e) and needle in str(e), str(e)))
    try:
        validate(dict(base, gemm={"configs": "all"}), "x.toml")
        results.append(("rejects_configs_all", False, "accepted"))
    except ManifestError as e:
        results.append(("rejects_configs_all", "gemm.configs" in str(e), str(e)))
    return results


def test_gemm_pick_loss_tool(ctx):
    """tests/gpu/gemm_pick_loss.py on the stored H100 sweep (docs/data): both
    passes parse whole (18 dense shapes, every configuration kept apart), a
    cost that is the measured time itself loses nothing, its negation picks
    the slowest configuration, and the shipped model's picks are scored."""
    sys.path.insert(0, str(ctx.srcdir / "tests/gpu"))
    import gemm_pick_loss as pl
    sections = pl.parse(ctx.srcdir / "docs/data/gemm_sweep_h100_run10.md")
    results = [("two_passes", len(sections) == 2, f"{len(sections)} sections")]
    for title, data in sections:
        tag = title.lower().replace(" ", "_")
        counts = sorted(len(r) for r in data.values())
        results.append((f"{tag}_shapes", len(data) == 18 and counts[0] >= 8, f"{len(data)} shapes, {counts}"))
        swap = sum(c.swap_ab for r in data.values() for c in r)
        mc = {c.mcast for r in data.values() for c in r}
        results.append((f"{tag}_configs_distinct", swap > 0 and mc == {"", "a", "b"}, f"swap {swap}, mcast {mc}"))
        oracle = pl.losses(data, lambda m, n, k, c, d=data: d[(m, n, k)][c])
        results.append((f"{tag}_oracle_loses_nothing", all(us == best for _, us, _, best in oracle.values()), ""))
        worst = pl.losses(data, lambda m, n, k, c, d=data: -d[(m, n, k)][c])
        results.append((f"{tag}_negated_picks_slowest",
                        all(us == max(data[s].values()) and us > best for s, (_, us, _, best) in worst.items()), ""))
        model = pl.losses(data)
        results.append((f"{tag}_model_scored", len(model) == 18 and all(us >= best for _, us, _, best in model.values()),
                        ""))
    return results
