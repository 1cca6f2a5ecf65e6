//! weft's integration tests: one binary (each extra test binary would link libtorch again).

// Replays of the recorded MMCV 1.7.2 cases in tests/fixtures/oracles/.
mod config_oracle;
mod early_stopping;
mod eval_hook_oracle;
mod grad_clip_oracle;
mod hook_order_oracle;
mod optim_oracle;
mod paramwise_oracle;
mod schedules_oracle;
mod text_log_oracle;

// Every file in configs/ loads.
mod configs;
// MMCV Python configs read without Python, and `weft import-mmcv`.
mod import_mmcv;
// The checks every command runs: ranges, datasets, ignored keys, plugin look-up and pins.
mod config_checks;

// The `weft` binary: errors, exit codes, interruption.
mod cli;
// Real training on small Fashion-MNIST subsets: loss falls, files appear, resume is exact.
mod training;
// Resume around evaluation and early stopping; resuming a finished run.
mod resume_exact;
// R1: killed at random moments and resumed, a run ends bit for bit as an uninterrupted one.
mod crash_points;
// R5: a crash at any stage of a checkpoint write never loses the last good checkpoint.
mod checkpoint_atomicity;
// The work dir filling up mid-run.
mod disk_full;
// R4: the fuzz targets over their corpus and mutations of it (the short form of `make fuzz`).
mod fuzz_corpus;
// Video data: the Moving-Fashion-MNIST generator, MMAction2's datasets and pipelines.
mod video_data;
// TSM and I3D recognizers trained, tested with several views and resumed on that data.
mod recognition;
// TensorBoard and MLflow output, read back with their Python readers.
mod loggers;
// `weft test` and `weft plot`.
mod tools;
// PyTorch's .pth: read without Python, written for torch.load, load_from and weft convert.
mod pth;
// TorchScript models trained as PyTorch trains them, and exported back.
mod torchscript;
// The progress bar of interactive runs.
mod progress;
// Data-parallel ranks on c10d's Gloo: DDP arithmetic, torchrun, a Python rank, failures.
mod distributed;

// WebAssembly plugins: the examples, the sandbox and its failure policy.
mod plugin_faults;
// Hostile plugins against every limit a guest could go around through the host.
mod plugin_hostile;
// The same plugins in Rust, Python, JavaScript, C, Go and Zig give the same trace.
mod conformance;
// `weft plugin new` in every language; build errors of guest sources.
mod guest_sdks;
mod plugins;
mod programs;

// A numbers-only Engine and a recording hook shared by the loop tests; the guest builds.
mod guests;
mod scripted;
mod support;
