"""ctypes binding of the moekit C API for the GPU tests and benchmarks.

    lib = mk.Library("build")                  # loads build/lib/libmoekit_<model>.so
    t = mk.tensor(torch_tensor)                 # mk_tensor describing a torch tensor
    t = mk.tensor(torch_tensor, mk.UE8M0X4)     # ... with an explicit moekit dtype
    args = lib.args("mk_quant_fp8_args", x=..., q=..., scales=...)
    lib.call("mk_quant_fp8", args)              # raises MkError with mk_last_error()

Only the Python standard library and (for tensor()) torch are needed.
"""

import ctypes
import json
from pathlib import Path

MAX_DIMS = 4
# mk_dtype values (include/moekit/moekit.h)
F32, F16, BF16, E4M3, E4M3FNUZ, E5M2, E2M1X2, UE8M0, UE8M0X4, UE4M3, I32, I64, U8 = range(1, 14)


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("ndim", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_DIMS), ("strides", ctypes.c_int64 * MAX_DIMS)]


def _torch_dtype(t):
    import torch
    table = {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16, torch.float8_e4m3fn: E4M3,
             torch.float8_e5m2: E5M2, torch.int32: I32, torch.int64: I64, torch.uint8: U8}
    if hasattr(torch, "float8_e4m3fnuz"):
        table[torch.float8_e4m3fnuz] = E4M3FNUZ
    return table[t.dtype]


def tensor(t, dtype=None, shape=None, strides=None):
    """An mk_tensor for a torch tensor (or None -> a null tensor). `dtype`
    overrides the element type (e.g. UE8M0X4 for an int32 tensor); `shape` and
    `strides` override the torch ones (in elements of `dtype`)."""
    out = Tensor()
    if t is None:
        return out
    out.data = t.data_ptr()
    out.dtype = dtype if dtype is not None else _torch_dtype(t)
    shape = list(shape if shape is not None else t.shape)
    strides = list(strides if strides is not None else t.stride())
    out.ndim = len(shape)
    for i, (s, st) in enumerate(zip(shape, strides)):
        out.shape[i] = s
        out.strides[i] = st
    return out


class MkError(RuntimeError):
    def __init__(self, fn, status, message):
        self.status = status
        super().__init__(f"{fn} -> status {status}: {message}")


_ARG_STRUCTS = {}


def struct(name, fields):
    """Declares an args struct layout: fields is a list of (name, ctype)."""
    cls = type(name, (ctypes.Structure,), {"_fields_": [("struct_size", ctypes.c_uint32)] + fields})
    _ARG_STRUCTS[name] = cls
    return cls


# ---- args structs (keep in the order of include/moekit/moekit.h) ----------------------------
ROUTE_TENSORS = ("logits", "bias", "topk_ids", "topk_weights", "sorted_ids", "sorted_experts", "block_experts",
                 "expert_offsets", "inverse", "expert_counts", "masked_ids", "masked_inverse", "remote_count")
struct("mk_route_args", [("kind", ctypes.c_int), ("top_k", ctypes.c_int32), ("renormalize", ctypes.c_int32),
                         ("n_group", ctypes.c_int32), ("topk_group", ctypes.c_int32),
                         ("routed_scaling_factor", ctypes.c_float), ("block_m", ctypes.c_int32),
                         ("expert_start", ctypes.c_int32), ("expert_end", ctypes.c_int32), ("path", ctypes.c_int)]
       + [(n, Tensor) for n in ROUTE_TENSORS])
struct("mk_quant_fp8_args", [("x", Tensor), ("q", Tensor), ("scales", Tensor)])
struct("mk_quant_mxfp4_args", [("x", Tensor), ("q", Tensor), ("scales", Tensor), ("sf_layout", ctypes.c_int)])
struct("mk_quant_nvfp4_args", [("x", Tensor), ("q", Tensor), ("scales", Tensor), ("global_scale", Tensor),
                               ("sf_layout", ctypes.c_int)])
# mk_gemm_kind
GEMM_DENSE, GEMM_GROUPED_CONTIGUOUS, GEMM_GROUPED_MASKED = 0, 1, 2
OP_GEMM_FP8 = 5
struct("mk_gemm_fp8_args", [("kind", ctypes.c_int), ("a", Tensor), ("a_scales", Tensor), ("b", Tensor),
                            ("b_scales", Tensor), ("d", Tensor), ("m_indices", Tensor), ("masked_m", Tensor),
                            ("expected_m", ctypes.c_int64), ("group_align", ctypes.c_int32),
                            ("num_sms", ctypes.c_int32), ("signal", Tensor), ("kernel", ctypes.c_char_p),
                            ("expected_groups", ctypes.c_int64)])
struct("mk_gemm_fp8_info", [("kernel", ctypes.c_char_p), ("block_m", ctypes.c_int32), ("block_n", ctypes.c_int32),
                            ("signal_threshold", ctypes.c_int32), ("swap_ab", ctypes.c_int32),
                            ("num_signals", ctypes.c_int64)])
