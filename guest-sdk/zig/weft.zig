//! weft hook plugins in Zig. A plugin is a struct with a type name, an `init` that reads the
//! JSON config, and a method per hook point it implements; `weft.register` exports it:
//!
//!     const std = @import("std");
//!     const weft = @import("weft");
//!
//!     const Counter = struct {
//!         pub const type_name = "Counter";
//!         const Config = struct { every: u64 = 10 };
//!         cfg: Config,
//!
//!         pub fn init(config: []const u8) !Counter {
//!             return .{ .cfg = try weft.parseConfig(Config, config) };
//!         }
//!         pub fn afterTrainIter(self: *Counter, s: weft.State) !void {
//!             if (s.iter() % self.cfg.every == 0) weft.info("iter {d}", .{s.iter()});
//!         }
//!     };
//!
//!     comptime {
//!         weft.register(Counter);
//!     }
//!     pub const panic = weft.panic; // optional: a panic's message goes to the run log
//!
//! Hook methods (all optional) take `(self: *Self, s: weft.State)` and return `void` or an
//! error union: `beforeRun afterRun beforeTrainEpoch afterTrainEpoch beforeValEpoch
//! afterValEpoch beforeTrainIter afterTrainIter beforeValIter afterValIter beforeEpoch
//! afterEpoch afterBackward beforeIter afterIter`. The points the hook implements are those
//! methods, or `pub const points = [_]weft.Point{...}` to list them yourself. A point that is
//! listed but has no method is a no-op. weft applies MMCV's fallback itself: a hook with
//! `beforeEpoch` and no `beforeTrainEpoch` gets `beforeEpoch` calls before every epoch.
//! State that must survive a resume: `saveState(self: *Self, a: Allocator) !?[]const u8` and
//! `loadState(self: *Self, text: []const u8) !void`.
//!
//! Failing a call: return `weft.fail("why {d}", .{x})` (the message goes to weft through
//! `runner.fail` at a hook point, as `err(string)` from `init` and the state calls; weft
//! applies the plugin's `on_error` policy), or any other Zig error, which is reported by name.
//!
//! Build: `build.sh SRC_DIR OUT.wasm` next to this file. This layer sits on the C SDK
//! (weft_plugin.{h,c}), which implements the wit-bindgen C exports on top of weak `weft_*`
//! functions; `register` exports strong ones. The C declarations come from
//! `zig translate-c weft_plugin.h` (module `weft_c`), so a change in the C API is a compile
//! error here rather than a silent ABI mismatch.

const std = @import("std");
pub const c = @import("weft_c");

/// Memory that outlives a call (the C `malloc`, which the C SDK and wit-bindgen also use).
pub const allocator = std.heap.c_allocator;

/// The hook points, numbered as the WIT enum.
pub const Point = enum(u8) {
    // @generated point-enum: from wit/ by `make sdk-tables`; do not edit
    before_run = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_RUN,
    after_run = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_RUN,
    before_train_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_TRAIN_EPOCH,
    after_train_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_TRAIN_EPOCH,
    before_val_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_VAL_EPOCH,
    after_val_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_VAL_EPOCH,
    before_train_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_TRAIN_ITER,
    after_train_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_TRAIN_ITER,
    before_val_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_VAL_ITER,
    after_val_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_VAL_ITER,
    before_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_EPOCH,
    after_epoch = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_EPOCH,
    after_backward = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_BACKWARD,
    before_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_ITER,
    after_iter = c.WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_ITER,
    // @end point-enum
};

/// The runner's phase; `{t}` formats it as `train`, `val` or `none`.
pub const Phase = enum(u8) {
    none = c.WEFT_PLUGIN_TYPES_PHASE_NONE,
    train = c.WEFT_PLUGIN_TYPES_PHASE_TRAIN,
    val = c.WEFT_PLUGIN_TYPES_PHASE_VAL,
};

// ---- failing ----

/// The error a hook returns after `fail` recorded its message.
pub const Error = error{HookFailed};

/// Records `fmt` as the message of the failing call; `return weft.fail(...)`.
pub fn fail(comptime fmt: []const u8, args: anytype) Error {
    var buf: [2048]u8 = undefined;
    setFailMessage(format(&buf, fmt, args));
    return error.HookFailed;
}

fn setFailMessage(msg: []const u8) void {
    // "%.*s": the message is a slice, not NUL-terminated.
    _ = c.weft_fail("%.*s", @as(c_int, @intCast(msg.len)), msg.ptr);
}

