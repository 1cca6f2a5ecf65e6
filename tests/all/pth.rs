//! PyTorch's checkpoint files: `.pth` written by real `torch.save` (tests/fixtures/pth/,
//! recorded by record.py there) read without Python, files weft writes read back by real
//! `torch.load`, what must be refused, and `load_from`, `weft test` and `weft convert` on them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tch::{Kind, Tensor};
use weft_nn::pth::{self, PthError};

use crate::support::{fixture, temp_dir, weft_err, weft_json};
use crate::training::{json_lines, model_tensors, small_config, train};
use weft::session::{TrainOptions, prepare};

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("pth/expected.json")).unwrap()).unwrap()
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Float => "float32",
        Kind::Double => "float64",
        Kind::Half => "float16",
        Kind::BFloat16 => "bfloat16",
        Kind::Int64 => "int64",
        Kind::Int => "int32",
        Kind::Bool => "bool",
        Kind::Uint8 => "uint8",
        _ => "other",
    }
}

/// The same description record.py gives: shape, dtype, float64 sum, first four elements.
fn describe(t: &Tensor) -> Value {
    let flat = t.contiguous().flatten(0, -1).to_kind(Kind::Double);
    let n = flat.numel() as i64;
    let first: Vec<f64> = Vec::try_from(flat.narrow(0, 0, n.min(4))).unwrap();
    json!({
        "shape": t.size(),
        "dtype": kind_name(t.kind()),
        "sum": if n == 0 { 0.0 } else { flat.sum(Kind::Double).double_value(&[]) },
        "first": first,
    })
}

fn assert_described(name: &str, got: &Value, want: &Value) {
    assert_eq!(got["shape"], want["shape"], "{name}");
    assert_eq!(got["dtype"], want["dtype"], "{name}");
    // JSON's decimal text comes back within an ulp (serde_json's parser), so compare closely.
    let (a, b) = (
        got["first"].as_array().unwrap(),
        want["first"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{name}");
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
        assert!((x - y).abs() <= 1e-15 * y.abs(), "{name}: {x} vs {y}");
    }
    let (a, b) = (got["sum"].as_f64().unwrap(), want["sum"].as_f64().unwrap());
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{name}: sum {a} vs {b}"
    );
}

#[test]
fn mmcv_checkpoint_reads_with_its_meta_and_every_tensor_as_torch_saved_it() {
    let want = expected();
    let ckpt = pth::read(&fixture("pth/mmcv_lenet.pth")).unwrap();
    // Saved from DataParallel: the names keep `module.` here (load_from strips it).
    assert_eq!(ckpt.state_dict.len(), 10);
    for (name, t) in &ckpt.state_dict {
        let bare = name.strip_prefix("module.").expect("DataParallel names");
        assert_described(name, &describe(t), &want["mmcv_lenet"][bare]);
    }
    assert_eq!(ckpt.meta["epoch"], 3);
    assert_eq!(ckpt.meta["iter"], 2811);
    assert_eq!(ckpt.meta["seed"], 42, "a NumPy int64");
    assert_eq!(
        ckpt.meta["hook_msgs"]["best_score"], 0.875,
        "a NumPy float64"
    );
    assert_eq!(ckpt.meta["CLASSES"], json!(["T-shirt/top", "Trouser"]));
    assert!(ckpt.skipped.is_empty());
    // torch.optim.SGD's state after one step: a momentum buffer per parameter, one group.
    let opt = ckpt.optimizer.expect("the optimizer's state_dict");
    assert_eq!(opt.state.len(), 10);
    assert_eq!(opt.state[0].1[0].0, "momentum_buffer");
    assert_eq!(opt.groups.len(), 1);
    assert_eq!(opt.groups[0]["momentum"], 0.9);
    assert_eq!(opt.groups[0]["params"].as_array().unwrap().len(), 10);
}

