#!/usr/bin/env python3
"""FP8 GEMM benchmark: moekit next to cuBLASLt and torch, one process, one run.

    python3 tests/gpu/gemm_bench.py --builddir build [--iters 20] [--out gemm_bench.md]

Shapes (issue 4): the dense DeepGEMM set (M = 4096 and 128, plus M = 64 and
128 for every dense (N, K)), grouped contiguous 4 x 8192 and 8 x 4096,
grouped masked 1 x 1024, 2 x 512 and 4 x 256, and decode masked with 32
experts x 8, 16, 32 and 64 tokens. A shape runs when the library holds its
(kind, N, K): build instances/deepseek-v3.toml for the whole table.

Columns:
  kernel us      device time of the GEMM's kernels (torch.profiler), L2 flushed
                 (a 512 MiB write) before every call
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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemm_check as gc  # noqa: E402  (quantization helpers)
import mk  # noqa: E402

import torch  # noqa: E402

DEV = "cuda"
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


FORCE = {}  # {"kernel": b"name"} while sweeping


class Timer:
    def __init__(self, iters):
        self.iters = iters
        self.flush_buf = torch.empty(512 << 20, dtype=torch.int8, device=DEV)
        self.flush_names = self._kernel_names(lambda: self.flush_buf.zero_())

    def flush(self):
        self.flush_buf.zero_()

    def _profile(self, fn, iters):
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(iters):
                self.flush()
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
        """Device time of fn's kernels per call (L2 flushed before each call)."""
        fn()
        torch.cuda.synchronize()
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


# ---- problems ------------------------------------------------------------------------------
def mk_call(lib, kind, a, sfa, b, sfb, d, **kw):
    kw.update(FORCE)
    args = lib.args("mk_gemm_fp8_args", kind=kind, a=a, a_scales=sfa, b=b, b_scales=sfb, d=d, **kw)
    info = lib.query("mk_gemm_fp8_query", args, "mk_gemm_fp8_info")
    stream = torch.cuda.current_stream().cuda_stream
    return (lambda: lib.call("mk_gemm_fp8", args, stream=stream)), info


def dense_problem(lib, m, n, k):
    qa, sa = gc.quant_rows(torch.randn(m, k, device=DEV))
    qb, sb = gc.quant_blocks(torch.randn(1, n, k, device=DEV))
    qb, sb = qb[0], sb[0]
    d = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
    sbuf, shape, strides = gc.mn_major(sa)
    run, info = mk_call(lib, mk.GEMM_DENSE, mk.tensor(qa), mk.tensor(sbuf, shape=shape, strides=strides),
                        mk.tensor(qb), mk.tensor(sb), mk.tensor(d))
    sa_cm = sbuf[:, :m].t()                      # [M, K/128], column-major
    peers = {
        "blockwise": lambda: torch._scaled_mm(qa, qb.t(), scale_a=sa_cm, scale_b=sb.t(), out_dtype=torch.bfloat16),
        "per-tensor": lambda: torch._scaled_mm(qa, qb.t(), scale_a=torch.ones((), device=DEV),
                                               scale_b=torch.ones((), device=DEV), out_dtype=torch.bfloat16),
    }
    return run, info, peers


def contiguous_problem(lib, g, per, n, k):
    counts = [per] * g
    m_indices = gc.contiguous_layout(counts, 128, tail_blocks=0)
    m = m_indices.numel()
    qa, sa = gc.quant_rows(torch.randn(m, k, device=DEV))
    qb, sb = gc.quant_blocks(torch.randn(g, n, k, device=DEV))
    d = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
    sbuf, shape, strides = gc.mn_major(sa)
    run, info = mk_call(lib, mk.GEMM_GROUPED_CONTIGUOUS, mk.tensor(qa),
                        mk.tensor(sbuf, shape=shape, strides=strides), mk.tensor(qb), mk.tensor(sb), mk.tensor(d),
                        m_indices=mk.tensor(m_indices))
    offs = torch.arange(1, g + 1, device=DEV, dtype=torch.int32) * per
    row_a = torch.ones(m, device=DEV)
    row_b = torch.ones(g, n, device=DEV)
    peers = {"grouped (row-wise)": lambda: torch._scaled_grouped_mm(qa, qb.transpose(-2, -1), row_a, row_b, offs=offs,
                                                                     out_dtype=torch.bfloat16)}
    return run, info, peers, m


