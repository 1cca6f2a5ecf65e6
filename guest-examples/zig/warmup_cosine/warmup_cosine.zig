//! A custom LR policy as a hook: linear warmup, then cosine annealing, per iteration. It
//! computes what MMCV's `CosineAnnealingLrUpdaterHook` with `warmup = "linear"` and
//! `by_epoch = false` computes, term by term, so the curve is bit-identical to the Rust
//! reference (guest-examples/rust/warmup_cosine).
//! Build: `guest-sdk/zig/build.sh guest-examples/zig/warmup_cosine warmup_cosine.wasm`.

const std = @import("std");
const weft = @import("weft");

const Config = struct {
    /// Iterations of linear warmup (0: none).
    warmup_iters: u64 = 0,
    /// The warmup starts at `warmup_ratio * lr`.
    warmup_ratio: f64 = 0.1,
    /// The final lr as a fraction of the base lr (MMCV's `min_lr_ratio`) ...
    min_lr_ratio: ?f64 = null,
    /// ... or as a value (`min_lr`).
    min_lr: ?f64 = null,
};

/// The state that must survive a resume: the base lr of every group (MMCV keeps it in the
/// optimizer as `initial_lr`).
const Saved = struct {
    base_lr: []const f64,
};

const WarmupCosine = struct {
    pub const type_name = "WarmupCosineLrHook";

    cfg: Config,
    /// Owned by `weft.allocator`; empty until `beforeRun` or `loadState`.
    base_lr: []const f64 = &.{},

    pub fn init(config: []const u8) !WarmupCosine {
        const cfg = try weft.parseConfig(Config, config);
        if (cfg.min_lr != null and cfg.min_lr_ratio != null)
            return weft.fail("set only one of min_lr and min_lr_ratio", .{});
        if (!(cfg.warmup_ratio > 0.0 and cfg.warmup_ratio <= 1.0))
            return weft.fail("warmup_ratio must be in (0, 1], got {d}", .{cfg.warmup_ratio});
        return .{ .cfg = cfg };
    }

    fn target(self: *const WarmupCosine, base: f64) f64 {
        if (self.cfg.min_lr) |v| return v;
        if (self.cfg.min_lr_ratio) |r| return base * r;
        return 0.0;
    }

    pub fn beforeRun(self: *WarmupCosine, s: weft.State) !void {
        // A resumed run already has its base lr from the checkpoint.
        if (self.base_lr.len == 0) self.base_lr = try s.lr(weft.allocator);
    }

    pub fn beforeTrainIter(self: *WarmupCosine, s: weft.State) void {
        const iter = s.iter();
        const progress = @as(f64, @floatFromInt(iter)) / @as(f64, @floatFromInt(s.maxIters()));
        for (self.base_lr, 0..) |base, g| {
            const regular = annealingCos(base, self.target(base), progress);
            const lr = if (iter >= self.cfg.warmup_iters) regular else blk: {
                const done = @as(f64, @floatFromInt(iter)) / @as(f64, @floatFromInt(self.cfg.warmup_iters));
                const k = (1.0 - done) * (1.0 - self.cfg.warmup_ratio);
                break :blk regular * (1.0 - k);
            };
            weft.setLr(@intCast(g), lr);
        }
    }

    pub fn saveState(self: *WarmupCosine, a: std.mem.Allocator) !?[]const u8 {
        return try std.json.Stringify.valueAlloc(a, Saved{ .base_lr = self.base_lr }, .{});
    }

    pub fn loadState(self: *WarmupCosine, text: []const u8) !void {
        const parsed = std.json.parseFromSlice(Saved, weft.allocator, text, .{}) catch |e|
            return weft.fail("bad saved state: {t}", .{e});
        defer parsed.deinit();
        const base_lr = try weft.allocator.dupe(f64, parsed.value.base_lr);
        weft.allocator.free(self.base_lr);
        self.base_lr = base_lr;
    }
};

/// MMCV's `annealing_cos(start, end, factor)`, with its operations in its order.
fn annealingCos(start: f64, end: f64, factor: f64) f64 {
    const cos_out = portableCos(std.math.pi * factor) + 1.0;
    return end + 0.5 * (start - end) * cos_out;
}

/// Cosine on [0, pi] from basic IEEE operations only, so that every language's build of this
/// plugin computes the same bits (libm `cos` differs between languages in the last place).
/// Zig never contracts `a * b + c` into a fused multiply-add unless a scope opts into
/// `@setFloatMode(.optimized)`, so each line below is plain f64 arithmetic in this order.
///
/// Reflect into [0, pi/2] (cos x = -cos(pi - x)), then the Taylor series in x^2 to the x^22
/// term by Horner's rule, its coefficients (-1)^k / (2k)! built by division.
fn portableCos(x: f64) f64 {
    const pi: f64 = std.math.pi;
    const y, const sign: f64 = if (x > pi / 2.0) .{ pi - x, -1.0 } else .{ x, 1.0 };
    var coef: [12]f64 = undefined;
    coef[0] = 1.0;
    for (1..12) |k| {
        coef[k] = -coef[k - 1] / (@as(f64, @floatFromInt(2 * k - 1)) * @as(f64, @floatFromInt(2 * k)));
    }
    const y2 = y * y;
    var r = coef[11];
    var k: usize = 11;
    while (k > 0) {
        k -= 1;
        r = r * y2 + coef[k];
    }
    return sign * r;
}

comptime {
    weft.register(WarmupCosine);
}

pub const panic = weft.panic;
