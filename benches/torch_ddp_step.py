"""ResNet-18 (3x3 stem, no max-pool, one input channel: weft's `type = "ResNet"`, depth 18)
trained with PyTorch's DistributedDataParallel on Gloo: SGD lr 0.05 momentum 0.9 weight decay
5e-4, cross-entropy, gradient clipping at 35, `--batch` 28x28 samples per rank. Prints one JSON line:
{"impl", "ranks", "batch", "median_step_ms"} (median of --steps after 5 warm-up steps), from
rank 0. With --ranks 1 it runs the same loop without DDP."""
import argparse, json, os, socket, statistics, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

from torch_models import ResNet18


def rank_main(rank, args, port):
    # Half the cores per rank, also for one rank: the scaling is measured per core.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    torch.manual_seed(0)
    model = ResNet18()
    if args.ranks > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.ranks)
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(args.batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    times = []
    for i in range(5 + args.steps):
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 35)
        opt.step()
        if i >= 5:
            times.append((time.perf_counter() - start) * 1e3)
    if rank == 0:
        print(json.dumps({"impl": "pytorch ddp" if args.ranks > 1 else "pytorch", "ranks": args.ranks,
                          "batch": args.batch, "median_step_ms": round(statistics.median(times), 2)}), flush=True)
    if args.ranks > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if args.ranks == 1:
        rank_main(0, args, port)
    else:
        mp.spawn(rank_main, args=(args, port), nprocs=args.ranks)
