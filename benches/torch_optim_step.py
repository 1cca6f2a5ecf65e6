"""torch.optim's step (foreach=True) on the same models and optimizers as
runtime/cli/benches/optim_step.rs; prints one JSON line per (model, optimizer)."""
import json, os, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(os.environ.get("BENCH_THREADS", "2"))
steps = int(os.environ.get("BENCH_STEPS", "50"))
torch.set_num_threads(threads)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class Block(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.down = None
        if stride != 1 or i != o:
            self.down = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.down(x) if self.down is not None else x))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, c = [], 64
        for stage, out in enumerate([64, 128, 256, 512]):
            for b in range(2):
                blocks.append(Block(c, out, 2 if stage > 0 and b == 0 else 1))
                c = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


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
