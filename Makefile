# ecs-operator: the commands the README documents.
#   make demo         the seed's walkthrough on a local control plane (built from Go modules once)
#   make demo-down    stop it
#   make test         everything CI checks (installs what it needs on a fresh machine)
#   make render       render the seed example offline and list the objects
#   make bench        criterion benchmarks; make bench-live: the operator against the control plane

SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
PLUGIN_PACKAGES := ecs-plugin-bookkeeper ecs-plugin-controller ecs-plugin-node ecs-plugin-tier2-nfs \
	ecs-plugin-tier2-filestore ecs-plugin-tier2-hdfs ecs-plugin-tier2-ecs ecs-plugin-hostile \
	ecs-plugin-hostile-tier2 ecs-plugin-tier2-nfs-inline ecs-plugin-tier2-s3
PLUGIN_FLAGS := $(addprefix -p ,$(PLUGIN_PACKAGES))
BIN := target/debug/ecs-operator
WASM_OUT := target/$(WASM_TARGET)/plugin
# The example third-party plugin, alone in a directory as a user would drop it in.
EXAMPLE_PLUGIN_DIR := target/example-plugins
EXAMPLE_PLUGIN_V2_DIR := target/example-plugins-v2
# The Python and JavaScript examples, built by `ecs-operator plugin build` (make polyglot).
POLYGLOT_PLUGIN_DIR := target/example-plugins-polyglot
# Heavy tools live outside the repo so that fresh clones reuse them.
export TOOLS_CACHE ?= $(HOME)/.cache/ecs-operator
KUBE_VERSION ?= 1.37.0
# The local control plane (tests/cluster/local-cluster.sh): one pinned Kubernetes version.
export K8S_VERSION ?= v1.37.2
LOCAL_CLUSTER := tests/cluster/local-cluster.sh
# Helm for the chart's tests (host/tests/helm.rs), built once from its Go module by tests/cluster/helm.sh.
export HELM_VERSION ?= v4.3.1
export ECS_TEST_HELM ?= $(TOOLS_CACHE)/helm-$(HELM_VERSION)/bin/helm

.PHONY: all build plugins wasm-target crd demo demo-down render test lint lint-wasm unit cases schema-check chaos \
	cluster-up cluster-down integration bench bench-live clean helm polyglot authoring bench-polyglot \
	image image-test

all: build

wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

plugins: wasm-target
	# Version 2 of the example plugin first (the hot-reload tests swap it in), then everything.
	$(CARGO) build --profile plugin --target $(WASM_TARGET) -p ecs-plugin-tier2-nfs-inline --features v2
	mkdir -p $(EXAMPLE_PLUGIN_V2_DIR)
	cp $(WASM_OUT)/ecs_plugin_tier2_nfs_inline.wasm $(EXAMPLE_PLUGIN_V2_DIR)/
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(PLUGIN_FLAGS)
	mkdir -p $(EXAMPLE_PLUGIN_DIR)
	cp $(WASM_OUT)/ecs_plugin_tier2_nfs_inline.wasm $(WASM_OUT)/ecs_plugin_tier2_s3.wasm $(EXAMPLE_PLUGIN_DIR)/

build: plugins
	$(CARGO) build -p ecs-operator

crd: build
	$(BIN) crd > deploy/crd.yaml
	cp deploy/crd.yaml deploy/helm/ecs-operator/crds/ecsclusters.ecs.ecs.io.yaml

demo: build
	tests/cluster/demo.sh up

demo-down:
	tests/cluster/demo.sh down

render: build
	@echo "# ECSCluster deploy/examples/ecs.yaml, rendered by the built-in plugins:"
	$(BIN) render -f deploy/examples/ecs.yaml -o table

cluster-up:
	$(LOCAL_CLUSTER) up

cluster-down:
	$(LOCAL_CLUSTER) down

lint: plugins
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The plugins' wasm-only code paths (a few lines in the SDK); slow on a cold cache, so not in `test`.
lint-wasm: wasm-target
	$(CARGO) clippy --target $(WASM_TARGET) $(PLUGIN_FLAGS) -- -D warnings

helm:
	tests/cluster/helm.sh build >/dev/null

