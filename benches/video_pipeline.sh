#!/usr/bin/env bash
# Video data pipelines: weft's (cargo bench target video_pipeline) against MMAction2 0.24.1's own
# (RawframeDataset/VideoDataset, its pipeline classes and build_dataloader, through the peers'
# bench_pipeline.py) on the same Moving-Fashion-MNIST data, TSN 1x1x8 and I3D 8x2x1, both
# layouts, 0 and 2 workers, batch 16. Rounds alternate weft and MMAction2 (ROUNDS, default 3);
# prints the medians of clips/s and the ratios weft / MMAction2.
#
# MMAction2 runs from a side venv that the peers' setup.sh makes once (about 3 minutes):
# PEERS (default ../shared/peers/video) must hold setup.sh and bench_pipeline.py; without them
# only weft's figures are printed. DATA defaults to data/mfmnist (`make video-data`).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
PEERS=${PEERS:-../shared/peers/video}
VIDEO_VENV=${VIDEO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/video-peers}
DATA=${DATA:-data/mfmnist}
ROUNDS=${ROUNDS:-3}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
cargo build --release -p weft --bench video_pipeline >/dev/null 2>&1
bench=$(ls -t target/release/deps/video_pipeline-* | grep -v '\.d$' | head -1)
mma=""
if [ -f "$PEERS/bench_pipeline.py" ]; then
    "$PEERS/setup.sh" "$VIDEO_VENV" --mmaction >/dev/null
    mma="$VIDEO_VENV/bin/python"
else
    echo "no $PEERS/bench_pipeline.py: measuring weft alone" >&2
fi
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
    echo "round $round: weft, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    BENCH_DATA="$DATA" BENCH_REPEATS=1 "$bench" | sed "s/^{/{\"round\": $round, /" >> "$out"
    if [ -n "$mma" ]; then
        echo "round $round: mmaction2, load $(cut -d' ' -f1 /proc/loadavg)" >&2
        "$mma" -W ignore "$PEERS/bench_pipeline.py" --root "$DATA" --impl mmaction --video-backend decord \
            --repeats 1 | sed "s/^{/{\"round\": $round, /" >> "$out"
    fi
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def key(r):
    return (r.get("layout"), r.get("pipeline"), int(r.get("workers", 0)))
def med(impl, k):
    xs = [r["clips_per_s"] for r in rows if r.get("impl") == impl and key(r) == k]
    return statistics.median(xs) if xs else None
print(f"{'layout':10} {'pipeline':8} {'workers':>7} {'weft clips/s':>13} {'mmaction2':>10} {'ratio':>6}")
for k in sorted({key(r) for r in rows if r.get("impl") == "weft"}):
    w, m = med("weft", k), med("mmaction", k)
    ratio = f"{w / m:6.2f}" if m else "     -"
    mm = f"{m:10.1f}" if m else "         -"
    print(f"{k[0]:10} {k[1]:8} {k[2]:7} {w:13.1f} {mm} {ratio}")
PY
