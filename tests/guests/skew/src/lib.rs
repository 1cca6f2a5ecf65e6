//! Exports `weft:plugin/hooks@0.4.0`, which this weft (0.1.x to 0.3.x) must refuse with a clear message.

wit_bindgen::generate!({ path: "wit", world: "hook" });

struct Skew;

impl exports::weft::plugin::hooks::Guest for Skew {
    fn type_name() -> String {
        "SkewHook".into()
    }
}

export!(Skew);
