"""Start-up of weft against MMCV's runner on the reference job (make bench-startup).

Each launch trains LeNet-5 on Fashion-MNIST for one iteration of batch 64 and exits; its whole
wall time is the start-up a user waits for before training runs (interpreter or binary start,
imports or libtorch loading, the data read, the model and optimizer built, the hooks set up,
one step). Three ways, alternated launch by launch after one untimed launch each (warm page
and component caches):

  weft               `weft train` on the reference job's config, every default hook on;
  weft-six-plugins   the same with six hooks in six languages (benches/peers/six_plugins.sh:
                     Rust's GradGuardHook, MyHook in Python, JavaScript, C, Go and Zig);
  mmcv-1.7.2         benches/peers/reference_job.py --impl mmcv (EpochBasedRunner, the same
                     hooks), one iteration.

usage: startup.py --weft BIN [--plugins plugins.toml] [--launches 5] [--out DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import WEFT_CONFIG, WEFT_MODELS, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def launch(impl, a, out, tag):
    err = os.path.join(out, f'{tag}.err')
    if impl.startswith('weft'):
        text = WEFT_CONFIG.format(epochs=1, interval=50, model=WEFT_MODELS['lenet5'], batch=64,
                                  samples=', num_samples = 64')
        if impl == 'weft-six-plugins':
            # Top-level keys go before the [data] table the template ends with.
            head, data = text.split('[data]', 1)
            with open(a.plugins) as p:
                text = head + p.read() + '\n[data]' + data
        cfg = os.path.join(out, f'{impl}.toml')
        with open(cfg, 'w') as f:
            f.write(text)
        work = os.path.join(out, f'wd-{tag}')
        r = run([a.weft, 'train', cfg, '--work-dir', work], err)
        shutil.rmtree(work, ignore_errors=True)
    else:
        r = run([sys.executable, os.path.join(HERE, 'reference_job.py'), '--impl', 'mmcv',
                 '--batch', '64', '--warmup', '0', '--iters', '1', '--samples', '64'], err)
    r.pop('stdout')
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--weft', required=True)
    p.add_argument('--plugins', default=None)
    p.add_argument('--launches', type=int, default=5)
    p.add_argument('--out', default=None)
    a = p.parse_args()
    out = a.out or tempfile.mkdtemp(prefix='weft-startup-')
    impls = ['weft'] + (['weft-six-plugins'] if a.plugins else []) + ['mmcv-1.7.2']
    for impl in impls:
        launch(impl, a, out, f'{impl}-warm')
    rows = []
    for i in range(a.launches):
        for impl in impls:
            r = launch(impl, a, out, f'{impl}-{i}')
            r.update(impl=impl, launch=i, load=os.getloadavg()[0])
            rows.append(r)
            print(json.dumps(r), flush=True)
    print('\n| launch | median wall (s) | launches (s) | peak RSS (MiB) | load |')
    print('|---|---|---|---|---|')
    med = {}
    for impl in impls:
        mine = [r for r in rows if r['impl'] == impl]
        walls = [r['wall_s'] for r in mine]
        med[impl] = statistics.median(walls)
        rss = statistics.median(r['max_rss_kb'] for r in mine) / 1024
        load = statistics.median(r['load'] for r in mine)
        print(f'| {impl} | {med[impl]:.2f} | {", ".join(f"{w:.2f}" for w in walls)} | '
              f'{rss:.0f} | {load:.2f} |')
    for impl in impls[1:]:
        print(f'{impl} / weft: {med[impl] / med["weft"]:.2f}')


if __name__ == '__main__':
    main()
