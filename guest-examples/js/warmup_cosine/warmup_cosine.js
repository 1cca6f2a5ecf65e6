// A custom LR policy as a hook, in JavaScript: linear warmup, then cosine annealing, per
// iteration, as MMCV's CosineAnnealingLrUpdaterHook with warmup = "linear" and
// by_epoch = false. It does exactly what the Rust example does, bit for bit.

const PI = 3.141592653589793;

// Cosine on [0, pi] from + - * / only, so every language computes the same bits (Math.cos
// differs between engines in the last place): reflect into [0, pi/2], then the Taylor
// series to x^22 by Horner's rule, its coefficients (-1)^k / (2k)! built by division.
function portableCos(x) {
  let y = x;
  let sign = 1.0;
  if (x > PI / 2.0) {
    y = PI - x;
    sign = -1.0;
  }
  const coef = [1.0];
  for (let k = 1; k < 12; k++) coef.push(-coef[k - 1] / ((2 * k - 1) * (2 * k)));
  const y2 = y * y;
  let r = coef[11];
  for (let k = 10; k >= 0; k--) r = r * y2 + coef[k];
  return sign * r;
}

// MMCV's annealing_cos, with its operations in its order.
function annealingCos(start, end, factor) {
  const cosOut = portableCos(PI * factor) + 1.0;
  return end + 0.5 * (start - end) * cosOut;
}

const KEYS = ["warmup_iters", "warmup_ratio", "min_lr_ratio", "min_lr"];

class WarmupCosine extends Hook {
  static typeName = "WarmupCosineLrHook";

  constructor(config) {
    super(config);
    for (const k of Object.keys(config)) {
      if (!KEYS.includes(k)) throw new Error(`unknown key ${k}`);
    }
    this.warmupIters = Number(config.warmup_iters ?? 0);
    this.warmupRatio = Number(config.warmup_ratio ?? 0.1);
    this.minLrRatio = config.min_lr_ratio;
    this.minLr = config.min_lr;
    if (this.minLr !== undefined && this.minLrRatio !== undefined) {
      throw new Error("set only one of min_lr and min_lr_ratio");
    }
    if (!(this.warmupRatio > 0 && this.warmupRatio <= 1)) {
      throw new Error(`warmup_ratio must be in (0, 1], got ${this.warmupRatio}`);
    }
    // The base lr of every group: the state a resumed run needs (MMCV's initial_lr).
    this.baseLr = [];
  }

  points() {
    return ["before-run", "before-train-iter"];
  }

  target(base) {
    if (this.minLr !== undefined) return this.minLr;
    if (this.minLrRatio !== undefined) return base * this.minLrRatio;
    return 0.0;
  }

  beforeRun(s) {
    // A resumed run already has its base lr from the checkpoint.
    if (this.baseLr.length === 0) this.baseLr = Array.from(s.lr());
  }

  beforeTrainIter(s) {
    // u64 values arrive as BigInt (SpiderMonkey) or Number (QuickJS).
    const iter = Number(s.iter());
    const max = Number(s.maxIters());
    this.baseLr.forEach((base, g) => {
      const regular = annealingCos(base, this.target(base), iter / max);
      let lr = regular;
      if (iter < this.warmupIters) {
        const k = (1.0 - iter / this.warmupIters) * (1.0 - this.warmupRatio);
        lr = regular * (1.0 - k);
      }
      setLr(g, lr);
    });
  }

  saveState() {
    return JSON.stringify({ base_lr: this.baseLr });
  }

  loadState(state) {
    this.baseLr = JSON.parse(state).base_lr.map(Number);
  }
}

export const hooks = exportHook(WarmupCosine);
