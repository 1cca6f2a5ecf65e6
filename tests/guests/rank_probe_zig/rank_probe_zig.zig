//! `RankProbeZig`: the Zig SDK's `weft.rank()`, `weft.worldSize()` and `weft.localRank()`
//! (weft:plugin 0.2.0), said before the run: rank 0 at INFO, the other ranks at WARNING
//! (which they print). Built by the tests with guest-sdk/zig/build.sh.

const weft = @import("weft");

const RankProbeZig = struct {
    pub const type_name = "RankProbeZig";
    pub const points = [_]weft.Point{.before_run};

    pub fn init(_: []const u8) !RankProbeZig {
        return .{};
    }

    pub fn beforeRun(_: *RankProbeZig, _: weft.State) void {
        const rank = weft.rank();
        const args = .{ rank, weft.worldSize(), weft.localRank() };
        if (rank == 0) {
            weft.info("Zig: rank {d} of {d} (local rank {d})", args);
        } else {
            weft.warn("Zig: rank {d} of {d} (local rank {d})", args);
        }
    }
};

comptime {
    weft.register(RankProbeZig);
}

pub const panic = weft.panic;
