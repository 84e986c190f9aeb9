#!/usr/bin/env python3
"""A whole MoE layer: moekit (mk_moe_layer_forward) next to the same layer
composed from PyTorch ops, in one process, one run (issue 5).

    python3 tests/gpu/layer_bench.py --builddir build-ds [--ms 1,16,128,1024,4096] [--out layer.md]

The library's manifest gives the model (hidden, intermediate, experts, top-k,
routing). Weights are random FP8 with 128x128 block scales.

  moekit   mk_moe_layer_forward: route -> dispatch (FP8 1x128) -> grouped
           GEMM -> SwiGLU + FP8 requant -> grouped GEMM -> combine
  torch    the same layer from torch ops: routing (sigmoid/softmax, topk,
           group mask), sort (argsort, bincount, cumsum), per-token FP8
           quantization and the row gather, torch._scaled_grouped_mm for both
           GEMMs (row-wise scales: cuBLASLt's grouped FP8 path; the speed
           peer, not the same scaling math), silu * up + requant, index_add
           combine. Expert segments padded to 16 rows.
Totals are CUDA-graph replays (what a serving stack runs at decode), median
of 15 replays of 5 layers: the default launch mode (MK_MOE_LAYER_PDL_AUTO),
then plain launches and programmatic dependent launch forced; stages are CUDA
events in eager mode, plain launches. For M <= 16
the HBM floor is the bytes of the expert weights the batch touches (plus
scales) over the device-to-device copy bandwidth measured in the same run.
"""

import argparse
import ctypes
import json
import statistics
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))
import mk  # noqa: E402

import gen  # noqa: E402  (the manifest loader)

DEV = "cuda"
F8 = torch.float8_e4m3fn


class Cudart:
    """cudaEvent_t handles for stage_events (torch events are created lazily)."""

    def __init__(self, cuda_lib):
        self.rt = ctypes.CDLL(str(Path(cuda_lib) / "libcudart.so"))
        self.rt.cudaEventElapsedTime.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_void_p]
        self.rt.cudaEventSynchronize.argtypes = [ctypes.c_void_p]

    def events(self, n):
        arr = (ctypes.c_void_p * n)()
        for i in range(n):
            assert self.rt.cudaEventCreate(ctypes.byref(arr, i * ctypes.sizeof(ctypes.c_void_p))) == 0
        return arr

    def elapsed_ms(self, a, b):
        t = ctypes.c_float()
        assert self.rt.cudaEventElapsedTime(ctypes.byref(t), a, b) == 0
        return t.value


def graph_us(fn, calls=5, reps=15):
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, stream=s):
            for _ in range(calls):
                fn()
    times = []
    for _ in range(reps):
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0.record()
        g.replay()
        t1.record()
        torch.cuda.synchronize()
        times.append(t0.elapsed_time(t1) * 1e3 / calls)
    return statistics.median(times)


def random_fp8(*shape):
    b = torch.randint(0, 256, shape, dtype=torch.uint8, device=DEV)
    b[(b & 0x7F) == 0x7F] ^= 1                        # no NaN codes
    return b.view(F8)


