// MMAction2's TSMOptimizerConstructor in JavaScript (type name TSMJsConstructor): seven
// parameter groups (the first convolution's weights and biases, the other convolutions' and
// linear layers' weights and biases, normalisation layers, and with fc_lr5 the last linear
// layer at 5x/10x lr), biases at twice the lr without weight decay. It gives the same groups
// as guest-examples/rust/tsm_constructor and the built-in TSMOptimizerConstructor, built on
// either engine (WEFT_JS_ENGINE=quickjs for QuickJS).

const isConv = (kind) => kind.startsWith("Conv") && kind.endsWith("d");
const isNorm = (kind) =>
  kind.startsWith("BatchNorm") || kind.startsWith("SyncBatchNorm") || kind === "GroupNorm";

// The root ("") contains every other module; the rest contain their dotted children.
function isLeaf(modules, m) {
  const path = modules[m].path;
  return !modules.some((other, j) => j !== m && (path === "" || other.path.startsWith(`${path}.`)));
}

class TSM extends Constructor {
  static typeName = "TSMJsConstructor";

  build(optimizer, modules, params) {
    // Other optimizer keys (momentum, nesterov, ...) belong to the optimizer itself, so only
    // paramwise_cfg, which is ours alone, is checked for strays.
    const lr = number(optimizer, "lr", "optimizer");
    const wd = number(optimizer, "weight_decay", "optimizer", 0.0);
    const paramwise = optimizer.paramwise_cfg ?? {};
    if (typeof paramwise !== "object" || Array.isArray(paramwise)) {
      throw new ConstructorError(`optimizer.paramwise_cfg: expected a table, got ${JSON.stringify(paramwise)}`);
    }
    checkKeys(paramwise, ["fc_lr5"], "optimizer.paramwise_cfg");
    const fcLr5 = paramwise.fc_lr5 ?? false;
    if (typeof fcLr5 !== "boolean") {
      throw new ConstructorError(`optimizer.paramwise_cfg.fc_lr5: expected true or false, got ${JSON.stringify(fcLr5)}`);
    }

    // Entries by module, in the host's order; a shared parameter counts as its first entry,
    // as model.parameters() yields it.
    const own = modules.map(() => []);
    params.forEach((p, i) => own[p.module].push(tensor(params, i)));

    const [firstW, firstB, normalW, normalB, bn] = [[], [], [], [], []];
    let convs = 0;
    modules.forEach((module, m) => {
      const tensors = own[m];
      if (isConv(module.kind)) {
        convs += 1;
        const [w, b] = convs === 1 ? [firstW, firstB] : [normalW, normalB];
        w.push(...tensors.slice(0, 1));
        b.push(...tensors.slice(1, 2));
      } else if (module.kind === "Linear") {
        normalW.push(...tensors.slice(0, 1));
        normalB.push(...tensors.slice(1, 2));
      } else if (isNorm(module.kind)) {
        params.forEach((p, i) => {
          if (p.module === m && p.requiresGrad) bn.push(tensor(params, i));
        });
      } else if (tensors.length > 0 && isLeaf(modules, m)) {
        throw new ConstructorError(`new atomic module type ${module.kind}; it needs a learning policy`);
      }
    });

    if (normalW.length === 0) throw new ConstructorError("the model has no Linear or convolution layer");
    // The head is the last Linear/conv weight and the last bias seen (as MMAction2 pops both
    // lists, even if the head has no bias).
    const lastW = normalW.pop();
    const lastB = normalB.splice(-1, 1);
    const [lr5W, lr10B] = [[], []];
    if (fcLr5) {
      lr5W.push(lastW);
      lr10B.push(...lastB);
    } else {
      normalW.push(lastW);
      normalB.push(...lastB);
    }

    return [
      group(firstW, { lr, weight_decay: wd }),
      group(firstB, { lr: lr * 2.0, weight_decay: 0.0 }),
      group(normalW, { lr, weight_decay: wd }),
      group(normalB, { lr: lr * 2.0, weight_decay: 0.0 }),
      group(bn, { lr, weight_decay: 0.0 }),
      group(lr5W, { lr: lr * 5.0, weight_decay: wd }),
      group(lr10B, { lr: lr * 10.0, weight_decay: 0.0 }),
    ];
  }
}

export const constructors = exportConstructor(TSM);
