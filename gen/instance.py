"""The Instance record: one explicit instantiation, one generated file."""

from __future__ import annotations

import dataclasses

ARCH_TOKEN = {"sm_90a": "sm90a", "sm_100a": "sm100a", "gfx942": "gfx942", "gfx950": "gfx950"}
ARCH_NUM = {"sm_90a": 90, "sm_100a": 100, "gfx942": 942, "gfx950": 950}


@dataclasses.dataclass
class Instance:
    name: str               # file stem, registry key, tuned-table name
    family: str             # op family: quant, route, gemm
    op: str                 # mk_op suffix: QUANT_FP8, ...
    template: str           # gen/templates/<template>
    arch: str               # sm_90a, sm_100a, gfx942, gfx950
    ctx: dict               # template values
    n: int = 0
    k: int = 0
    experts: int = 0
    top_k: int = 0
    variant: int = 0
    block_m: int = 0
    block_n: int = 0
    stages: int = 0

    @property
    def nvidia(self):
        return self.arch.startswith("sm_")

    @property
    def filename(self):
        return f"{self.name}.{'cu' if self.nvidia else 'hip'}"

    @property
    def launcher(self):
        return f"mk__launch_{self.name}"

    @property
    def arch_num(self):
        return ARCH_NUM[self.arch]
