"""torch.optim's step (foreach=True) on the same models and optimizers as
runtime/cli/benches/optim_step.rs; prints one JSON line per (model, optimizer)."""
import json, os, time
import torch

from torch_models import LeNet5, ResNet18

threads = int(os.environ.get("BENCH_THREADS", "2"))
steps = int(os.environ.get("BENCH_STEPS", "50"))
torch.set_num_threads(threads)


def lenet5():
    return LeNet5()


optimizers = {
    "sgd_momentum": lambda p, **k: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-4, **k),
    "adam": lambda p, **k: torch.optim.Adam(p, lr=1e-3, **k),
    "adamw": lambda p, **k: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2, **k),
}
variants = {"torch.optim foreach": {"foreach": True}, "torch.optim fused": {"fused": True}}
for (mname, make), (vname, kw) in [(m, v) for m in [("lenet5", lenet5), ("resnet18", ResNet18)] for v in variants.items()]:
    for oname, make_opt in optimizers.items():
        opt = lambda p: make_opt(p, **kw)
        torch.manual_seed(0)
        model = make()
        o = opt(model.parameters())
        model(torch.randn(8, 1, 28, 28)).sum().backward()
        times = []
        for _ in range(steps + 5):
            t = time.perf_counter()
            o.step()
            times.append(time.perf_counter() - t)
        timed = sorted(times[5:])
        print(json.dumps({"impl": vname, "model": mname, "optimizer": oname,
                          "params": sum(p.numel() for p in model.parameters()), "threads": threads,
                          "median_us": round(timed[len(timed) // 2] * 1e6, 1)}))
