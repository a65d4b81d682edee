# A thin wrapper over cargo. Every variable can be overridden: make ARCHS=x86_64
#
#   make            build both architectures into dist/ARCH/ and print sizes
#   make test       unit tests, black-box tests (x86_64, then aarch64 under
#                   qemu-user), pod tests with podman
#   make size       sizes of the built binaries against the 32 KiB budget
#   make lint       clippy (warnings are errors) and rustfmt --check
#   make bench      performance figures beside baselines (QUICK=1: < 1 min)
#   make image      the scratch image, both platforms, as dist/image.oci.tar
#   make fuzz       libFuzzer on the parsers (nightly + cargo-fuzz; not in CI):
#                   FUZZ_SECONDS per target (default 600)
#   make clean

CARGO   ?= cargo
ARCHS   ?= x86_64 aarch64
TOOLS   := copier waitfor entrypoint
DIST    ?= dist
QEMU    ?= qemu-aarch64-static
BUDGET  := 32768
# entrypoint's budget (DESIGN.md section 6: 40 KiB, goal 32 KiB)
BUDGET_entrypoint := 40960

.PHONY: all build targets size test unit blackbox blackbox-x86_64 blackbox-aarch64 pods lint bench image fuzz clean

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
	  mkdir -p "$(DIST)/$$a"; \
	  for t in $(TOOLS); do cp -f "target/$$a-unknown-linux-musl/release/$$t" "$(DIST)/$$a/$$t"; done; \
	done

size:
	@printf '%-8s %-11s %7s  %s\n' arch tool bytes budget
	@for a in $(ARCHS); do for t in $(TOOLS); do \
	  f="$(DIST)/$$a/$$t"; [ -f "$$f" ] || { echo "make: $$f missing: run make"; exit 1; }; \
	  b=$(BUDGET); [ "$$t" = entrypoint ] && b=$(BUDGET_entrypoint); \
	  s=$$(stat -c %s "$$f"); ok="ok ($$b)"; [ "$$s" -le $$b ] || ok="OVER ($$b)"; \
	  printf '%-8s %-11s %7d  %s\n' "$$a" "$$t" "$$s" "$$ok"; \
	done; done

test: build unit blackbox pods
	@echo "make test: all suites passed"

unit:
	@echo "make: unit tests (host)"
	$(CARGO) test --quiet --workspace --exclude tests

blackbox: $(foreach a,$(ARCHS),blackbox-$(a))

blackbox-x86_64:
	@echo "make: black-box tests against $(DIST)/x86_64"
	BIN_DIR=$(CURDIR)/$(DIST)/x86_64 BIN_ARCH=x86_64 $(CARGO) test --quiet -p tests -- --test-threads=2

blackbox-aarch64:
	@scripts/need $(QEMU):qemu-user-static
	@echo "make: black-box tests against $(DIST)/aarch64 under $(QEMU)"
	BIN_DIR=$(CURDIR)/$(DIST)/aarch64 BIN_ARCH=aarch64 RUNNER=$(QEMU) $(CARGO) test --quiet -p tests -- --test-threads=2

pods:
	@if [ -x tests/pods/run ]; then tests/pods/run; else echo "make: no pod tests yet"; fi

lint:
	$(CARGO) clippy --quiet --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

bench: build
	scripts/bench $(if $(QUICK),--quick)

image: build
	scripts/image

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= args:4096 duration:4096 path:4096 line:12000 json:8192

fuzz:
	@rustup toolchain list | grep -q '^nightly' || { echo "make: installing the nightly toolchain (rustup)"; rustup toolchain install nightly --profile minimal; }
	@command -v cargo-fuzz >/dev/null || { echo "make: installing cargo-fuzz (cargo install)"; cargo install cargo-fuzz; }
	cd fuzz && for tl in $(FUZZ_TARGETS); do \
	  cargo +nightly fuzz run $${tl%%:*} -- -max_total_time=$(FUZZ_SECONDS) -max_len=$${tl#*:} || exit 1; done

clean:
	$(CARGO) clean
	rm -rf $(DIST)
