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
    return ctx.run_ok_lines(exe)
