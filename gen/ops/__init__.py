"""Op families. Each module has `instances(manifest, archs) -> list[Instance]`
and `check(instance) -> str | None` (a constraint violation, or None)."""

from . import gemm, moe, quant, route

FAMILIES = (quant, route, gemm, moe)