/// The C SDK's convention for a failed call: the message is set, the result is -1.
fn report(err: anyerror) c_int {
    if (err != error.HookFailed) {
        var buf: [256]u8 = undefined;
        setFailMessage(format(&buf, "error.{s}", .{@errorName(err)}));
    }
    return -1;
}

/// `fmt` into `buf`, cut at its end (a log line or message is not worth failing for).
fn format(buf: []u8, comptime fmt: []const u8, args: anytype) []const u8 {
    var w: std.Io.Writer = .fixed(buf);
    w.print(fmt, args) catch {};
    return w.buffered();
}

/// A panic cannot be turned into an `err` (wasm has no unwinding), so this logs the message
/// before the trap, which weft reports as a failed call. Use as `pub const panic = weft.panic;`
/// in the plugin's root file.
pub const panic = std.debug.FullPanic(struct {
    fn call(msg: []const u8, _: ?usize) noreturn {
        log(.err, "panic: {s}", .{msg});
        @trap();
    }
}.call);

// ---- logging and requests ----

pub const Level = enum(u8) {
    debug = c.WEFT_PLUGIN_TYPES_LOG_LEVEL_DEBUG,
    info = c.WEFT_PLUGIN_TYPES_LOG_LEVEL_INFO,
    warn = c.WEFT_PLUGIN_TYPES_LOG_LEVEL_WARNING,
    err = c.WEFT_PLUGIN_TYPES_LOG_LEVEL_ERROR,
};

// The C SDK takes NUL-terminated strings and printf formats; Zig strings are slices, so the
// string-taking imports are called through wit-bindgen's (pointer, length) strings directly.
fn wit(s: []const u8) c.hook_string_t {
    return .{ .ptr = @constCast(s.ptr), .len = s.len };
}

/// A line in the run log under the plugin's name (cut at 4 KiB).
pub fn log(level: Level, comptime fmt: []const u8, args: anytype) void {
    var buf: [4096]u8 = undefined;
    var msg = wit(format(&buf, fmt, args));
    c.weft_plugin_runner_log(@backingInt(level), &msg);
}

pub fn info(comptime fmt: []const u8, args: anytype) void {
    log(.info, fmt, args);
}

pub fn warn(comptime fmt: []const u8, args: anytype) void {
    log(.warn, fmt, args);
}

/// This process's rank in a data-parallel run (0 to `worldSize() - 1`; rank 0 writes the
/// run's files). A run of one process is rank 0 of 1.
pub fn rank() u32 {
    return c.weft_rank();
}

/// The number of ranks.
pub fn worldSize() u32 {
    return c.weft_world_size();
}

/// The rank among this machine's ranks (which GPU it trains on).
pub fn localRank() u32 {
    return c.weft_local_rank();
}

/// Requests, validated by weft and applied when the call returns.
pub fn logScalar(name: []const u8, value: f64) void {
    var n = wit(name);
    c.weft_plugin_runner_log_scalar(&n, value);
}

pub fn setLr(group: u32, lr: f64) void {
    c.weft_set_lr(group, lr);
}

pub fn setMomentum(group: u32, momentum: f64) void {
    c.weft_set_momentum(group, momentum);
}

pub fn requestStop(reason: []const u8) void {
    var r = wit(reason);
    c.weft_plugin_runner_request_stop(&r);
}

pub fn requestCheckpoint() void {
    c.weft_request_checkpoint();
}

pub fn requestEval() void {
    c.weft_request_eval();
}

pub fn scaleGrads(factor: f64) void {
    c.weft_scale_grads(factor);
}

pub fn skipStep() void {
    c.weft_skip_step();
}

// ---- the run state ----

