#!/usr/bin/env bash
# Allreduce between 2 ranks on this machine: weft's c10d shim against Python's
# torch.distributed, both on Gloo, alternated over 3 rounds; prints each side's median over
# the rounds' medians, the ratio torch/weft (above 1: weft is faster) and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
cargo build --release -p weft-dist --bench allreduce >/dev/null 2>&1
bench=$(ls -t target/release/deps/allreduce-* | grep -v '\.d$' | head -1)
out=$(mktemp)
for round in 1 2 3; do
    "$bench" >> "$out"
    "$TORCH_VENV/bin/python" benches/torch_allreduce.py >> "$out"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
print(f"{'floats':>10} {'weft ms':>9} {'torch ms':>9} {'torch/weft':>11}   rounds (weft | torch)")
for n in sorted({r["floats"] for r in rows}):
    w = [r["median_ms"] for r in rows if r["floats"] == n and r["impl"] == "weft c10d"]
    t = [r["median_ms"] for r in rows if r["floats"] == n and r["impl"] == "torch.distributed"]
    print(f"{n:>10} {statistics.median(w):9.2f} {statistics.median(t):9.2f} {statistics.median(t) / statistics.median(w):11.2f}   {w} | {t}")
PY
