#!/usr/bin/env bash
# Six hooks in six languages for the start-up benchmark (benches/peers/startup.py): Rust's
# GradGuardHook example, and MMCV's MyHook in Python, JavaScript, C, Go and Zig, each copied with
# its type renamed (MyHookPython, ...) so that the six can stand in one config; then the
# config fragment naming them. Needs `make guests` (the SDKs' toolchains and GradGuard).
# usage: six_plugins.sh WEFT_BIN OUT_DIR   (prints OUT_DIR/plugins.toml)
set -euo pipefail
weft=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$(mkdir -p "$2" && cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
imports=("\"$repo/guest-examples/rust/grad_guard/grad_guard.wasm\"")
hooks=('{ type = "GradGuardHook" }')
for lang in python js c go zig; do
    cap="$(tr '[:lower:]' '[:upper:]' <<<"${lang:0:1}")${lang:1}"
    name="my_hook_$lang"
    src="$out/src/$name"
    rm -rf "$src"
    mkdir -p "$src"
    for f in "$repo/guest-examples/$lang/my_hook/"my_hook.*; do
        case "$f" in *.wasm) continue ;; esac
        ext=${f##*.}
        sed "s/MyHook/MyHook$cap/g" "$f" >"$src/$name.$ext"
    done
    WEFT=$weft "$repo/guest-sdk/$lang/build.sh" "$src" "$out/$name.wasm" >/dev/null
    imports+=("\"$out/$name.wasm\"")
    hooks+=("{ type = \"MyHook$cap\", a = 1, b = \"$lang\" }")
done
{
    echo "custom_imports = { imports = [$(IFS=,; echo "${imports[*]}")] }"
    echo "custom_hooks = [$(IFS=,; echo "${hooks[*]}")]"
} >"$out/plugins.toml"
echo "$out/plugins.toml"
