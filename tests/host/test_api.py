"""The C API's argument validation (tests/host/test_api.c), linked against the
static instance library exactly as a user would link it."""


def link_against_library(ctx, source, out):
    """Compiles a C11 program against build/lib/libmoekit_<model>.a."""
    cfg = ctx.config
    lib = ctx.builddir / "lib" / f"libmoekit_{cfg['model']}.a"
    ctx.run([ctx.tool("cc"), "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
             f"-I{ctx.builddir}/include", f"-I{cfg['cuda_include']}", source, lib,
             f"-L{cfg['cuda_lib']}", f"-Wl,-rpath,{cfg['cuda_lib']}", "-lcudart", "-lstdc++", "-lm", "-o", out])
    return out


def test_api_validation(ctx):
    exe = link_against_library(ctx, ctx.srcdir / "tests/host/test_api.c", ctx.mkdtemp("api") / "test_api")
    r = ctx.run([exe], check=False)
    results = []
    for line in r.stdout.splitlines():
        if line.startswith("ok "):
            results.append((line[3:], True, ""))
        elif line.startswith("not ok "):
            name, _, why = line[7:].partition(": ")
            results.append((name, False, why))
    if r.returncode not in (0, 1) or not results:
        results.append(("exit", False, f"exit code {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}"))
    return results
