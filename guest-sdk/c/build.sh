#!/usr/bin/env bash
# Builds a C weft plugin into a component: bindings from `wit-bindgen c`, a wasm32-wasi
# reactor module from clang and wasi-libc, then `weft plugin componentize` (which embeds
# nothing more and adapts WASI preview 1 to preview 2).
#
#   build.sh [SRC_DIR [OUT.wasm]]     (default: this folder, <folder name>.wasm)
#
# SRC_DIR holds the plugin's .c files (the main one named after the directory); the SDK
# (weft_plugin.h, weft_plugin.c) is taken from the project if it has a copy, else from next
# to this script.
set -euo pipefail

if [ $# -gt 3 ]; then
    echo "usage: $0 [SRC_DIR [OUT.wasm]]" >&2
    exit 2
fi
# A plugin project made by `weft plugin new` builds with a bare `./build.sh`.
src=$(cd "${1:-$(dirname "$0")}" && pwd)
world=${3:-hook}
name=$(basename "$src")
out=${2:-$src/$name.wasm}
sdk=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/weft_plugin.c" ] && sdk=$src
weft=${WEFT:-weft}
wit_bindgen=${WEFT_WIT_BINDGEN:-$HOME/.cache/weft/wit-bindgen-0.63.0/bin/wit-bindgen}
clang=${CC_WASM:-clang}

if [ "$world" != hook ]; then
    echo "error: the C SDK covers hooks; other worlds need their own bindings (wit-bindgen c --world $world)" >&2
    exit 1
fi
if [ ! -f "$src/$name.c" ]; then
    echo "error: $src/$name.c not found (the main file is named after its directory)" >&2
    exit 1
fi
if [ ! -x "$wit_bindgen" ]; then
    echo "error: wit-bindgen not found at $wit_bindgen: run \`make guest-toolchains\` in the weft repository, or \`cargo install wit-bindgen-cli@0.63.0\` and set WEFT_WIT_BINDGEN" >&2
    exit 1
fi
if ! command -v "$clang" >/dev/null || [ ! -d /usr/include/wasm32-wasi ] && [ -z "${WASI_SYSROOT:-}" ]; then
    echo "error: clang with wasi-libc not found: install them (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32), or set CC_WASM and WASI_SYSROOT" >&2
    exit 1
fi
if ! command -v "$weft" >/dev/null; then
    echo "error: weft not found (set WEFT to the weft binary, or put it on PATH)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# weft:plugin@0.3.0: hook exports that take and return nothing, `ranks` (weft_rank() and
# its kin).
"$weft" plugin wit --version 0.3.0 "$tmp/wit"
"$wit_bindgen" c --world hook "$tmp/wit" --out-dir "$tmp/gen" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
sysroot=()
[ -n "${WASI_SYSROOT:-}" ] && sysroot=(--sysroot "$WASI_SYSROOT")
# -ffp-contract=off: no fused multiply-add, so arithmetic gives the bits the other languages
# give. The module is a reactor (no main); hook_component_type.o carries the world's types.
"$clang" --target=wasm32-wasi "${sysroot[@]}" -mexec-model=reactor -O2 -ffp-contract=off \
    -Wall -Wextra -Wno-unused-parameter -I "$tmp/gen" -I "$sdk" \
    -o "$tmp/core.wasm" "$src"/*.c $( [ "$sdk" = "$src" ] || echo "$sdk/weft_plugin.c" ) \
    "$tmp/gen/hook.c" "$tmp/gen/hook_component_type.o"
"$weft" plugin componentize "$tmp/core.wasm" -o "$tmp/out.wasm"
mkdir -p "$(dirname "$out")"
mv "$tmp/out.wasm" "$out"
