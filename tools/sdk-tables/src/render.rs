//! One renderer per generated region, in each language's own formatting (what rustfmt,
//! gofmt and `zig fmt` leave alone).

use std::fmt::Write;

use crate::{Block, Point};

/// Every generated region of every SDK.
pub const BLOCKS: &[Block] = &[
    Block {
        file: "runtime/host/src/wit/since_v0_1_0/points.rs",
        name: "host-points",
        comment: "//",
        render: host_points,
    },
    Block {
        file: "guest-sdk/rust/src/hook.rs",
        name: "all-points",
        comment: "//",
        render: rust_all_points,
    },
    Block {
        file: "guest-sdk/rust/src/hook.rs",
        name: "hook-methods",
        comment: "//",
        render: rust_hook_methods,
    },
    Block {
        file: "guest-sdk/rust/src/hook.rs",
        name: "dispatch",
        comment: "//",
        render: rust_dispatch,
    },
    Block {
        file: "guest-sdk/rust/src/hook.rs",
        name: "exports",
        comment: "//",
        render: rust_exports,
    },
    Block {
        file: "guest-sdk/python/weft_plugin.py",
        name: "hook-methods",
        comment: "#",
        render: python_hook_methods,
    },
    Block {
        file: "guest-sdk/python/weft_plugin.py",
        name: "exports",
        comment: "#",
        render: python_exports,
    },
    Block {
        file: "guest-sdk/js/weft-plugin.js",
        name: "all-points",
        comment: "//",
        render: js_all_points,
    },
    Block {
        file: "guest-sdk/js/weft-plugin.js",
        name: "hook-methods",
        comment: "//",
        render: js_hook_methods,
    },
    Block {
        file: "guest-sdk/js/weft-plugin.js",
        name: "exports",
        comment: "//",
        render: js_exports,
    },
    Block {
        file: "guest-sdk/c/weft_plugin.h",
        name: "declarations",
        comment: "//",
        render: c_declarations,
    },
    Block {
        file: "guest-sdk/c/weft_plugin.c",
        name: "weak-definitions",
        comment: "//",
        render: c_weak,
    },
    Block {
        file: "guest-sdk/c/weft_plugin.c",
        name: "defined",
        comment: "//",
        render: c_defined,
    },
    Block {
        file: "guest-sdk/c/weft_plugin.c",
        name: "exports",
        comment: "//",
        render: c_exports,
    },
    Block {
        file: "guest-sdk/go/weft.go",
        name: "interfaces",
        comment: "//",
        render: go_interfaces,
    },
    Block {
        file: "guest-sdk/go/weft.go",
        name: "own",
        comment: "//",
        render: go_own,
    },
    Block {
        file: "guest-sdk/go/weft_exports.go",
        name: "exports",
        comment: "//",
        render: go_exports,
    },
    Block {
        file: "guest-sdk/zig/weft.zig",
        name: "point-enum",
        comment: "//",
        render: zig_point_enum,
    },
    Block {
        file: "guest-sdk/zig/weft.zig",
        name: "methods",
        comment: "//",
        render: zig_methods,
    },
];

fn each(points: &[Point], mut f: impl FnMut(&mut String, &Point)) -> String {
    let mut out = String::new();
    for p in points {
        f(&mut out, p);
    }
    out
}

fn doc_lines(out: &mut String, indent: &str, leader: &str, p: &Point) {
    for line in &p.docs {
        let _ = writeln!(out, "{indent}{leader} {line}");
    }
}

fn rust_all_points(points: &[Point]) -> String {
    let mut out = format!(
        "/// Every hook point, in the order the WIT lists them.\npub const ALL_POINTS: [HookPoint; {}] = [\n",
        points.len()
    );
    for p in points {
        let _ = writeln!(out, "    HookPoint::{},", p.pascal());
    }
    out.push_str("];\n");
    out
}

fn host_points(points: &[Point]) -> String {
    let mut out = format!("const POINTS: [HookPoint; {}] = [\n", points.len());
    for p in points {
        let _ = writeln!(out, "    HookPoint::{},", p.pascal());
    }
    out.push_str("];\n");
    out
}