struct("mk_kernel_info", [("name", ctypes.c_char_p), ("op", ctypes.c_int), ("arch", ctypes.c_char_p),
                          ("variant", ctypes.c_uint32), ("n", ctypes.c_int64), ("k", ctypes.c_int64),
                          ("experts", ctypes.c_int32), ("top_k", ctypes.c_int32), ("block_m", ctypes.c_int32),
                          ("block_n", ctypes.c_int32), ("stages", ctypes.c_int32)])


struct("mk_moe_dispatch_args", [("layout", ctypes.c_int), ("x", Tensor), ("inverse", Tensor),
                                ("topk_weights", Tensor), ("q", Tensor), ("scales", Tensor), ("row_weights", Tensor),
                                ("sorted_ids", Tensor), ("expert_offsets", Tensor)])
struct("mk_moe_swiglu_args", [("layout", ctypes.c_int), ("clamped", ctypes.c_int32), ("interleaved", ctypes.c_int32),
                              ("alpha", ctypes.c_float), ("limit", ctypes.c_float), ("h", Tensor), ("q", Tensor),
                              ("scales", Tensor), ("row_experts", Tensor), ("masked_m", Tensor),
                              ("rows", Tensor)])
struct("mk_moe_combine_args", [("accumulate", ctypes.c_int32), ("src", Tensor), ("inverse", Tensor),
                               ("weights", Tensor), ("y", Tensor)])
struct("mk_moe_layer_args", [("kind", ctypes.c_int), ("top_k", ctypes.c_int32), ("renormalize", ctypes.c_int32),
                             ("n_group", ctypes.c_int32), ("topk_group", ctypes.c_int32),
                             ("routed_scaling_factor", ctypes.c_float), ("logits", Tensor), ("bias", Tensor),
                             ("x", Tensor), ("w13", Tensor), ("w13_scales", Tensor), ("w2", Tensor),
                             ("w2_scales", Tensor), ("y", Tensor), ("clamped", ctypes.c_int32),
                             ("interleaved", ctypes.c_int32), ("alpha", ctypes.c_float), ("limit", ctypes.c_float),
                             ("accumulate", ctypes.c_int32), ("path", ctypes.c_int),
                             ("stage_events", ctypes.POINTER(ctypes.c_void_p)), ("pdl", ctypes.c_int32)])


class Library:
    def __init__(self, builddir="build", path=None):
        """Loads build/lib/libmoekit_<model>.so, or the library at `path`."""
        if path is None:
            builddir = Path(builddir)
            cfg = json.loads((builddir / "config.json").read_text())
            self.model = cfg["model"]
            path = builddir / "lib" / f"libmoekit_{self.model}.so"
        self.lib = ctypes.CDLL(str(path))
        self.model = self.lib.mk_library_model
        self.model.restype = ctypes.c_char_p
        self.model = self.model().decode()
        self.lib.mk_last_error.restype = ctypes.c_char_p
        self.lib.mk_registry_find.restype = ctypes.c_int
        self.lib.mk_registry_find.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_int32,
                                              ctypes.c_int32]

    def args(self, name, **fields):
        a = _ARG_STRUCTS[name]()
        a.struct_size = ctypes.sizeof(a)
        for k, v in fields.items():
            setattr(a, k, v)
        return a

    def call(self, fn, args, workspace=None, workspace_bytes=0, stream=0):
        """Calls mk_<op>(&args, workspace, bytes, stream); raises MkError on failure."""
        f = getattr(self.lib, fn)
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        st = f(ctypes.byref(args), workspace, workspace_bytes, stream)
        if st != 0:
            raise MkError(fn, st, self.lib.mk_last_error().decode())
        return st

    def workspace_size(self, fn, args):
        f = getattr(self.lib, fn + "_workspace_size")
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        n = ctypes.c_size_t(0)
        st = f(ctypes.byref(args), ctypes.byref(n))
        if st != 0:
            raise MkError(fn + "_workspace_size", st, self.lib.mk_last_error().decode())
        return n.value

    def has(self, op, k=0, n=0, experts=0, top_k=0):
        return self.lib.mk_registry_find(op, n, k, experts, top_k) >= 0

    def registry(self):
        """Every instance of the library: a list of dicts (name, op, arch, variant, n, k, ...)."""
        self.lib.mk_registry_count.restype = ctypes.c_int
        self.lib.mk_registry_describe.restype = ctypes.c_int
        self.lib.mk_registry_describe.argtypes = [ctypes.c_int, ctypes.c_void_p]
        out = []
        for i in range(self.lib.mk_registry_count()):
            info = self.args("mk_kernel_info")
            if self.lib.mk_registry_describe(i, ctypes.byref(info)) != 0:
                raise MkError("mk_registry_describe", -1, self.lib.mk_last_error().decode())
            out.append({f: getattr(info, f) for f, _ in info._fields_ if f != "struct_size"})
            out[-1]["name"] = out[-1]["name"].decode()
            out[-1]["arch"] = out[-1]["arch"].decode()
        return out

    def query(self, fn, args, info_struct):
        """Calls fn(&args, &info) (e.g. mk_gemm_fp8_query); returns the filled info struct."""
        info = self.args(info_struct)
        f = getattr(self.lib, fn)
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        st = f(ctypes.byref(args), ctypes.byref(info))
        if st != 0:
            raise MkError(fn, st, self.lib.mk_last_error().decode())
        return info
