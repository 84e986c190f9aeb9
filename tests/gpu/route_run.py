"""Runs one routing case through an mk_route library (ctypes, tests/gpu/mk.py)
and returns every output as numpy. Two kinds of memory:

    TorchMem()   CUDA tensors (route_check.py, route_bench.py on a GPU)
    HostMem()    numpy arrays; for the CPU emulation of the kernels
                 (tests/host/test_route_emu.py), whose device pointers are host ones

    r = Runner(lib, mem)
    outs = r.run(case, logits, bias, path=1)    # path: 0 auto, 1 fused, 2 multi
    r.pick_path(case, logits, bias)             # the path auto would take
    check_paths(r, case, logits, bias, ld, bd)  # both paths against route_ref, and each other

Outputs start filled with 0x7b bytes so an entry the library forgot to write
shows up; the workspace is zeroed once and reused by every call (as a user
would), which also checks that each call leaves it zeroed.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mk  # noqa: E402
import route_ref  # noqa: E402
from route_ref import KINDS, OUTPUTS, Case, output_shapes  # noqa: E402

MK_DTYPE = {"bf16": mk.BF16, "f16": mk.F16, "f32": mk.F32}
GARBAGE = 0x7B


class HostMem:
    def empty(self, shape, dtype):
        a = np.empty(shape, dtype)
        a.view(np.uint8).fill(GARBAGE)
        return a

    def upload(self, arr):
        return np.ascontiguousarray(arr)

    def zeros(self, nbytes):
        return np.zeros(max(nbytes, 16) // 16 * 16 + 16, np.uint8)

    def ptr(self, a):
        return a.ctypes.data

    def numpy(self, a):
        return a

    def sync(self):
        pass


class TorchMem:
    def __init__(self):
        import torch
        self.torch = torch
        self.map = {np.int32: torch.int32, np.float32: torch.float32, np.uint8: torch.uint8}

    def empty(self, shape, dtype):
        t = self.torch.empty(shape, dtype=self.map[dtype], device="cuda")
        t.view(self.torch.uint8).fill_(GARBAGE)
        return t

    def upload(self, arr):
        raw = np.ascontiguousarray(arr)
        t = self.torch.from_numpy(raw.view(np.uint8).reshape(-1).copy()).cuda()
        return t

    def zeros(self, nbytes):
        return self.torch.zeros(max(nbytes, 16), dtype=self.torch.uint8, device="cuda")

    def ptr(self, t):
        return t.data_ptr()

    def numpy(self, t):
        return t.cpu().numpy()

    def sync(self):
        self.torch.cuda.synchronize()


def _tensor(ptr, dtype, shape):
    t = mk.Tensor()
    t.data = ptr
    t.dtype = dtype
    t.ndim = len(shape)
    stride = 1
    for i in range(len(shape) - 1, -1, -1):
        t.shape[i] = shape[i]
        t.strides[i] = stride
        stride *= shape[i]
    return t


class Runner:
    def __init__(self, lib: mk.Library, mem):
        self.lib, self.mem = lib, mem
        self.ws, self.ws_bytes = None, 0
        self.lib.lib.mk_route_pick_path.restype = ctypes.c_int
        self.lib.lib.mk_route_pick_path.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]

    def args(self, case: Case, logits_dev, bias_dev, outs: dict, path=0, want=OUTPUTS):
        a = self.lib.args("mk_route_args", kind=KINDS[case.kind], top_k=case.top_k, renormalize=int(case.renormalize),
                          n_group=case.n_group, topk_group=case.topk_group, routed_scaling_factor=case.scale,
                          block_m=case.block_m, expert_start=case.start, expert_end=case.end, path=path)
        a.logits = _tensor(self.mem.ptr(logits_dev), MK_DTYPE[case.dtype], (case.m, case.experts))
        if bias_dev is not None:
            a.bias = _tensor(self.mem.ptr(bias_dev), mk.F32, (case.experts,))
        shapes = output_shapes(case)
        for name in want:
            setattr(a, name, _tensor(self.mem.ptr(outs[name]), mk.F32 if name == "topk_weights" else mk.I32,
                                     shapes[name]))
        return a

    def alloc_outputs(self, case: Case, want=OUTPUTS):
        shapes = output_shapes(case)
        return {n: self.mem.empty(shapes[n], np.float32 if n == "topk_weights" else np.int32) for n in want}

    def upload(self, logits, bias):
        return self.mem.upload(logits), (self.mem.upload(bias) if bias is not None else None)

    def workspace(self, a):
        need = self.lib.workspace_size("mk_route", a)
        if need > self.ws_bytes:
            self.ws, self.ws_bytes = self.mem.zeros(need * 2), need * 2
        return self.ws

    def pick_path(self, case, logits_dev, bias_dev, path=0):
        outs = self.alloc_outputs(case)
        a = self.args(case, logits_dev, bias_dev, outs, path)
        p = ctypes.c_int(-1)
        st = self.lib.lib.mk_route_pick_path(ctypes.byref(a), ctypes.byref(p))
        if st != 0:
            raise mk.MkError("mk_route_pick_path", st, self.lib.lib.mk_last_error().decode())
        return p.value

    def run(self, case: Case, logits_dev, bias_dev, path=0):
        """Routes once; returns {output name: numpy array}."""
        outs = self.alloc_outputs(case)
        a = self.args(case, logits_dev, bias_dev, outs, path)
        ws = self.workspace(a)
        self.lib.call("mk_route", a, self.mem.ptr(ws), self.ws_bytes, None)
        self.mem.sync()
        return {n: self.mem.numpy(t) for n, t in outs.items()}


# ---- both paths of one case --------------------------------------------------------------------
def same_output(a, b, name, counts):
    """Two runs' output `name` agree (masked_ids only in the rows below each expert's count)."""
    if name == "masked_ids":  # rows past the count are not written
        mask = np.arange(a.shape[1])[None, :] < counts[:, None]
        a, b = a[mask], b[mask]
    return a.tobytes() == b.tobytes()


def check_paths(runner, case, logits, bias, ld, bd):
    """Runs the fused (1) and multi (2) paths on uploaded inputs ld, bd, checks each against
    route_ref and the two against each other. Returns (problems, stats of the last checked path,
    {path: outputs}, the path auto picks). The fused path may refuse a case it cannot hold, unless
    auto would pick it."""
    problems, stats, got = [], {}, {}
    auto = runner.pick_path(case, ld, bd)
    for path in (1, 2):
        try:
            got[path] = runner.run(case, ld, bd, path)
        except mk.MkError as e:
            if path == 1 and "fused path cannot hold" in str(e):
                continue
            raise
        probs, stats = route_ref.check(case, logits, bias, got[path])
        problems += [f"{('fused', 'multi')[path - 1]}: {p}" for p in probs]
    if auto == 1 and 1 not in got:
        problems.append("auto picks the fused path, which refused the case")
    if len(got) == 2:
        diff = [n for n in OUTPUTS if not same_output(got[1][n], got[2][n], n, got[1]["expert_counts"])]
        if diff:
            problems.append(f"fused and multi differ in {', '.join(diff)}")
    return problems, stats, got, auto
