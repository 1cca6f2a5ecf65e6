// weft plugins in JavaScript: the `Hook` base class, logging and requests, and `exportHook`,
// which builds the `hooks` export componentize-js needs.
//
// componentize-js builds one module, so a plugin's build concatenates this file and the
// plugin's (see build.sh next to this file). The plugin then writes:
//
//   class MyHook extends Hook {
//     static typeName = "MyHook";
//     constructor(config) { super(config); this.a = config.a; }
//     beforeRun(s) { info(`a = ${this.a}, ${s.maxIters()} iterations planned`); }
//   }
//   export const hooks = exportHook(MyHook);
//
// Conventions of the bindings: enums are strings ('before-run', 'train'), `u64` values are
// BigInts (use Number(...) for arithmetic), an `option<f64>` is a number or undefined.

import * as ranks from "weft:plugin/ranks@0.3.0";
import * as runner from "weft:plugin/runner@0.3.0";

// @generated all-points: from wit/ by `make sdk-tables`; do not edit
/** Every hook point, as the WIT names them. */
const ALL_POINTS = [
  "before-run",
  "after-run",
  "before-train-epoch",
  "after-train-epoch",
  "before-val-epoch",
  "after-val-epoch",
  "before-train-iter",
  "after-train-iter",
  "before-val-iter",
  "after-val-iter",
  "before-epoch",
  "after-epoch",
  "after-backward",
  "before-iter",
  "after-iter",
];
// @end all-points

