"""Model manifests: load a TOML file, check every key, derive the shapes.

A manifest describes a model (docs/manifest.md lists every key). Any problem
raises ManifestError, whose message is one line naming the file, the key, the
bad value and what is allowed:

    instances/x.toml: model.top_k: 0 is out of range; allowed: 1..32
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

ARCHS = ("sm_90a", "sm_100a", "gfx942", "gfx950")
ROUTING_KINDS = ("softmax", "softmax_after_topk", "sigmoid_grouped")
QUANT_RECIPES = ("fp8_1x128", "mxfp4", "nvfp4")
ACTIVATIONS = ("swiglu", "swiglu_clamped")
OPS = ("quant", "route", "gemm", "moe")  # op families (gen/ops/<family>.py)
# Elements per scale group of each activation format: K must be a multiple.
GROUP = {"fp8_1x128": 128, "mxfp4": 32, "nvfp4": 16}


class ManifestError(Exception):
    def __init__(self, path, key, message):
        self.path, self.key = str(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


# ---- the schema ---------------------------------------------------------------------
# Each key: (type, required, default, check). check(value) returns an error
# message or None. Types are checked before the check runs.
def _rng(lo, hi=None):
    def check(v):
        if v < lo or (hi is not None and v > hi):
            return f"{v} is out of range; allowed: {lo}..{hi if hi is not None else 'inf'}"
        return None
    return check


def _one_of(options):
    def check(v):
        return None if v in options else f"{v!r} is not allowed; allowed: {', '.join(options)}"
    return check


def _list_of(check_item, nonempty=True):
    def check(v):
        if nonempty and not v:
            return "must not be empty"
        for item in v:
            msg = check_item(item)
            if msg:
                return msg
        if len(set(v)) != len(v):
            return f"{v} repeats a value"
        return None
    return check


def _route_extra(v):
    """A routing instance beside the model's: "kind:experts:top_k"."""
    m = re.fullmatch(r"([a-z_]+):([0-9]{1,4}):([0-9]{1,2})", v)
    if not m or m.group(1) not in ROUTING_KINDS:
        return f"{v!r} is not \"kind:experts:top_k\" with kind one of {', '.join(ROUTING_KINDS)}"
    e, k = int(m.group(2)), int(m.group(3))
    if not 1 <= e <= 1024 or not 1 <= k <= min(32, e):
        return f"{v!r}: allowed: 1 <= experts <= 1024, 1 <= top_k <= min(32, experts)"
    return None


def _gemm_shape(v):
    m = re.fullmatch(r"([1-9][0-9]{0,5})x([1-9][0-9]{0,5})", v)
    if not m:
        return f"{v!r} is not a GEMM shape; write it as \"NxK\", e.g. \"2112x7168\""
    if int(m.group(2)) % 128:
        return f"{v!r}: K = {m.group(2)} is not a multiple of 128 (the FP8 scale block)"
    if int(m.group(1)) % 8:
        return f"{v!r}: N = {m.group(1)} is not a multiple of 8"
    return None


GEMM_KINDS = ("dense", "grouped_contiguous", "grouped_masked")


def _gemm_extra(v):
    """A GEMM configuration to build beside the chosen ones: "kind:BMxBN[:a|b|swap|swap-a]"."""
    m = re.fullmatch(r"([a-z_]+):([0-9]{2,3})x([0-9]{2,3})(?::(a|b|swap|swap-a))?", v)
    if not m or m.group(1) not in GEMM_KINDS:
        return (f"{v!r} is not \"kind:BMxBN[:a|b|swap|swap-a]\" with kind one of {', '.join(GEMM_KINDS)} "
                f"(a/b: clusters of 2 sharing A/B, swap: weights on the MMA's M side)")
    return None


def _name(v):
    return None if re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", v) else (
        f"{v!r} is not a name; allowed: lower-case letters, digits, '_', '.', '-' (1-64 chars)")


