#!/usr/bin/env python3
"""Bandwidth of the quantization kernels against a device-to-device copy of
the same bytes, measured in the same run (docs/perf.md records the table).

    python3 tests/gpu/quant_bench.py --builddir build-gpu [--k 7168]

Time per call is the median over CUDA-graph replays of 20 back-to-back calls
(so Python and launch overhead stay out), with inputs rotated over enough
buffers to exceed L2. Bytes = bf16 read + codes written + scales written.
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mk  # noqa: E402

CALLS = 20


def graph_time_us(launch, reps=15):
    """Median time of one launch(), from graph replays of CALLS launches."""
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        for _ in range(3):
            launch(0, s)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, stream=s):
            for i in range(CALLS):
                launch(i, s)
    times = []
    for _ in range(reps):
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0.record()
        g.replay()
        t1.record()
        torch.cuda.synchronize()
        times.append(t0.elapsed_time(t1) * 1e3 / CALLS)
    return statistics.median(times)


def buffers_for(nbytes):
    """How many copies of a working set to rotate through to defeat a 50-60 MB L2."""
    return max(1, min(CALLS, -(-256 * 2**20 // max(nbytes, 1))))


def bench_format(lib, fmt, m, k):
    nb_x = m * k * 2
    if fmt == "fp8":
        nb_q, nb_sf = m * k, m * (k // 128) * 4
    else:
        g = 32 if fmt == "mxfp4" else 16
        nb_q, nb_sf = m * k // 2, m * (k // g)
    nbuf = buffers_for(nb_x + nb_q + nb_sf)
    xs = [torch.randn(m, k, device="cuda").to(torch.bfloat16) for _ in range(nbuf)]
    qs = [torch.empty(nb_q, dtype=torch.uint8, device="cuda") for _ in range(nbuf)]
    ld = -(-m // 4) * 4
    sfs = [torch.empty(max(nb_sf, ld * (k // 128) * 4), dtype=torch.uint8, device="cuda") for _ in range(nbuf)]
    gs = torch.tensor([1.0], device="cuda")
    args = []
    for i in range(nbuf):
        if fmt == "fp8":
            a = lib.args("mk_quant_fp8_args", x=mk.tensor(xs[i]), q=mk.tensor(qs[i], mk.E4M3, shape=(m, k), strides=(k, 1)),
                         scales=mk.tensor(sfs[i], mk.F32, shape=(m, k // 128), strides=(1, ld)))
        elif fmt == "mxfp4":
            a = lib.args("mk_quant_mxfp4_args", x=mk.tensor(xs[i]),
                         q=mk.tensor(qs[i], mk.E2M1X2, shape=(m, k // 2), strides=(k // 2, 1)),
                         scales=mk.tensor(sfs[i], mk.UE8M0, shape=(m, k // 32), strides=(k // 32, 1)))
        else:
            a = lib.args("mk_quant_nvfp4_args", x=mk.tensor(xs[i]),
                         q=mk.tensor(qs[i], mk.E2M1X2, shape=(m, k // 2), strides=(k // 2, 1)),
                         scales=mk.tensor(sfs[i], mk.UE4M3, shape=(m, k // 16), strides=(k // 16, 1)),
                         global_scale=mk.tensor(gs))
        args.append(a)
    fn = {"fp8": "mk_quant_fp8", "mxfp4": "mk_quant_mxfp4", "nvfp4": "mk_quant_nvfp4"}[fmt]
    us = graph_time_us(lambda i, s: lib.call(fn, args[i % nbuf], stream=s.cuda_stream))
    total = nb_x + nb_q + nb_sf
    # the same bytes through a device-to-device copy: total/2 read + total/2 written
    half = total // 2
    srcs = [torch.empty(half, dtype=torch.uint8, device="cuda") for _ in range(buffers_for(total))]
    dsts = [torch.empty(half, dtype=torch.uint8, device="cuda") for _ in range(len(srcs))]
    cus = graph_time_us(lambda i, s: dsts[i % len(dsts)].copy_(srcs[i % len(srcs)]))
    return us, total / us * 1e-3, 2 * half / cus * 1e-3, cus


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default="build-gpu")
    ap.add_argument("--k", type=int, default=7168)
    ap.add_argument("--ms", default="1,128,4096,16384")
    a = ap.parse_args()
    lib = mk.Library(a.builddir)
    name = torch.cuda.get_device_name()
    print(f"# quant_bench on {name}, library {lib.model}, K={a.k}; us = median per call from CUDA-graph replays")
    print("| format | M | K | moekit us | moekit GB/s | copy us (same bytes) | copy GB/s | moekit / copy |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt, op in (("fp8", 1), ("mxfp4", 2), ("nvfp4", 3)):
        if not lib.has(op, k=a.k):
            print(f"| {fmt} | - | {a.k} | not built | | | | |")
            continue
        for m in (int(x) for x in a.ms.split(",")):
            us, gbs, copy_gbs, cus = bench_format(lib, fmt, m, a.k)
            print(f"| {fmt} | {m} | {a.k} | {us:.2f} | {gbs:.0f} | {cus:.2f} | {copy_gbs:.0f} | {gbs / copy_gbs:.0%} |")
            sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
