//! `NullHookZig`: the Zig SDK's NullHook (tests/guests/null_hook), subscribed to
//! `after_train_iter` and doing nothing there. The `plugins` bench times a call into it
//! beside the Rust one: the cost of a hook call itself through this SDK. Built by
//! benches/plugins.sh with guest-sdk/zig/build.sh.

const weft = @import("weft");

const NullHookZig = struct {
    pub const type_name = "NullHookZig";
    pub const points = [_]weft.Point{.after_train_iter};

    pub fn init(_: []const u8) !NullHookZig {
        return .{};
    }

    pub fn afterTrainIter(_: *NullHookZig, _: weft.State) void {}
};

comptime {
    weft.register(NullHookZig);
}

pub const panic = weft.panic;