#[test]
fn views_sharing_a_storage_and_every_element_type_read_as_torch_saved_them() {
    let want = expected();
    let ckpt = pth::read(&fixture("pth/bare_state_dict.pth")).unwrap();
    let names: Vec<&str> = ckpt.state_dict.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = [
        "base",
        "transposed",
        "slice",
        "half",
        "bfloat",
        "double",
        "long",
        "int",
        "bool",
        "byte",
        "scalar",
        "empty",
        "num_batches_tracked",
    ]
    .to_vec();
    assert_eq!(names, want_names, "file order is kept");
    for (name, t) in &ckpt.state_dict {
        assert_described(name, &describe(t), &want["bare_state_dict"][name.as_str()]);
    }
    assert_eq!(ckpt.meta, Value::Null);
    // Loaded views do not alias: changing one leaves the other as it was.
    let mut base = ckpt.state_dict[0].1.shallow_clone();
    let _ = base.fill_(0.0);
    assert_eq!(
        ckpt.state_dict[1].1.sum(Kind::Double).double_value(&[]),
        276.0
    );
}

fn ckpt_shape(want: &Value, name: &str) -> Vec<i64> {
    want["mmcv_lenet"][name]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap())
        .collect()
}

fn refusal(path: &Path) -> String {
    match pth::read(path) {
        Ok(_) => panic!("{} was read", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn code_in_a_pickle_old_formats_torchscript_and_damaged_files_are_refused_with_one_message() {
    let calls = fixture("pth/calls_code.pth");
    let err = pth::read(&calls).err().unwrap();
    assert!(matches!(err, PthError::Refused(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("posix.system") && text.contains("does not run code"),
        "{text}"
    );
    let err = refusal(&fixture("pth/legacy.pth"));
    assert!(err.contains("before PyTorch 1.6"), "{err}");
    let err = refusal(&fixture("pth/torchscript.pt"));
    assert!(err.contains("TorchScript module"), "{err}");

    // Every truncation of a real checkpoint, and flipped bytes in its pickle: an error, never
    // a panic.
    let dir = temp_dir("pth-damaged");
    let bytes = std::fs::read(fixture("pth/bare_state_dict.pth")).unwrap();
    for cut in (0..bytes.len()).step_by(97) {
        assert!(
            pth::read_bytes(&bytes[..cut], "cut").is_err(),
            "cut at {cut}"
        );
    }
    let mut archive = bytes.clone();
    let pkl = find(&archive, b"\x80\x02").unwrap();
    for i in 0..400 {
        archive[pkl + 2 + i] ^= 0x5a;
        let _ = pth::read_bytes(&archive, "flipped");
        archive[pkl + 2 + i] ^= 0x5a;
    }
    let junk = dir.join("junk.pth");
    std::fs::write(&junk, b"not a checkpoint at all").unwrap();
    assert!(refusal(&junk).contains("neither a torch.save file nor safetensors"));
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The interpreter with PyTorch 2.13.0 (`make setup` installs it).
pub fn torch_python() -> PathBuf {
    let path = crate::support::torch_python();
    assert!(
        path.exists(),
        "{} is missing: run `make setup`",
        path.display()
    );
    path
}

const TORCH_LOAD: &str = r#"
import json, sys, torch
out = {}
for mmap in (False, True):
    ckpt = torch.load(sys.argv[1], weights_only=True, mmap=mmap)
    d = {}
    for k, t in ckpt["state_dict"].items():
        c = t.contiguous().reshape(-1)
        d[k] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                "sum": float(c.double().sum()) if c.numel() else 0.0,
                "first": [float(x) for x in c[:4].double().tolist()]}
    out["mmap" if mmap else "plain"] = {"state_dict": d, "meta": ckpt["meta"],
                                        "type": type(ckpt["state_dict"]).__name__}
print(json.dumps(out))
"#;

#[test]
fn files_weft_writes_load_in_torch_with_weights_only_and_with_mmap() {
    let dir = temp_dir("pth-write");
    let path = dir.join("w.pth");
    let grid = Tensor::arange(12, (Kind::Float, tch::Device::Cpu)).reshape([3, 4]);
    let tensors = vec![
        ("conv.weight".to_string(), grid.tr()), // not contiguous
        ("bn.num_batches_tracked".to_string(), Tensor::from(9i64)),
        (
            "half".to_string(),
            Tensor::from_slice(&[0.5f32, -1.25]).to_kind(Kind::Half),
        ),
        ("mask".to_string(), Tensor::from_slice(&[true, false])),
        (
            "big".to_string(),
            Tensor::from_slice(&[i64::MAX, -(1i64 << 40)]),
        ),
        (
            "empty".to_string(),
            Tensor::zeros([0, 2], (Kind::Float, tch::Device::Cpu)),
        ),
    ];
    let meta = json!({ "epoch": 2, "iter": 40, "lr": [0.1, 0.01], "note": "é", "none": null });
    pth::write(&path, &tensors, &meta).unwrap();

    let out = Command::new(torch_python())
        .args(["-c", TORCH_LOAD, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loaded: Value = serde_json::from_slice(&out.stdout).unwrap();
    for form in ["plain", "mmap"] {
        let got = &loaded[form];
        assert_eq!(got["type"], "OrderedDict", "{form}");
        assert_eq!(got["meta"], meta, "{form}");
        for (name, t) in &tensors {
            assert_described(
                &format!("{form} {name}"),
                &got["state_dict"][name],
                &describe(t),
            );
        }
    }
    // And weft reads its own file back as it wrote it.
    let back = pth::read(&path).unwrap();
    assert_eq!(back.meta, meta);
    for ((n1, a), (n2, b)) in back.state_dict.iter().zip(&tensors) {
        assert_eq!(n1, n2);
        assert!(a.equal(&b.contiguous()), "{n1}");
    }
}

#[test]
fn load_from_takes_an_mmcv_pth_and_reports_keys_as_mmcv_does() {
    let want = expected();
    let dir = temp_dir("pth-load-from");
    let zoo = fixture("pth/mmcv_lenet.pth");
    // lr 0: the weights after one epoch are the loaded ones, `module.` stripped.
    let cfg = small_config(
        &dir,
        &[],
        &format!("load_from = {:?}", zoo.to_str().unwrap()),
    );
    let work = dir.join("work");
    train(
        &cfg,
        &work,
        &[
            "total_epochs=1",
            "data.train.num_samples=64",
            "optimizer.lr=0",
            "optimizer.weight_decay=0",
        ],
        None,
    );
    let trained = model_tensors(&work.join("epoch_1.safetensors"));
    assert_eq!(trained.len(), 10);
    let ckpt = pth::read(&zoo).unwrap();
    for (name, values) in &trained {
        let t = Tensor::from_slice(values).reshape(ckpt_shape(&want, name));
        assert_described(name, &describe(&t), &want["mmcv_lenet"][name]);
    }
    assert!(ckpt.state_dict.len() == 10);

    // A checkpoint lacking the classifier: loaded, with MMCV's warning naming what is missing
    // and what the model does not have.
    let partial = dir.join("partial.pth");
    let mut kept: Vec<(String, Tensor)> = ckpt
        .state_dict
        .into_iter()
        .filter(|(n, _)| !n.starts_with("module.fc3"))
        .collect();
    kept.push(("module.head.extra".into(), Tensor::from(1.0f32)));
    pth::write(&partial, &kept, &Value::Null).unwrap();
    let cfg2 = small_config(
        &dir,
        &[],
        &format!("load_from = {:?}", partial.to_str().unwrap()),
    );
    let work2 = dir.join("work2");
    train(
        &cfg2,
        &work2,
        &["total_epochs=1", "data.train.num_samples=64"],
        None,
    );
    let log = std::fs::read_dir(&work2)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("The model and loaded state dict do not match exactly")
            && text.contains("unexpected key in source state_dict: head.extra")
            && text.contains("missing keys in source state_dict: fc3.bias, fc3.weight"),
        "{text}"
    );
    assert!(!json_lines(&work2).is_empty());

    // Nothing in common (another model's file), or resuming from a PyTorch file: refused.
    let other = small_config(
        &dir,
        &[],
        &format!(
            "load_from = {:?}",
            fixture("pth/bare_state_dict.pth").to_str().unwrap()
        ),
    );
    let err = weft_err(&[
        "train",
        other.to_str().unwrap(),
        "--work-dir",
        dir.join("w3").to_str().unwrap(),
        "--cfg-options",
        "total_epochs=1",
    ]);
    assert!(
        err.contains("none of its tensors has a name the model uses"),
        "{err}"
    );
    // Resuming needs an optimizer state; a bare state_dict has none.
    let err = weft_err(&[
        "train",
        cfg.to_str().unwrap(),
        "--work-dir",
        dir.join("w4").to_str().unwrap(),
        "--resume-from",
        fixture("pth/bare_state_dict.pth").to_str().unwrap(),
        "--cfg-options",
        "total_epochs=1",
    ]);
    assert!(err.contains("without an optimizer state"), "{err}");
}

#[test]
fn an_mmcv_pth_resumes_at_its_epoch_with_torch_optims_state() {
    let dir = temp_dir("pth-resume");
    let zoo = fixture("pth/mmcv_lenet.pth");
    let cfg = small_config(&dir, &[], "");
    let options = |work: &str| TrainOptions {
        config: cfg.clone(),
        work_dir: Some(dir.join(work)),
        cfg_options: vec![
            "total_epochs=4".into(),
            "data.train.num_samples=64".into(),
            "optimizer.lr=0.01".into(),
        ],
        resume_from: Some(zoo.clone()),
        ..TrainOptions::default()
    };
    // The optimizer state as resumed: torch.optim's momentum buffers under weft's names.
    let mut session = prepare(&options("peek")).unwrap();
    let saved = dir.join("peek/state.safetensors");
    session
        .runner
        .ctx
        .engine
        .save_checkpoint(&saved, &json!({}), true)
        .unwrap();
    let ours = weft_nn::checkpoint::read(&saved).unwrap();
    let theirs = pth::read(&zoo).unwrap().optimizer.unwrap();
    let names = [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc1.weight",
    ];
    for (index, name) in names.iter().enumerate() {
        let (i, entries) = &theirs.state[index];
        assert_eq!(*i as usize, index);
        let buf = &ours.tensors[&format!("optimizer.{name}.momentum_buffer")];
        assert!(buf.equal(&entries[0].1), "{name}");
    }
    drop(session);

    // The run goes on at epoch 4 (MMCV's meta: 3 epochs, 2811 iterations done).
    let mut session = prepare(&options("work")).unwrap();
    session.runner.run().unwrap();
    let lines = json_lines(&dir.join("work"));
    let val = lines.iter().find(|l| l.get("mode").is_some()).unwrap();
    assert_eq!(val["epoch"], 4, "{val}");
    assert_eq!(
        lines.iter().filter(|l| l["mode"] == "val").count(),
        2,
        "one evaluation"
    );
    let last = weft_nn::checkpoint::read(&dir.join("work/epoch_4.safetensors")).unwrap();
    assert_eq!(last.meta["meta"]["iter"], 2813);
    assert_eq!(last.meta["meta"]["mmcv_meta"]["mmcv_version"], "1.7.2");
}

#[test]
fn weft_convert_goes_both_ways_and_weft_test_reads_either_file() {
    let dir = temp_dir("pth-convert");
    let cfg = small_config(&dir, &[], "");
    let work = dir.join("work");
    train(
        &cfg,
        &work,
        &["total_epochs=1", "data.train.num_samples=128"],
        None,
    );
    let ours = work.join("epoch_1.safetensors");
    let pth_file = dir.join("lenet.pth");
    let v = weft_json(&[
        "convert",
        ours.to_str().unwrap(),
        "-o",
        pth_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["tensors"], 10);
    assert!(
        v["left_out"][0].as_str().unwrap().contains("optimizer"),
        "{v}"
    );
    let back = dir.join("back.safetensors");
    let v = weft_json(&[
        "convert",
        pth_file.to_str().unwrap(),
        "-o",
        back.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["tensors"], 10);
    assert_eq!(
        model_tensors(&ours),
        model_tensors(&back),
        "bit for bit both ways"
    );
    let meta = pth::read(&pth_file).unwrap().meta;
    assert_eq!(meta["epoch"], 1);
    assert_eq!(meta["weft_model"], "LeNet5");
    assert!(meta.get("hook_states").is_none());

    let test = |ckpt: &Path| {
        weft_json(&[
            "test",
            cfg.to_str().unwrap(),
            ckpt.to_str().unwrap(),
            "--split",
            "val",
            "--json",
        ])["metrics"]
            .clone()
    };
    assert_eq!(test(&ours), test(&pth_file));
    let err = weft_err(&[
        "convert",
        ours.to_str().unwrap(),
        "-o",
        dir.join("x.bin").to_str().unwrap(),
    ]);
    assert!(err.contains(".pth (or .pt)"), "{err}");
}
