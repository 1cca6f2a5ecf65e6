"""The Python side of weft's peer benchmark (benches/peers/side_by_side.py, docs/benchmarks.md).

The reference job, run on the same libtorch files weft links (setup.sh points the side venv at
weft's torch), one of three ways:

  eager  a hand-written loop: a DataLoader (workers 0, shuffled), forward, cross-entropy,
         backward, clip_grad_norm_(35), SGD step, the loss read with .item() every 50
         iterations, and at each epoch end StepLR and a torch.save checkpoint;
  mmcv   MMCV 1.7.2's EpochBasedRunner with the hooks weft's config turns on: step LR,
         OptimizerHook(grad_clip), CheckpointHook(interval 1), IterTimerHook and
         TextLoggerHook(interval 50). MMCV's 2-second sleep at each epoch start is skipped;
  floor  the same libtorch calls on batches built before the clock starts: no loader, no
         hooks, no logging.

Models: lenet5 (the reference job) and resnet18 (the small-image stem weft's ResNet uses:
3x3 convolution, no max-pool). Data: Fashion-MNIST from Debian's dataset-fashion-mnist,
(x / 255 - 0.2860) / 0.3530, the first --samples images when given. Each run prints one JSON
line; `seconds` is the wall time of iterations W+1 ..= W+N (W = --warmup, N = --iters).
"""
import argparse
import gzip
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_models import LeNet5, ResNet18  # noqa: E402  (benches/torch_models.py)

DATA = os.environ.get('FASHION_MNIST', '/usr/share/datasets/fashion-mnist')


def idx(path):
    """An IDX array (the MNIST file format): magic, dims, then the bytes."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(samples=None):
    x = idx(os.path.join(DATA, 'train-images-idx3-ubyte.gz'))
    y = idx(os.path.join(DATA, 'train-labels-idx1-ubyte.gz'))
    if samples:
        x, y = x[:samples], y[:samples]
    x = (torch.from_numpy(x.copy()).float().div_(255.0).sub_(0.2860).div_(0.3530)).unsqueeze(1)
    return torch.utils.data.TensorDataset(x, torch.from_numpy(y.astype(np.int64)))


MODELS = {'lenet5': LeNet5, 'resnet18': ResNet18}


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


class Window:
    """Wall time between the ends of iterations W and W+N."""

    def __init__(self, warmup, iters):
        self.warmup, self.last, self.t0, self.seconds = warmup, warmup + iters, None, None
        if warmup == 0:  # the window starts now (startup.py's one-iteration launches)
            self.t0 = time.perf_counter()

    def after(self, done):
        if done == self.warmup:
            self.t0 = time.perf_counter()
        elif done == self.last:
            self.seconds = time.perf_counter() - self.t0
        return done >= self.last


def step(model, opt, x, y):
    """One training step as every Python peer takes it; returns the loss (on the device)."""
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 35, 2)
    opt.step()
    return loss


def eager(a, model, data, window, out_dir):
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=0)
    opt = sgd(model)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    done, epoch = 0, 0
    while True:
        model.train()
        for x, y in loader:
            loss = step(model, opt, x, y)
            done += 1
            if done % 50 == 0:
                loss.item()
            if window.after(done):
                return
        epoch += 1
        sched.step()
        torch.save(model.state_dict(), os.path.join(out_dir, f'epoch_{epoch}.pth'))


def floor(a, model, data, window, out_dir):
    del out_dir
    order = torch.randperm(len(data))
    x, y = data.tensors
    batches = [(x[i].contiguous(), y[i].contiguous()) for i in order.split(a.batch)]
    opt = sgd(model)
    done = 0
    while True:
        for xb, yb in batches:
            step(model, opt, xb, yb)
            done += 1
            if window.after(done):
                return


def mmcv_runner(a, model, data, window, out_dir):
    import logging

    import mmcv.runner.epoch_based_runner as ebr
    from mmcv.runner import EpochBasedRunner, HOOKS, Hook
    from mmcv.utils import get_logger

    class Trainable(nn.Module):
        """The model as MMCV's runner drives it: train_step returns loss, log_vars, num_samples."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def train_step(self, batch, optimizer, **kwargs):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            return dict(loss=loss, log_vars=dict(loss=loss.item()), num_samples=len(y))

    # MMCV calls time.sleep(2) at the start of every train epoch ("prevent possible deadlock
    # during epoch transition"); weft has no such wait, so it is not part of the comparison.
    ebr.time = type('NoSleep', (), {'sleep': staticmethod(lambda s: None),
                                     'time': staticmethod(time.time)})

    class StopAfter(Hook):
        def after_train_iter(self, runner):
            if window.after(runner.iter + 1):
                raise StopIteration

    if 'StopAfter' not in HOOKS.module_dict:
        HOOKS.register_module(module=StopAfter)
    net = Trainable(model)
    opt = sgd(net)
    logger = get_logger('mmcv-bench', log_file=os.path.join(out_dir, 'run.log'),
                        log_level=logging.INFO)
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=0)
    runner = EpochBasedRunner(net, optimizer=opt, work_dir=out_dir, logger=logger,
                              max_epochs=1 << 20)
    runner.register_training_hooks(
        lr_config=dict(policy='step', step=[1]),
        optimizer_config=dict(grad_clip=dict(max_norm=35, norm_type=2)),
        checkpoint_config=dict(interval=1),
        log_config=dict(interval=50, hooks=[dict(type='TextLoggerHook')]))
    runner.register_hook(StopAfter(), priority='LOWEST')
    try:
        runner.run([loader], [('train', 1)])
    except StopIteration:
        pass


RUNS = {'eager': eager, 'floor': floor, 'mmcv': mmcv_runner}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--impl', choices=sorted(RUNS), required=True)
    p.add_argument('--model', choices=sorted(MODELS), default='lenet5')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--warmup', type=int, default=100)
    p.add_argument('--iters', type=int, default=938)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--samples', type=int, default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    data = fashion_mnist(a.samples)
    model = MODELS[a.model]()
    window = Window(a.warmup, a.iters)
    with tempfile.TemporaryDirectory() as out_dir:
        RUNS[a.impl](a, model, data, window, out_dir)
    print(json.dumps({'impl': a.impl, 'model': a.model, 'batch': a.batch, 'warmup': a.warmup,
                      'iters': a.iters, 'threads': a.threads, 'seconds': round(window.seconds, 4),
                      'samples_per_s': round(a.iters * a.batch / window.seconds, 1),
                      'torch': torch.__version__, 'torch_file': torch.__file__}))


if __name__ == '__main__':
    main()