/// The runner's state during one hook call (do not keep it: its reads are valid only until
/// the hook returns).
pub const State = struct {
    handle: c.weft_state_t,

    pub fn epoch(s: State) u64 {
        return c.weft_epoch(s.handle);
    }
    pub fn iter(s: State) u64 {
        return c.weft_iter(s.handle);
    }
    pub fn innerIter(s: State) u64 {
        return c.weft_inner_iter(s.handle);
    }
    pub fn maxIters(s: State) u64 {
        return c.weft_max_iters(s.handle);
    }
    pub fn numGroups(s: State) u32 {
        return c.weft_num_groups(s.handle);
    }
    pub fn mode(_: State) Phase {
        return @fromBackingInt(@intCast(c.weft_plugin_runner_mode()));
    }
    /// The lr of every group, in memory from `a`.
    pub fn lr(s: State, a: std.mem.Allocator) ![]f64 {
        const out = try a.alloc(f64, s.numGroups());
        return out[0..c.weft_lr(s.handle, out.ptr, out.len)];
    }
    /// A scalar output of the last step (`loss`), if present.
    pub fn output(_: State, name: []const u8) ?f64 {
        var n = wit(name);
        var v: f64 = undefined;
        return if (c.weft_plugin_runner_output(&n, &v)) v else null;
    }
    /// A metric of the latest evaluation (`top1_acc`), if any.
    pub fn metric(_: State, name: []const u8) ?f64 {
        var n = wit(name);
        var v: f64 = undefined;
        return if (c.weft_plugin_runner_metric(&n, &v)) v else null;
    }
};

// ---- the config ----

// The config outlives `init` (its strings are slices into it) and is read once per instance.
var config_arena = std.heap.ArenaAllocator.init(std.heap.c_allocator);

/// The JSON config as a `T`: a key that is not a field of `T` is an error (like serde's
/// `deny_unknown_fields`); a missing field takes its default, or null if optional. Errors name
/// the key, through `fail`.
pub fn parseConfig(comptime T: type, json: []const u8) Error!T {
    const a = config_arena.allocator();
    const root = std.json.parseFromSliceLeaky(std.json.Value, a, json, .{}) catch |e|
        return fail("the config is not valid JSON ({t})", .{e});
    if (root != .object) return fail("the config must be a JSON object", .{});
    const info_ = @typeInfo(T).@"struct";
    var keys = root.object.iterator();
    while (keys.next()) |kv| {
        const key = kv.key_ptr.*;
        for (info_.field_names) |name| {
            if (std.mem.eql(u8, name, key)) break;
        } else return fail("unknown config key `{s}` (expected {s})", .{ key, comptime fieldList(T) });
    }
    var out: T = undefined;
    inline for (info_.field_names, info_.field_types, info_.field_attrs) |name, F, attrs| {
        if (root.object.get(name)) |v| {
            @field(out, name) = std.json.parseFromValueLeaky(F, a, v, .{}) catch
                return fail("config key `{s}` must be {s}", .{ name, comptime describe(F) });
        } else if (attrs.defaultValue(F)) |d| {
            @field(out, name) = d;
        } else if (@typeInfo(F) == .optional) {
            @field(out, name) = null;
        } else {
            return fail("missing config key `{s}`", .{name});
        }
    }
    return out;
}

fn fieldList(comptime T: type) []const u8 {
    var s: []const u8 = "";
    for (@typeInfo(T).@"struct".field_names, 0..) |name, i| s = s ++ (if (i == 0) "" else ", ") ++ name;
    return s;
}

fn describe(comptime F: type) []const u8 {
    return switch (@typeInfo(F)) {
        .int => |i| if (i.signedness == .unsigned) "a non-negative integer" else "an integer",
        .float => "a number",
        .bool => "true or false",
        .optional => |o| describe(o.child) ++ " or null",
        .pointer => |p| if (p.child == u8) "a string" else "a list",
        else => "a " ++ @typeName(F),
    };
}

// ---- the exports ----

const methods = .{
    // @generated methods: from wit/ by `make sdk-tables`; do not edit
    .{ "beforeRun", "weft_before_run", Point.before_run },
    .{ "afterRun", "weft_after_run", Point.after_run },
    .{ "beforeTrainEpoch", "weft_before_train_epoch", Point.before_train_epoch },
    .{ "afterTrainEpoch", "weft_after_train_epoch", Point.after_train_epoch },
    .{ "beforeValEpoch", "weft_before_val_epoch", Point.before_val_epoch },
    .{ "afterValEpoch", "weft_after_val_epoch", Point.after_val_epoch },
    .{ "beforeTrainIter", "weft_before_train_iter", Point.before_train_iter },
    .{ "afterTrainIter", "weft_after_train_iter", Point.after_train_iter },
    .{ "beforeValIter", "weft_before_val_iter", Point.before_val_iter },
    .{ "afterValIter", "weft_after_val_iter", Point.after_val_iter },
    .{ "beforeEpoch", "weft_before_epoch", Point.before_epoch },
    .{ "afterEpoch", "weft_after_epoch", Point.after_epoch },
    .{ "afterBackward", "weft_after_backward", Point.after_backward },
    .{ "beforeIter", "weft_before_iter", Point.before_iter },
    .{ "afterIter", "weft_after_iter", Point.after_iter },
    // @end methods
};

