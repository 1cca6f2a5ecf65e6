// The seed's MyHook(a, b) in JavaScript: MMCV's example custom hook, implementing beforeRun,
// afterRun, beforeEpoch, afterEpoch, beforeIter and afterIter. It does exactly what the Rust
// example does, so the two give the same trace of calls and requests.

const modeName = (s) => ({ train: "train", val: "val" })[s.mode()] || "none";

class MyHook extends Hook {
  static typeName = "MyHook";

  constructor(config) {
    super(config);
    for (const k of Object.keys(config)) {
      if (k !== "a" && k !== "b") throw new Error(`unknown key ${k}`);
    }
    this.a = Number(config.a);
    this.b = String(config.b);
    this.itersSeen = 0;
  }

  points() {
    return ["before-run", "after-run", "before-epoch", "after-epoch", "before-iter", "after-iter"];
  }

  beforeRun(s) {
    info(`MyHook(a=${this.a}, b=${this.b}) before_run: ${s.maxIters()} iterations planned`);
  }

  afterRun(s) {
    info(`after_run at iter ${s.iter()} after ${this.itersSeen} iterations seen`);
  }

  beforeEpoch(s) {
    info(`before_epoch ${Number(s.epoch()) + 1} (${modeName(s)})`);
  }

  afterEpoch(s) {
    info(`after_epoch ${Number(s.epoch()) + 1} (${modeName(s)})`);
  }

  beforeIter(_s) {
    this.itersSeen += 1;
  }

  afterIter(s) {
    // `a` scales a value that shows up in the logs next to the loss, under a name from `b`.
    const loss = s.output("loss");
    if (loss !== undefined) logScalar(`${this.b}_scaled_loss`, loss * this.a);
  }
}

export const hooks = exportHook(MyHook);
