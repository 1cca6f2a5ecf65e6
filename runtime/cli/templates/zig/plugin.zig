//! {{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
//! `custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`.

const weft = @import("weft");

const {{type}} = struct {
    pub const type_name = "{{type}}";

    const Config = struct {
        /// Report the loss every `interval` training iterations.
        interval: u64 = 50,
    };

    cfg: Config,

    pub fn init(config: []const u8) !{{type}} {
        const cfg = try weft.parseConfig(Config, config);
        if (cfg.interval == 0) return weft.fail("interval must be at least 1", .{});
        return .{ .cfg = cfg };
    }

    // weft calls only the points a hook declares (as pub methods).
    pub fn beforeRun(_: *{{type}}, s: weft.State) void {
        weft.info("{{type}} ready: {d} iterations planned", .{s.maxIters()});
    }

    pub fn afterTrainIter(self: *{{type}}, s: weft.State) void {
        const iter = s.iter() + 1;
        if (iter % self.cfg.interval != 0) return;
        if (s.output("loss")) |loss| {
            weft.info("iteration {d}: loss {d:.4}", .{ iter, loss });
        }
    }
};

comptime {
    weft.register({{type}});
}

pub const panic = weft.panic;
