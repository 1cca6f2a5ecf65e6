"""MMAction2's ``TSMOptimizerConstructor`` in Python (type name ``TSMPyConstructor``): seven
parameter groups (the first convolution's weights and biases, the other convolutions' and
linear layers' weights and biases, normalisation layers, and with ``fc_lr5`` the last linear
layer at 5x/10x lr), biases at twice the lr without weight decay. It gives the same groups
as guest-examples/rust/tsm_constructor and the built-in ``TSMOptimizerConstructor``.

Build (from the repository root; `make guests` builds every example):
    guest-sdk/python/build.sh guest-examples/python/tsm_constructor \\
        guest-examples/python/tsm_constructor/tsm_constructor.wasm
"""

import weft_constructor as weft


def is_conv(kind):
    return kind.startswith("Conv") and kind.endswith("d")


def is_norm(kind):
    return kind.startswith("BatchNorm") or kind.startswith("SyncBatchNorm") or kind == "GroupNorm"


def is_leaf(modules, m):
    # The root ("") contains every other module; the rest contain their dotted children.
    path = modules[m].path
    return not any(j != m and (path == "" or other.path.startswith(path + "."))
                   for j, other in enumerate(modules))


class TSM(weft.Constructor):
    TYPE_NAME = "TSMPyConstructor"

    def build(self, optimizer, modules, params):
        # Other optimizer keys (momentum, nesterov, ...) belong to the optimizer itself, so
        # only paramwise_cfg, which is ours alone, is checked for strays.
        lr = weft.number(optimizer, "lr", "optimizer")
        wd = weft.number(optimizer, "weight_decay", "optimizer", default=0.0)
        paramwise = optimizer.get("paramwise_cfg")
        if paramwise is None:
            paramwise = {}
        if not isinstance(paramwise, dict):
            raise weft.Error(f"optimizer.paramwise_cfg: expected a table, got {paramwise!r}")
        weft.check_keys(paramwise, {"fc_lr5"}, "optimizer.paramwise_cfg")
        fc_lr5 = paramwise.get("fc_lr5", False)
        if not isinstance(fc_lr5, bool):
            raise weft.Error(f"optimizer.paramwise_cfg.fc_lr5: expected true or false, got {fc_lr5!r}")

        # Entries by module, in the host's order; a shared parameter counts as its first
        # entry, as `model.parameters()` yields it.
        own = [[] for _ in modules]
        for i, p in enumerate(params):
            own[p.module].append(weft.tensor(params, i))

        first_w, first_b, normal_w, normal_b, bn = [], [], [], [], []
        convs = 0
        for m, module in enumerate(modules):
            tensors = own[m]
            if is_conv(module.kind):
                convs += 1
                w, b = (first_w, first_b) if convs == 1 else (normal_w, normal_b)
                w.extend(tensors[:1])
                b.extend(tensors[1:2])
            elif module.kind == "Linear":
                normal_w.extend(tensors[:1])
                normal_b.extend(tensors[1:2])
            elif is_norm(module.kind):
                bn.extend(weft.tensor(params, i) for i, p in enumerate(params)
                          if p.module == m and p.requires_grad)
            elif tensors and is_leaf(modules, m):
                raise weft.Error(f"new atomic module type {module.kind}; it needs a learning policy")

        if not normal_w:
            raise weft.Error("the model has no Linear or convolution layer")
        # The head is the last Linear/conv weight and the last bias seen (as MMAction2 pops
        # both lists, even if the head has no bias).
        last_w = normal_w.pop()
        last_b = normal_b[-1:]
        del normal_b[-1:]
        lr5_w, lr10_b = [], []
        if fc_lr5:
            lr5_w.append(last_w)
            lr10_b.extend(last_b)
        else:
            normal_w.append(last_w)
            normal_b.extend(last_b)

        return [
            weft.group(first_w, lr=lr, weight_decay=wd),
            weft.group(first_b, lr=lr * 2.0, weight_decay=0.0),
            weft.group(normal_w, lr=lr, weight_decay=wd),
            weft.group(normal_b, lr=lr * 2.0, weight_decay=0.0),
            weft.group(bn, lr=lr, weight_decay=0.0),
            weft.group(lr5_w, lr=lr * 5.0, weight_decay=wd),
            weft.group(lr10_b, lr=lr * 10.0, weight_decay=0.0),
        ]


Constructors = weft.export_constructor(TSM)
