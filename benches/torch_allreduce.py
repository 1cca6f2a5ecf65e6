"""Allreduce of 1M and 16M floats between 2 ranks through Python's torch.distributed (Gloo),
timed as runtime/dist/benches/allreduce.rs times weft's: barrier, then one allreduce, median of
30 after 5 warm-up runs. Rank 0 prints one JSON line per size."""
import json, os, socket, statistics, sys, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SIZES = [1 << 20, 16 << 20]
WARMUP, RUNS = 5, 30


def rank_main(rank, port):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    for n in SIZES:
        t = torch.ones(n)
        times = []
        for i in range(WARMUP + RUNS):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            if i >= WARMUP:
                times.append((time.perf_counter() - start) * 1e3)
        if rank == 0:
            print(json.dumps({"impl": "torch.distributed", "floats": n,
                              "median_ms": round(statistics.median(times), 3), "runs": RUNS}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(rank_main, args=(port,), nprocs=2)
