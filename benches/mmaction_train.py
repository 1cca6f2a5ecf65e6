"""MMAction2 0.24.1's tools/train.py, run under numpy 2: it restores `np.int`, which
MMAction2's SampleFrames still uses (removed in numpy 1.24), before anything imports it.
Arguments are train.py's."""

import os
import runpy
import sys

import numpy as np

if not hasattr(np, "int"):
    np.int = int

import mmaction  # noqa: E402

TRAIN = os.path.join(os.path.dirname(mmaction.__file__), ".mim", "tools", "train.py")
sys.argv = [TRAIN] + sys.argv[1:]
runpy.run_path(TRAIN, run_name="__main__")
