//! `weft test` (evaluation of a checkpoint) and `weft plot` (curves from JSON logs) on a real
//! small run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::temp_dir;
use crate::training::{json_lines, small_config, train};

fn weft(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn weft_test_reproduces_the_last_evaluation_and_weft_plot_draws_the_curves() {
    let dir = temp_dir("tools");
    let cfg = small_config(&dir, &[], "");
    let work = dir.join("work");
    train(
        &cfg,
        &work,
        &["total_epochs=2", "data.train.num_samples=320"],
        None,
    );
    let last_eval = json_lines(&work)
        .into_iter()
        .rfind(|l| l.get("mean_class_accuracy").is_some())
        .unwrap();

    // The same weights on the same split give the evaluation hook's numbers.
    let ckpt = work.join("epoch_2.safetensors");
    let v = crate::support::weft_json(&["test", s(&cfg), s(&ckpt), "--split", "val", "--json"]);
    assert_eq!(v["split"], "val");
    assert_eq!(v["samples"], 256);
    for key in ["top1_acc", "top5_acc", "mean_class_accuracy"] {
        let (a, b) = (
            v["metrics"][key].as_f64().unwrap(),
            last_eval[key].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "{key}: {a} vs {b}");
    }
    // Human output and --out.
    let scores = dir.join("scores.json");
    let out = weft(&[
        "test",
        s(&cfg),
        s(&ckpt),
        "--split",
        "val",
        "--eval",
        "top_k_accuracy",
        "--out",
        s(&scores),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Evaluating top_k_accuracy ...") && text.contains("top1_acc: "),
        "{text}"
    );
    assert!(!text.contains("mean_class_accuracy"), "{text}");
    let dumped: Value = serde_json::from_str(&std::fs::read_to_string(&scores).unwrap()).unwrap();
    assert_eq!(dumped["labels"].as_array().unwrap().len(), 256);
    assert_eq!(dumped["scores"][0].as_array().unwrap().len(), 10);

    // A checkpoint of another model is refused with what does not fit.
    let resnet = dir.join("resnet.toml");
    std::fs::write(
        &resnet,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("type = \"LeNet5\"", "type = \"ResNet\", depth = 18"),
    )
    .unwrap();
    let out = weft(&["test", s(&resnet), s(&ckpt)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not fit this model (ResNet)") && err.contains("shape mismatch"),
        "{err}"
    );
    let out = weft(&["test", s(&cfg), s(&ckpt), "--eval", "top5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`top5` is not in the metric registry"));

    // Curves: a PNG with one panel per key.
    let png = dir.join("curves.png");
    crate::support::weft_ok(&[
        "plot",
        s(&work),
        "--keys",
        "loss,top1_acc,lr",
        "--out",
        s(&png),
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (960, 3 * 320));
    let out = weft(&["plot", s(&work), "--keys", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no values for nope"));
}
