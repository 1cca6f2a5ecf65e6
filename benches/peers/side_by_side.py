"""weft against its peers on the same job, machine and libtorch, alternated (make bench-peers).

Five implementations of each job, run one after another in rounds (the order rotates each
round so that none always follows the same neighbour):
  weft           `weft train` on the config this script writes (every default hook on)
  native-tch     runtime/cli/benches/native_loop.rs: the same steps against tch, no runner
  pytorch-eager  reference_job.py --impl eager
  mmcv-1.7.2     reference_job.py --impl mmcv
  compute-floor  reference_job.py --impl floor (pre-built batches, nothing else)
Every implementation times the same window: from the end of iteration W to the end of
iteration W+N. weft's window is read from its text log (the lines MMCV's TextLoggerHook
format writes after iterations W and W+N, millisecond stamps); the others time themselves.

Each run records the load average before it, the CPU the rest of the machine used during it
(/proc/stat busy time minus the run's own), and its peak RSS (wait4). Before each run the
script waits (up to --quiet-wait s) for the rest of the machine to drop below --quiet-max
cores. The summary gives per-round figures, medians, spreads and per-round ratios of weft to
each peer, over all rounds and over the clean ones (other CPU below --clean-max cores).

usage: side_by_side.py --weft BIN --native BIN [--rounds 3] [--jobs lenet5-b64,...] [--out DIR]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HZ = os.sysconf('SC_CLK_TCK')

# name: (model, batch, warmup W, timed N, samples or None, weft epochs, log interval).
# W and W+N fall on log lines; the LeNet-5 windows cross one epoch end (LR step, checkpoint,
# reshuffle) as a real run's do. ResNet-18 is kernel-bound: a short window is enough.
JOBS = {
    'lenet5-b64': ('lenet5', 64, 100, 938, None, 2, 50),
    'lenet5-b8': ('lenet5', 8, 800, 7200, None, 2, 50),
    'resnet18-b32': ('resnet18', 32, 5, 20, 800, 1, 5),
    'resnet18-b64': ('resnet18', 64, 5, 20, 1600, 1, 5),
    'resnet18-b8': ('resnet18', 8, 10, 60, 800, 1, 5),
}
IMPLS = ['weft', 'native-tch', 'pytorch-eager', 'mmcv-1.7.2', 'compute-floor']

WEFT_CONFIG = """# The reference job in weft's MMCV keys, as benches/peers/reference_job.py runs it.
threads = 2
seed = 0
workflow = [["train", 1]]
total_epochs = {epochs}
optimizer = {{ type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }}
optimizer_config = {{ grad_clip = {{ max_norm = 35, norm_type = 2 }} }}
lr_config = {{ policy = "step", step = [1] }}
checkpoint_config = {{ interval = 1 }}
log_config = {{ interval = {interval}, hooks = [{{ type = "TextLoggerHook" }}] }}
model = {model}

[data]
samples_per_gpu = {batch}
workers_per_gpu = 0
train = {{ type = "FashionMNIST", split = "train"{samples} }}
"""
WEFT_MODELS = {'lenet5': '{ type = "LeNet5" }', 'resnet18': '{ type = "ResNet", depth = 18 }'}


def busy_steal():
    """All CPUs' busy and steal jiffies."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6], v[7]


def quiet_wait(limit_cores, wait_s, probe_s=2.0):
    t0 = time.time()
    while limit_cores > 0:
        b0, _ = busy_steal()
        time.sleep(probe_s)
        b1, _ = busy_steal()
        if (b1 - b0) / HZ / probe_s < limit_cores or time.time() - t0 > wait_s:
            break
    return round(time.time() - t0, 1)


def run(cmd, log_path, cwd=None, env=None):
    """Runs cmd; returns stdout, wall, the child's user+sys, peak RSS (KiB), other CPU, steal."""
    b0, s0 = busy_steal()
    t0 = time.time()
    with open(log_path, 'w') as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=env, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    b1, s1 = busy_steal()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'{" ".join(cmd)} failed; see {log_path}')
    own = ru.ru_utime + ru.ru_stime
    return {'stdout': out, 'wall_s': round(wall, 3), 'cpu_s': round(own, 3),
            'max_rss_kb': ru.ru_maxrss,
            'other_cpu_cores': round(max(0.0, ((b1 - b0) / HZ - own) / wall), 3),
            'steal_cores': round((s1 - s0) / HZ / wall, 3)}


STAMP = re.compile(r'^(\S+ \S+) - weft - INFO - Epoch \[(\d+)\]\[(\d+)/(\d+)\]\t')


def weft_window(work_dir, warmup, iters):
    """Seconds between weft's log lines after iterations W and W+N (counted over epochs)."""
    log = sorted(f for f in os.listdir(work_dir) if f.endswith('.log'))[-1]
    stamps = {}
    for line in open(os.path.join(work_dir, log)):
        m = STAMP.match(line)
        if m:
            t = datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S,%f').timestamp()
            epoch, it, length = int(m.group(2)), int(m.group(3)), int(m.group(4))
            stamps[(epoch - 1) * length + it] = t
    if warmup not in stamps or warmup + iters not in stamps:
        sys.exit(f'{work_dir}/{log} has no line after iteration {warmup} or {warmup + iters}')
    return stamps[warmup + iters] - stamps[warmup]


