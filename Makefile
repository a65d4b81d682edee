# A thin wrapper over cargo. Every variable can be overridden: make ARCHS=x86_64
#
#   make            build both architectures into dist/ARCH/ (the three tools
#                   and steps, all static), steps for this machine as
#                   dist/steps and dist/kubectl-steps (the kubectl plugin), and
#                   print sizes
#   make test       unit tests, black-box tests (x86_64, then aarch64 under
#                   qemu-user; steps with the Kubernetes schema), pod tests
#                   (podman), and the Kubernetes suite on a real node (make kube)
#   make kube       only the Kubernetes suite: builds the node once (Go modules,
#                   cached in ~/.cache/ordered-steps/kube), starts it, plays every
#                   pod with kubectl, takes it down (tests/kube/run)
#   make demo       examples/seed.steps.yaml's three steps: rendered by steps,
#                   played by podman, shown in order
#   make size       sizes of the built tools against their budgets (steps' own, unbudgeted)
#   make lint       clippy (warnings are errors) and rustfmt --check
#   make container-fields  regenerate steps/src/container_fields.rs from the
#                   newest Kubernetes schema kubernetes-validate bundles
#   make bench      performance figures beside baselines, to docs/benchmarks.md
#                   (QUICK=1: a shorter run, to target/BENCHMARKS.quick.md)
#   make docs       the docs' links, repository paths and snippets checked
#   make image      the scratch image, both platforms, as dist/image.oci.tar
#   make fuzz       libFuzzer on the parsers (entrypoint's options too) (nightly + cargo-fuzz; not in CI):
#                   FUZZ_SECONDS per target (default 600)
#   make clean

CARGO   ?= cargo
ARCHS   ?= x86_64 aarch64
TOOLS   := copier waitfor entrypoint
DIST    ?= dist
QEMU    ?= qemu-aarch64-static
# docs/design.md, budgets: bytes, stripped static (entrypoint's goal stays 32 KiB)
BUDGET_copier     := 32768
BUDGET_waitfor    := 32768
BUDGET_entrypoint := 40960

.PHONY: all build targets size test skip-log unit blackbox blackbox-x86_64 blackbox-aarch64 blackbox-steps container-fields docs pods kube demo lint bench image fuzz clean

all: build size

targets:
	@for a in $(ARCHS); do \
	  rustup target list --installed 2>/dev/null | grep -qx "$$a-unknown-linux-musl" || { \
	    echo "make: installing Rust target $$a-unknown-linux-musl (rustup)"; \
	    rustup target add "$$a-unknown-linux-musl" || exit 1; }; \
	done

build: targets
	@for a in $(ARCHS); do \
	  echo "make: building $$a-unknown-linux-musl (release)"; \
	  $(CARGO) build --quiet --release --target "$$a-unknown-linux-musl" $(foreach t,$(TOOLS),-p $(t)) || exit 1; \
	  $(CARGO) build --quiet --release --target "$$a-unknown-linux-musl" -p steps || exit 1; \
	  mkdir -p "$(DIST)/$$a"; \
	  for t in $(TOOLS) steps; do cp -f "target/$$a-unknown-linux-musl/release/$$t" "$(DIST)/$$a/$$t"; done; \
	done
	@host=$$(uname -m); \
	if [ "$$(uname -s)" = Linux ] && [ -f "$(DIST)/$$host/steps" ]; then \
	  cp -f "$(DIST)/$$host/steps" "$(DIST)/steps"; \
	else \
	  echo "make: building steps for this machine (release)"; \
	  $(CARGO) build --quiet --release -p steps && cp -f target/release/steps "$(DIST)/steps" || exit 1; \
	fi
	@ln -f "$(DIST)/steps" "$(DIST)/kubectl-steps"

size:
	@printf '%-8s %-11s %7s %7s  %s\n' arch tool bytes budget ""
	@for a in $(ARCHS); do for t in $(TOOLS); do \
	  f="$(DIST)/$$a/$$t"; [ -f "$$f" ] || { echo "make: $$f missing: run make"; exit 1; }; \
	  case $$t in copier) b=$(BUDGET_copier);; waitfor) b=$(BUDGET_waitfor);; *) b=$(BUDGET_entrypoint);; esac; \
	  s=$$(stat -c %s "$$f"); ok="ok, $$((b - s)) to spare"; [ "$$s" -le $$b ] || ok="OVER by $$((s - b))"; \
	  printf '%-8s %-11s %7d %7d  %s\n' "$$a" "$$t" "$$s" "$$b" "$$ok"; \
	done; done
	@for a in $(ARCHS); do f="$(DIST)/$$a/steps"; [ -f "$$f" ] && \
	  printf '%-8s %-11s %7d %7s  %s\n' "$$a" steps "$$(stat -c %s "$$f")" - "the host tool: no budget"; \
	done; true

# Every suite appends what it could not check to $(SKIP_LOG): the summary
# counts them (under CI=true a skip is a failure in the suite itself).
SKIP_LOG ?= $(CURDIR)/target/skipped.log
export SKIP_LOG

test: build skip-log unit blackbox docs pods kube
	@n=$$(grep -c '^SKIPPED' "$(SKIP_LOG)" 2>/dev/null); n=$${n:-0}; \
	q=$$(grep -c '^NOT UNDER QEMU' "$(SKIP_LOG)" 2>/dev/null); q=$${q:-0}; \
	if [ "$$n" -gt 0 ] || [ "$$q" -gt 0 ]; then cat "$(SKIP_LOG)"; fi; \
	echo "make test: all suites passed; $$n skipped, $$q checks not possible under qemu-user"; \
	if [ "$$n" -gt 0 ] && [ "$${CI:-}" = true ]; then echo "make test: skipped tests fail under CI=true"; exit 1; fi

