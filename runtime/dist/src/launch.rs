//! `weft dist-train`: torchrun's job for the ranks of one machine, without Python. Every
//! local rank is this program again with torchrun's variables set; the launcher watches them,
//! and when one fails it stops the others (SIGTERM, then SIGKILL after a grace period) and
//! says which rank failed. Children die with the launcher (`PR_SET_PDEATHSIG`), so no rank
//! outlives it.
#![allow(
    unsafe_code,
    reason = "sets the parent-death signal in the child before exec"
)]

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::DistError;

/// Where and how many ranks to start.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The program each rank runs, and its arguments.
    pub program: OsString,
    /// Arguments (`train CONFIG --launcher pytorch ...`).
    pub args: Vec<OsString>,
    /// Ranks on this machine.
    pub nproc: usize,
    /// Machines.
    pub nnodes: usize,
    /// This machine's index.
    pub node_rank: usize,
    /// The store's host.
    pub master_addr: String,
    /// The store's port (`None`: a free port, on one machine only).
    pub master_port: Option<u16>,
    /// How long the others get to exit after one rank failed.
    pub grace: Duration,
}

/// How the ranks ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// Every rank exited with status 0.
    Success,
    /// The rank whose failure ended the run, and how (the others were stopped): the first
    /// found, or among ranks found ended together one killed by a signal (the cause).
    Failed {
        /// Its global rank.
        rank: usize,
        /// Its exit code, or 128 + the signal that killed it.
        code: i32,
        /// In words.
        how: String,
    },
}

/// A free TCP port on the loopback interface (for one-machine runs).
pub fn free_port() -> Result<u16, DistError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| DistError::Launch(format!("cannot find a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| DistError::Launch(format!("cannot find a free port: {e}")))
}

/// Starts the local ranks and waits for them.
pub fn launch(spec: &LaunchSpec) -> Result<LaunchOutcome, DistError> {
    if spec.nproc == 0 || spec.nnodes == 0 {
        return Err(DistError::Launch(
            "--nproc and --nnodes must be at least 1".into(),
        ));
    }
    if spec.node_rank >= spec.nnodes {
        return Err(DistError::Launch(format!(
            "--node-rank {} is not below --nnodes {}",
            spec.node_rank, spec.nnodes
        )));
    }
    let port = match spec.master_port {
        Some(p) => p,
        None if spec.nnodes == 1 => free_port()?,
        None => 29500,
    };
    let world = spec.nproc * spec.nnodes;
    // Ranks share the machine's cores: torchrun's rule, one intra-op thread per rank unless
    // the user chose, is too slow on small machines; give each rank its share instead.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / spec.nproc).max(1).to_string();
    let mut children: Vec<(usize, Child)> = Vec::with_capacity(spec.nproc);
    for local in 0..spec.nproc {
        let rank = spec.node_rank * spec.nproc + local;
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env("RANK", rank.to_string())
            .env("LOCAL_RANK", local.to_string())
            .env("WORLD_SIZE", world.to_string())
            .env("LOCAL_WORLD_SIZE", spec.nproc.to_string())
            .env("GROUP_RANK", spec.node_rank.to_string())
            .env("MASTER_ADDR", &spec.master_addr)
            .env("MASTER_PORT", port.to_string())
            .env_remove("TORCHELASTIC_USE_AGENT_STORE");
        if std::env::var_os("OMP_NUM_THREADS").is_none() {
            cmd.env("OMP_NUM_THREADS", &threads);
        }
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => children.push((rank, child)),
            Err(e) => {
                stop(&mut children, spec.grace);
                return Err(DistError::Launch(format!(
                    "cannot start rank {rank} ({}): {e}",
                    spec.program.to_string_lossy()
                )));
            }
        }
    }
    watch(children, spec.grace)
}

fn watch(mut children: Vec<(usize, Child)>, grace: Duration) -> Result<LaunchOutcome, DistError> {
    loop {
        let mut running = 0;
        // The failed rank to report, by index. One sweep can find several ended: a rank
        // killed by a signal, and a peer that failed on the lost connection within the same
        // poll interval. The signal is the cause and the other's exit its consequence, so a
        // signal death wins over an exit status (then the lowest rank).
        let mut failed: Option<(usize, ExitStatus)> = None;
        let mut unwatchable = None;
        for (i, (rank, child)) in children.iter_mut().enumerate() {
            match child.try_wait() {
                Ok(Some(status)) if !status.success() => {
                    let cause = match failed {
                        None => true,
                        Some((_, first)) => first.signal().is_none() && status.signal().is_some(),
                    };
                    if cause {
                        failed = Some((i, status));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => running += 1,
                Err(e) => {
                    unwatchable = Some(format!("cannot watch rank {rank}: {e}"));
                    break;
                }
            }
        }
        if let Some(message) = unwatchable {
            stop(&mut children, grace);
            return Err(DistError::Launch(message));
        }
        if let Some((i, status)) = failed {
            let (rank, _) = children.remove(i);
            let (code, how) = describe(status);
            stop(&mut children, grace);
            return Ok(LaunchOutcome::Failed { rank, code, how });
        }
        if running == 0 {
            return Ok(LaunchOutcome::Success);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM to every rank still running, SIGKILL to those left after `grace`; reaps all.
fn stop(children: &mut [(usize, Child)], grace: Duration) {
    for (_, child) in children.iter() {
        // SAFETY: signalling a child we spawned and have not reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    for (_, child) in children.iter_mut() {
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

fn describe(status: ExitStatus) -> (i32, String) {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, format!("exited with status {code}")),
        (None, Some(sig)) => (128 + sig, format!("was killed by signal {sig}")),
        (None, None) => (1, "ended abnormally".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Child {
        Command::new("sh").args(["-c", script]).spawn().unwrap()
    }

    #[test]
    fn a_rank_killed_by_a_signal_is_the_cause_over_a_peer_that_exited_in_the_same_sweep() {
        // Rank 0 exits with an error (as a peer does when its connection drops) and rank 1
        // dies of SIGKILL; both have ended before the first sweep sees them.
        let mut children = vec![(0, shell("exit 2")), (1, shell("kill -9 $$"))];
        for (_, child) in &mut children {
            while child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // `try_wait` reaped them; the watcher sees the same statuses through its own handles.
        let outcome = watch(children, Duration::from_secs(1)).unwrap();
        let LaunchOutcome::Failed { rank, code, how } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!((rank, code), (1, 137), "{how}");
        assert!(how.contains("killed by signal 9"), "{how}");
    }
}
