//! `--device cpu|cuda|cuda:N|auto` to a libtorch device, and the process-wide libtorch
//! settings a run makes (threads, cuDNN autotuning).

pub use tch::Device;

/// Whether a CUDA device is usable.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// libtorch's intra-op CPU threads (the config's `threads`).
pub fn set_threads(n: u32) {
    tch::set_num_threads(n as i32);
}

/// libtorch's intra-op CPU threads now (the config's `threads`, else libtorch's default).
pub fn threads() -> usize {
    tch::get_num_threads().max(1) as usize
}

/// The config's `deterministic`: no cuDNN autotuning (which picks kernels by timing them).
pub fn set_deterministic(on: bool) {
    if on {
        tch::Cuda::cudnn_set_benchmark(false);
    }
}

/// Parses a device name; `auto` picks the first GPU when CUDA is usable, else the CPU.
pub fn parse_device(name: &str) -> Result<Device, String> {
    let cuda_count = || {
        if tch::Cuda::is_available() {
            tch::Cuda::device_count()
        } else {
            0
        }
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(if cuda_count() > 0 {
            Device::Cuda(0)
        } else {
            Device::Cpu
        }),
        "cuda" => cuda(0, cuda_count()),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => cuda(n, cuda_count()),
            _ => Err(format!(
                "unknown device `{other}`; use cpu, cuda, cuda:N or auto"
            )),
        },
    }
}

fn cuda(n: usize, count: i64) -> Result<Device, String> {
    if (n as i64) < count {
        Ok(Device::Cuda(n))
    } else if count == 0 {
        Err("CUDA was requested but no GPU is usable here (use --device cpu or auto)".into())
    } else {
        Err(format!(
            "cuda:{n} does not exist; this machine has {count} GPU(s)"
        ))
    }
}

/// The device as text (`cpu`, `cuda:0`).
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
