"""Activation quantization: one instance per (row length K, format, arch).

K comes from the manifest: the hidden size (quantized before the gate/up
GEMM) and moe_intermediate / tp (quantized before the down GEMM). FP8 1x128
gets both scale layouts (f32 for sm90 GEMMs, packed ue8m0 for sm100 GEMMs).
"""

from ..instance import ARCH_TOKEN, Instance
from ..manifest import GROUP

VARIANT_SF_UE8M0 = 1  # MK__VARIANT_SF_UE8M0 in include/moekit/api/internal.h


def instances(m, archs):
    out = []
    for arch in archs:
        a = ARCH_TOKEN[arch]
        for k in m.quant_ks():
            for fmt in m.activation_formats:
                if fmt == "fp8_1x128":
                    for sf, variant in (("f32", 0), ("ue8m0", VARIANT_SF_UE8M0)):
                        out.append(Instance(
                            name=f"quant_fp8_1x128_{a}_sf{sf}_k{k}", family="quant", op="QUANT_FP8",
                            template="quant.cu.j2", arch=arch, k=k, variant=variant,
                            ctx={"kind": "fp8_1x128", "k": k, "ue8m0": variant == VARIANT_SF_UE8M0}))
                else:
                    out.append(Instance(
                        name=f"quant_{fmt}_{a}_k{k}", family="quant", op=f"QUANT_{fmt.upper()}",
                        template="quant.cu.j2", arch=arch, k=k,
                        ctx={"kind": "fp4", "k": k, "group": GROUP[fmt]}))
    return out


def check(inst):
    group = 128 if inst.ctx["kind"] == "fp8_1x128" else inst.ctx["group"]
    if inst.k % group:
        return f"K = {inst.k} is not a multiple of the group size {group}"
    return None
