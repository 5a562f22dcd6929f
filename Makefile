# Ferry — two commands do everything on a fresh Debian/Ubuntu machine:
#   make run    installs what is missing, builds, starts the desktop app
#   make test   the whole suite: format, lints, unit/integration tests, UI checks, end-to-end
# Also: make build (UI + debug ferry-desktop), make release, make demo, make icons.

SHELL := /bin/bash
.DEFAULT_GOAL := run
.PHONY: bench run build release test demo icons deps deps-build deps-test ui ui-deps check-rust check-ui e2e types check-types
.PHONY: toolchain deny

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# System packages (Debian 12 names), see ../shared/PLATFORM.md.
APT_BUILD := build-essential pkg-config curl wget file libssl-dev libxdo-dev \
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
APT_RUN := libayatana-appindicator3-1
APT_TEST := xvfb xauth x11-utils xdotool imagemagick webkit2gtk-driver dbus dbus-x11 \
  trayer openbox wmctrl gnome-keyring libsecret-tools librsvg2-bin util-linux \
  exfatprogs exfat-fuse

# Installs the listed Debian packages that are not installed yet.
define apt_ensure
	@if ! command -v dpkg-query >/dev/null; then \
	  echo "Not a Debian/Ubuntu system: install the equivalents of: $(1)"; \
	else \
	  missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "Installing system packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	fi
endef

# rust-toolchain.toml pins the Rust of the project's machines and CI. rustup knows
# that Rust as `stable`; when stable is exactly the pinned version, name it so
# too (a link, no download). Elsewhere rustup installs the pinned one as usual.
RUST_PINNED := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
toolchain:
	@host=$$(rustc +stable -vV 2>/dev/null | sed -n 's/^host: //p'); \
	dir="$${RUSTUP_HOME:-$$HOME/.rustup}/toolchains"; \
	if [ -n "$$host" ] && [ ! -e "$$dir/$(RUST_PINNED)-$$host" ] && \
	   [ "$$(rustc +stable --version | cut -d' ' -f2)" = "$(RUST_PINNED)" ]; then \
	  echo "Rust $(RUST_PINNED) is this machine's stable toolchain: linking it under that name"; \
	  ln -sn "stable-$$host" "$$dir/$(RUST_PINNED)-$$host"; \
	fi

deps-build: toolchain
	$(call apt_ensure,$(APT_BUILD) $(APT_RUN))

deps-test: deps-build
	$(call apt_ensure,$(APT_TEST))
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@command -v tauri-driver >/dev/null || [ -x "$$HOME/.cargo/bin/tauri-driver" ] || \
	  $(CARGO) install tauri-driver --locked
	@[ "$$($(CARGO) deny --version 2>/dev/null)" = "cargo-deny $(CARGO_DENY_VERSION)" ] || \
	  $(CARGO) install cargo-deny --version $(CARGO_DENY_VERSION) --locked

deps: deps-test

ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

ui-deps: ui/node_modules/.package-lock.json

ui: ui-deps
	cd ui && npm run build

build: deps-build ui
	$(CARGO) build -p ferry -p ferry-desktop

release: deps-build ui
	$(CARGO) build --release -p ferry -p ferry-desktop

run: build
	./target/debug/ferry-desktop

icons:
	./icons/generate.sh

check-ui: ui-deps
	cd ui && npm run check && npm test

# The UI's contract (ui/src/lib/bindings.ts: every type and command it uses),
# generated from the shell's Rust code; commit it with the change.
types: ui
	FERRY_WRITE_BINDINGS=1 $(CARGO) test --bin ferry-desktop -- contract::bindings_match_the_rust_code

# Fails when bindings.ts is not what the Rust code gives now, or when the main
# window's capability and the registered commands differ (src-tauri/src/contract.rs).
check-types: ui
	$(CARGO) test --bin ferry-desktop -- contract::

check-rust: ui check-types
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test
	# kill -9 at the engine's crash points (src/crash.rs; never in a release build)
	$(CARGO) clippy -p ferry --features failpoints --all-targets -- -D warnings
	$(CARGO) test -p ferry --features failpoints --test crash

# The end-to-end tests start their own Xvfb, D-Bus, tray host and tauri-driver.
e2e: build
	$(CARGO) test -p ferry-e2e -- --test-threads=2