/** "before-train-iter" -> "beforeTrainIter" */
function methodName(point) {
  return point.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

/** This process's rank in a data-parallel run (0 to worldSize() - 1; rank 0 writes the run's
 * files). A run of one process is rank 0 of 1. */
function rank() {
  return ranks.rank();
}

/** The number of ranks. */
function worldSize() {
  return ranks.worldSize();
}

/** The rank among this machine's ranks (which GPU it trains on). */
function localRank() {
  return ranks.localRank();
}

/** A line at INFO in the run log, under the plugin's name. */
function info(message) {
  runner.log("info", String(message));
}

/** A line at WARNING. */
function warn(message) {
  runner.log("warning", String(message));
}

const logScalar = runner.logScalar;
const setLr = runner.setLr;
const setMomentum = runner.setMomentum;
const requestStop = runner.requestStop;
const requestCheckpoint = runner.requestCheckpoint;
const requestEval = runner.requestEval;
const scaleGrads = runner.scaleGrads;
const skipStep = runner.skipStep;

/** A training hook shaped like MMCV's: one method per hook point, each a no-op by default.
 * weft calls only the methods a subclass overrides, and applies MMCV's fallback itself: a
 * hook overriding afterIter but not afterTrainIter gets afterIter calls after train and val
 * iterations alike (s.point() says which). */
class Hook {
  constructor(config) {
    this.config = config;
  }
  /** The points weft should call. The default lists the methods the subclass overrides,
   * so weft never crosses into the sandbox for a point that does nothing. */
  points() {
    return ALL_POINTS.filter((p) => this[methodName(p)] !== Hook.prototype[methodName(p)]);
  }
  // @generated hook-methods: from wit/ by `make sdk-tables`; do not edit
  /** Once, before anything else. */
  beforeRun(_s) {}
  /** Once, at the end (also after an early stop). */
  afterRun(_s) {}
  /** Before a train epoch (epoch-based runner). */
  beforeTrainEpoch(_s) {}
  /** After a train epoch (epoch-based runner). */
  afterTrainEpoch(_s) {}
  /** Before a val epoch (epoch-based runner). */
  beforeValEpoch(_s) {}
  /** After a val epoch (epoch-based runner). */
  afterValEpoch(_s) {}
  /** Before a train iteration. */
  beforeTrainIter(_s) {}
  /** After a train iteration's forward pass (the optimizer steps here, at priority 40). */
  afterTrainIter(_s) {}
  /** Before a val iteration. */
  beforeValIter(_s) {}
  /** After a val iteration. */
  afterValIter(_s) {}
  /** Once after `before-run` in the iteration-based runner (as in MMCV); else the fallback of `before-train-epoch` and `before-val-epoch`. */
  beforeEpoch(_s) {}
  /** Once before `after-run` in the iteration-based runner; else the fallback of `after-train-epoch` and `after-val-epoch`. */
  afterEpoch(_s) {}
  /** Gradients are ready; clipping and the optimizer step have not happened yet. */
  afterBackward(_s) {}
  /** MMCV's generic iteration point: called before train and val iterations alike for a hook that does not list `before-train-iter` or `before-val-iter` itself. */
  beforeIter(_s) {}
  /** The generic fallback of `after-train-iter` and `after-val-iter`. */
  afterIter(_s) {}
  // @end hook-methods
  /** Text to keep in checkpoints (JSON is usual), or undefined. */
  saveState() { return undefined; }
  loadState(_state) {}
}

// Whatever a plugin throws becomes the call's error text (a thrown non-string would trap the
// component, and weft could not say what happened).
function errorText(e) {
  if (e instanceof Error) {
    return `${e.name}: ${e.message}\n${e.stack || ""}`;
  }
  try {
    return typeof e === "string" ? e : JSON.stringify(e);
  } catch (_) {
    return String(e);
  }
}

/** The runner's state during one hook call, lent to every hook method: its reads are
 * `runner`'s functions (weft:plugin@0.3.0), valid only until the method returns. One object
 * serves every call: it holds nothing. */
const runState = Object.freeze({
  point: runner.point,
  mode: runner.mode,
  epoch: runner.epoch,
  iter: runner.iter,
  innerIter: runner.innerIter,
  maxEpochs: runner.maxEpochs,
  maxIters: runner.maxIters,
  dataLoaderLen: runner.dataLoaderLen,
  numGroups: runner.numGroups,
  lr: runner.lr,
  momentum: runner.momentum,
  output: runner.output,
  outputs: runner.outputs,
  metric: runner.metric,
  metrics: runner.metrics,
  gradNorm: runner.gradNorm,
  paramStats: runner.paramStats,
});

/** The `hooks` export driving one instance of `Cls`. */
function exportHook(Cls) {
  let hook = null;
  // A hook point returns nothing since 0.3.0: a failure leaves through `runner.fail`, which
  // does not return (weft stops the guest there).
  const call = (name) => {
    if (hook === null) runner.fail("the hook was called before init");
    try {
      hook[name](runState);
    } catch (e) {
      runner.fail(errorText(e));
    }
  };
  return {
    typeName() { return Cls.typeName || Cls.name; },
    init(configJson) {
      try {
        hook = new Cls(JSON.parse(configJson));
        return hook.points();
      } catch (e) {
        throw errorText(e);
      }
    },
    saveState() {
      try {
        const s = hook.saveState();
        return s === undefined || s === null ? undefined : String(s);
      } catch (e) {
        throw errorText(e);
      }
    },
    loadState(text) {
      try {
        hook.loadState(text);
      } catch (e) {
        throw errorText(e);
      }
    },
    // @generated exports: from wit/ by `make sdk-tables`; do not edit
    beforeRun() { call("beforeRun"); },
    afterRun() { call("afterRun"); },
    beforeTrainEpoch() { call("beforeTrainEpoch"); },
    afterTrainEpoch() { call("afterTrainEpoch"); },
    beforeValEpoch() { call("beforeValEpoch"); },
    afterValEpoch() { call("afterValEpoch"); },
    beforeTrainIter() { call("beforeTrainIter"); },
    afterTrainIter() { call("afterTrainIter"); },
    beforeValIter() { call("beforeValIter"); },
    afterValIter() { call("afterValIter"); },
    beforeEpoch() { call("beforeEpoch"); },
    afterEpoch() { call("afterEpoch"); },
    afterBackward() { call("afterBackward"); },
    beforeIter() { call("beforeIter"); },
    afterIter() { call("afterIter"); },
    // @end exports
  };
}