SCHEMA = {
    "model": {
        "name": (str, True, None, _name),
        "description": (str, False, "", None),
        "hidden": (int, True, None, _rng(16, 65536)),
        "moe_intermediate": (int, True, None, _rng(16, 65536)),
        "experts": (int, True, None, _rng(1, 1024)),
        "top_k": (int, True, None, _rng(1, 32)),
        "shared_experts": (int, False, 0, _rng(0, 64)),
    },
    "routing": {
        "kind": (str, True, None, _one_of(ROUTING_KINDS)),
        "renormalize": (bool, False, True, None),
        "n_group": (int, False, 1, _rng(1, 1024)),
        "topk_group": (int, False, 1, _rng(1, 1024)),
        "routed_scaling_factor": (float, False, 1.0, lambda v: None if v > 0 else f"{v} must be > 0"),
        # more routing instances, "kind:experts:top_k" (gen/ops/route.py)
        "extra": (list, False, [], _list_of(_route_extra, nonempty=False)),
    },
    "quant": {
        "recipe": (str, True, None, _one_of(QUANT_RECIPES)),
        "activations": (list, False, None, _list_of(_one_of(QUANT_RECIPES))),
    },
    "activation": {
        "kind": (str, False, "swiglu", _one_of(ACTIVATIONS)),
        "alpha": (float, False, 1.702, lambda v: None if v > 0 else f"{v} must be > 0"),
        "limit": (float, False, 7.0, lambda v: None if v > 0 else f"{v} must be > 0"),
    },
    "parallel": {
        "tp": (list, False, [1], _list_of(_rng(1, 64))),
        "ep": (list, False, [1], _list_of(_rng(1, 1024))),
    },
    "build": {
        "archs": (list, False, ["sm_90a"], _list_of(_one_of(ARCHS))),
        "ops": (list, False, list(OPS), _list_of(_one_of(OPS))),
    },
    # FP8 GEMMs (gen/ops/gemm.py): dense shapes beside the experts' (attention
    # projections, shared experts), "NxK"; "minimal" builds one configuration
    # per (kind, N, K) instead of one per representative problem size.
    "gemm": {
        "dense": (list, False, [], _list_of(_gemm_shape, nonempty=False)),
        "configs": (str, False, "auto", _one_of(("auto", "minimal"))),
        # more configurations for every (N, K) of a kind, "kind:BMxBN[:a|b|swap|swap-a]"
        # (tuning: tests/gpu/gemm_bench.py --sweep times every built one)
        "extra": (list, False, [], _list_of(_gemm_extra, nonempty=False)),
    },
}
REQUIRED_SECTIONS = ("model", "routing", "quant")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}


@dataclasses.dataclass(frozen=True)
class GemmShape:
    """One grouped GEMM a model needs: D[M, N] = A[M, K] @ B[groups, N, K]^T."""
    role: str      # "gate_up" or "down"
    n: int
    k: int
    groups: int    # experts per rank
    tp: int
    ep: int


