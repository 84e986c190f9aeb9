"""MoE glue between routing and the expert GEMMs (kernels/moe/):

  dispatch  quantize tokens into the expert layout: per hidden size and
            activation format (FP8 1x128, MXFP4)
  swiglu    activation + FP8 1x128 requantization: per moe_intermediate / tp
            that is a multiple of 128, the manifest's activation kind, gate/up
            as halves and interleaved
  combine   weighted sum back to [M, hidden]: per hidden size
  reference the whole layer in plain float32 (tests, examples): one per NVIDIA arch
"""

from ..instance import ARCH_TOKEN, Instance

VARIANT_DISPATCH_MXFP4 = 1        # MK__VARIANT_DISPATCH_MXFP4
VARIANT_SWIGLU_CLAMPED = 1        # MK__VARIANT_SWIGLU_CLAMPED
VARIANT_SWIGLU_INTERLEAVED = 2    # MK__VARIANT_SWIGLU_INTERLEAVED


def instances(m, archs):
    out = []
    hidden = m.model["hidden"]
    clamped = m.activation["kind"] == "swiglu_clamped"
    inters = sorted({m.model["moe_intermediate"] // tp for tp in m.parallel["tp"]})
    for arch in archs:
        a = ARCH_TOKEN[arch]
        for fmt in m.activation_formats:
            if fmt == "fp8_1x128":
                out.append(Instance(name=f"moe_dispatch_fp8_1x128_{a}_k{hidden}", family="moe", op="MOE_DISPATCH",
                                    template="moe.cu.j2", arch=arch, k=hidden,
                                    ctx={"kind": "dispatch", "k": hidden, "group": 128}))
            elif fmt == "mxfp4":
                out.append(Instance(name=f"moe_dispatch_mxfp4_{a}_k{hidden}", family="moe", op="MOE_DISPATCH",
                                    template="moe.cu.j2", arch=arch, k=hidden, variant=VARIANT_DISPATCH_MXFP4,
                                    ctx={"kind": "dispatch", "k": hidden, "group": 32}))
        if "fp8_1x128" in m.activation_formats:
            for inter in inters:
                if inter % 128:
                    continue  # no FP8 1x128 requantization for this split
                for inter_leaved in (False, True):
                    variant = (VARIANT_SWIGLU_CLAMPED if clamped else 0) | \
                              (VARIANT_SWIGLU_INTERLEAVED if inter_leaved else 0)
                    tag = "swiglu" + ("_clamped" if clamped else "") + ("_interleaved" if inter_leaved else "")
                    out.append(Instance(name=f"moe_{tag}_fp8_{a}_i{inter}", family="moe", op="MOE_SWIGLU",
                                        template="moe.cu.j2", arch=arch, k=inter, variant=variant,
                                        ctx={"kind": "swiglu", "k": inter, "clamped": clamped,
                                             "interleaved": inter_leaved}))
        out.append(Instance(name=f"moe_combine_{a}_h{hidden}", family="moe", op="MOE_COMBINE", template="moe.cu.j2",
                            arch=arch, k=hidden, ctx={"kind": "combine", "k": hidden}))
        if arch.startswith("sm_"):  # the layer's float32 reference (CUDA only): tests and examples
            out.append(Instance(name=f"moe_reference_{a}", family="moe", op="MOE_REFERENCE", template="moe.cu.j2",
                                arch=arch, ctx={"kind": "reference", "k": 0}))
    return out


def check(inst):
    kind, k = inst.ctx["kind"], inst.k
    if kind == "dispatch" and k % inst.ctx["group"]:
        return f"K = {k} is not a multiple of {inst.ctx['group']}"
    if kind == "swiglu" and k % 128:
        return f"I = {k} is not a multiple of 128"
    if kind == "combine" and k % 8:
        return f"hidden = {k} is not a multiple of 8"
    return None