fn rust_hook_methods(points: &[Point]) -> String {
    each(points, |out, p| {
        doc_lines(out, "    ", "///", p);
        let _ = writeln!(
            out,
            "    fn {}(&mut self, _s: &RunState) -> Result<(), String> {{\n        Ok(())\n    }}",
            p.snake()
        );
    })
}

fn rust_dispatch(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(
            out,
            "            HookPoint::{} => self.{}(s),",
            p.pascal(),
            p.snake()
        );
    })
}

fn rust_exports(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(out, "        {} => {},", p.snake(), p.pascal());
    })
}

fn python_hook_methods(points: &[Point]) -> String {
    let methods: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "    def {}(self, s):\n        \"\"\"{}\"\"\"\n",
                p.snake(),
                p.summary()
            )
        })
        .collect();
    methods.join("\n")
}

fn python_exports(points: &[Point]) -> String {
    let methods: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "        def {0}(self):\n            call(\"{0}\")\n",
                p.snake()
            )
        })
        .collect();
    methods.join("\n")
}

fn js_all_points(points: &[Point]) -> String {
    let mut out =
        String::from("/** Every hook point, as the WIT names them. */\nconst ALL_POINTS = [\n");
    for p in points {
        let _ = writeln!(out, "  \"{}\",", p.kebab);
    }
    out.push_str("];\n");
    out
}

fn js_hook_methods(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(out, "  /** {} */\n  {}(_s) {{}}", p.summary(), p.camel());
    })
}

fn js_exports(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(out, "    {0}() {{ call(\"{0}\"); }},", p.camel());
    })
}

fn c_declarations(points: &[Point]) -> String {
    each(points, |out, p| {
        doc_lines(out, "", "//", p);
        let _ = writeln!(out, "int weft_{}(weft_state_t s);", p.snake());
    })
}

fn c_weak(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(out, "HOOK_POINT({})", p.snake());
    })
}

fn c_defined(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(
            out,
            "    case WEFT_PLUGIN_TYPES_HOOK_POINT_{}: return weft_{};",
            p.screaming(),
            p.snake()
        );
    })
}

fn c_exports(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(out, "POINT({})", p.snake());
    })
}

/// Go's name for the one-method interface of a point: `BeforeRunner`, `AfterBackwarder`.
fn go_interface(p: &Point) -> String {
    let name = p.pascal();
    if name.ends_with("Run") {
        format!("{name}ner")
    } else {
        format!("{name}er")
    }
}

fn go_interfaces(points: &[Point]) -> String {
    let width = points
        .iter()
        .map(|p| go_interface(p).len())
        .max()
        .unwrap_or(0);
    let mut out = String::from("type (\n");
    for p in points {
        let _ = writeln!(
            out,
            "\t{:<width$} interface{{ {}(*RunState) error }}",
            go_interface(p),
            p.pascal()
        );
    }
    // gofmt keeps a blank line between a declaration and the comment after it.
    out.push_str(")\n\n");
    out
}

fn go_own(points: &[Point]) -> String {
    let mut out = String::from(
        "// own returns h's own method for point, nil when h does not implement it.\nfunc own(h Hook, point HookPoint) hookFunc {\n\tswitch point {\n",
    );
    for p in points {
        let _ = writeln!(
            out,
            "\tcase weft_plugin_types.HookPoint_{0}:\n\t\tif x, ok := h.({1}); ok {{\n\t\t\treturn x.{0}\n\t\t}}",
            p.pascal(),
            go_interface(p)
        );
    }
    out.push_str("\t}\n\treturn nil\n}\n\n");
    out
}

fn go_exports(points: &[Point]) -> String {
    let funcs: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "func {0}(s state) result {{\n\treturn weft.Exports.Call(weft_plugin_types.HookPoint_{0}, s)\n}}\n",
                p.pascal()
            )
        })
        .collect();
    funcs.join("\n") + "\n"
}

fn zig_point_enum(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(
            out,
            "    {} = c.WEFT_PLUGIN_TYPES_HOOK_POINT_{},",
            p.snake(),
            p.screaming()
        );
    })
}

fn zig_methods(points: &[Point]) -> String {
    each(points, |out, p| {
        let _ = writeln!(
            out,
            "    .{{ \"{}\", \"weft_{}\", Point.{} }},",
            p.camel(),
            p.snake(),
            p.snake()
        );
    })
}
