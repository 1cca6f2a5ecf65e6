#!/usr/bin/env bash
# ResNet-18 training steps data-parallel on this machine: weft (`weft dist-train`, Gloo)
# against PyTorch DDP (Gloo) on the same model, batch and optimizer, and each with one rank
# for the scaling. Every rank gets cores/ranks intra-op threads, so "1 rank" uses one core of
# the two that "2 ranks" use: the efficiency printed is per core. 3 alternated rounds; prints
# medians of the rounds' median step times and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
BATCH=${BATCH:-16}
ITERS=25
cargo build --release -p weft >/dev/null 2>&1
work=$(mktemp -d)
out=$(mktemp)
cfg=configs/fashion_mnist/resnet18_sgd.toml
# weft's per-iteration time from its JSON log (IterTimerHook, averaged per 5 iterations);
# the first window (warm-up) is left out.
weft_step() {
    local ranks=$1 dir="$work/w$1-$2"
    local opts=(data.samples_per_gpu=$BATCH data.workers_per_gpu=0 "data.train.num_samples=$((ranks * BATCH * ITERS))"
        total_epochs=1 log_config.interval=5 'workflow=[(train,1)]' evaluation.interval=1000 checkpoint_config.interval=1000)
    if [ "$ranks" = 1 ]; then
        OMP_NUM_THREADS=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 )) ./target/release/weft train $cfg --work-dir "$dir" --cfg-options "${opts[@]}" >/dev/null
    else
        ./target/release/weft dist-train $cfg --nproc "$ranks" --work-dir "$dir" --cfg-options "${opts[@]}" >/dev/null
    fi
    python3 - "$dir" "$ranks" <<'PY'
import glob, json, statistics, sys
rows = [json.loads(l) for f in glob.glob(sys.argv[1] + "/*.log.json") for l in open(f)]
times = [r["time"] for r in rows if r.get("mode") == "train"][1:]
print(json.dumps({"impl": "weft", "ranks": int(sys.argv[2]), "median_step_ms": round(statistics.median(times) * 1e3, 2)}))
PY
}
for round in 1 2 3; do
    weft_step 2 $round >> "$out"
    "$TORCH_VENV/bin/python" benches/torch_ddp_step.py --ranks 2 --batch $BATCH >> "$out"
    weft_step 1 $round >> "$out"
    OMP_NUM_THREADS=1 "$TORCH_VENV/bin/python" benches/torch_ddp_step.py --ranks 1 --batch $BATCH >> "$out"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); batch $BATCH per rank"
python3 - "$out" "$BATCH" <<'PY'
import json, sys, statistics
batch = int(sys.argv[2])
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def med(impl, ranks):
    v = [r["median_step_ms"] for r in rows if r["impl"].startswith(impl) and r["ranks"] == ranks]
    return statistics.median(v), v
for ranks in (2, 1):
    (w, wv), (t, tv) = med("weft", ranks), med("pytorch", ranks)
    print(f"{ranks} rank(s): weft {w:.1f} ms/step, PyTorch{' DDP' if ranks > 1 else ''} {t:.1f} ms/step, torch/weft {t / w:.2f}   rounds {wv} | {tv}")
for impl in ("weft", "pytorch"):
    one, two = med(impl, 1)[0], med(impl, 2)[0]
    print(f"{impl}: scaling 1 -> 2 ranks (per core): {one / two:.2f} ({2 * batch * 1000 / two:.0f} samples/s on 2 ranks, {batch * 1000 / one:.0f} on 1)")
PY
rm -rf "$work"
