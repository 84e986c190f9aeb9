#!/usr/bin/env python3
"""FP8 GEMM benchmark: moekit next to cuBLASLt and torch, one process, one run.

    python3 tests/gpu/gemm_bench.py --builddir build [--iters 20] [--out gemm_bench.md]
                                    [--deepgemm-path DIR]

Shapes (issue 4): the dense DeepGEMM set (M = 4096 and 128, plus M = 64 and
128 for every dense (N, K)), grouped contiguous 4 x 8192 and 8 x 4096,
grouped masked 1 x 1024, 2 x 512 and 4 x 256, and decode masked with 32
experts x 8, 16, 32 and 64 tokens; with --match tiny, the layer's own decode
GEMMs (8 experts x 1, 2, 4 tokens) for every masked (N, K) of the library. A shape runs when the library holds its
(kind, N, K): build instances/deepseek-v3.toml for the whole table.

Columns:
  kernel us      device time of the GEMM's kernels (torch.profiler), L2 flushed
                 before every call by reading 512 MiB (--flush read, the
                 default). NOTE: a flush that writes (--flush write, e.g.
                 zero_(), as DeepGEMM's own bench does) leaves ~50 MB of dirty
                 lines in L2, and their write-back competes with the timed
                 kernel: on an H100 it added 9-10 us to every decode GEMM
                 (docs/perf.md, GEMM run 4)
  per-call us    CUDA events around the whole call (host work such as tensor
                 map encoding and every kernel the call launches), after the
                 flush has finished, so host time is not hidden
  TFLOPS         2 M N K / time, M = valid rows only (masked)
  peers          torch._scaled_mm with 1x128 / 128x128 block scales (cuBLASLt
                 blockwise: scale_a [M, K/128] column-major, scale_b
                 [N/128, K/128] transposed) and with per-tensor scales;
                 torch._scaled_grouped_mm (row-wise scales: a speed reference,
                 not the same math) for the grouped kinds. Per-call times.
  DeepGEMM       the figures quoted in issue 4 (DeepGEMM 2.6.1 on an H100 80GB),
                 not measured here.
DeepGEMM measured in this run: when `deep_gemm` imports (from --deepgemm-path
DIR or $DEEPGEMM_PATH, put first on sys.path, else from the environment; build
it with tests/gpu/peers/deepgemm.sh), every shape also runs DeepGEMM's FP8 GEMM
(fp8_gemm_nt, m_grouped_fp8_gemm_nt_contiguous with the same m_indices,
m_grouped_fp8_gemm_nt_masked with the same masked_m and expected_m) on the same
quantized A, B and scales as moekit, fp32 scales, UE8M0 cast off (the sm90
path). Its output must match moekit's (calc_diff < 1e-3) before it is timed.
  DeepGEMM kernel   kernel time as above, A scales given in the MN-major,
                    16-byte aligned layout moekit reads (DeepGEMM then launches
                    only its GEMM kernel)
  DeepGEMM per-call events as above, A scales given as DeepGEMM's tests make
                    them ([M, K/128] row-major fp32), so the call includes its
                    scale transpose kernel; the per-call time with MN-major
                    scales is listed under the table
  moekit / DeepGEMM DeepGEMM kernel time / moekit kernel time (> 1: moekit faster)
The first call of each shape compiles DeepGEMM's kernels (its JIT, cached in
$DG_JIT_CACHE_DIR): that time is not timed, and the total is printed. Without
`deep_gemm` the table is the one above, unchanged.
With --sweep, every built configuration of each shape is timed too (forced
by name) and listed fastest first: the data to retune the heuristic
(include/moekit/api/gemm_cost.h) with.
Decode masked rows also give the weights' bytes (and scales) over the kernel
time as a fraction of the device-to-device copy bandwidth measured in this
run (2 x bytes copied / time). Prints a markdown table (and writes it to
--out); about 3 minutes on an H100 for the deepseek-v3 library.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemm_check as gc  # noqa: E402  (quantization helpers)
import gemm_problems as gp  # noqa: E402
# NOTE: also re-exported for the scripts that drive the bench's problems (decode_probe.py, gemm_profile.py)
from gemm_problems import (DEV, DG_FN, DG_MAX_DIFF, FORCE, contiguous_problem, dense_problem,  # noqa: E402,F401
                           dg_entry, load_deepgemm, masked_problem, mk_call)
from gpu_state import GpuMonitor  # noqa: E402
import mk  # noqa: E402

import torch  # noqa: E402

# DeepGEMM 2.6.1 on an H100 80GB, kernel time, L2 flushed (issue 4): TFLOPS, or us for decode
DEEPGEMM = {
    ("dense", 4096, 2112, 7168): 1308, ("dense", 4096, 24576, 1536): 1309, ("dense", 4096, 32768, 512): 1017,
    ("dense", 4096, 7168, 16384): 1495, ("dense", 4096, 4096, 7168): 1454, ("dense", 4096, 7168, 2048): 1303,
    ("dense", 128, 4096, 7168): 433, ("dense", 128, 7168, 2048): 353,
    ("contiguous", "4x8192", 4096, 7168): 1426, ("contiguous", "4x8192", 7168, 2048): 1360,
    ("masked", "4x256", 4096, 7168): 814, ("decode", "32x16", 4096, 7168): "337 us",
}
CUBLAS = {  # cuBLASLt per-call TFLOPS quoted in issue 4 (blockwise, per-tensor)
    (4096, 2112, 7168): (894, 1229), (4096, 24576, 1536): (1171, 1286), (4096, 32768, 512): (832, 900),
    (4096, 7168, 16384): (1192, 1397), (4096, 4096, 7168): (1116, 1396), (4096, 7168, 2048): (1147, 1277),
    (128, 4096, 7168): (268, 379), (128, 7168, 2048): (198, 300),
}


class Timer:
    def __init__(self, iters, flush="read", gap=False):
        self.iters = iters
        self.gap = gap  # the profiled pass waits for the flush before each call, as the per-call pass does
        self.flush_buf = torch.ones(512 << 20, dtype=torch.int8, device=DEV)
        self.flush_mode = flush
        self.flush_names = self._kernel_names(self.flush)

    def flush(self):
        """Evicts L2: a read leaves it holding clean lines, a write dirty ones."""
        if self.flush_mode == "read":
            self.flush_buf.view(torch.int64).sum()
        else:
            self.flush_buf.zero_()

    def _profile(self, fn, iters):
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(iters):
                self.flush()
                if self.gap:
                    torch.cuda.synchronize()
                fn()
            torch.cuda.synchronize()
        return prof

    @staticmethod
    def _kernels(prof):
        out = {}
        for e in prof.key_averages():
            if str(getattr(e, "device_type", "")).endswith("CUDA"):
                t = getattr(e, "device_time_total", None)
                if t is None:
                    t = getattr(e, "cuda_time_total", 0)
                out[e.key] = out.get(e.key, 0.0) + t
        return out

    def _kernel_names(self, fn):
        return set(self._kernels(self._profile(fn, 2)))

    def kernel_us(self, fn):
        """Device time of fn's kernels per call (L2 flushed before each call), from a second profiled
        pass. NOTE: the first pass on a problem allocated after others were freed (empty_cache) ran
        13% slow on an H100 (32 x 8 x 7168 x 2048 decode: 183.7 us, then 162.7-162.9 us), and the
        peers, timed after moekit on the same problem, never paid it. It does not remove every slow
        pass: see docs/perf.md, GEMM run 5."""
        fn()
        torch.cuda.synchronize()
        self._profile(fn, self.iters)
        ks = self._kernels(self._profile(fn, self.iters))
        return sum(t for name, t in ks.items() if name not in self.flush_names) / self.iters

    def call_us(self, fn):
        """Events around each call, the flush finished before: host time included."""
        fn()
        ts = []
        for _ in range(self.iters):
            self.flush()
            torch.cuda.synchronize()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            ts.append(a.elapsed_time(b) * 1e3)
        ts.sort()
        return ts[len(ts) // 2]


def copy_bandwidth(timer):
    src = torch.empty(1 << 30, dtype=torch.int8, device=DEV)
    dst = torch.empty_like(src)
    us = timer.kernel_us(lambda: dst.copy_(src))
    return 2 * src.numel() / (us * 1e-6)


def tflops(m, n, k, us):
    return 2.0 * m * n * k / (us * 1e-6) / 1e12 if us and us > 0 else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def safe(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - a peer that refuses a shape is reported, not fatal
        return f"n/a ({type(e).__name__})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--out", default="", help="also write the markdown table to this file")
    ap.add_argument("--sweep", action="store_true", help="also time every built configuration of each shape")
    ap.add_argument("--flush", choices=("read", "write"), default="read",
                    help="how L2 is flushed before each timed call (see 'kernel us')")
    ap.add_argument("--profile-gap", action="store_true",
                    help="profiled pass: wait for each flush before the call (default: queued right behind it)")
    ap.add_argument("--match", default="", metavar="TEXT",
                    help="only shapes whose row starts with TEXT (a comma list), e.g. 'dense 4096 x,decode' (default: all)")
    ap.add_argument("--deepgemm-path", default=os.environ.get("DEEPGEMM_PATH", ""), metavar="DIR",
                    help="directory holding the deep_gemm package (tests/gpu/peers/deepgemm.sh builds one), put "
                         "first on sys.path; default $DEEPGEMM_PATH. DeepGEMM is measured when it imports")
    a = ap.parse_args()
    torch.manual_seed(0)
    lib = mk.Library(a.builddir)
    built = {(gc.KINDS[e["variant"] & 3], e["n"], e["k"]) for e in lib.registry() if e["op"] == mk.OP_GEMM_FP8}
    timer = Timer(a.iters, a.flush, a.profile_gap)
    mon = GpuMonitor()
    states = []  # per timed row: the GPU's clocks while it ran (gpu_state.py)
    dg_note = load_deepgemm(a.deepgemm_path)
    if dg_note:
        print(dg_note, flush=True)
    t0 = time.time()
    copy_bw = copy_bandwidth(timer)
    rows, speedups = [], []
    dg_ratios, dg_jit, dg_notes = [], [], []
    if gp.DG is None:
        cols = ["kind", "shape (M x N x K)", "moekit kernel us", "moekit TFLOPS", "moekit per-call us",
                "per-call TFLOPS", "cuBLASLt blockwise TFLOPS", "cuBLASLt per-tensor TFLOPS", "torch grouped TFLOPS",
                "DeepGEMM (issue)", "vs blockwise", "kernel"]
    else:
        cols = ["kind", "shape (M x N x K)", "moekit kernel us", "moekit TFLOPS", "moekit per-call us",
                "per-call TFLOPS", "cuBLASLt blockwise TFLOPS", "cuBLASLt per-tensor TFLOPS", "torch grouped TFLOPS",
                "DeepGEMM kernel us", "DeepGEMM kernel TFLOPS (this run)", "DeepGEMM per-call TFLOPS",
                "moekit / DeepGEMM (kernel)", "DeepGEMM H100 (issue 4, not this run)", "vs blockwise", "kernel"]
    head = (f"# FP8 GEMM benchmark: {torch.cuda.get_device_name()}, torch {torch.__version__}, library "
            f"'{lib.model}', {a.iters} iterations, L2 flushed by a {a.flush}; device-to-device copy {copy_bw / 1e12:.2f} TB/s\n\n"
            "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))

    def not_built(kind, label):
        return f"| {kind} | {label} | not built |" + " |" * (len(cols) - 3)

    sweeps = []
    registry = [e for e in lib.registry() if e["op"] == mk.OP_GEMM_FP8]

    def sweep(kind, label, m, n, k, make):
        """Every built configuration of (kind, n, k), forced by name, fastest first."""
        if not a.sweep:
            return
        kname = {"dense": "dense", "contiguous": "grouped_contiguous"}.get(kind, "grouped_masked")
        res, t_sweep = [], mon.now()
        for e in registry:
            if gc.KINDS[e["variant"] & 3] != kname or e["n"] != n or e["k"] != k:
                continue
            FORCE["kernel"] = e["name"].encode()
            try:
                run = make()[0]
                res.append((timer.kernel_us(run), e["name"]))
            except Exception as ex:  # noqa: BLE001 - e.g. a contiguous alignment the config cannot tile
                res.append((float("inf"), f"{e['name']} ({type(ex).__name__})"))
            finally:
                FORCE.clear()
        res.sort()
        sweeps.append(f"{kind} {label}: " + ", ".join(f"{us:.1f} us {tflops(m, n, k, us) or 0:.0f} TF {name}"
                                                       for us, name in res))
        states.append(f"{kind} {label} (sweep): {mon.summary(t_sweep, mon.now())}")
        print(sweeps[-1], flush=True)

    def deepgemm(kind, label, m, n, k, run, kus, dgp):
        """DeepGEMM on one shape: compile (first call), check against moekit's output, then time.
        Returns the table cells (kernel us, kernel TFLOPS, per-call TFLOPS, moekit / DeepGEMM)."""
        name = f"{kind} {label}"
        try:
            t = time.time()
            dgp["kernel"]()
            dgp["call"]()
            torch.cuda.synchronize()
            dg_jit.append(time.time() - t)
            run()
            torch.cuda.synchronize()
            ref = dgp["valid"](dgp["ref"]).clone()
            diffs = []
            for fn in (dgp["kernel"], dgp["call"]):
                dgp["out"].fill_(float("nan"))
                fn()
                torch.cuda.synchronize()
                diffs.append(gc.calc_diff(dgp["valid"](dgp["out"]), ref))
        except Exception as e:  # noqa: BLE001 - a shape DeepGEMM refuses is reported, not fatal
            msg = f"DeepGEMM {name}: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
            print(msg, flush=True)
            dg_notes.append(msg)
            return [f"n/a ({type(e).__name__})", "", "", ""]
        if not all(x < DG_MAX_DIFF for x in diffs):  # also false for NaN
            msg = (f"FAIL DeepGEMM {name}: output differs from moekit's (calc_diff {diffs[0]:.2e} with MN-major "
                   f"scales, {diffs[1]:.2e} with row-major), not timed")
            print(msg, flush=True)
            dg_notes.append(msg)
            return [f"wrong (diff {max(diffs, key=lambda x: x if x == x else math.inf):.1e})", "", "", ""]
        dkus = timer.kernel_us(dgp["kernel"])
        dcus = timer.call_us(dgp["call"])
        dcus_mn = timer.call_us(dgp["kernel"])
        nk_kernel = len(set(timer._kernels(timer._profile(dgp["kernel"], 1))) - timer.flush_names)
        nk_call = len(set(timer._kernels(timer._profile(dgp["call"], 1))) - timer.flush_names)
        ratio = dkus / kus if kus and dkus else None
        if ratio:
            dg_ratios.append(ratio)
        dg_notes.append(f"DeepGEMM {name}: calc_diff vs moekit {diffs[0]:.1e} / {diffs[1]:.1e}; first call (JIT) "
                        f"{dg_jit[-1]:.1f} s; kernel {dkus:.1f} us ({nk_kernel} kernel(s)); per-call {dcus:.1f} us "
                        f"with row-major A scales ({nk_call} kernel(s)), {dcus_mn:.1f} us = "
                        f"{fmt(tflops(m, n, k, dcus_mn))} TFLOPS with MN-major")
        print(dg_notes[-1], flush=True)
        return [fmt(dkus, 1), fmt(tflops(m, n, k, dkus)), fmt(tflops(m, n, k, dcus)), fmt(ratio, 2)]

    def skip(kind, label):
        return not any(f"{kind} {label}".startswith(x) for x in a.match.split(","))

    def add(kind, label, m, n, k, run, info, peers, extra="", dgp=None):
        """One table row; `extra` is text for the ratio cell, or a function of the kernel us giving it."""
        t_row = mon.now()
        kus = timer.kernel_us(run)
        if callable(extra):
            extra = extra(kus)
        cus = timer.call_us(run)
        states.append(f"{kind} {label}: {mon.summary(t_row, mon.now())}")
        if cus < kus:
            # NOTE: the per-call time includes the host launch, so it cannot be below the kernel's own
            # time; when it is, the profiled pass ran in the slow state of docs/perf.md (GEMM run 9)
            extra = f"{extra}; kernel time above per-call time ({cus:.1f} us): profiled pass in a slow state"
        peer_tf = {}
        for pname, fn in peers.items():
            r = safe(lambda fn=fn: timer.call_us(fn))
            peer_tf[pname] = r if isinstance(r, str) else tflops(m, n, k, r)
        bw = peer_tf.get("blockwise")
        ratio = None
        if isinstance(bw, float) and bw > 0:
            ratio = tflops(m, n, k, cus) / bw
            speedups.append(ratio)
        dg = DEEPGEMM.get((kind, m if kind == "dense" else label.split(" ")[0], n, k), "")
        cells = [kind, label, fmt(kus, 1), fmt(tflops(m, n, k, kus)), fmt(cus, 1), fmt(tflops(m, n, k, cus)),
                 fmt(peer_tf.get('blockwise')), fmt(peer_tf.get('per-tensor')), fmt(peer_tf.get('grouped (row-wise)'))]
        if gp.DG is not None:
            cells += deepgemm(kind, label, m, n, k, run, kus, dgp) if dgp else ["-", "", "", ""]
        cells += [str(dg), f"{fmt(ratio, 2)}{extra}", info.kernel.decode()]
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)

    dense = [(4096, 2112, 7168), (4096, 24576, 1536), (4096, 32768, 512), (4096, 7168, 16384), (4096, 4096, 7168),
             (4096, 7168, 2048)]
    nks = sorted({(n, k) for _, n, k in dense} | {(n, k) for kind, n, k in built if kind == "dense"})
    dense += [(m, n, k) for n, k in nks for m in (64, 128)]
    for m, n, k in dense:
        if skip("dense", f"{m} x {n} x {k}"):
            continue
        if ("dense", n, k) not in built:
            rows.append(not_built("dense", f"{m} x {n} x {k}"))
            continue
        run, info, peers, dgp = dense_problem(lib, m, n, k, dg=True)
        add("dense", f"{m} x {n} x {k}", m, n, k, run, info, peers, dgp=dgp)
        del dgp
        sweep("dense", f"{m} x {n} x {k}", m, n, k, lambda: dense_problem(lib, m, n, k))
        torch.cuda.empty_cache()
    for g, per in ((4, 8192), (8, 4096)):
        for n, k in ((4096, 7168), (7168, 2048)):
            if skip("contiguous", f"{g}x{per} x {n} x {k}"):
                continue
            if ("grouped_contiguous", n, k) not in built:
                rows.append(not_built("contiguous", f"{g}x{per} x {n} x {k}"))
                continue
            run, info, peers, m, dgp = contiguous_problem(lib, g, per, n, k, dg=True)
            add("contiguous", f"{g}x{per} x {n} x {k}", m, n, k, run, info, peers, dgp=dgp)
            del dgp
            sweep("contiguous", f"{g}x{per} x {n} x {k}", m, n, k, lambda: contiguous_problem(lib, g, per, n, k))
            torch.cuda.empty_cache()
    for g, per in ((1, 1024), (2, 512), (4, 256)):
        for n, k in ((4096, 7168), (7168, 2048)):
            if skip("masked", f"{g}x{per} x {n} x {k}"):
                continue
            if ("grouped_masked", n, k) not in built:
                rows.append(not_built("masked", f"{g}x{per} x {n} x {k}"))
                continue
            run, info, peers, _, dgp = masked_problem(lib, g, per, n, k, dg=True)
            add("masked", f"{g}x{per} x {n} x {k}", g * per, n, k, run, info, peers, dgp=dgp)
            del dgp
            sweep("masked", f"{g}x{per} x {n} x {k}", g * per, n, k, lambda: masked_problem(lib, g, per, n, k))
            torch.cuda.empty_cache()
    def streamed(kind, g, per, n, k, max_m):
        """A masked shape that streams the weights: its row also gives their bandwidth as a share of copy."""
        label = f"{g}x{per} x {n} x {k}"
        if skip(kind, label) or ("grouped_masked", n, k) not in built:
            return
        run, info, peers, wbytes, dgp = masked_problem(lib, g, per, n, k, max_m=max_m, dg=True)
        add(kind, label, g * per, n, k, run, info, peers, dgp=dgp,
            extra=lambda kus: (f"; weights {wbytes / (kus * 1e-6) / 1e12:.2f} TB/s = "
                               f"{100 * wbytes / (kus * 1e-6) / copy_bw:.0f}% of copy"))
        del dgp
        sweep(kind, label, g * per, n, k, lambda: masked_problem(lib, g, per, n, k, max_m=max_m))
        torch.cuda.empty_cache()

    for per in (8, 16, 32, 64):
        for n, k in ((4096, 7168), (7168, 2048)):
            streamed("decode", 32, per, n, k, 128)
    # the layer's own decode GEMMs at M = 1, 2, 4 (8 experts reached, top-8), every masked (N, K) the
    # library holds: only when --match names "tiny"
    for per in (1, 2, 4) if "tiny" in a.match else ():
        for n, k in sorted({(n, k) for kind, n, k in built if kind == "grouped_masked"}):
            streamed("tiny", 8, per, n, k, 16)

    gm = math.exp(sum(math.log(x) for x in speedups) / len(speedups)) if speedups else None
    table = head + "\n" + "\n".join(rows) + (
        f"\n\nGeometric mean of moekit per-call TFLOPS / cuBLASLt blockwise per-call TFLOPS: {fmt(gm, 3)} "
        f"over {len(speedups)} shapes. Ran in {time.time() - t0:.0f} s.\n")
    if gp.DG is not None:
        dgm = math.exp(sum(math.log(x) for x in dg_ratios) / len(dg_ratios)) if dg_ratios else None
        table += (f"\nGeometric mean of DeepGEMM kernel time / moekit kernel time: {fmt(dgm, 3)} over {len(dg_ratios)} "
                  f"shapes (> 1: moekit faster). DeepGEMM's first calls (JIT compilation, cache "
                  f"{os.environ.get('DG_JIT_CACHE_DIR', '~/.deep_gemm')}) took {sum(dg_jit):.0f} s in all, "
                  "not timed.\n")
        table += "\n## DeepGEMM per shape\n\n" + (dg_note or "") + "\n\n" + "\n".join(f"- {x}" for x in dg_notes) + "\n"
    elif dg_note:
        table += "\n" + dg_note + "\n"
    mon.close()
    table += "\n## GPU state while each row was timed (nvidia-smi, tests/gpu/gpu_state.py)\n\n" + "\n".join(
        f"- {x}" for x in states) + "\n"
    if sweeps:
        table += "\n## Every configuration (--sweep), fastest first\n\n" + "\n".join(f"- {x}" for x in sweeps) + "\n"
    print("\n" + table)
    if a.out:
        Path(a.out).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
