//! TorchScript models: a scripted LeNet-5 with batch and layer normalisation trained by weft
//! for five steps ends bit for bit where PyTorch's own `torch.optim.SGD` run on the same
//! batches, on this machine, ends (tests/fixtures/torchscript/record.py, run by the test:
//! PyTorch's CPU kernels round differently on AVX2 and AVX-512, so a recording from another
//! machine can differ in the last bit); paramwise_cfg sees the module's classes; `weft
//! export` gives back a module `torch.jit.load` reads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{fixture, temp_dir, weft_json, weft_ok};

/// The scripted models and their states after five PyTorch steps, recorded now by
/// record.py with the PyTorch in the cache venv (once per test run).
fn pytorch_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("torchscript-pytorch");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(crate::pth::torch_python())
            .arg(fixture("torchscript/record.py"))
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "record.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A config training `model` (a file of the PyTorch run, or the checked-in fixture).
fn config(dir: &Path, extra: &str) -> PathBuf {
    config_of(dir, &fixture("torchscript/lenet_bn_ln.pt"), extra)
}

fn config_of(dir: &Path, model: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
model = {{ type = "TorchScript", path = "{model}", input = "NCHW", num_classes = 10 }}
optimizer = {{ type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }}
optimizer_config = {{}}
runner = {{ type = "IterBasedRunner", max_iters = 5 }}
checkpoint_config = {{ interval = 5, by_epoch = false }}
log_config = {{ interval = 5, hooks = [{{ type = "TextLoggerHook" }}] }}
seed = 0
device = "cpu"
{extra}

[data]
samples_per_gpu = 8
workers_per_gpu = 0
train_dataloader = {{ shuffle = false }}
train = {{ type = "FashionMNIST", split = "train", num_samples = 40, mean = 0.0, std = 1.0 }}
"#,
        model = model.display()
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("script.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Asserts that weft's checkpoint holds every tensor of PyTorch's, bit for bit; returns how
/// many there are.
fn assert_same_state(ours: &Path, fixture_name: &str) -> usize {
    let ours = weft_nn::checkpoint::read(ours).unwrap();
    let theirs = weft_nn::pth::read(&pytorch_run().join(fixture_name)).unwrap();
    for (name, want) in &theirs.state_dict {
        let got = ours
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in weft's checkpoint"));
        assert!(got.equal(want), "{name} differs from PyTorch's");
    }
    theirs.state_dict.len()
}

#[test]
fn a_scripted_model_trains_bit_for_bit_as_pytorch_and_exports_back() {
    let dir = temp_dir("torchscript");
    let cfg = config_of(&dir, &pytorch_run().join("lenet_bn_ln.pt"), "");
    let work = dir.join("work");
    weft_ok(&[
        "train",
        cfg.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    // Every parameter and buffer under PyTorch's name, batch-norm statistics included.
    let n = assert_same_state(&work.join("iter_5.safetensors"), "after_5_steps.pth");
    assert_eq!(n, 22);

    // Back to TorchScript: torch.jit.load reads it, in eval mode, with the trained state.
    let exported = dir.join("trained.pt");
    weft_ok(&[
        "export",
        cfg.to_str().unwrap(),
        work.join("iter_5.safetensors").to_str().unwrap(),
        "--torchscript",
        exported.to_str().unwrap(),
    ]);
    let script = r#"
import sys, torch
m = torch.jit.load(sys.argv[1])
want = torch.load(sys.argv[2])
got = m.state_dict()
assert not m.training, "saved in train mode"
assert list(got) == list(want), (list(got), list(want))
assert all(torch.equal(got[k], want[k]) for k in want), [k for k in want if not torch.equal(got[k], want[k])]
print("ok")
"#;
    let out = Command::new(crate::support::torch_python())
        .args([
            "-c",
            script,
            exported.to_str().unwrap(),
            pytorch_run().join("after_5_steps.pth").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn paramwise_cfg_sees_the_scripted_modules_classes() {
    let dir = temp_dir("torchscript-paramwise");
    let cfg = config(&dir, "");
    let v = weft_json(&[
        "param-groups",
        cfg.to_str().unwrap(),
        "--json",
        "--cfg-options",
        "optimizer.paramwise_cfg.norm_decay_mult=0",
        "optimizer.paramwise_cfg.bias_lr_mult=2",
    ]);
    let groups = v["groups"].as_array().unwrap();
    let find = |name: &str| {
        groups
            .iter()
            .find(|g| g["params"].as_array().unwrap().iter().any(|p| p == name))
            .unwrap_or_else(|| panic!("{name} in no group: {v}"))
    };
    // BatchNorm2d and LayerNorm are norms: no decay; every bias at twice the lr.
    for norm in ["bn1.weight", "ln.weight"] {
        assert_eq!(find(norm)["weight_decay"], 0.0, "{norm}");
    }
    assert_eq!(find("conv1.weight")["weight_decay"], 5e-4);
    assert_eq!(find("fc1.bias")["lr"], 0.02);
    assert_eq!(find("conv1.weight")["lr"], 0.01);
}

#[test]
fn a_file_that_is_not_a_module_or_scores_of_the_wrong_size_are_one_message() {
    let dir = temp_dir("torchscript-bad");
    let cfg = config(&dir, "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let not_script = dir.join("not_script.toml");
    std::fs::write(
        &not_script,
        text.replace("lenet_bn_ln.pt", "../pth/bare_state_dict.pth"),
    )
    .unwrap();
    let run = |cfg: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args([
                "train",
                cfg.to_str().unwrap(),
                "--work-dir",
                dir.join("w").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&not_script);
    assert!(err.contains("is not a TorchScript module"), "{err}");
    let wrong = dir.join("wrong_classes.toml");
    std::fs::write(&wrong, text.replace("num_classes = 10", "num_classes = 7")).unwrap();
    let err = run(&wrong);
    assert!(
        err.contains("scores of shape [8, 10]") && err.contains("num_classes is 7"),
        "{err}"
    );
}

#[test]
fn a_module_that_computes_its_own_loss_trains_as_pytorch_and_evaluates_with_its_test_method() {
    let dir = temp_dir("torchscript-losses");
    let cfg = config_of(&dir, &pytorch_run().join("lenet_with_loss.pt"), "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(r#"path = ""#, r#"returns = "losses", path = ""#);
    // A val split, so that evaluation runs the test method.
    let text = text.replace(
        "[data]",
        "evaluation = { interval = 5, by_epoch = false, metrics = [\"top_k_accuracy\"] }\n\n[data]",
    ) + "val = { type = \"FashionMNIST\", split = \"test\", num_samples = 16, mean = 0.0, std = 1.0 }\n";
    std::fs::write(&cfg, text).unwrap();
    let work = dir.join("work");
    weft_ok(&[
        "train",
        cfg.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    // The wrapped network's tensors are `net.*`, as in PyTorch's state_dict.
    assert_eq!(
        assert_same_state(
            &work.join("iter_5.safetensors"),
            "with_loss_after_5_steps.pth"
        ),
        22
    );
    // The module's own entries are logged by name, the `*loss*` ones summed into `loss`.
    let lines = crate::training::json_lines(&work);
    let train = lines.iter().find(|l| l["mode"] == "train").unwrap();
    assert!(
        train.get("loss_cls").is_some() && train.get("top1_acc").is_some(),
        "{train}"
    );
    assert_eq!(train["loss_cls"], train["loss"]);
    let val = lines.iter().find(|l| l["mode"] == "val").unwrap();
    assert!(val.get("top1_acc").is_some(), "{val}");
}