def masked_problem(lib, g, per, n, k, max_m=None):
    max_m = max_m or max(per, 16)
    qa, sa = gc.quant_rows(torch.randn(g, max_m, k, device=DEV))
    kb = k // 128
    ld = (max_m + 3) // 4 * 4
    buf = torch.zeros(g, kb, ld, device=DEV)
    buf[:, :, :max_m] = sa.transpose(1, 2)
    qb, sb = gc.quant_blocks(torch.randn(g, n, k, device=DEV))
    d = torch.empty(g, max_m, n, device=DEV, dtype=torch.bfloat16)
    mm = torch.full((g,), per, dtype=torch.int32, device=DEV)
    run, info = mk_call(lib, mk.GEMM_GROUPED_MASKED, mk.tensor(qa),
                        mk.tensor(buf, shape=[g, max_m, kb], strides=[kb * ld, 1, ld]), mk.tensor(qb), mk.tensor(sb),
                        mk.tensor(d), masked_m=mk.tensor(mm), expected_m=per)
    row_a = torch.ones(g, max_m, device=DEV)
    row_b = torch.ones(g, n, device=DEV)
    peers = {"grouped (row-wise)": lambda: torch._scaled_grouped_mm(qa, qb.transpose(-2, -1), row_a, row_b,
                                                                     out_dtype=torch.bfloat16)}
    return run, info, peers, g * n * k * (1 + 4 / (128 * 128))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--out", default="", help="also write the markdown table to this file")
    ap.add_argument("--sweep", action="store_true", help="also time every built configuration of each shape")
    a = ap.parse_args()
    torch.manual_seed(0)
    lib = mk.Library(a.builddir)
    built = {(gc.KINDS[e["variant"] & 3], e["n"], e["k"]) for e in lib.registry() if e["op"] == mk.OP_GEMM_FP8}
    timer = Timer(a.iters)
    t0 = time.time()
    copy_bw = copy_bandwidth(timer)
    rows, speedups = [], []
    head = (f"# FP8 GEMM benchmark: {torch.cuda.get_device_name()}, torch {torch.__version__}, library "
            f"'{lib.model}', {a.iters} iterations; device-to-device copy {copy_bw / 1e12:.2f} TB/s\n\n"
            "| kind | shape (M x N x K) | moekit kernel us | moekit TFLOPS | moekit per-call us | per-call TFLOPS "
            "| cuBLASLt blockwise TFLOPS | cuBLASLt per-tensor TFLOPS | torch grouped TFLOPS | DeepGEMM (issue) "
            "| vs blockwise | kernel |\n|---|---|---|---|---|---|---|---|---|---|---|---|")

    sweeps = []
    registry = [e for e in lib.registry() if e["op"] == mk.OP_GEMM_FP8]

    def sweep(kind, label, m, n, k, make):
        """Every built configuration of (kind, n, k), forced by name, fastest first."""
        if not a.sweep:
            return
        kname = {"dense": "dense", "contiguous": "grouped_contiguous"}.get(kind, "grouped_masked")
        res = []
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
        print(sweeps[-1], flush=True)

    def add(kind, label, m, n, k, run, info, peers, extra=""):
        kus = timer.kernel_us(run)
        cus = timer.call_us(run)
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
        rows.append(f"| {kind} | {label} | {fmt(kus, 1)} | {fmt(tflops(m, n, k, kus))} | {fmt(cus, 1)} | "
                    f"{fmt(tflops(m, n, k, cus))} | {fmt(peer_tf.get('blockwise'))} | {fmt(peer_tf.get('per-tensor'))} | "
                    f"{fmt(peer_tf.get('grouped (row-wise)'))} | {dg} | {fmt(ratio, 2)}{extra} | {info.kernel.decode()} |")
        print(rows[-1], flush=True)

    dense = [(4096, 2112, 7168), (4096, 24576, 1536), (4096, 32768, 512), (4096, 7168, 16384), (4096, 4096, 7168),
             (4096, 7168, 2048)]
    nks = sorted({(n, k) for _, n, k in dense} | {(n, k) for kind, n, k in built if kind == "dense"})
    dense += [(m, n, k) for n, k in nks for m in (64, 128)]
    for m, n, k in dense:
        if ("dense", n, k) not in built:
            rows.append(f"| dense | {m} x {n} x {k} | not built | | | | | | | | | |")
            continue
        run, info, peers = dense_problem(lib, m, n, k)
        add("dense", f"{m} x {n} x {k}", m, n, k, run, info, peers)
        sweep("dense", f"{m} x {n} x {k}", m, n, k, lambda: dense_problem(lib, m, n, k))
        torch.cuda.empty_cache()
    for g, per in ((4, 8192), (8, 4096)):
        for n, k in ((4096, 7168), (7168, 2048)):
            if ("grouped_contiguous", n, k) not in built:
                rows.append(f"| contiguous | {g}x{per} x {n} x {k} | not built | | | | | | | | | |")
                continue
            run, info, peers, m = contiguous_problem(lib, g, per, n, k)
            add("contiguous", f"{g}x{per} x {n} x {k}", m, n, k, run, info, peers)
            sweep("contiguous", f"{g}x{per} x {n} x {k}", m, n, k, lambda: contiguous_problem(lib, g, per, n, k))
            torch.cuda.empty_cache()
    for g, per in ((1, 1024), (2, 512), (4, 256)):
        for n, k in ((4096, 7168), (7168, 2048)):
            if ("grouped_masked", n, k) not in built:
                rows.append(f"| masked | {g}x{per} x {n} x {k} | not built | | | | | | | | | |")
                continue
            run, info, peers, _ = masked_problem(lib, g, per, n, k)
            add("masked", f"{g}x{per} x {n} x {k}", g * per, n, k, run, info, peers)
            sweep("masked", f"{g}x{per} x {n} x {k}", g * per, n, k, lambda: masked_problem(lib, g, per, n, k))
            torch.cuda.empty_cache()
    for per in (8, 16, 32, 64):
        for n, k in ((4096, 7168), (7168, 2048)):
            g = 32
            if ("grouped_masked", n, k) not in built:
                continue
            run, info, peers, wbytes = masked_problem(lib, g, per, n, k, max_m=128)
            kus = timer.kernel_us(run)
            frac = wbytes / (kus * 1e-6) / copy_bw
            add("decode", f"{g}x{per} x {n} x {k}", g * per, n, k, run, info, peers,
                extra=f"; weights {wbytes / (kus * 1e-6) / 1e12:.2f} TB/s = {100 * frac:.0f}% of copy")
            sweep("decode", f"{g}x{per} x {n} x {k}", g * per, n, k,
                  lambda: masked_problem(lib, g, per, n, k, max_m=128))
            torch.cuda.empty_cache()

    gm = math.exp(sum(math.log(x) for x in speedups) / len(speedups)) if speedups else None
    table = head + "\n" + "\n".join(rows) + (
        f"\n\nGeometric mean of moekit per-call TFLOPS / cuBLASLt blockwise per-call TFLOPS: {fmt(gm, 3)} "
        f"over {len(speedups)} shapes. Ran in {time.time() - t0:.0f} s.\n")
    if sweeps:
        table += "\n## Every configuration (--sweep), fastest first\n\n" + "\n".join(f"- {x}" for x in sweeps) + "\n"
    print("\n" + table)
    if a.out:
        Path(a.out).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
