"""examples/route builds against the instance library as its header says, and
runs: with a GPU it routes and prints the layout; without one it exits 2
with a one-line reason (any other outcome fails)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_api as api  # noqa: E402  (its link helper; not re-collected under this name)


def test_route_example(ctx):
    exe = api.link_against_library(ctx, ctx.srcdir / "examples/route/main.c", ctx.mkdtemp("route_example") / "route")
    r = ctx.run([exe], check=False)
    if r.returncode == 2:
        assert "no CUDA device" in r.stderr, f"exit 2 without the no-GPU message: {r.stderr}"
        return
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
    for want in ("fused path", "contiguous layout", "inverse map of token 0"):
        assert want in r.stdout, f"output lacks '{want}':\n{r.stdout[-2000:]}"
