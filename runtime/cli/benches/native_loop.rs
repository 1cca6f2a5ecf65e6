//! Benchmark: the reference job written directly against tch, without weft's runner: the
//! floor a runner is measured against (issue 15's "native libtorch loop"). It reads
//! Fashion-MNIST through weft-data's loader (the data path weft itself uses, workers 0) and
//! runs the same steps weft's default hooks do: forward, cross-entropy, backward, gradient
//! clipping (L2, max-norm 35, without a host sync), libtorch's own SGD (momentum 0.9, weight
//! decay 5e-4), the loss read back every 50 iterations, and at every epoch end a step-LR
//! decay and a safetensors checkpoint.
//!
//! usage: native_loop [--model lenet5|resnet18] [--batch B] [--warmup W] [--iters N]
//!                    [--threads T] [--samples S]
//! Prints one JSON line; `seconds` is the wall time of iterations W+1 ..= W+N (the window the
//! peers in benches/peers/ time).

use std::sync::Arc;
use std::time::Instant;

use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Tensor};
use weft_config::Config;
use weft_data::{Loader, LoaderSettings, Shard};

struct Args {
    model: String,
    batch: usize,
    warmup: usize,
    iters: usize,
    threads: i32,
    samples: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        model: "lenet5".into(),
        batch: 64,
        warmup: 100,
        iters: 938,
        threads: 2,
        samples: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        // `cargo bench` passes --bench; every other flag takes a value.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let n = || {
            value
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("{flag} {value}"))
        };
        match flag.as_str() {
            "--model" => a.model = value.clone(),
            "--batch" => a.batch = n(),
            "--warmup" => a.warmup = n(),
            "--iters" => a.iters = n(),
            "--threads" => a.threads = n() as i32,
            "--samples" => a.samples = Some(n()),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn lenet5(p: &nn::Path) -> nn::SequentialT {
    let pad = |padding| nn::ConvConfig {
        padding,
        ..Default::default()
    };
    nn::seq_t()
        .add(nn::conv2d(p / "conv1", 1, 6, 5, pad(2)))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(p / "conv2", 6, 16, 5, pad(0)))
        .add_fn(|x| x.relu().max_pool2d_default(2).flatten(1, -1))
        .add(nn::linear(p / "fc1", 400, 120, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(p / "fc2", 120, 84, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(p / "fc3", 84, 10, Default::default()))
}

fn conv_bn(p: &nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64) -> nn::SequentialT {
    let cfg = nn::ConvConfig {
        stride,
        padding: k / 2,
        bias: false,
        ..Default::default()
    };
    nn::seq_t()
        .add(nn::conv2d(p / "conv", c_in, c_out, k, cfg))
        .add(nn::batch_norm2d(p / "bn", c_out, Default::default()))
}

/// torchvision's BasicBlock.
fn block(p: &nn::Path, c_in: i64, c_out: i64, stride: i64) -> impl ModuleT + use<> {
    let a = conv_bn(&(p / "a"), c_in, c_out, 3, stride);
    let b = conv_bn(&(p / "b"), c_out, c_out, 3, 1);
    let down =
        (stride != 1 || c_in != c_out).then(|| conv_bn(&(p / "down"), c_in, c_out, 1, stride));
    nn::func_t(move |x, train| {
        let out = b.forward_t(&a.forward_t(x, train).relu(), train);
        let identity = match &down {
            Some(d) => d.forward_t(x, train),
            None => x.shallow_clone(),
        };
        (out + identity).relu()
    })
}

/// ResNet-18 with the small-image stem weft's `ResNet` uses: a 3×3 convolution, no max-pool.
fn resnet18(p: &nn::Path) -> nn::SequentialT {
    let mut net = nn::seq_t()
        .add(conv_bn(&(p / "stem"), 1, 64, 3, 1))
        .add_fn(|x| x.relu());
    let mut c_in = 64;
    for stage in 0..4 {
        let c_out = 64 << stage;
        for b in 0..2 {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            net = net.add(block(
                &(p / format!("layer{stage}_{b}")),
                c_in,
                c_out,
                stride,
            ));
            c_in = c_out;
        }
    }
    net.add_fn(|x| x.adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(p / "fc", 512, 10, Default::default()))
}

/// torch.nn.utils.clip_grad_norm_'s arithmetic, kept on the device.
fn clip_grad_norm(params: &[Tensor], max_norm: f64) {
    let grads: Vec<Tensor> = params.iter().map(Tensor::grad).collect();
    let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
    let total = Tensor::stack(&norms, 0).norm();
    let coef = (Tensor::from(max_norm) / (total + 1e-6)).clamp_max(1.0);
    for mut g in grads {
        let _ = g.g_mul_(&coef);
    }
}

fn main() {
    let a = args();
    tch::set_num_threads(a.threads);
    tch::manual_seed(0);
    let dir = std::env::temp_dir().join(format!("weft-native-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("data.toml");
    let samples = a
        .samples
        .map_or(String::new(), |n| format!(", num_samples = {n}"));
    std::fs::write(
        &cfg_path,
        format!("[data]\ntrain = {{ type = \"FashionMNIST\", split = \"train\"{samples} }}\n"),
    )
    .unwrap();
    let cfg = Config::from_file(&cfg_path).unwrap();
    let dataset = weft_data::build_dataset(cfg.get("data.train").unwrap(), &cfg).unwrap();
    let mut loader = Loader::new(
        Arc::clone(&dataset),
        LoaderSettings {
            batch_size: a.batch,
            workers: 0,
            shuffle: true,
            drop_last: false,
            prefetch: 2,
            seed: 0,
            pin_memory: false,
            shard: Shard::default(),
        },
    );

    let vs = nn::VarStore::new(Device::Cpu);
    let net = match a.model.as_str() {
        "lenet5" => lenet5(&vs.root()),
        "resnet18" => resnet18(&vs.root()),
        other => panic!("unknown model {other}"),
    };
    let mut opt = nn::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        wd: 5e-4,
        nesterov: false,
    }
    .build(&vs, 0.01)
    .unwrap();
    let params = vs.trainable_variables();

    let total = a.warmup + a.iters;
    let (mut done, mut epoch, mut lr) = (0usize, 0u64, 0.01);
    let mut started = None;
    let mut last_loss = f64::NAN;
    'epochs: loop {
        loader.start_epoch(epoch, 0);
        while let Some(batch) = loader.next_batch().unwrap() {
            let logits = net.forward_t(&batch.inputs, true);
            let loss = logits.cross_entropy_for_logits(&batch.labels);
            opt.zero_grad();
            loss.backward();
            clip_grad_norm(&params, 35.0);
            opt.step();
            done += 1;
            if done % 50 == 0 {
                last_loss = loss.double_value(&[]);
            }
            if done == a.warmup {
                started = Some(Instant::now());
            }
            if done == total {
                break 'epochs;
            }
        }
        // Epoch end: step LR (gamma 0.1 at the first epoch, as the reference config) and a
        // checkpoint of the weights.
        if epoch == 0 {
            lr *= 0.1;
            opt.set_lr(lr);
        }
        let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        Tensor::write_safetensors(&named, dir.join(format!("epoch_{}.safetensors", epoch + 1)))
            .unwrap();
        epoch += 1;
    }
    let seconds = started.expect("warm-up ended").elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{{\"impl\": \"native-tch\", \"model\": \"{}\", \"batch\": {}, \"warmup\": {}, \"iters\": {}, \"threads\": {}, \"seconds\": {seconds:.4}, \"samples_per_s\": {:.1}, \"last_loss\": {last_loss:.4}}}",
        a.model,
        a.batch,
        a.warmup,
        a.iters,
        a.threads,
        (a.iters * a.batch) as f64 / seconds
    );
}
