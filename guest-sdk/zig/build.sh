#!/usr/bin/env bash
# Builds a Zig weft plugin into a component:
#   1. `weft plugin wit` + `wit-bindgen c --world hook`: the C bindings (hook.{h,c}) and
#      hook_component_type.o, which carries the world's types for componentize;
#   2. `zig translate-c weft_plugin.h`: the C SDK's API as the Zig module `weft_c`;
#   3. `zig build-exe` (Zig from PyPI `ziglang`): the plugin (module root, importing the
#      module `weft` = weft.zig) with the C SDK and the bindings, as a wasm32-wasi reactor;
#   4. `weft plugin componentize`: core module -> component.
#
#   build.sh [SRC_DIR [OUT.wasm [WORLD]]]   (default: this folder, <folder name>.wasm)
#
# SRC_DIR holds the plugin's .zig files, the main one named after the directory
# (my_hook/my_hook.zig). The C SDK (weft_plugin.{h,c}) is taken from next to this script (a
# project made by `weft plugin new`), else from ../c (the weft repository).
#
# Tools, each overridable: WEFT (else `weft` on PATH), WEFT_GUEST_PY (the venv holding
# ziglang), WEFT_WIT_BINDGEN. Zig's first build fills its global cache (~/.cache/zig, or
# ZIG_GLOBAL_CACHE_DIR) with wasi-libc, which takes a few minutes; later builds take seconds.
set -euo pipefail

if [ $# -gt 3 ]; then
    echo "usage: $0 [SRC_DIR [OUT.wasm [WORLD]]]" >&2
    exit 2
fi
# A plugin project made by `weft plugin new` builds with a bare `./build.sh`.
src=$(cd "${1:-$(dirname "$0")}" && pwd)
name=$(basename "$src")
out=${2:-$src/$name.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac  # the build runs in a temp dir
world=${3:-hook}
sdk=$(cd "$(dirname "$0")" && pwd)

missing() {
    echo "error: $1 not found: run \`make guest-toolchains\` in the weft repository, or $2" >&2
    exit 1
}

if [ "$world" != hook ]; then
    echo "error: the Zig SDK covers the hook world only (got \`$world\`)" >&2
    exit 1
fi
if [ ! -f "$src/$name.zig" ]; then
    echo "error: $src/$name.zig not found (the main file is named after its directory)" >&2
    exit 1
fi
if [ -f "$sdk/weft_plugin.c" ]; then
    csdk=$sdk
elif [ -f "$sdk/../c/weft_plugin.c" ]; then
    csdk=$(cd "$sdk/../c" && pwd)
else
    echo "error: the C SDK (weft_plugin.h, weft_plugin.c) is neither next to $0 nor in $sdk/../c: copy it from guest-sdk/c of the weft repository" >&2
    exit 1
fi

guest_py=${WEFT_GUEST_PY:-$HOME/.cache/weft/guest-py-cpy0.25.1-go1.27.3-zig0.17.0}
wit_bindgen=${WEFT_WIT_BINDGEN:-$HOME/.cache/weft/wit-bindgen-0.63.0/bin/wit-bindgen}
weft=${WEFT:-weft}
"$guest_py/bin/python" -c 'import ziglang' 2>/dev/null ||
    missing "Zig ($guest_py/bin/python -m ziglang)" "\`pip install ziglang==0.17.0\` into a venv and set WEFT_GUEST_PY to it"
[ -x "$wit_bindgen" ] ||
    missing "wit-bindgen ($wit_bindgen)" "\`cargo install wit-bindgen-cli@0.63.0\` and set WEFT_WIT_BINDGEN"
if ! command -v "$weft" >/dev/null; then
    echo "error: weft not found (set WEFT to the weft binary, or put it on PATH)" >&2
    exit 1
fi
zig=("$guest_py/bin/python" -m ziglang)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$out.tmp.$$"' EXIT
# Tool output goes to a log shown only on failure.
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }; }

# weft:plugin@0.3.0: hook exports that take and return nothing, `ranks` (weft.rank() and
# its kin).
quiet "$weft" plugin wit --version 0.3.0 "$tmp/wit"
quiet "$wit_bindgen" c --world hook "$tmp/wit" --out-dir "$tmp/gen"
"${zig[@]}" translate-c -target wasm32-wasi -lc -I "$tmp/gen" -I "$csdk" "$csdk/weft_plugin.h" \
    >"$tmp/weft_c.zig" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }

# Run from the temp dir so no Zig cache lands in SRC_DIR. The C files get -ffp-contract=off
# (no fused multiply-add, as in the C SDK's own build); Zig code never contracts by default.
# No -rdynamic: the wasm exports are wit-bindgen's export_name functions, and the plugin's
# weft_* functions only need to beat the C SDK's weak ones at link time.
cd "$tmp"
"${zig[@]}" build-exe -target wasm32-wasi -O ReleaseSmall -fstrip -fno-entry -mexec-model=reactor -lc \
    -femit-bin="$tmp/core.wasm" \
    -I "$tmp/gen" -I "$csdk" -cflags -std=c11 -ffp-contract=off -- \
    "$csdk/weft_plugin.c" "$tmp/gen/hook.c" "$tmp/gen/hook_component_type.o" \
    --dep weft -Mroot="$src/$name.zig" \
    --dep weft_c -Mweft="$sdk/weft.zig" \
    -Mweft_c="$tmp/weft_c.zig"
quiet "$weft" plugin componentize "$tmp/core.wasm" -o "$tmp/out.wasm"

# Atomic: a temp file beside OUT (same file system), then rename.
mkdir -p "$(dirname "$out")"
cp "$tmp/out.wasm" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
