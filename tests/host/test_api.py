"""The C API's argument validation (tests/host/test_api_*.c), linked against the
static instance library exactly as a user would link it."""


def link_against_library(ctx, source, out):
    """Compiles a C11 program against build/lib/libmoekit_<model>.a."""
    cfg = ctx.config
    lib = ctx.builddir / "lib" / f"libmoekit_{cfg['model']}.a"
    ctx.run([ctx.tool("cc"), "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
             f"-I{ctx.builddir}/include", f"-I{cfg['cuda_include']}", source, lib,
             f"-L{cfg['cuda_lib']}", f"-Wl,-rpath,{cfg['cuda_lib']}", "-lcudart", "-lstdc++", "-lm", "-o", out])
    return out


def _api_program(name):
    def test(ctx):
        exe = link_against_library(ctx, ctx.srcdir / f"tests/host/{name}.c", ctx.mkdtemp(name) / name)
        return ctx.run_ok_lines(exe)
    test.__name__ = name
    return test


# one program per API family (tests/host/test_api_*.c, sharing api_harness.h)
test_api_basics = _api_program("test_api_basics")
test_api_quant = _api_program("test_api_quant")
test_api_moe = _api_program("test_api_moe")
test_api_route = _api_program("test_api_route")
test_api_gemm = _api_program("test_api_gemm")
test_api_layer = _api_program("test_api_layer")