def one(impl, job, a, out, tag):
    model, batch, warmup, iters, samples, epochs, interval = JOBS[job]
    if impl == 'weft':
        work = os.path.join(out, f'wd-{tag}')
        shutil.rmtree(work, ignore_errors=True)
        cfg = os.path.join(out, f'{job}.toml')
        with open(cfg, 'w') as f:
            f.write(WEFT_CONFIG.format(
                epochs=epochs, interval=interval, model=WEFT_MODELS[model], batch=batch,
                samples='' if samples is None else f', num_samples = {samples}'))
        r = run([a.weft, 'train', cfg, '--work-dir', work], os.path.join(out, f'{tag}.err'))
        seconds = weft_window(work, warmup, iters)
        shutil.rmtree(work, ignore_errors=True)
    else:
        flags = ['--model', model, '--batch', str(batch), '--warmup', str(warmup),
                 '--iters', str(iters), '--threads', '2']
        if samples is not None:
            flags += ['--samples', str(samples)]
        if impl == 'native-tch':
            cmd = [a.native] + flags
        else:
            kind = {'pytorch-eager': 'eager', 'mmcv-1.7.2': 'mmcv', 'compute-floor': 'floor'}[impl]
            cmd = [sys.executable, '-W', 'ignore', os.path.join(HERE, 'reference_job.py'),
                   '--impl', kind] + flags
        r = run(cmd, os.path.join(out, f'{tag}.err'))
        seconds = json.loads(r['stdout'].strip().splitlines()[-1])['seconds']
    r.pop('stdout')
    return dict(r, seconds=round(seconds, 4), samples_per_s=round(iters * batch / seconds, 1))


def summary(rows, clean_max):
    lines = []
    for job in dict.fromkeys(r['job'] for r in rows):
        rj = [r for r in rows if r['job'] == job]
        rounds = sorted({r['round'] for r in rj})
        by = {(r['impl'], r['round']): r for r in rj}
        model, batch, warmup, iters, samples, _, _ = JOBS[job]
        data = 'Fashion-MNIST' + (f' (first {samples})' if samples else '')
        lines.append(f'### {model}, batch {batch} ({data}; {iters} timed iterations after {warmup}; '
                     f'{len(rounds)} rounds)\n')
        lines.append('| impl | samples/s per round (other CPU, cores) | median | spread | '
                     'weft / impl per round | median ratio | clean rounds: median ratio (n) | peak RSS MiB |')
        lines.append('|---|---|---|---|---|---|---|---|')
        clean = lambda i, r: by[(i, r)]['other_cpu_cores'] < clean_max
        for impl in IMPLS:
            rr = [r for r in rounds if (impl, r) in by]
            if not rr:
                continue
            v = [by[(impl, r)]['samples_per_s'] for r in rr]
            ratios = [by[('weft', r)]['samples_per_s'] / by[(impl, r)]['samples_per_s']
                      for r in rr if ('weft', r) in by]
            cr = [by[('weft', r)]['samples_per_s'] / by[(impl, r)]['samples_per_s']
                  for r in rr if ('weft', r) in by and clean(impl, r) and clean('weft', r)]
            med = statistics.median(v)
            cells = ', '.join(f"{by[(impl, r)]['samples_per_s']:.0f} ({by[(impl, r)]['other_cpu_cores']:.2f})"
                              for r in rr)
            rss = statistics.median(by[(impl, r)]['max_rss_kb'] for r in rr) / 1024
            lines.append(
                f"| {impl} | {cells} | {med:.0f} | {(max(v) - min(v)) / med * 100:.0f} % | "
                f"{', '.join(f'{x:.2f}' for x in ratios)} | {statistics.median(ratios):.3f} | "
                f"{(f'{statistics.median(cr):.3f}' if cr else '-')} ({len(cr)}) | {rss:.0f} |")
        lines.append('')
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--weft', required=True)
    p.add_argument('--native', required=True)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--jobs', default=','.join(JOBS))
    p.add_argument('--out', default=None)
    p.add_argument('--quiet-max', type=float, default=0.15)
    p.add_argument('--quiet-wait', type=float, default=120)
    p.add_argument('--clean-max', type=float, default=0.15)
    a = p.parse_args()
    out = a.out or tempfile.mkdtemp(prefix='weft-peers-')
    os.makedirs(out, exist_ok=True)
    results = os.path.join(out, 'results.jsonl')
    rows = []
    with open(results, 'w') as f:
        f.write(json.dumps({'event': 'start', 'date': datetime.datetime.now().isoformat(),
                            'loadavg': open('/proc/loadavg').read().split()[:3],
                            'cpus': os.cpu_count()}) + '\n')
        for job in a.jobs.split(','):
            for rnd in range(1, a.rounds + 1):
                order = IMPLS[rnd - 1:] + IMPLS[:rnd - 1]
                for impl in order:
                    waited = quiet_wait(a.quiet_max, a.quiet_wait)
                    load = open('/proc/loadavg').read().split()[:3]
                    row = dict(one(impl, job, a, out, f'{job}-{impl}-r{rnd}'), impl=impl, job=job,
                               round=rnd, loadavg_before=load, quiet_wait_s=waited)
                    rows.append(row)
                    f.write(json.dumps(row) + '\n')
                    f.flush()
                    print(f"{job:13} r{rnd} {impl:14} {row['samples_per_s']:9.1f} samples/s "
                          f"(load {load[0]}, other CPU {row['other_cpu_cores']:.2f}, "
                          f"RSS {row['max_rss_kb'] / 1024:.0f} MiB)", flush=True)
    text = summary(rows, a.clean_max)
    with open(os.path.join(out, 'summary.md'), 'w') as f:
        f.write(text)
    print('\n' + text)
    print(f'results: {results}')


if __name__ == '__main__':
    main()
