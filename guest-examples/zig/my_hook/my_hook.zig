//! The seed's `MyHook(a, b)` in Zig: MMCV's example custom hook, implementing before_run,
//! after_run, before_epoch, after_epoch, before_iter and after_iter. It does exactly what the
//! Rust example does, so the two give the same trace of calls and requests.
//! Build: `guest-sdk/zig/build.sh guest-examples/zig/my_hook my_hook.wasm`.

const std = @import("std");
const weft = @import("weft");

const MyHook = struct {
    pub const type_name = "MyHook";

    // Only the generic points: the host calls `before_epoch` for train and val epochs alike,
    // as MMCV's `Hook` does for a subclass that overrides `before_epoch`. (These are also the
    // methods below, so listing them is for the reader.)
    pub const points = [_]weft.Point{ .before_run, .after_run, .before_epoch, .after_epoch, .before_iter, .after_iter };

    const Config = struct {
        a: i64,
        b: []const u8,
    };

    cfg: Config,
    /// `{b}_scaled_loss`, made once rather than at every iteration.
    scalar_name: []const u8,
    iters_seen: u64 = 0,

    pub fn init(config: []const u8) !MyHook {
        const cfg = try weft.parseConfig(Config, config);
        return .{
            .cfg = cfg,
            .scalar_name = try std.fmt.allocPrint(weft.allocator, "{s}_scaled_loss", .{cfg.b}),
        };
    }

    pub fn beforeRun(self: *MyHook, s: weft.State) void {
        weft.info("MyHook(a={d}, b={s}) before_run: {d} iterations planned", .{ self.cfg.a, self.cfg.b, s.maxIters() });
    }

    pub fn afterRun(self: *MyHook, s: weft.State) void {
        weft.info("after_run at iter {d} after {d} iterations seen", .{ s.iter(), self.iters_seen });
    }

    pub fn beforeEpoch(_: *MyHook, s: weft.State) void {
        weft.info("before_epoch {d} ({t})", .{ s.epoch() + 1, s.mode() });
    }

    pub fn afterEpoch(_: *MyHook, s: weft.State) void {
        weft.info("after_epoch {d} ({t})", .{ s.epoch() + 1, s.mode() });
    }

    pub fn beforeIter(self: *MyHook, _: weft.State) void {
        self.iters_seen += 1;
    }

    pub fn afterIter(self: *MyHook, s: weft.State) void {
        // `a` scales a value that shows up in the text and JSON logs next to the loss, under
        // a name made from `b`.
        if (s.output("loss")) |loss| {
            weft.logScalar(self.scalar_name, loss * @as(f64, @floatFromInt(self.cfg.a)));
        }
    }
};

comptime {
    weft.register(MyHook);
}

pub const panic = weft.panic;
