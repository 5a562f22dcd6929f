# Ferry — two commands do everything on a fresh Debian/Ubuntu machine:
#   make run    installs what is missing, builds, starts the desktop app
#   make test   the whole suite: format, lints, unit/integration tests, UI checks, end-to-end
# Also: make build (UI + debug ferry-desktop), make release, make demo, make icons.

SHELL := /bin/bash
.DEFAULT_GOAL := run
.PHONY: bench run build release test demo icons deps deps-build deps-test ui ui-deps check-rust check-ui e2e

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

deps-build:
	$(call apt_ensure,$(APT_BUILD) $(APT_RUN))

deps-test: deps-build
	$(call apt_ensure,$(APT_TEST))
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@command -v tauri-driver >/dev/null || [ -x "$$HOME/.cargo/bin/tauri-driver" ] || \
	  $(CARGO) install tauri-driver --locked

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

check-rust: ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test

# The end-to-end tests start their own Xvfb, D-Bus, tray host and tauri-driver.
e2e: build
	$(CARGO) test -p ferry-e2e -- --test-threads=2

test: deps-test check-ui check-rust e2e
	@echo "All checks passed."

# Benchmarks (release build): figures, not pass/fail.
bench: deps-build
	$(CARGO) build --release -p ferry --bin ferry
	$(CARGO) build --release -p ferry-bench
	./target/release/ferry-bench connect --projects 1000 --runs 5
	./target/release/ferry-bench sync

# A local GitLab (ferry-testkit, real sign-in page) and the app, for trying the whole flow.
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
	echo "Starting Ferry with its own settings in target/demo/config (Ctrl+C stops both)."; \
	FERRY_CONFIG_DIR=$(CURDIR)/target/demo/config ./target/debug/ferry-desktop