/// The points `H` implements: `H.points`, else one per hook method it declares.
fn pointsOf(comptime H: type) []const Point {
    if (@hasDecl(H, "points")) {
        // The C SDK hands `weft_points` room for each point once.
        if (H.points.len > @typeInfo(Point).@"enum".field_names.len) @compileError("`points` has more than one entry per point");
        return H.points[0..];
    }
    var out: []const Point = &.{};
    for (methods) |m| {
        if (@hasDecl(H, m[0])) out = out ++ [_]Point{m[2]};
    }
    return out;
}

/// `r` if it is an error union, else nothing to check.
inline fn check(r: anytype) anyerror!void {
    if (@typeInfo(@TypeOf(r)) == .error_union) _ = try r;
}

/// Exports `H` as the plugin: the strong `weft_*` functions the C SDK calls.
pub fn register(comptime H: type) void {
    if (!@hasDecl(H, "type_name")) @compileError(@typeName(H) ++ " needs `pub const type_name`");
    if (!@hasDecl(H, "init")) @compileError(@typeName(H) ++ " needs `pub fn init(config: []const u8) !Self`");
    // A misspelt hook method would never be called; catch it here. (Methods must be `pub`:
    // this file cannot see the others.)
    for (@typeInfo(H).@"struct".decl_names) |decl| {
        if (!std.mem.startsWith(u8, decl, "before") and !std.mem.startsWith(u8, decl, "after")) continue;
        for (methods) |m| {
            if (std.mem.eql(u8, m[0], decl)) break;
        } else @compileError(@typeName(H) ++ "." ++ decl ++ " is not a hook method (see weft.zig)");
    }
    const E = struct {
        // The one instance: a plugin instance serves one `custom_hooks` entry, and weft calls
        // `init` before any hook point.
        var hook: H = undefined;

        fn typeName() callconv(.c) [*:0]const u8 {
            return H.type_name;
        }

        fn init(config: [*:0]const u8) callconv(.c) c_int {
            const r = H.init(std.mem.span(config));
            hook = if (@typeInfo(@TypeOf(r)) == .error_union) r catch |e| return report(e) else r;
            return 0;
        }

        fn points(out: [*]c.weft_point_t) callconv(.c) usize {
            const list = comptime pointsOf(H);
            for (list, 0..) |p, i| out[i] = @backingInt(p);
            return list.len;
        }

        fn Method(comptime name: []const u8) type {
            return struct {
                fn call(s: c.weft_state_t) callconv(.c) c_int {
                    check(@field(H, name)(&hook, State{ .handle = s })) catch |e| return report(e);
                    return 0;
                }
            };
        }

        fn saveState() callconv(.c) ?[*:0]u8 {
            // NULL after a fail message is the C SDK's error path for save_state: weft then
            // reports a failed save-state (never a checkpoint silently missing the state).
            var arena = std.heap.ArenaAllocator.init(std.heap.c_allocator);
            defer arena.deinit();
            const text = (H.saveState(&hook, arena.allocator()) catch |e| {
                _ = report(e);
                return null;
            }) orelse return null;
            // The C SDK frees the result with free().
            const out: [*]u8 = @ptrCast(std.c.malloc(text.len + 1) orelse {
                setFailMessage("save_state: out of memory");
                return null;
            });
            @memcpy(out[0..text.len], text);
            out[text.len] = 0;
            return out[0..text.len :0];
        }

        fn loadState(text: [*:0]const u8) callconv(.c) c_int {
            check(H.loadState(&hook, std.mem.span(text))) catch |e| return report(e);
            return 0;
        }
    };
    @export(&E.typeName, .{ .name = "weft_type_name" });
    @export(&E.init, .{ .name = "weft_init" });
    @export(&E.points, .{ .name = "weft_points" });
    inline for (methods) |m| {
        if (@hasDecl(H, m[0])) @export(&E.Method(m[0]).call, .{ .name = m[1] });
    }
    if (@hasDecl(H, "saveState")) @export(&E.saveState, .{ .name = "weft_save_state" });
    if (@hasDecl(H, "loadState")) @export(&E.loadState, .{ .name = "weft_load_state" });
}
