//! Exports `weft:plugin/hooks@0.3.0`, which this weft (0.1.x and 0.2.x) must refuse with a clear message.

wit_bindgen::generate!({ path: "wit", world: "hook" });

struct Skew;

impl exports::weft::plugin::hooks::Guest for Skew {
    fn type_name() -> String {
        "SkewHook".into()
    }
}

export!(Skew);
