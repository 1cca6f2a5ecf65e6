#!/usr/bin/env bash
# Optimizer step: weft's native optimizers against torch.optim (foreach=True) on the same
# models, alternating them twice on the same machine; prints medians and the ratios
# torch/weft (above 1: weft is faster) for torch's foreach=True and fused=True.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
cargo build --release -p weft --bench optim_step >/dev/null 2>&1
bench=$(ls -t target/release/deps/optim_step-* | grep -v '\.d$' | head -1)
out=$(mktemp)
for round in 1 2; do
    "$bench" >> "$out"
    "$TORCH_VENV/bin/python" benches/torch_optim_step.py >> "$out"
done
python3 - "$out" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = sorted({(r["model"], r["optimizer"]) for r in rows})
def med(impl, m, o):
    return statistics.median(r["median_us"] for r in rows if r["impl"] == impl and r["model"] == m and r["optimizer"] == o)
print(f"{'model':10} {'optimizer':14} {'weft us':>9} {'foreach us':>11} {'fused us':>9} {'foreach/weft':>13} {'fused/weft':>11}")
for m, o in keys:
    w, fe, fu = med("weft", m, o), med("torch.optim foreach", m, o), med("torch.optim fused", m, o)
    print(f"{m:10} {o:14} {w:9.1f} {fe:11.1f} {fu:9.1f} {fe / w:13.2f} {fu / w:11.2f}")
PY
