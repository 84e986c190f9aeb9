#!/usr/bin/env python3
"""mk_route on the GPU against the numpy reference of route_ref.py (issue 3).

    ./configure --manifest tests/gpu/route.toml --builddir build-route && ninja -C build-route
    python3 tests/gpu/route_check.py --builddir build-route [--quick] [--seed N] [-v]

Cases are made for the routing instances the library holds (route.toml
holds experts 8..1024, top_k 1..32, every kind): fresh random logits, M from
1 to 16384 including odd sizes, block_m 16/32/64/128, every logits dtype;
adversarial inputs (ties, all-equal, -inf, NaN, huge magnitudes and inf,
every token to one expert) on the three benchmark models; EP ranges, no
renormalization, no bias, other group settings. Each case runs on the fused
path (when M fits) and the multi path: both must match the reference and be
bit-identical to each other; the auto path run twice must repeat itself.
Prints one line per failure and a summary; exits 1 on any failure.
Needs torch (CUDA), numpy, ml_dtypes. About a minute on an H100.
"""

import argparse
import ctypes
import itertools
import os
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mk  # noqa: E402
import route_ref as ref  # noqa: E402
import route_run  # noqa: E402
from route_run import Runner, TorchMem  # noqa: E402

KIND_NAMES = {v: k for k, v in ref.KINDS.items()}
MODELS = [("sigmoid_grouped", 256, 8), ("softmax", 128, 8), ("softmax_after_topk", 128, 4)]
M_ALL = [1, 2, 7, 16, 33, 64, 127, 128, 129, 300, 512, 1000, 4097, 16384]


class KernelInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("name", ctypes.c_char_p), ("op", ctypes.c_int),
                ("arch", ctypes.c_char_p), ("variant", ctypes.c_uint32), ("n", ctypes.c_int64), ("k", ctypes.c_int64),
                ("experts", ctypes.c_int32), ("top_k", ctypes.c_int32), ("block_m", ctypes.c_int32),
                ("block_n", ctypes.c_int32), ("stages", ctypes.c_int32)]


def route_instances(lib):
    """(kind, experts, top_k) of every routing instance in the library."""
    out = []
    for i in range(lib.lib.mk_registry_count()):
        info = KernelInfo()
        info.struct_size = ctypes.sizeof(info)
        lib.lib.mk_registry_describe(i, ctypes.byref(info))
        if info.op == 4:  # MK_OP_ROUTE
            out.append((KIND_NAMES[info.variant], info.experts, info.top_k))
    return sorted(set(out), key=lambda s: (s[1], s[2], s[0]))


def make_case(kind, e, k, m, i, **kw):
    ng, tg = ref.grouped_params(e, k) if kind == "sigmoid_grouped" else (1, 1)
    base = dict(dtype=ref.DTYPES[i % 3], block_m=(16, 32, 64, 128)[i % 4], n_group=ng, topk_group=tg,
                scale=2.5 if kind == "sigmoid_grouped" else 1.0, seed=1000 + i)
    base.update(kw)
    return ref.Case(kind, e, k, m, **base)