skip-log:
	@mkdir -p "$(dir $(SKIP_LOG))"; : > "$(SKIP_LOG)"

unit:
	@echo "make: unit tests (host)"
	$(CARGO) test --quiet --workspace --exclude tests

blackbox: $(foreach a,$(ARCHS),blackbox-$(a)) blackbox-steps

blackbox-x86_64:
	@echo "make: black-box tests against $(DIST)/x86_64"
	BIN_DIR=$(CURDIR)/$(DIST)/x86_64 BIN_ARCH=x86_64 $(CARGO) test --quiet -p tests -- --test-threads=2

blackbox-aarch64:
	@scripts/need $(QEMU):qemu-user-static
	@echo "make: black-box tests against $(DIST)/aarch64 under $(QEMU)"
	BIN_DIR=$(CURDIR)/$(DIST)/aarch64 BIN_ARCH=aarch64 RUNNER=$(QEMU) $(CARGO) test --quiet -p tests -- --test-threads=2

# steps' suite checks every rendering against the Kubernetes API schema with
# kubernetes-validate (PyPI), installed here once into a venv of its own: it
# bundles the schemas of every Kubernetes version and works offline. The same
# venv holds jsonschema (draft 2020-12), which checks files against the schema
# of steps schema, and PyYAML, which reads them.
K8S_VENV    ?= target/k8s-venv
K8S_VERSION ?= 1.33.0
KUBERNETES_VALIDATE_VERSION ?= 1.37.0
JSONSCHEMA_VERSION ?= 4.26.0

$(K8S_VENV)/bin/kubernetes-validate:
	@scripts/need python3
	@echo "make: installing kubernetes-validate $(KUBERNETES_VALIDATE_VERSION) from PyPI into the venv $(K8S_VENV) (pip; once)"
	@python3 -m venv "$(K8S_VENV)" || { echo "make: python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	@"$(K8S_VENV)/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)"

$(K8S_VENV)/.jsonschema-$(JSONSCHEMA_VERSION): $(K8S_VENV)/bin/kubernetes-validate
	@echo "make: installing jsonschema $(JSONSCHEMA_VERSION) from PyPI into the venv $(K8S_VENV) (pip; once)"
	@"$(K8S_VENV)/bin/pip" install --quiet --disable-pip-version-check "jsonschema==$(JSONSCHEMA_VERSION)"
	@touch "$@"

blackbox-steps: $(K8S_VENV)/bin/kubernetes-validate $(K8S_VENV)/.jsonschema-$(JSONSCHEMA_VERSION)
	@scripts/need dot:graphviz file $(QEMU):qemu-user-static
	@echo "make: black-box tests of $(DIST)/steps (schemas of Kubernetes $(K8S_VERSION))"
	STEPS=$(CURDIR)/$(DIST)/steps STEPS_ARCHS="$(ARCHS)" K8S_VENV=$(CURDIR)/$(K8S_VENV) K8S_VERSION=$(K8S_VERSION) \
	  $(CARGO) test --quiet -p tests --features steps --test steps -- --test-threads=2

# The docs: every link and repository path exists, every marked snippet is what
# its file holds or its command prints (tests/docs/check).
docs: build
	@scripts/need python3
	@echo "make: the docs' links, paths and snippets (tests/docs/check)"
	tests/docs/check

# The Kubernetes suite: a real node (kubelet, control plane, containerd) on this machine.
kube: build
	@scripts/need python3
	@echo "make: the Kubernetes suite (tests/kube/run): node $$(sed -n 's/^require k8s.io\/kubernetes //p' tests/kube/build/k8s/go.mod)"
	tests/kube/run
# The Container fields steps check accepts, and the Kubernetes types steps
# schema gives them and pod, job, metadata: from the newest schema of the
# kubernetes-validate above (raise KUBERNETES_VALIDATE_VERSION, then this).
container-fields: $(K8S_VENV)/bin/kubernetes-validate
	scripts/container_fields "$(K8S_VENV)"

demo: build
	scripts/demo

pods:
	@if [ -x tests/pods/run ]; then tests/pods/run; else echo "make: no pod tests yet"; fi

lint:
	$(CARGO) clippy --quiet --workspace --all-targets --all-features -- -D warnings
	$(CARGO) fmt --all -- --check

bench: build
	scripts/bench $(if $(QUICK),--quick)

image: build
	scripts/image

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= args:4096 duration:4096 path:4096 line:12000 json:8192 options:4096

fuzz:
	@rustup toolchain list | grep -q '^nightly' || { echo "make: installing the nightly toolchain (rustup)"; rustup toolchain install nightly --profile minimal; }
	@command -v cargo-fuzz >/dev/null || { echo "make: installing cargo-fuzz (cargo install)"; cargo install cargo-fuzz; }
	cd fuzz && for tl in $(FUZZ_TARGETS); do \
	  cargo +nightly fuzz run $${tl%%:*} -- -max_total_time=$(FUZZ_SECONDS) -max_len=$${tl#*:} || exit 1; done

clean:
	$(CARGO) clean
	rm -rf $(DIST)