# ---- the torch composition --------------------------------------------------------------------------
class TorchLayer:
    def __init__(self, m_cfg, w13, s13, w2, s2, bias):
        mm, rt, act = m_cfg.model, m_cfg.routing, m_cfg.activation
        self.e, self.k, self.h, self.i = mm["experts"], mm["top_k"], mm["hidden"], mm["moe_intermediate"]
        self.kind, self.rt, self.act = rt["kind"], rt, act
        self.bias = bias
        self.w13t = w13.transpose(1, 2)              # [E, H, 2I] column-major for _scaled_grouped_mm
        self.w2t = w2.transpose(1, 2)                # [E, I, H]
        # row-wise weight scales for the peer: the mean of each row's block scales
        self.s13r = s13.repeat_interleave(128, dim=1)[:, :2 * self.i].mean(-1).contiguous()
        self.s2r = s2.repeat_interleave(128, dim=1)[:, :self.h].mean(-1).contiguous()

    def route(self, logits):
        k = self.k
        if self.kind == "sigmoid_grouped":
            s = logits.sigmoid()
            b = s + self.bias
            ng, tg = self.rt["n_group"], self.rt["topk_group"]
            gs = b.view(b.shape[0], ng, -1).topk(2, dim=-1).values.sum(-1)
            keep = torch.zeros_like(gs).scatter_(1, gs.topk(tg, dim=-1).indices, 1.0)
            b = b.masked_fill(keep.repeat_interleave(self.e // ng, dim=1) == 0, float("-inf"))
            ids = b.topk(k, dim=-1).indices
            w = s.gather(1, ids)
        elif self.kind == "softmax":
            w, ids = logits.softmax(-1).topk(k, dim=-1)
        else:
            top, ids = logits.topk(k, dim=-1)
            w = top.softmax(-1)
        if self.rt["renormalize"] and self.kind != "softmax_after_topk":
            w = w / w.sum(-1, keepdim=True)
        return ids, w * self.rt["routed_scaling_factor"]

    @staticmethod
    def quant_rows(x):
        amax = x.abs().amax(-1, keepdim=True).float().clamp(min=1e-4)
        return (x.float() * (448.0 / amax)).to(F8), (amax / 448.0).squeeze(-1)

    def sort(self, ids):
        m, k, e = ids.shape[0], self.k, self.e
        flat = ids.reshape(-1)
        order = flat.argsort(stable=True)
        counts = torch.zeros(e, dtype=torch.int64, device=DEV).scatter_add_(0, flat, torch.ones_like(flat))
        padded = (counts + 15) // 16 * 16
        ends = padded.cumsum(0)
        starts = ends - padded
        first = counts.cumsum(0) - counts
        se = flat[order]
        dest = starts[se] + torch.arange(m * k, device=DEV) - first[se]
        return order, dest, ends.to(torch.int32)

    def forward(self, x, logits, events=None):
        m, k = x.shape[0], self.k
        cap = m * k + self.e * 15

        def mark(i):
            if events:
                events[i].record()

        mark(0)
        ids, w = self.route(logits)
        mark(1)
        order, dest, ends = self.sort(ids)
        xq, sx = self.quant_rows(x)
        a = torch.zeros(cap, self.h, dtype=F8, device=DEV)
        sa = torch.ones(cap, device=DEV)
        tok = order // k
        a[dest] = xq[tok]
        sa[dest] = sx[tok]
        mark(2)
        h = torch._scaled_grouped_mm(a, self.w13t, sa, self.s13r, offs=ends, out_dtype=torch.bfloat16)
        mark(3)
        g, u = h[:, :self.i], h[:, self.i:]
        if self.act["kind"] == "swiglu_clamped":
            g = g.float().clamp(max=self.act["limit"])
            u = u.float().clamp(-self.act["limit"], self.act["limit"])
            av = g * torch.sigmoid(self.act["alpha"] * g) * (u + 1)
        else:
            av = torch.nn.functional.silu(g.float()) * u.float()
        q2, s2 = self.quant_rows(av)
        mark(4)
        o = torch._scaled_grouped_mm(q2, self.w2t, s2, self.s2r, offs=ends, out_dtype=torch.bfloat16)
        mark(5)
        y = torch.zeros(m, self.h, dtype=torch.float32, device=DEV)
        y.index_add_(0, tok, o[dest].float() * w.reshape(-1)[order][:, None])
        y = y.to(torch.bfloat16)
        mark(6)
        return y, ids


STAGES = ("route", "dispatch", "gemm1", "swiglu", "gemm2", "combine")
TORCH_STAGES = ("route", "sort+quant+gather", "gemm1", "act+requant", "gemm2", "combine")


def kernel_table(fn, m, graph_us_total):
    """Each kernel of one layer call (eager, plain launches): device us, mean of 10 calls."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(10):
            fn()
        torch.cuda.synchronize()
    rows, total = [], 0.0
    for e in prof.key_averages():
        if not str(getattr(e, "device_type", "")).endswith("CUDA"):
            continue
        t = getattr(e, "device_time_total", None)
        t = (t if t is not None else getattr(e, "cuda_time_total", 0)) / 10.0
        total += t
        rows.append((t, e.count / 10.0, e.key))
    rows.sort(reverse=True)
    out = [f"# M={m}: kernels of one call (device us, eager); their sum {total:.1f} us, the graph's total "
           f"{graph_us_total:.1f} us (the rest: launch gaps and dependencies)"]
    out += [f"#   {t:8.1f} us  x{c:.0f}  {name[:110]}" for t, c, name in rows]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build-ds")
    ap.add_argument("--ms", default="1,16,128,1024,4096")
    ap.add_argument("--out", default="")
    ap.add_argument("--path", choices=("auto", "contiguous", "masked"), default="auto",
                    help="force the expert layout (the auto choice is mk_moe_layer_pick_path's)")
    ap.add_argument("--no-torch", action="store_true", help="moekit only (path sweeps)")
    ap.add_argument("--kernels", default="1,16",
                    help="M values whose kernels are listed one by one (device time, torch.profiler)")
    a = ap.parse_args()
    cfg = json.loads((Path(a.builddir) / "config.json").read_text())
    man = gen.load(cfg["manifest"])
    lib = mk.Library(a.builddir)
    rt = Cudart(cfg["cuda_lib"])
    mm = man.model
    E, K, H, I = mm["experts"], mm["top_k"], mm["hidden"], mm["moe_intermediate"]
    torch.manual_seed(0)
    w13, w2 = random_fp8(E, 2 * I, H), random_fp8(E, H, I)
    s13 = torch.empty(E, 2 * I // 128, H // 128, device=DEV).uniform_(0.5, 1.5) / (60 * H ** 0.5)
    s2 = torch.empty(E, H // 128, I // 128, device=DEV).uniform_(0.5, 1.5) / (60 * I ** 0.5)
    grouped = man.routing["kind"] == "sigmoid_grouped"
    bias = (torch.rand(E, device=DEV) - 0.5) * 0.1
    tl = TorchLayer(man, w13, s13, w2, s2, bias)
    kinds = {"softmax": 1, "softmax_after_topk": 2, "sigmoid_grouped": 3}
    # copy bandwidth for the HBM floor: the same measurement as gemm_bench.py
    # (kernel time of a 1 GiB device-to-device copy, torch.profiler)
    import gemm_bench
    copy_bw = gemm_bench.copy_bandwidth(gemm_bench.Timer(10)) / 1e9  # GB/s, read + written
    name = torch.cuda.get_device_name()
    lines = [f"# layer_bench on {name}: {man.name} (H {H}, I {I}, E {E}, top-{K}, {man.routing['kind']}); "
             f"copy {copy_bw:.0f} GB/s",
             "| M | moekit us (graph) | plain / PDL us (graph) | torch us (graph) | torch / moekit | moekit stages us: "
             + " / ".join(STAGES) + " | torch stages us: " + " / ".join(TORCH_STAGES)
             + " | HBM floor us | moekit / floor | path |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    kernel_lines = []
    print("\n".join(lines))
    warmed = False
    for m in (int(v) for v in a.ms.split(",")):
        x = torch.randn(m, H, device=DEV).to(torch.bfloat16)
        logits = torch.randn(m, E, device=DEV)
        y = torch.empty(m, H, device=DEV, dtype=torch.bfloat16)
        args = lib.args("mk_moe_layer_args", kind=kinds[man.routing["kind"]], top_k=K,
                        renormalize=int(man.routing["renormalize"]), n_group=man.routing["n_group"],
                        topk_group=man.routing["topk_group"],
                        routed_scaling_factor=man.routing["routed_scaling_factor"],
                        logits=mk.tensor(logits), bias=mk.tensor(bias if grouped else None),
                        x=mk.tensor(x), w13=mk.tensor(w13), w13_scales=mk.tensor(s13), w2=mk.tensor(w2),
                        w2_scales=mk.tensor(s2), y=mk.tensor(y),
                        clamped=int(man.activation["kind"] == "swiglu_clamped"), alpha=man.activation["alpha"],
                        limit=man.activation["limit"], path={"auto": 0, "contiguous": 1, "masked": 2}[a.path])
        nbytes = lib.workspace_size("mk_moe_layer", args)
        ws = torch.zeros(nbytes + 256, dtype=torch.uint8, device=DEV)
        wsp = (ws.data_ptr() + 255) // 256 * 256
        path = ctypes.c_int()
        lib.lib.mk_moe_layer_pick_path(ctypes.byref(args), ctypes.byref(path))

        def run_mk(stream=0):
            lib.call("mk_moe_layer_forward", args, workspace=wsp, workspace_bytes=nbytes,
                     stream=stream or torch.cuda.current_stream().cuda_stream)
        if not warmed:  # NOTE: the first graph timed in a process ran 8-13% slow at M = 1 (clocks ramping)
            graph_us(run_mk)
            warmed = True
        mk_us = graph_us(run_mk)                          # the default: MK_MOE_LAYER_PDL_AUTO
        args.pdl = 2
        plain_us = graph_us(run_mk)
        args.pdl = 1
        pdl_us = graph_us(run_mk)
        args.pdl = 2  # NOTE: per-kernel and per-stage times with plain launches: under PDL a kernel's
        #               device time would include its wait for the kernel before
        if str(m) in a.kernels.split(","):
            kernel_lines += kernel_table(run_mk, m, mk_us)
        # stages (eager)
        ev = rt.events(len(STAGES) + 1)
        args.stage_events = ctypes.cast(ev, ctypes.POINTER(ctypes.c_void_p))
        mk_st = [0.0] * len(STAGES)
        for _ in range(10):
            run_mk()
            torch.cuda.synchronize()
            for i in range(len(STAGES)):
                mk_st[i] += rt.elapsed_ms(ev[i], ev[i + 1]) * 100.0       # us, mean of 10
        args.stage_events = None
        try:
            if a.no_torch:
                raise RuntimeError("--no-torch")
            tl.forward(x, logits)                         # eager first: real errors surface here
            try:
                th_us = graph_us(lambda: tl.forward(x, logits))
            except RuntimeError:                          # not capturable: time it eagerly
                torch.cuda.synchronize()
                t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                t0.record()
                for _ in range(10):
                    tl.forward(x, logits)
                t1.record()
                torch.cuda.synchronize()
                th_us = t0.elapsed_time(t1) * 100.0
            tev = [torch.cuda.Event(enable_timing=True) for _ in range(7)]
            th_st = [0.0] * 6
            for _ in range(10):
                _, ids = tl.forward(x, logits, tev)
                torch.cuda.synchronize()
                for i in range(6):
                    th_st[i] += tev[i].elapsed_time(tev[i + 1]) * 100.0
            ratio = f"{th_us / mk_us:.2f}x"
            th_txt, th_st_txt = f"{th_us:.1f}", " / ".join(f"{v:.1f}" for v in th_st)
        except Exception as e:  # noqa: BLE001 - report, keep going
            ids = tl.route(logits)[0]
            ratio, th_txt, th_st_txt = "n/a", f"failed: {type(e).__name__}: {str(e)[:80]}", ""
        floor = ""
        vs_floor = ""
        if m <= 16:
            touched = torch.unique(ids).numel()
            wbytes = touched * (3 * H * I) * (1 + 4 / (128 * 128))
            floor_us = wbytes / (copy_bw * 1e3)
            floor, vs_floor = f"{floor_us:.1f}", f"{mk_us / floor_us:.2f}x"
        row = (f"| {m} | {mk_us:.1f} | {plain_us:.1f} / {pdl_us:.1f} | {th_txt} | {ratio} | " + " / ".join(f"{v:.1f}" for v in mk_st) +
               f" | {th_st_txt} | {floor} | {vs_floor} | {'masked' if path.value == 2 else 'contiguous'} |")
        print(row, flush=True)
        lines.append(row)
        del ws
    print("\n".join(kernel_lines))
    lines += kernel_lines
    if a.out:
        Path(a.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