def build_cases(instances, quick, seed):
    cases, n = [], itertools.count(seed * 100000)
    have = set(instances)
    small = [m for m in M_ALL if m <= 1000]
    for idx, (kind, e, k) in enumerate(instances):
        if (kind, e, k) in MODELS:
            ms = M_ALL if not quick else [1, 64, 129, 4097]
        else:
            ms = {small[idx % len(small)], small[(idx * 5 + 3) % len(small)], 3 + (idx * 37) % 700}
            if not quick and idx % 7 == 0:
                ms.add(4097)
        for m in sorted(ms):
            cases.append(make_case(kind, e, k, m, next(n)))
    for (kind, e, k), pattern in itertools.product(MODELS, ref.PATTERNS[1:]):
        if (kind, e, k) not in have:
            continue
        # M = 1 and 2 too: decode
        for j, m in enumerate((1, 2, 5, 64, 300) if not quick else (1, 64)):
            cases.append(make_case(kind, e, k, m, next(n), dtype=ref.DTYPES[j % 3], pattern=pattern))
    extra = [
        ("sigmoid_grouped", 256, 8, 200, dict(start=96, end=128)),
        ("sigmoid_grouped", 256, 8, 5000, dict(start=0, end=32, block_m=128)),
        ("softmax", 128, 8, 77, dict(start=120, end=128, block_m=16)),
        ("softmax_after_topk", 128, 4, 1000, dict(start=64, end=128)),
        ("softmax", 128, 8, 300, dict(renormalize=False, dtype="f32")),
        ("softmax", 1024, 32, 40, dict(renormalize=False)),
        ("softmax", 1024, 32, 700, dict()),
        ("sigmoid_grouped", 256, 8, 99, dict(bias=False)),
        ("sigmoid_grouped", 256, 8, 130, dict(renormalize=False, scale=1.0)),
        ("sigmoid_grouped", 256, 8, 64, dict(n_group=8, topk_group=8)),
        ("sigmoid_grouped", 256, 8, 64, dict(n_group=16, topk_group=5)),
        ("sigmoid_grouped", 256, 8, 64, dict(n_group=32, topk_group=2)),
        ("sigmoid_grouped", 384, 8, 129, dict(n_group=1, topk_group=1)),
        ("sigmoid_grouped", 1024, 8, 50, dict(n_group=32, topk_group=4)),
        ("sigmoid_grouped", 1024, 8, 3000, dict(n_group=8, topk_group=2)),
    ]
    for kind, e, k, m, kw in extra:
        if (kind, e, k) in have:
            cases.append(make_case(kind, e, k, m, next(n), **kw))
    return cases


def run_case(runner, case):
    logits, bias = ref.make_inputs(case)
    ld, bd = runner.upload(logits, bias)
    problems, stats, got, auto = route_run.check_paths(runner, case, logits, bias, ld, bd)
    if auto in got:
        again = runner.run(case, ld, bd, 0)
        diff = [n for n in ref.OUTPUTS
                if not route_run.same_output(got[auto][n], again[n], n, again["expert_counts"])]
        if diff:
            problems.append(f"a second run differs in {', '.join(diff)} (non-deterministic)")
    return problems, stats, sorted(got)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build-route")
    ap.add_argument("--quick", action="store_true", help="fewer sizes and patterns")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-v", action="store_true", help="print every case")
    ap.add_argument("--max-m", type=int, default=0, help="skip cases with more tokens")
    ap.add_argument("--emu", metavar="LIB", help="check this emulated library (tests/host/route_emu.h) instead of "
                                                 "the GPU build: no GPU or torch needed")
    a = ap.parse_args()
    if a.emu:
        from route_run import HostMem
        lib, mem, dev = mk.Library(path=a.emu), HostMem(), "the CPU (emulated)"
    else:
        import torch
        assert torch.cuda.is_available(), "route_check.py needs a CUDA GPU (or --emu)"
        lib, mem, dev = mk.Library(a.builddir), TorchMem(), torch.cuda.get_device_name()
    instances = route_instances(lib)
    if not instances:
        sys.exit(f"route_check: library {lib.model} has no routing instance")
    runner = Runner(lib, mem)
    cases = [c for c in build_cases(instances, a.quick, a.seed) if not a.max_m or c.m <= a.max_m]
    t0, failed, near, worst, paths = time.time(), 0, 0, 0.0, {1: 0, 2: 0}
    for case in cases:
        try:
            problems, stats, ran = run_case(runner, case)
        except Exception as e:  # noqa: BLE001 - one failing case must not hide the others
            problems, stats, ran = [f"{type(e).__name__}: {e}"], {}, []
        for p in ran:
            paths[p] += 1
        near += stats.get("near_ties", 0)
        worst = max(worst, stats.get("max_rel_err", 0.0))
        if problems:
            failed += 1
            print(f"FAIL {case.name()}: " + "\n    ".join(problems[:6]), flush=True)
        elif a.v:
            print(f"ok   {case.name()} paths {ran}", flush=True)
    print(f"route_check: {len(cases)} cases on {dev} ({len(instances)} instances; fused ran {paths[1]}, "
          f"multi ran {paths[2]}): {len(cases) - failed} passed, {failed} failed; near-tie tokens accepted: {near}; "
          f"max weight rel err {worst:.2e}; {time.time() - t0:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
