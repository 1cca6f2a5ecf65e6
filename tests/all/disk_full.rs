//! The work dir fills up in the middle of a run: the last good checkpoint is never lost,
//! nothing half-written stays behind, and the run ends with one message saying which file
//! could not be written and why.
//!
//! The work dir is a 1.5 MiB tmpfs when this process may mount one (the writes then fail with
//! ENOSPC, as on a full disk); otherwise the run's file-size limit is lowered once its first
//! checkpoints exist (`prlimit`, so writes fail with EFBIG). Either way the space runs out
//! after a few checkpoints.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weft_nn::checkpoint;

use crate::support::temp_dir;
use crate::training::small_config;

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

fn mount_small_tmpfs(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1536k", "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_mid_run_keeps_the_last_good_checkpoint_and_says_what_failed() {
    let dir = temp_dir("disk-full");
    let cfg = small_config(
        &dir,
        &["checkpoint_config"],
        "total_epochs = 3\ncheckpoint_config = { interval = 2, by_epoch = false }",
    );
    let work = dir.join("work");
    let mounted = mount_small_tmpfs(&work);
    let _guard = mounted.then(|| Mounted(&work));

    let child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            // SIGXFSZ ignored: past the file-size limit a write fails instead of killing.
            "trap '' XFSZ; exec {} train {} --work-dir {} --cfg-options data.train.num_samples=320 data.val.num_samples=64",
            env!("CARGO_BIN_EXE_weft"),
            cfg.display(),
            work.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !mounted {
        // No tmpfs here: once two checkpoints exist, no file of the run may grow past 64 KiB.
        let started = Instant::now();
        while !work.join("iter_4.safetensors").exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint");
            std::thread::sleep(Duration::from_millis(2));
        }
        let limited = Command::new("prlimit")
            .arg(format!("--pid={}", child.id()))
            .arg("--fsize=65536")
            .status()
            .unwrap();
        assert!(limited.success(), "prlimit failed");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot save") && stderr.contains(".safetensors"),
        "{stderr}"
    );
    assert!(
        stderr.contains("No space left on device") || stderr.contains("File too large"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // `latest` names the last checkpoint that was written whole, and it loads.
    let latest = std::fs::read_link(work.join("latest.safetensors")).unwrap();
    let loaded = checkpoint::read(&work.join(&latest)).unwrap();
    let iter = loaded.meta["meta"]["iter"].as_u64().unwrap();
    assert!(
        (2..30).contains(&iter),
        "latest is {latest:?} (iter {iter})"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
