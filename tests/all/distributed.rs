//! Data-parallel training on c10d's Gloo backend, ranks on 127.0.0.1: `weft dist-train` and
//! torchrun launches, DDP's arithmetic against one process with the whole batch, a rank of
//! Python `torch.distributed` in the same group, a rank that dies, and launch mistakes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{temp_dir, weft_err};
use crate::training::{model_tensors, small_config};

/// LeNet-5, SGD with momentum and weight decay, gradient clipping, evaluation at the end;
/// `batch` samples per rank.
fn config(dir: &Path, batch: usize, extra: &str) -> PathBuf {
    let cfg = small_config(
        dir,
        &["workflow", "lr_config", "evaluation"],
        &format!(
            "total_epochs = 1\nworkflow = [[\"train\", 1]]\nlr_config = {{ policy = \"fixed\" }}\n\
             dist_params = {{ backend = \"gloo\", timeout = 60 }}\n{extra}"
        ),
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "samples_per_gpu = 32",
            &format!("samples_per_gpu = {batch}"),
        )
        .replace("workers_per_gpu = 2", "workers_per_gpu = 0")
        .replace("num_samples = 256 }", "num_samples = 101 }")
        .replace("num_samples = 960", "num_samples = 256");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

fn done(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The evaluation results the JSON log recorded.
fn eval_record(work: &Path) -> serde_json::Value {
    let logs: Vec<PathBuf> = std::fs::read_dir(work)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".log.json"))
        .collect();
    assert_eq!(
        logs.len(),
        1,
        "one JSON log, written by rank 0 alone: {logs:?}"
    );
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("mode").and_then(|m| m.as_str()) == Some("val"))
        .expect("an evaluation record")
}

