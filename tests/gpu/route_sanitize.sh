#!/bin/sh
# tests/gpu/route_sanitize.sh [BUILDDIR] - builds tests/gpu/route_sanitize.c
# against BUILDDIR's instance library (default build-route, from
# tests/gpu/route.toml) and runs it under compute-sanitizer: memcheck (every
# case), racecheck and synccheck (the small cases). Exits non-zero on any
# error. About two minutes on an H100 (racecheck is the slow one).
set -eu
B=${1:-build-route}
cfg() { python3 -c "import json,sys; print(json.load(open('$B/config.json'))$1)"; }
MODEL=$(cfg "['model']")
INC=$(cfg "['cuda_include']")
LIB=$(cfg "['cuda_lib']")
NVCC=$(cfg "['tools']['nvcc']['path']")
SAN=${SANITIZER:-$(command -v compute-sanitizer || echo "$(dirname "$NVCC")/compute-sanitizer")}
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$B/include" -I"$INC" tests/gpu/route_sanitize.c \
  "$B/lib/libmoekit_$MODEL.a" -L"$LIB" -Wl,-rpath,"$LIB" -lcudart -lstdc++ -lm -o "$B/route_sanitize"
echo "== memcheck"
"$SAN" --tool memcheck --error-exitcode 1 "$B/route_sanitize"
echo "== racecheck"
"$SAN" --tool racecheck --error-exitcode 1 "$B/route_sanitize" --small
echo "== synccheck"
"$SAN" --tool synccheck --error-exitcode 1 "$B/route_sanitize" --small
echo "route_sanitize: memcheck, racecheck and synccheck clean"
