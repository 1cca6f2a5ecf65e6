// RankProbeJs: the JavaScript SDK's rank(), worldSize() and localRank() (weft:plugin 0.2.0),
// said before the run: rank 0 at INFO, the other ranks at WARNING (which they print). Built
// by the tests with guest-sdk/js/build.sh.

class RankProbeJs extends Hook {
  static typeName = "RankProbeJs";

  beforeRun(s) {
    const r = rank();
    const line = `JS: rank ${r} of ${worldSize()} (local rank ${localRank()})`;
    if (r === 0) {
      info(line);
    } else {
      warn(line);
    }
  }
}

export const hooks = exportHook(RankProbeJs);