fn max_difference(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(
        a.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        b.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    a.iter()
        .zip(b)
        .flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn two_ranks_of_batch_b_train_as_one_process_of_batch_2b() {
    let dir = temp_dir("dist-equal");
    let evaluation = "evaluation = { interval = 1, metrics = [\"top_k_accuracy\"] }";
    let one = config(&dir.join("one"), 32, evaluation);
    let two = config(&dir.join("two"), 16, evaluation);
    let (w1, w2, wt) = (dir.join("w1"), dir.join("w2"), dir.join("wt"));
    done(
        weft()
            .args(["train", one.to_str().unwrap(), "--work-dir"])
            .arg(&w1)
            .output()
            .unwrap(),
        "one process",
    );
    let out = done(
        weft()
            .args([
                "dist-train",
                two.to_str().unwrap(),
                "--nproc",
                "2",
                "--work-dir",
            ])
            .arg(&w2)
            .output()
            .unwrap(),
        "weft dist-train --nproc 2",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("data-parallel: rank 0 of 2 (gloo"),
        "{stdout}"
    );
    // 256 samples: 8 batches of 32 in one process, 8 of 16 on each rank.
    assert!(
        stdout.contains("train data: FashionMNIST(train) (256 samples), 8 batches of 16"),
        "{stdout}"
    );
    // The same checkpoints, written once (by rank 0).
    let checkpoints = |w: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(w)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".safetensors"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(checkpoints(&w1), checkpoints(&w2));
    let expected = model_tensors(&w1.join("epoch_1.safetensors"));
    let got = model_tensors(&w2.join("epoch_1.safetensors"));
    let diff = max_difference(&expected, &got);
    assert!(diff < 1e-6, "weights differ by {diff}");
    // Evaluation: each rank scores its half (51 of 101, one padded), rank 0 sees all 101.
    let (e1, e2) = (eval_record(&w1), eval_record(&w2));
    let acc = |v: &serde_json::Value| v["top1_acc"].as_f64().unwrap();
    assert!(
        (acc(&e1) - acc(&e2)).abs() <= 1.0 / 101.0 + 1e-9,
        "{e1} vs {e2}"
    );
    let logs = std::fs::read_dir(&w2)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .count();
    assert_eq!(logs, 1, "only rank 0 writes the text log");

    // torchrun starts the same ranks (its agent serves the store): the same weights.
    let torchrun = crate::pth::torch_python().with_file_name("torchrun");
    done(
        Command::new(torchrun)
            .args(["--nproc-per-node", "2", "--master-port"])
            .arg(weft_dist::launch::free_port().unwrap().to_string())
            .args(["--no-python", env!("CARGO_BIN_EXE_weft"), "train"])
            .arg(&two)
            .args(["--launcher", "pytorch", "--work-dir"])
            .arg(&wt)
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap(),
        "torchrun",
    );
    let via_torchrun = model_tensors(&wt.join("epoch_1.safetensors"));
    assert!(max_difference(&got, &via_torchrun) < 1e-6);
}

#[test]
fn three_ranks_share_the_data_and_agree_on_a_stop() {
    let dir = temp_dir("dist-three");
    // The built-in early stopping stops at the second evaluation (iteration 10; nothing
    // improves by 1.0): every rank computes the same metrics, and they stop together.
    let cfg = config(
        &dir,
        8,
        "evaluation = { interval = 5, by_epoch = false, metrics = [\"top_k_accuracy\"] }\n\
         custom_hooks = [{ type = \"EarlyStoppingHook\", monitor = \"top1_acc\", patience = 1, min_delta = 1.0 }]",
    );
    let work = dir.join("work");
    let out = done(
        weft()
            .args([
                "dist-train",
                cfg.to_str().unwrap(),
                "--nproc",
                "3",
                "--work-dir",
            ])
            .arg(&work)
            .output()
            .unwrap(),
        "weft dist-train --nproc 3",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rank 0 of 3"), "{stdout}");
    assert!(stdout.contains("training stopped early"), "{stdout}");
    // ceil(256 / 3) = 86 samples per rank: 11 batches of 8.
    assert!(stdout.contains("11 batches of 8"), "{stdout}");
    assert!(stdout.contains("Epoch [1][10/11]"), "{stdout}");
    assert!(!stdout.contains("Epoch [1][11/11]"), "{stdout}");
}

/// Rank 1 is Python's `torch.distributed` on the same TCPStore and Gloo group.
const PYTHON_RANK: &str = r#"
import datetime, sys, torch, torch.distributed as dist
timeout = datetime.timedelta(seconds=60)
store = dist.TCPStore("127.0.0.1", int(sys.argv[1]), 2, False, timeout=timeout)
group = dist.ProcessGroupGloo(dist.PrefixStore("weft/", store), 1, 2, timeout)
t = torch.arange(4, dtype=torch.float32) * 10
group.allreduce([t]).wait()
b = torch.zeros(3, dtype=torch.int64)
group.broadcast(b, 0).wait()
print(t.tolist(), b.tolist())
"#;

#[test]
fn a_weft_rank_and_a_python_torch_distributed_rank_form_one_group() {
    let port = weft_dist::launch::free_port().unwrap();
    let python = Command::new(crate::pth::torch_python())
        .args(["-c", PYTHON_RANK, &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rdv = weft_dist::Rendezvous {
        master_addr: "127.0.0.1".into(),
        master_port: port,
        rank: 0,
        world_size: 2,
        local_rank: 0,
        host_store: true,
        prefix: "weft/".into(),
        timeout: Duration::from_secs(60),
        backend: weft_dist::Backend::Gloo,
    };
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]);
    let b = tch::Tensor::from_slice(&[7i64, 8, 9]);
    let ours = weft_dist::ProcessGroup::connect(&rdv).and_then(|group| {
        group.allreduce(std::slice::from_ref(&t), weft_dist::ReduceOp::Sum)?;
        group.broadcast(std::slice::from_ref(&b), 0)
    });
    let out = python.wait_with_output().unwrap();
    if let Err(e) = ours {
        panic!(
            "the weft rank failed: {e}\nthe Python rank said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        Vec::<f32>::try_from(&t).unwrap(),
        vec![1.0, 12.0, 23.0, 34.0]
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[1.0, 12.0, 23.0, 34.0] [7, 8, 9]"
    );
}

/// The pids of `parent`'s children.
fn children(parent: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn rank_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("RANK=").map(str::to_string))
}

/// `weft dist-train CFG --nproc 2` started in `work`, once its ranks train (rank 0's JSON log
/// has a record): the launcher and the pids of its ranks 0 and 1.
fn training_pair(cfg: &Path, work: &Path) -> (std::process::Child, Vec<u32>, u32) {
    let launcher = weft()
        .args([
            "dist-train",
            cfg.to_str().unwrap(),
            "--nproc",
            "2",
            "--work-dir",
        ])
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let log_started = || {
        std::fs::read_dir(work).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name().to_string_lossy().ends_with(".log.json")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        })
    };
    while !log_started() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the ranks never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ranks = children(launcher.id());
    assert_eq!(ranks.len(), 2, "{ranks:?}");
    let rank1 = *ranks
        .iter()
        .find(|p| rank_of(**p).as_deref() == Some("1"))
        .expect("rank 1's process");
    (launcher, ranks, rank1)
}

/// Whether a process is gone (or only a zombie waiting for its parent).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

#[test]
fn a_rank_killed_mid_run_stops_the_others_with_its_rank_named() {
    let dir = temp_dir("dist-kill");
    let cfg = config(&dir, 4, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("total_epochs = 1", "total_epochs = 50");
    std::fs::write(&cfg, text).unwrap();
    // Both ranks train; then rank 1 is killed.
    let (launcher, ranks, victim) = training_pair(&cfg, &dir.join("work"));
    let killed_at = Instant::now();
    signal(victim, "-9");
    let out = launcher.wait_with_output().unwrap();
    assert!(
        killed_at.elapsed() < Duration::from_secs(30),
        "the launcher took {:?}",
        killed_at.elapsed()
    );
    assert_eq!(out.status.code(), Some(128 + 9));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rank 1 was killed by signal 9"), "{stderr}");
    for pid in ranks {
        assert!(gone(pid), "rank process {pid} outlived the launcher");
    }
}

#[test]
fn launch_mistakes_are_refused_with_what_to_do() {
    let dir = temp_dir("dist-mistakes");
    let cfg = config(&dir, 8, "");
    let without_env = weft_err(&["train", cfg.to_str().unwrap(), "--launcher", "pytorch"]);
    assert!(without_env.contains("WORLD_SIZE"), "{without_env}");
    let bad_backend = config(&dir.join("b"), 8, "");
    let text = std::fs::read_to_string(&bad_backend)
        .unwrap()
        .replace("backend = \"gloo\"", "backend = \"mpi\"");
    std::fs::write(&bad_backend, text).unwrap();
    let err = weft_err(&["train", bad_backend.to_str().unwrap()]);
    assert!(
        err.contains("dist_params.backend must be \"gloo\" or \"nccl\"") && err.contains(":"),
        "{err}"
    );
    if !tch::Cuda::is_available() {
        let nccl = config(&dir.join("n"), 8, "");
        let text = std::fs::read_to_string(&nccl)
            .unwrap()
            .replace("backend = \"gloo\"", "backend = \"nccl\"");
        std::fs::write(&nccl, text).unwrap();
        let out = weft()
            .args(["dist-train", nccl.to_str().unwrap(), "--nproc", "2"])
            .args(["--work-dir"])
            .arg(dir.join("nw"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("needs CUDA devices and this machine has none"),
            "{stderr}"
        );
    }
}

/// The directory of the libtorch this test process runs on (the one weft links).
fn libtorch_dir() -> PathBuf {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let lib = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .expect("libtorch_cpu.so is mapped");
    Path::new(lib).parent().unwrap().to_path_buf()
}

#[test]
fn nccl_is_built_against_a_cuda_libtorch_and_refuses_a_machine_without_gpus() {
    if !libtorch_dir().join("libtorch_cuda.so").exists() {
        // A CPU-only libtorch: Gloo alone, and the launch test covers the refusal.
        assert!(!weft_dist::ProcessGroup::nccl_built());
        return;
    }
    assert!(
        weft_dist::ProcessGroup::nccl_built(),
        "libtorch has CUDA but weft-dist was built without ProcessGroupNCCL (see its build warning)"
    );
    // The CUDA half of libtorch must be among weft's libraries: its static initialisers are
    // what make CUDA usable at all, and the linker drops it unless told not to.
    let dynamic = Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_weft")])
        .output()
        .unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(dynamic.contains("[libtorch_cuda.so]"), "{dynamic}");
    if tch::Cuda::is_available() {
        return; // the GPU path is checked on a device (docs/distributed.md)
    }
    // Past weft's own check: the real ProcessGroupNCCL path, on a machine without GPUs.
    let rdv = weft_dist::Rendezvous {
        master_addr: "127.0.0.1".into(),
        master_port: weft_dist::launch::free_port().unwrap(),
        rank: 0,
        world_size: 1,
        local_rank: 0,
        host_store: true,
        prefix: "weft/".into(),
        timeout: Duration::from_secs(10),
        backend: weft_dist::Backend::Nccl,
    };
    let err = match weft_dist::ProcessGroup::connect(&rdv) {
        Ok(_) => panic!("an NCCL group formed on a machine without GPUs"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("rank 0 cannot join")
            && err.contains("needs CUDA device 0 and this machine has 0"),
        "{err}"
    );
}

/// Every tensor of a checkpoint (weights and optimizer state), by name.
fn all_tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let loaded = weft_nn::checkpoint::read(path).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = loaded
        .tensors
        .iter()
        .map(|(k, t)| {
            let flat = t.flatten(0, -1).to_kind(tch::Kind::Double);
            let values = Vec::<f64>::try_from(&flat).unwrap();
            (
                k.clone(),
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn resumable_config(dir: &Path) -> PathBuf {
    let cfg = config(dir, 8, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("total_epochs = 1", "total_epochs = 4")
        .replace(
            "checkpoint_config = { interval = 1 }",
            "checkpoint_config = { interval = 4, by_epoch = false }",
        );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// `weft dist-train CFG --nproc 2 --auto-resume --work-dir WORK` (a fresh work dir starts
/// from scratch).
fn dist_train(cfg: &Path, work: &Path) -> Command {
    let mut cmd = weft();
    cmd.args([
        "dist-train",
        cfg.to_str().unwrap(),
        "--nproc",
        "2",
        "--auto-resume",
    ])
    .arg("--work-dir")
    .arg(work);
    cmd
}

#[test]
fn two_ranks_killed_and_resumed_end_bit_identical_and_resume_in_one_process() {
    let dir = temp_dir("dist-resume");
    let cfg = resumable_config(&dir);
    let (straight, broken) = (dir.join("straight"), dir.join("broken"));
    done(
        dist_train(&cfg, &straight).output().unwrap(),
        "uninterrupted run",
    );
    // 256 samples, 8 per rank: 16 iterations per epoch, 64 in all; the kill comes after
    // iteration 8, with 56 still to run however fast the machine is.
    let last = "iter_64.safetensors";
    assert!(straight.join(last).exists());

    let launcher = dist_train(&cfg, &broken)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !broken.join("iter_8.safetensors").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let victim = children(launcher.id())
        .into_iter()
        .find(|p| rank_of(*p).as_deref() == Some("1"))
        .expect("rank 1");
    signal(victim, "-9");
    let out = launcher.wait_with_output().unwrap();
    assert!(!out.status.success(), "the run was cut");
    assert!(
        !broken.join(last).exists(),
        "the kill came after the run had ended; nothing was resumed"
    );
    let resumed = done(dist_train(&cfg, &broken).output().unwrap(), "resumed run");
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("resumed from"));
    assert!(
        all_tensors(&straight.join(last)) == all_tensors(&broken.join(last)),
        "the resumed 2-rank run differs from the uninterrupted one"
    );

    // The 2-rank checkpoint at iter 8 (8 batches of 8 on each rank) resumes in one process
    // with batch 8: iter 16, 16 batches into the epoch, the same 128 samples seen.
    let one = dir.join("one");
    let out = done(
        weft()
            .args(["train", cfg.to_str().unwrap(), "--resume-from"])
            .arg(straight.join("iter_8.safetensors"))
            .arg("--work-dir")
            .arg(&one)
            .output()
            .unwrap(),
        "resume in one process",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "the checkpoint was written by 2 rank(s) and resumes on 1: iter 8 -> 16, batches taken this epoch 8 -> 16"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("seen again or skipped"), "{stdout}");
    // One process takes 32 batches of 8 per epoch: 128 iterations in all.
    assert!(one.join("iter_128.safetensors").exists());
}

#[test]
fn plugins_on_wit_0_2_0_and_0_3_0_read_their_rank_and_a_stop_on_one_rank_stops_every_rank() {
    let dir = temp_dir("dist-plugin");
    // The Rust SDK's probe asks for the stop; the C, Zig, Python, JavaScript and Go SDKs'
    // probes say their ranks.
    let probe = crate::guests::guest("rank_probe");
    let probe_c = crate::guests::fixture_in("c", "rank_probe_c");
    let probe_zig = crate::guests::fixture_in("zig", "rank_probe_zig");
    let probe_python = crate::guests::fixture_in("python", "rank_probe_python");
    let probe_js = crate::guests::fixture_in("js", "rank_probe_js");
    let probe_go = crate::guests::fixture_in("go", "rank_probe_go");
    let cfg = config(
        &dir,
        8,
        &format!(
            "custom_imports = {{ imports = [{:?}, {:?}, {:?}, {:?}, {:?}, {:?}] }}\n\
             custom_hooks = [{{ type = \"RankProbe\", stop_rank = 1, stop_iter = 2, save_iter = 1 }}, \
             {{ type = \"RankProbeC\" }}, {{ type = \"RankProbeZig\" }}, {{ type = \"RankProbePython\" }}, \
             {{ type = \"RankProbeJs\" }}, {{ type = \"RankProbeGo\" }}]",
            probe.to_str().unwrap(),
            probe_c.to_str().unwrap(),
            probe_zig.to_str().unwrap(),
            probe_python.to_str().unwrap(),
            probe_js.to_str().unwrap(),
            probe_go.to_str().unwrap()
        ),
    );
    let out = done(
        weft()
            .args([
                "dist-train",
                cfg.to_str().unwrap(),
                "--nproc",
                "2",
                "--work-dir",
            ])
            .arg(dir.join("two"))
            .output()
            .unwrap(),
        "two ranks with plugins on 0.2.0 and 0.3.0",
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // Go's hooks are built on 0.2.0, the other five languages' on 0.3.0.
    assert!(stdout.contains("weft:plugin@0.2.0"), "{stdout}");
    assert!(stdout.contains("weft:plugin@0.3.0"), "{stdout}");
    assert!(
        stdout.contains("[RankProbe] rank 0 of 2 (local rank 0)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("[RankProbe] rank 1 of 2 (local rank 1)"),
        "{stderr}"
    );
    for (ty, lang) in [
        ("C", "C"),
        ("Zig", "Zig"),
        ("Python", "Python"),
        ("Js", "JS"),
        ("Go", "Go"),
    ] {
        assert!(
            stdout.contains(&format!(
                "[RankProbe{ty}] {lang}: rank 0 of 2 (local rank 0)"
            )),
            "{stdout}"
        );
        assert!(
            stderr.contains(&format!(
                "[RankProbe{ty}] {lang}: rank 1 of 2 (local rank 1)"
            )),
            "{stderr}"
        );
    }
    // Rank 1 asked after iteration 3 (iter 2); rank 0, whose plugin did not, stops with it.
    assert!(
        stdout.contains("training stopped early: a hook on another rank asked to stop"),
        "{stdout}"
    );
    // Its checkpoint request after iteration 2 (iter 1), made on rank 1 alone, is written by
    // rank 0 at the end of that iteration.
    assert!(dir.join("two/iter_2.safetensors").exists());
    // One process: rank 0 of 1, and no rank 1 to stop the run.
    let out = done(
        weft()
            .args(["train", cfg.to_str().unwrap(), "--work-dir"])
            .arg(dir.join("one"))
            .output()
            .unwrap(),
        "one process with plugins on 0.2.0 and 0.3.0",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[RankProbe] rank 0 of 1 (local rank 0)")
            && stdout.contains("[RankProbeC] C: rank 0 of 1 (local rank 0)")
            && stdout.contains("[RankProbeZig] Zig: rank 0 of 1 (local rank 0)")
            && stdout.contains("[RankProbePython] Python: rank 0 of 1 (local rank 0)")
            && stdout.contains("[RankProbeJs] JS: rank 0 of 1 (local rank 0)")
            && stdout.contains("[RankProbeGo] Go: rank 0 of 1 (local rank 0)"),
        "{stdout}"
    );
    assert!(!stdout.contains("stopped early"), "{stdout}");
}

/// `kill -SIG pid` through the command (the tests deny unsafe code).
fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `weft train CFG --launcher pytorch` as torchrun would start rank `rank` of 2, its store at
/// 127.0.0.1:`port`.
fn torchrun_rank(cfg: &Path, work: &Path, rank: &str, port: &str) -> Command {
    let mut cmd = weft();
    cmd.args([
        "train",
        cfg.to_str().unwrap(),
        "--launcher",
        "pytorch",
        "--work-dir",
    ])
    .arg(work)
    .envs([("RANK", rank), ("WORLD_SIZE", "2"), ("MASTER_PORT", port)]);
    cmd
}

#[test]
fn a_hung_rank_an_unreachable_store_and_differing_configs_end_with_one_clear_message() {
    let dir = temp_dir("dist-hang");
    let cfg = config(&dir, 4, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("total_epochs = 1", "total_epochs = 50")
        .replace("timeout = 60", "timeout = 5");
    std::fs::write(&cfg, text).unwrap();
    let work = dir.join("work");

    // A rank that stops answering (SIGSTOP): rank 0's next collective times out after
    // dist_params.timeout (5 s), rank 0 exits saying why, the launcher stops the hung rank.
    let (launcher, _, hung) = training_pair(&cfg, &work);
    let stopped_at = Instant::now();
    signal(hung, "-STOP");
    let out = launcher.wait_with_output().unwrap();
    assert!(
        stopped_at.elapsed() < Duration::from_secs(40),
        "took {:?}",
        stopped_at.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another rank died, hung or left")
            || stderr.contains("rank 0 lost the other ranks"),
        "{stderr}"
    );
    assert!(
        stderr.contains("weft dist-train: rank 0 exited with status"),
        "{stderr}"
    );
    assert!(gone(hung), "the hung rank outlived the launcher");

    // A store nobody serves: the rendezvous gives up after the timeout, once, in weft's words.
    let port = weft_dist::launch::free_port().unwrap().to_string();
    let out = torchrun_rank(&cfg, &dir.join("alone"), "1", &port)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("rank 1 cannot join the group at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");

    // Ranks started with different configs refuse to train together.
    let port = weft_dist::launch::free_port().unwrap().to_string();
    let rank = |r: &str, extra: &[&str]| {
        torchrun_rank(&cfg, &dir.join("mixed"), r, &port)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let r0 = rank("0", &[]);
    let r1 = rank("1", &["--cfg-options", "optimizer.lr=0.1"]);
    for (name, child) in [("rank 0", r0), ("rank 1", r1)] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} trained");
        assert!(
            stderr.contains("rank(s) 1 have a different config or plugin set than rank 0"),
            "{name}: {stderr}"
        );
    }
}

/// A linear model with two parameters no layer uses, trained by accumulating gradients over
/// two micro-batches; `batch` samples per rank per micro-batch.
fn accumulating_config(dir: &Path, batch: usize, find_unused: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    // 16 fixed samples: y = (x0 + x1, x1 - x2), so the loss has somewhere to go.
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for i in 0..16 {
        let x = [i as f64 * 0.1, 1.0 - i as f64 * 0.05, (i % 3) as f64];
        inputs.push(format!("[{}, {}, {}]", x[0], x[1], x[2]));
        targets.push(format!("[{}, {}]", x[0] + x[1], x[1] - x[2]));
    }
    let text = format!(
        r#"device = "cpu"
find_unused_parameters = {find_unused}
model = {{ type = "Modules", loss = "mse", layers = [{{ name = "fc", type = "Linear", in_features = 3, out_features = 2 }}], params = [{{ name = "unused.weight", shape = [1, 3] }}, {{ name = "unused.bias", shape = [1] }}] }}
optimizer = {{ type = "SGD", lr = 0.05, momentum = 0.9 }}
optimizer_config = {{ type = "GradientCumulativeOptimizerHook", cumulative_iters = 2 }}
lr_config = {{ policy = "fixed" }}
runner = {{ type = "IterBasedRunner", max_iters = 8 }}
checkpoint_config = {{ interval = 8 }}
log_config = {{ interval = 1, hooks = [{{ type = "TextLoggerHook" }}] }}
dist_params = {{ backend = "gloo", timeout = 60 }}

[data]
samples_per_gpu = {batch}
workers_per_gpu = 0
train_dataloader = {{ shuffle = false }}
train = {{ type = "InMemory", inputs = [{}], targets = [{}] }}
"#,
        inputs.join(", "),
        targets.join(", ")
    );
    let path = dir.join("accumulate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn accumulated_steps_and_unused_parameters_average_as_ddp_does() {
    let dir = temp_dir("dist-accumulate");
    // One process with micro-batches of 4 against two ranks with 2 each: the same steps, the
    // allreduce only at each step's last micro-batch, the unused parameters left alone.
    let (w1, w2) = (dir.join("w1"), dir.join("w2"));
    done(
        weft()
            .args(["train"])
            .arg(accumulating_config(&dir.join("one"), 4, true))
            .arg("--work-dir")
            .arg(&w1)
            .output()
            .unwrap(),
        "one process",
    );
    done(
        dist_train(&accumulating_config(&dir.join("two"), 2, true), &w2)
            .output()
            .unwrap(),
        "two ranks",
    );
    let expected = model_tensors(&w1.join("iter_8.safetensors"));
    let got = model_tensors(&w2.join("iter_8.safetensors"));
    let diff = max_difference(&expected, &got);
    assert!(diff < 1e-6, "weights differ by {diff}");
    // The unused parameters never got a gradient, not even a zero one: SGD kept no momentum
    // buffer for them, on two ranks as in one process.
    let saved = |w: &Path| {
        let mut keys: Vec<String> = weft_nn::checkpoint::read(&w.join("iter_8.safetensors"))
            .unwrap()
            .tensors
            .into_keys()
            .collect();
        keys.sort();
        keys
    };
    let (one_keys, two_keys) = (saved(&w1), saved(&w2));
    assert_eq!(one_keys, two_keys);
    assert!(
        two_keys
            .iter()
            .any(|k| k == "optimizer.fc.weight.momentum_buffer")
            && !two_keys.iter().any(|k| k.starts_with("optimizer.unused.")),
        "{two_keys:?}"
    );

    // Without find_unused_parameters, DDP refuses a parameter that took no part in the loss,
    // and so does weft, naming it.
    let strict = accumulating_config(&dir.join("strict"), 2, false);
    let out = dist_train(&strict, &dir.join("w3")).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("parameter `unused.weight` received no gradient on rank")
            && stderr.contains("find_unused_parameters = true"),
        "{stderr}"
    );
}
