"""kernels/route/plan.h keeps its invariants for every shape the C API
accepts: shared memory within the budget, grids covering M, chunk and
workspace layouts consistent (tests/host/route_plan_check.c)."""


def test_route_plan(ctx):
    exe = ctx.mkdtemp("route_plan") / "route_plan_check"
    ctx.run([ctx.tool("cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ctx.srcdir}/include",
             ctx.srcdir / "tests/host/route_plan_check.c", "-o", exe])
    r = ctx.run([exe], check=False)
    assert r.returncode == 0 and r.stdout.startswith("ok "), r.stdout[-3000:] + r.stderr[-2000:]
