//! Where the ranks of a run meet: torchrun's environment, or what `weft dist-train` sets.

use std::time::Duration;

use crate::DistError;

/// The c10d backend (MMCV's `dist_params.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// ProcessGroupGloo: CPU tensors, any machine.
    Gloo,
    /// ProcessGroupNCCL: CUDA tensors.
    Nccl,
}

impl Backend {
    /// `gloo` or `nccl`, as MMCV configs write it.
    pub fn parse(name: &str) -> Result<Backend, DistError> {
        match name {
            "gloo" => Ok(Backend::Gloo),
            "nccl" => Ok(Backend::Nccl),
            other => Err(DistError::Launch(format!(
                "dist_params.backend = {other:?} is not a c10d backend weft runs; use \"gloo\" or \"nccl\""
            ))),
        }
    }
}

/// One rank's view of the rendezvous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous {
    /// The store's host (`MASTER_ADDR`).
    pub master_addr: String,
    /// The store's port (`MASTER_PORT`).
    pub master_port: u16,
    /// This process's rank (`RANK`).
    pub rank: usize,
    /// The number of ranks (`WORLD_SIZE`).
    pub world_size: usize,
    /// The rank on this machine (`LOCAL_RANK`): which GPU it takes.
    pub local_rank: usize,
    /// Whether this process serves the TCPStore (rank 0, unless torchrun's agent does).
    pub host_store: bool,
    /// The store prefix the group's keys live under.
    pub prefix: String,
    /// Bounds the rendezvous and every collective: a rank that is gone or hung makes the
    /// others fail after this long.
    pub timeout: Duration,
    /// The backend.
    pub backend: Backend,
}

impl Rendezvous {
    /// The rendezvous torchrun (or `weft dist-train`) describes in the environment, read
    /// through `var`. Under torchrun's agent store (`TORCHELASTIC_USE_AGENT_STORE=True`) the
    /// agent serves the store and every rank is a client, keyed by the restart attempt.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        backend: Backend,
        timeout: Duration,
    ) -> Result<Rendezvous, DistError> {
        let number = |name: &str| -> Result<usize, DistError> {
            let value = var(name).ok_or_else(|| {
                DistError::Launch(format!(
                    "--launcher pytorch needs {name} in the environment (start weft with torchrun, or use `weft dist-train`)"
                ))
            })?;
            value.trim().parse().map_err(|_| {
                DistError::Launch(format!("{name}={value:?} is not a non-negative integer"))
            })
        };
        let world_size = number("WORLD_SIZE")?;
        let rank = number("RANK")?;
        let local_rank = match var("LOCAL_RANK") {
            Some(_) => number("LOCAL_RANK")?,
            None => rank,
        };
        if world_size == 0 {
            return Err(DistError::Launch(
                "WORLD_SIZE=0: a run needs at least one rank".into(),
            ));
        }
        if rank >= world_size {
            return Err(DistError::Launch(format!(
                "RANK={rank} is not below WORLD_SIZE={world_size}"
            )));
        }
        let master_addr = var("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into());
        let port = var("MASTER_PORT").unwrap_or_else(|| "29500".into());
        let master_port = port
            .trim()
            .parse()
            .map_err(|_| DistError::Launch(format!("MASTER_PORT={port:?} is not a port number")))?;
        let agent = var("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v == "True");
        let prefix = if agent {
            let attempt = var("TORCHELASTIC_RESTART_COUNT").unwrap_or_else(|| "0".into());
            format!("/worker/attempt_{attempt}/weft/")
        } else {
            "weft/".to_string()
        };
        Ok(Rendezvous {
            master_addr,
            master_port,
            rank,
            world_size,
            local_rank,
            host_store: !agent && rank == 0,
            prefix,
            timeout,
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_torchrun_variables() {
        let r = Rendezvous::from_env(
            env(&[
                ("RANK", "1"),
                ("WORLD_SIZE", "2"),
                ("LOCAL_RANK", "1"),
                ("MASTER_ADDR", "10.0.0.1"),
                ("MASTER_PORT", "29600"),
            ]),
            Backend::Gloo,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((r.rank, r.world_size, r.local_rank), (1, 2, 1));
        assert_eq!((r.master_addr.as_str(), r.master_port), ("10.0.0.1", 29600));
        assert!(!r.host_store);
        let r0 = Rendezvous::from_env(
            env(&[("RANK", "0"), ("WORLD_SIZE", "2")]),
            Backend::Gloo,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(
            r0.host_store,
            "rank 0 serves the store without torchrun's agent"
        );
        let agent = Rendezvous::from_env(
            env(&[
                ("RANK", "0"),
                ("WORLD_SIZE", "2"),
                ("TORCHELASTIC_USE_AGENT_STORE", "True"),
                ("TORCHELASTIC_RESTART_COUNT", "3"),
            ]),
            Backend::Gloo,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(!agent.host_store, "the agent serves the store");
        assert_eq!(agent.prefix, "/worker/attempt_3/weft/");
    }

    #[test]
    fn refuses_inconsistent_environments() {
        let err = |pairs: &[(&str, &str)]| {
            Rendezvous::from_env(env(pairs), Backend::Gloo, Duration::from_secs(1))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[("WORLD_SIZE", "2")]).contains("RANK"));
        assert!(err(&[("RANK", "2"), ("WORLD_SIZE", "2")]).contains("not below"));
        assert!(err(&[("RANK", "x"), ("WORLD_SIZE", "2")]).contains("not a non-negative"));
        assert!(err(&[("RANK", "0"), ("WORLD_SIZE", "0")]).contains("at least one"));
        assert!(
            err(&[("RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_PORT", "99999")]).contains("port")
        );
        assert!(
            Backend::parse("mpi")
                .unwrap_err()
                .to_string()
                .contains("gloo")
        );
    }
}