unit: build helm
	$(CARGO) test --workspace

cases: build polyglot
	$(BIN) test tests/cases
	# An upgrade recorded live step by step (host/tests/upgrade.rs): each step replays the rollout
	# decision the operator took next.
	$(BIN) test tests/recorded-upgrade
	$(BIN) test plugins/examples/tier2-nfs-inline/cases --plugin-dir $(EXAMPLE_PLUGIN_DIR) --grant tier2-nfs-inline=volumes:nfs
	$(BIN) test plugins/examples/tier2-s3/cases --plugin-dir $(EXAMPLE_PLUGIN_DIR)

# The Python and JavaScript examples, built by the CLI (componentize-py and componentize-js installed
# into $(TOOLS_CACHE) on first use; skipped while a component is newer than its sources) into one
# plugin directory; then the Rust example's cases run against them with --plugin-dir, and the
# instance pool takes a full load of their calls.
polyglot: build
	$(BIN) plugin build plugins/examples/tier2-nfs-inline-python -o $(POLYGLOT_PLUGIN_DIR)/tier2-nfs-inline-python.wasm
	$(BIN) plugin build plugins/examples/tier2-nfs-inline-js -o $(POLYGLOT_PLUGIN_DIR)/tier2-nfs-inline-js.wasm
	$(BIN) test plugins/examples/tier2-nfs-inline-python/cases plugins/examples/tier2-nfs-inline-js/cases \
		--plugin-dir $(POLYGLOT_PLUGIN_DIR) --grant tier2-nfs-inline-python=volumes:nfs \
		--grant tier2-nfs-inline-js=volumes:nfs
	$(CARGO) test -p ecs-operator --test polyglot -- --ignored the_instance_pool

# `plugin new` -> `plugin build` -> `plugin test` in a scratch directory, for Rust, Python and
# JavaScript, Tier-2 providers and reconcilers (host/tests/author.rs).
authoring: build
	$(CARGO) test -p ecs-operator --test author -- --ignored --test-threads=1

schema-check: cases
	scripts/validate-schemas.sh $(KUBE_VERSION) tests/cases/*/expected.yaml tests/recorded-upgrade/*/expected.yaml \
		plugins/examples/*/cases/*/expected.yaml

test: lint unit cases authoring schema-check integration image-test

# The operator against the local control plane (started and stopped if it was not running).
integration: build helm polyglot
	tests/cluster/integration.sh

# A longer chaos run than the one in `make test` (ECS_CHAOS_KILLS per phase, five phases).
chaos: build
	ECS_CHAOS_KILLS=$${ECS_CHAOS_KILLS:-40} tests/cluster/chaos.sh

bench: plugins
	$(CARGO) bench -p ecs-operator --bench plugins
	scripts/report-sizes.sh

# What a Tier-2 provider costs by language (docs/writing-plugins.md).
bench-polyglot: polyglot
	$(CARGO) bench -p ecs-operator --bench polyglot

bench-live: plugins
	$(CARGO) build --release -p ecs-operator
	tests/cluster/bench-live.sh target/release/ecs-operator

# The operator image as an OCI archive (docker load / podman load), built without a Docker daemon
# or a base image: the release binary, its shared libraries, CA certificates, user 65532.
IMAGE_TAR := target/image/ecs-operator.tar
image: plugins
	$(CARGO) build --release -p ecs-operator
	scripts/oci-image.py --binary target/release/ecs-operator --out $(IMAGE_TAR)

# In `make test`: the image of the release binary if one is at least as new as the debug build,
# else of the debug binary (a cold release build, fat LTO, costs about 30 CPU-minutes).
IMAGE_TEST_TAR := target/image/test/ecs-operator.tar
image-test: build
	@bin=$(BIN); if [ target/release/ecs-operator -nt $(BIN) ]; then bin=target/release/ecs-operator; fi; \
	echo "image-test: the image of $$bin"; \
	scripts/oci-image.py --binary $$bin --out $(IMAGE_TEST_TAR) && \
	tests/image/test-image.py $(IMAGE_TEST_TAR) --binary $$bin

clean:
	$(CARGO) clean
