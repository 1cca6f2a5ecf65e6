#!/usr/bin/env bash
# The reference hook MyHook in Rust, Python, JavaScript, C, Go and Zig: component size, cold
# and cached load times, and the cost of one hook call. Builds every example first.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
make -s guests >/dev/null
cargo build --release -p weft --bench guest_languages >/dev/null 2>&1
bench=$(ls -t target/release/deps/guest_languages-* | grep -v '\.d$' | head -1)
export LD_LIBRARY_PATH="$("$TORCH_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))'):${LD_LIBRARY_PATH:-}"
# An empty component cache: the first load of each component compiles it.
export WEFT_COMPONENT_CACHE=$(mktemp -d)
qjs=$(mktemp -d)
trap 'rm -rf "$WEFT_COMPONENT_CACHE" "$qjs"' EXIT
# The JavaScript example on the QuickJS engine too (guest-sdk/js/build.sh), kept out of the
# examples' folder.
WEFT=${WEFT:-$PWD/target/release/weft} WEFT_JS_ENGINE=quickjs guest-sdk/js/build.sh \
    guest-examples/js/my_hook "$qjs/my_hook.wasm"
export WEFT_BENCH_EXTRA_HOOKS=js-quickjs=$qjs/my_hook.wasm${WEFT_BENCH_EXTRA_HOOKS:+,$WEFT_BENCH_EXTRA_HOOKS}
"$bench"
