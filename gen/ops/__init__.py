"""Op families. Each module has `instances(manifest, archs) -> list[Instance]`
and `check(instance) -> str | None` (a constraint violation, or None)."""

from . import gemm, quant

FAMILIES = (quant, gemm)
