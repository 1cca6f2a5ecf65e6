#!/usr/bin/env bash
# What plugins cost: a hook call into a compiled Rust component against a native hook, a
# LeNet-5 training iteration with five component hooks against five native ones and none,
# and the MyOptimizer component's step against native SGD. Builds the guests first.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
make -s guests >/dev/null
CARGO_TARGET_DIR=target/guests cargo build -q --release --target wasm32-wasip2 \
    --manifest-path tests/guests/Cargo.toml
# NullHook in the C and Zig SDKs too, timed beside the Rust one.
for lang in c zig; do
    WEFT=$PWD/target/release/weft guest-sdk/$lang/build.sh tests/guests/null_hook_$lang \
        target/guests/null_hook_$lang.wasm
done
cargo build --release -p weft --bench plugins >/dev/null 2>&1
bench=$(ls -t target/release/deps/plugins-* | grep -v '\.d$' | head -1)
export LD_LIBRARY_PATH="$("$TORCH_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))'):${LD_LIBRARY_PATH:-}"
"$bench"