@dataclasses.dataclass(frozen=True)
class Manifest:
    path: str
    model: dict
    routing: dict
    quant: dict
    activation: dict
    parallel: dict
    build: dict
    gemm: dict

    @property
    def name(self):
        return self.model["name"]

    @property
    def activation_formats(self):
        """Activation quantization formats the layer uses, recipe first."""
        return self.quant["activations"] or [self.quant["recipe"]]

    def quant_ks(self):
        """Row lengths that activation quantization sees: the hidden size
        (before the gate/up GEMM) and moe_intermediate / tp (before down)."""
        ks = {self.model["hidden"]}
        ks.update(self.model["moe_intermediate"] // tp for tp in self.parallel["tp"])
        return sorted(ks)

    def dense_gemm_shapes(self):
        """(N, K) of the [gemm] dense list."""
        return sorted({tuple(int(x) for x in v.split("x")) for v in self.gemm["dense"]})

    def gemm_shapes(self):
        out = []
        for tp in self.parallel["tp"]:
            inter = self.model["moe_intermediate"] // tp
            for ep in self.parallel["ep"]:
                groups = self.model["experts"] // ep
                out.append(GemmShape("gate_up", 2 * inter, self.model["hidden"], groups, tp, ep))
                out.append(GemmShape("down", self.model["hidden"], inter, groups, tp, ep))
        return sorted(set(out), key=lambda s: (s.n, s.k, s.groups, s.role))


# ---- loading --------------------------------------------------------------------------
def _typed(path, key, value, want):
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (want is int and isinstance(value, bool)) or not isinstance(value, want):
        raise ManifestError(path, key, f"{value!r} is not {_TYPE_NAMES[want]}")
    return value


def load(path) -> Manifest:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ManifestError(path, "", "no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(path, "", f"not valid TOML: {e}") from None
    return validate(raw, path)


def validate(raw: dict, path="<manifest>") -> Manifest:
    for section in raw:
        if section not in SCHEMA:
            raise ManifestError(path, section, f"unknown section; allowed: {', '.join(SCHEMA)}")
        if not isinstance(raw[section], dict):
            raise ManifestError(path, section, "must be a table ([section])")
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise ManifestError(path, section, "missing section")
    out = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise ManifestError(path, f"{section}.{key}", f"unknown key; allowed: {', '.join(keys)}")
        vals = {}
        for key, (want, required, default, check) in keys.items():
            full = f"{section}.{key}"
            if key not in given:
                if required:
                    raise ManifestError(path, full, "missing required key")
                vals[key] = list(default) if isinstance(default, list) else default
                continue
            v = _typed(path, full, given[key], want)
            if want is list:
                item_t = int if section == "parallel" else str
                v = [_typed(path, full, item, item_t) for item in v]
            msg = check(v) if check else None
            if msg:
                raise ManifestError(path, full, msg)
            vals[key] = v
        out[section] = vals
    m = Manifest(str(path), **out)
    _cross_checks(m, raw, path)
    return m


def _cross_checks(m: Manifest, raw: dict, path):
    model, routing = m.model, m.routing
    if model["top_k"] > model["experts"]:
        raise ManifestError(path, "model.top_k", f"{model['top_k']} exceeds model.experts = {model['experts']}")
    if routing["kind"] == "sigmoid_grouped":
        for key in ("n_group", "topk_group"):
            if key not in raw["routing"]:
                raise ManifestError(path, f"routing.{key}", "missing; routing.kind = 'sigmoid_grouped' needs it")
        if model["experts"] % routing["n_group"]:
            raise ManifestError(path, "routing.n_group",
                                f"{routing['n_group']} does not divide model.experts = {model['experts']}")
        if routing["topk_group"] > routing["n_group"]:
            raise ManifestError(path, "routing.topk_group",
                                f"{routing['topk_group']} exceeds routing.n_group = {routing['n_group']}")
        per_group = model["experts"] // routing["n_group"]
        if routing["topk_group"] * per_group < model["top_k"]:
            raise ManifestError(path, "routing.topk_group",
                                f"{routing['topk_group']} groups of {per_group} experts cannot hold top_k = {model['top_k']}")
    for tp in m.parallel["tp"]:
        if model["moe_intermediate"] % tp:
            raise ManifestError(path, "parallel.tp",
                                f"tp = {tp} does not divide model.moe_intermediate = {model['moe_intermediate']}")
    for ep in m.parallel["ep"]:
        if model["experts"] % ep:
            raise ManifestError(path, "parallel.ep", f"ep = {ep} does not divide model.experts = {model['experts']}")
    for fmt in m.activation_formats:
        g = GROUP[fmt]
        if model["hidden"] % g:
            raise ManifestError(path, "model.hidden",
                                f"{model['hidden']} is not a multiple of {g}, the {fmt} group size")
        for tp in m.parallel["tp"]:
            inter = model["moe_intermediate"] // tp
            if inter % g:
                key = "parallel.tp" if tp > 1 else "model.moe_intermediate"
                raise ManifestError(path, key, f"moe_intermediate / tp = {model['moe_intermediate']} / {tp} = {inter} "
                                               f"is not a multiple of {g}, the {fmt} group size")

