// {{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
// `custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`. Hook, info and the
// other helpers come from weft-plugin.js, which the build puts in front of this file.

class {{type}} extends Hook {
  static typeName = "{{type}}";

  constructor(config) {
    super(config);
    for (const k of Object.keys(config)) {
      if (k !== "interval") throw new Error(`unknown key ${k}`);
    }
    // Report the loss every `interval` training iterations.
    this.interval = Number(config.interval ?? 50);
    if (!(this.interval >= 1)) throw new Error("interval must be at least 1");
  }

  // weft calls only the methods a hook overrides.
  beforeRun(s) {
    info(`{{type}} ready: ${s.maxIters()} iterations planned`);
  }

  afterTrainIter(s) {
    const iter = Number(s.iter()) + 1;
    const loss = s.output("loss");
    if (iter % this.interval === 0 && loss !== undefined) {
      info(`iteration ${iter}: loss ${loss.toFixed(4)}`);
    }
  }
}

export const hooks = exportHook({{type}});
