//! Allreduce of 1M and 16M floats between 2 ranks on this machine through weft's c10d shim
//! (Gloo); `benches/allreduce.sh` runs it alternately with Python's `torch.distributed` on the
//! same sizes. Without RANK in the environment it starts the two ranks itself; rank 0 prints
//! one JSON line per size: {"impl", "floats", "median_ms", "runs"}.

use std::time::{Duration, Instant};

use tch::{Kind, Tensor};
use weft_dist::{Backend, ProcessGroup, ReduceOp, Rendezvous};

const SIZES: [i64; 2] = [1 << 20, 16 << 20];
const WARMUP: usize = 5;
const RUNS: usize = 30;

fn main() {
    if std::env::var_os("RANK").is_none() {
        launch();
        return;
    }
    let rdv = Rendezvous::from_env(
        |k| std::env::var(k).ok(),
        Backend::Gloo,
        Duration::from_secs(120),
    )
    .expect("torchrun-style environment");
    let group = ProcessGroup::connect(&rdv).expect("the group forms");
    for n in SIZES {
        let t = Tensor::ones([n], (Kind::Float, tch::Device::Cpu));
        let mut times = Vec::with_capacity(RUNS);
        for i in 0..WARMUP + RUNS {
            group.barrier().expect("barrier");
            let start = Instant::now();
            group
                .allreduce(std::slice::from_ref(&t), ReduceOp::Sum)
                .expect("allreduce");
            if i >= WARMUP {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        if rdv.rank == 0 {
            println!(
                "{{\"impl\": \"weft c10d\", \"floats\": {n}, \"median_ms\": {:.3}, \"runs\": {RUNS}}}",
                times[RUNS / 2]
            );
        }
    }
}

/// Two ranks of this binary, as `weft dist-train` starts them.
fn launch() {
    let me = std::env::current_exe().expect("own path");
    let port = weft_dist::launch::free_port().expect("a free port");
    let spec = weft_dist::launch::LaunchSpec {
        program: me.into_os_string(),
        args: Vec::new(),
        nproc: 2,
        nnodes: 1,
        node_rank: 0,
        master_addr: "127.0.0.1".into(),
        master_port: Some(port),
        grace: Duration::from_secs(5),
    };
    match weft_dist::launch::launch(&spec).expect("ranks start") {
        weft_dist::launch::LaunchOutcome::Success => {}
        failed => panic!("{failed:?}"),
    }
}
