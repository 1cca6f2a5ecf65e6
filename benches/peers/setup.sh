#!/usr/bin/env bash
# The side venv of the peer benchmark: MMCV 1.7.2's runner (and numpy) on top of the very
# torch 2.13.0 install weft builds against, seen through a .pth file, so that weft and its
# peers run the same libtorch files. Idempotent: does nothing when MMCV's runner imports.
# usage: setup.sh TORCH_VENV SIDE_VENV
set -euo pipefail
torch_venv=$1
side=$2
py="$side/bin/python"
if "$py" -c 'import torch, torchvision, mmcv.runner' 2>/dev/null; then
  exit 0
fi
echo "making the peers' venv $side (MMCV 1.7.2 over $torch_venv's torch; about 2 minutes)"
rm -rf "$side"
python3 -m venv "$side"
site=$(echo "$torch_venv"/lib/python3*/site-packages)
side_site=$(echo "$side"/lib/python3*/site-packages)
[ -d "$site/torch" ] || { echo "no torch in $site" >&2; exit 1; }
# Appended after the venv's own folder: MMCV's dependencies land in the side venv, torch is
# found in weft's.
echo "$site" > "$side_site/weft-torch.pth"
"$side/bin/pip" install -q --disable-pip-version-check "setuptools<81" wheel numpy
# MMCV 1.7.2 is a source distribution whose setup imports pkg_resources (setuptools < 81) and
# torch (hence no build isolation); MMCV_WITH_OPS is off by default: the runner is pure Python.
"$side/bin/pip" install -q --disable-pip-version-check --no-build-isolation mmcv==1.7.2
# mmcv.runner imports torchvision; 0.28.0 is the release built for torch 2.13.0 (no deps, so
# pip does not fetch a torch of its own).
"$side/bin/pip" install -q --disable-pip-version-check --no-deps torchvision==0.28.0
"$py" -c 'import torch, mmcv; print("peers: torch", torch.__version__, "from", torch.__file__, "| mmcv", mmcv.__version__)'
