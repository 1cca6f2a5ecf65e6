//! Benchmark: one native optimizer step (SGD with momentum, Adam, AdamW) over the parameters
//! of LeNet-5 and ResNet-18, gradients in place. Prints one JSON line per (model, optimizer)
//! with the median time per step. `benches/optim_step.sh` runs it next to torch.optim.

use std::time::Instant;

use weft_config::Config;

mod common;

fn config(model: &str, optimizer: &str) -> Config {
    let dir = std::env::temp_dir().join(format!("weft-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.toml");
    std::fs::write(&path, format!("model = {model}\noptimizer = {optimizer}\n")).unwrap();
    Config::from_file(&path).unwrap()
}

fn main() {
    let threads: i32 = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let steps: usize = std::env::var("BENCH_STEPS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(50);
    tch::set_num_threads(threads);
    let models = [
        ("lenet5", r#"{ type = "LeNet5" }"#),
        ("resnet18", r#"{ type = "ResNet", depth = 18 }"#),
    ];
    let optimizers = [
        (
            "sgd_momentum",
            r#"{ type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }"#,
        ),
        ("adam", r#"{ type = "Adam", lr = 1e-3 }"#),
        (
            "adamw",
            r#"{ type = "AdamW", lr = 1e-3, weight_decay = 1e-2 }"#,
        ),
    ];
    for (mname, mcfg) in models {
        for (oname, ocfg) in optimizers {
            let cfg = config(mcfg, ocfg);
            let (model, mut setup) = common::model_with_grads(&cfg, &Default::default());
            let params = model.store.params();
            let mut times = Vec::with_capacity(steps);
            for _ in 0..steps + 5 {
                let t = Instant::now();
                setup.optimizer.step(params, &setup.groups, None).unwrap();
                times.push(t.elapsed().as_secs_f64());
            }
            let median = common::median(times[5..].to_vec());
            println!(
                "{{\"impl\": \"weft\", \"model\": \"{mname}\", \"optimizer\": \"{oname}\", \"params\": {}, \"threads\": {threads}, \"median_us\": {:.1}}}",
                model.store.num_trainable(),
                median * 1e6
            );
        }
    }
}
