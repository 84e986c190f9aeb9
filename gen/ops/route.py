"""Routing (top-k + sort by expert): one instance per (kind, experts, top_k, arch).

The model's instance comes from [model] experts / top_k and [routing] kind;
[routing] extra adds others as "kind:experts:top_k" strings (benchmarks and
tests that route several models through one library). Everything else
(renormalize, groups, scaling factor, block_m, the local expert range, the
logits dtype) is a runtime argument of mk_route, so one instance serves them.
"""

from ..instance import ARCH_TOKEN, Instance

KINDS = {"softmax": 1, "softmax_after_topk": 2, "sigmoid_grouped": 3}  # mk_route_kind
MAX_EXPERTS, MAX_TOP_K = 1024, 32   # include/moekit/kernels/route/plan.h


def shapes(m):
    """(kind, experts, top_k) of the model, then the extras, without repeats."""
    out = [(m.routing["kind"], m.model["experts"], m.model["top_k"])]
    for s in m.routing["extra"]:
        kind, e, k = s.split(":")
        out.append((kind, int(e), int(k)))
    return list(dict.fromkeys(out))


def instances(m, archs):
    out = []
    for arch in archs:
        a = ARCH_TOKEN[arch]
        for kind, e, k in shapes(m):
            out.append(Instance(
                name=f"route_{kind}_{a}_e{e}_k{k}", family="route", op="ROUTE", template="route.cu.j2",
                arch=arch, experts=e, top_k=k, variant=KINDS[kind],
                ctx={"kind": KINDS[kind], "experts": e, "top_k": k}))
    return out


def check(inst):
    e, k = inst.experts, inst.top_k
    if not 1 <= e <= MAX_EXPERTS:
        return f"experts = {e} is out of range; allowed: 1..{MAX_EXPERTS}"
    if not 1 <= k <= min(MAX_TOP_K, e):
        return f"top_k = {k} is out of range; allowed: 1..min({MAX_TOP_K}, experts = {e})"
    return None
