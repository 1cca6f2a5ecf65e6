#!/usr/bin/env bash
# One TSM training epoch, weft against MMAction2 0.24.1's runner (its tools/train.py on MMCV
# 1.7.0), both given the same config file, benches/tsm_epoch_mfmnist.py: full-width ResNet-18
# TSM, the first 320 Moving-Fashion-MNIST train clips, 8 segments at 64x64, batch 16, 2 workers,
# SGD with clipping and a cosine schedule with warm-up, one epoch (20 iterations). Rounds
# alternate weft and MMAction2 (ROUNDS, default 3); each prints the process's wall time and the
# median of the per-iteration `time` both runners write to their .log.json.
#
# MMAction2 runs from the side venv the peers' setup.sh makes once (as benches/video_pipeline.sh);
# DATA defaults to data/mfmnist (`make video-data`).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VENV=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/torch-2.13.0}
PEERS=${PEERS:-../shared/peers/video}
VIDEO_VENV=${VIDEO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/video-peers}
DATA=${DATA:-data/mfmnist}
ROUNDS=${ROUNDS:-3}
CONFIG=benches/tsm_epoch_mfmnist.py
export LIBTORCH_USE_PYTORCH=1 PATH="$TORCH_VENV/bin:$PATH"
cargo build --release -p weft >/dev/null 2>&1
"$PEERS/setup.sh" "$VIDEO_VENV" --mmaction >/dev/null
# What MMAction2's trainer needs beyond the pipeline peers: einops (its model zoo imports it)
# and the yapf MMCV 1.7 formats configs with (0.40.2 dropped an argument MMCV passes).
"$VIDEO_VENV/bin/python" -c 'import einops, yapf; assert yapf.__version__ == "0.40.1"' 2>/dev/null \
    || "$VIDEO_VENV/bin/python" -m pip install -q einops "yapf==0.40.1"
head -n 320 "$DATA/train_list_rawframes.txt" > "$DATA/train_list_320.txt"
out=target/bench-tsm-epoch
rm -rf "$out"
for round in $(seq "$ROUNDS"); do
    for impl in weft mmaction2; do
        work="$out/$impl-$round"
        load=$(cut -d' ' -f1 /proc/loadavg)
        start=$(date +%s.%N)
        if [ "$impl" = weft ]; then
            ./target/release/weft train "$CONFIG" --work-dir "$work" >/dev/null
        else
            # One CPU process: MMAction2's trainer wants a device id, which MMCV maps to the CPU.
            "$VIDEO_VENV/bin/python" -W ignore benches/mmaction_train.py "$CONFIG" --work-dir "$work" \
                --gpu-ids 0 >/dev/null 2>&1
        fi
        end=$(date +%s.%N)
        python3 - "$impl" "$round" "$start" "$end" "$work" "$load" <<'PY'
import glob, json, statistics, sys
impl, rnd, start, end, work, load = sys.argv[1:]
times = [r["time"] for f in glob.glob(work + "/*.log.json") for r in map(json.loads, open(f))
         if r.get("mode") == "train" and "time" in r]
med = "%.3f s" % statistics.median(times) if times else "n/a"
print(f"{impl} round {rnd}: wall {float(end) - float(start):.1f} s, median iteration {med}, load {load} before")
PY
    done
done
