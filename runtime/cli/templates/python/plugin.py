"""{{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
`custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`."""

import weft_plugin as weft


class {{type}}(weft.Hook):
    TYPE_NAME = "{{type}}"

    def __init__(self, config):
        unknown = set(config) - {"interval"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        # Report the loss every `interval` training iterations.
        self.interval = int(config.get("interval", 50))
        if self.interval < 1:
            raise ValueError("interval must be at least 1")

    # weft calls only the methods a hook overrides.
    def before_run(self, s):
        weft.info(f"{{type}} ready: {s.max_iters()} iterations planned")

    def after_train_iter(self, s):
        loss = s.output("loss")
        if (s.iter() + 1) % self.interval == 0 and loss is not None:
            weft.info(f"iteration {s.iter() + 1}: loss {loss:.4f}")


Hooks = weft.export_hook({{type}})