# cargo deny (deny.toml): licences, bans, sources and advisories. The RustSec
# advisory database is a git repository on GitHub that neither these machines
# nor CI can reach: a live clone is used if one is where cargo-deny keeps it
# (`cargo deny fetch`), else the snapshot vendored in deny/ (see deny/README.md)
# is unpacked there as a repository dated as the snapshot, so the staleness
# check sees its real age.
CARGO_DENY_VERSION := 0.20.2
ADVISORY_DB := $(or $(CARGO_HOME),$(HOME)/.cargo)/advisory-dbs/advisory-db-3157b0e258782691
ADVISORY_SNAPSHOT_DATE := 2026-08-21T08:28:40+02:00
deny: deps-test
	$(CARGO) deny --workspace check licenses bans sources
	@marker="$(ADVISORY_DB)/.ferry-snapshot"; \
	if [ ! -d "$(ADVISORY_DB)/.git" ] || \
	   { [ -f "$$marker" ] && [ "$$(cat "$$marker")" != "$(ADVISORY_SNAPSHOT_DATE)" ]; }; then \
	  echo "cargo deny: using the advisory database snapshot of $(ADVISORY_SNAPSHOT_DATE) (deny/README.md)"; \
	  rm -rf "$(ADVISORY_DB)" "$(ADVISORY_DB).tmp" && mkdir -p "$(ADVISORY_DB).tmp" && \
	  tar -xzf deny/advisory-db.tar.gz -C "$(ADVISORY_DB).tmp" && \
	  git -C "$(ADVISORY_DB).tmp" init -q -b main && \
	  git -C "$(ADVISORY_DB).tmp" add -A && \
	  GIT_AUTHOR_DATE="$(ADVISORY_SNAPSHOT_DATE)" GIT_COMMITTER_DATE="$(ADVISORY_SNAPSHOT_DATE)" \
	  git -C "$(ADVISORY_DB).tmp" -c user.name=ferry -c user.email=ferry@localhost \
	    commit -q -m "RustSec advisory-db snapshot (deny/README.md)" && \
	  echo "$(ADVISORY_SNAPSHOT_DATE)" > "$(ADVISORY_DB).tmp/.ferry-snapshot" && \
	  mv "$(ADVISORY_DB).tmp" "$(ADVISORY_DB)"; \
	fi
	$(CARGO) deny --workspace --offline check advisories

test: deps-test deny check-ui check-rust e2e
	@echo "All checks passed."

# Benchmarks (release build): figures, not pass/fail.
bench: deps-build
	$(CARGO) build --release -p ferry --bin ferry
	$(CARGO) build --release -p ferry-bench
	./target/release/ferry-bench connect --projects 1000 --runs 5
	./target/release/ferry-bench sync

# A local GitLab (ferry-testkit, real sign-in page) and the app, for trying the whole flow.
# Every piece of its state stays under target/demo: settings, logs, the
# demo's sign-ins (a plain file there, not your keyring), the window's web
# data; a build from the checkout never registers a login item.
DEMO_PORT ?= 8929
demo: build
	$(CARGO) build -p ferry-testkit
	@mkdir -p target/demo
	@set -e; \
	./target/debug/ferry-testkit serve --port $(DEMO_PORT) --data target/demo/gitlab --banner \
	  > target/demo/testkit.json & tk=$$!; \
	trap 'kill $$tk 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do [ -s target/demo/testkit.json ] && break; sleep 0.1; done; \
	[ -s target/demo/testkit.json ] || { echo "ferry-testkit did not start (is port $(DEMO_PORT) free?)"; exit 1; }; \
	echo "Starting Ferry with all its state in target/demo (Ctrl+C stops both)."; \
	mkdir -p target/demo/config target/demo/xdg/data target/demo/xdg/cache; \
	[ -e target/demo/config/settings.toml ] || \
	  printf 'version = 2\n\n[preferences]\nsign_ins_in_plain_file = true\n' > target/demo/config/settings.toml; \
	FERRY_CONFIG_DIR=$(CURDIR)/target/demo/config \
	XDG_DATA_HOME=$(CURDIR)/target/demo/xdg/data XDG_CACHE_HOME=$(CURDIR)/target/demo/xdg/cache \
	./target/debug/ferry-desktop
