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
# The tests read TensorBoard and MLflow output back with the real Python readers.
TENSORBOARD_VERSION := 2.21.0
MLFLOW_VERSION := 3.17.2
READERS_VENV := $(WEFT_CACHE)/readers-tb$(TENSORBOARD_VERSION)-mlflow$(MLFLOW_VERSION)
export WEFT_READERS_PYTHON := $(READERS_VENV)/bin/python
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

.PHONY: all setup system-packages libtorch wasm-target readers build run test lint fmt clean-cache guests

all: run

setup: system-packages libtorch wasm-target

system-packages:
	@missing=""; \
	[ -f $(FASHION_MNIST) ] || missing="$$missing dataset-fashion-mnist"; \
	[ -f $(PLOT_FONT) ] || missing="$$missing fonts-dejavu-core"; \
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

wasm-target:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

build: setup
	cargo build --release -p weft

# The Rust plugin examples, each copied to guest-examples/rust/<name>/<name>.wasm where the
# configs in configs/plugins/ name them.
guests: wasm-target
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo build --release --target wasm32-wasip2 --manifest-path guest-examples/Cargo.toml
	@for dir in guest-examples/rust/*/; do \
		name=$$(basename $$dir); \
		cp $(GUEST_TARGET)/wasm32-wasip2/release/$$name.wasm $$dir$$name.wasm; \
		echo "built $$dir$$name.wasm"; \
	done

run: build
	./target/release/weft train $(CONFIG) $(ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@for ws in guest-sdk/rust $(GUEST_WORKSPACES); do \
		cargo fmt --manifest-path $$ws/Cargo.toml --all -- --check; \
	done
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo clippy --target wasm32-wasip2 --manifest-path guest-examples/Cargo.toml --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(GUEST_TARGET) cargo clippy --target wasm32-wasip2 --manifest-path tests/guests/Cargo.toml --all-targets -- -D warnings

test: setup readers lint
	cargo test --workspace

fmt:
	cargo fmt --all
	@for ws in guest-sdk/rust $(GUEST_WORKSPACES); do cargo fmt --manifest-path $$ws/Cargo.toml --all; done
