# anylog: build, run and test the node. A fresh Debian machine needs only Node.js and npm:
# npm installs the pinned bun (devDependency) with everything else.
SHELL  := /bin/bash
BUN    := $(shell command -v bun 2>/dev/null || echo node_modules/.bin/bun)
ARCH   := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
NATIVE := dist/anylog-linux-$(ARCH)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DEBS   := postgresql mosquitto mosquitto-clients curl
# test/systemd.test.ts needs systemd-analyze; on x86_64, test/arm64.test.ts runs the ARM64
# executable under qemu user mode with Debian's arm64 libc (ARM64_ROOT)
DEBS   += systemd $(if $(filter x64,$(ARCH)),qemu-user-static)
# test/monitoring.test.ts loads the status page in headless Chromium
DEBS   += chromium
ARM64_ROOT := build/arm64-root
CROSS  := $(if $(filter x64,$(ARCH)),dist/anylog-linux-arm64 arm64-root)

.PHONY: run test build bench clean deps debs typecheck units arm64-root FORCE

# npm dependencies (and bun itself when none is on PATH); npm ci keeps the lock file's versions
node_modules/.package-lock.json: package.json $(wildcard package-lock.json)
	if [ -f package-lock.json ]; then npm ci; else npm install; fi
	touch $@
deps: node_modules/.package-lock.json

# Debian packages the integration tests start; root installs what is missing, others are told how
debs:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo -n " $$p"; done); \
	if [ -z "$$missing" ] || ! command -v apt-get >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else echo "missing Debian packages:$$missing (install: sudo apt-get install$$missing); the tests that need them will fail" >&2; fi

# start the embedded default node in the foreground: TCP 127.0.0.1:32048, REST 127.0.0.1:32049
run: deps
	$(BUN) src/main.ts start

# typecheck, compile this machine's executable, run the whole suite against it (ANYLOG_BIN);
# on x86_64 also the ARM64 executable and its libc, for the test under qemu. The test files are
# looked for in src/ and test/ only: build/ holds image root file systems (absolute symlinks
# into this machine's /), and bun's search of the whole tree wanders into them and crashes or
# hangs.
test: debs deps typecheck $(NATIVE) $(CROSS)
	ANYLOG_BIN=$(CURDIR)/$(NATIVE) $(BUN) test --timeout 60000 ./src ./test

typecheck: deps
	node_modules/.bin/tsc --noEmit

# one self-contained executable per architecture (always rebuilt: ~1 s, and the commit may have moved).
# --splitting: what is imported with import() (the postgres driver, chokidar) stays in chunks of its
# own, loaded with the node:net/tls/stream modules they bring only when used; --minify --keep-names:
# a smaller text to parse (~1 MiB of RSS) with the names kept for stack traces. Not --bytecode:
# it started the default node ~40 % sooner but its idle RSS was ~9 MiB higher (bench/RESULTS.md).
build: dist/anylog-linux-x64 dist/anylog-linux-arm64
dist/anylog-linux-%: FORCE | deps
	$(BUN) build --compile --target=bun-linux-$* --splitting --minify --keep-names src/main.ts --outfile $@ \
	  --define ANYLOG_COMMIT='"$(COMMIT)"' --define ANYLOG_TARGET='"linux-$*"'

# the four role units from their one template (systemd/anylog.service.in); commit the result
units: deps
	$(BUN) systemd/generate.ts

# an arm64 libc for qemu-aarch64 -L: libc6:arm64 (all the executable's NEEDED libraries, see
# readelf -d) fetched with apt-get download into build/, through a private apt state so the
# machine's apt sources and architectures stay as they are; no root needed
arm64-root: $(ARM64_ROOT)/lib/ld-linux-aarch64.so.1
APT_ARM64 := -o Dir::State::Lists=$(CURDIR)/build/apt-arm64/lists -o Dir::Cache=$(CURDIR)/build/apt-arm64/cache \
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none
$(ARM64_ROOT)/lib/ld-linux-aarch64.so.1:
	@if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then \
	  echo "no apt-get/dpkg-deb: no arm64 libc in $(ARM64_ROOT); the ARM64 test will be skipped" >&2; exit 0; fi; \
	rm -rf build/apt-arm64 $(ARM64_ROOT) && mkdir -p build/apt-arm64/lists/partial build/apt-arm64/cache/archives/partial && \
	apt-get -qq $(APT_ARM64) update && (cd build/apt-arm64 && apt-get -qq $(APT_ARM64) download libc6:arm64) && \
	dpkg-deb -x build/apt-arm64/libc6_*_arm64.deb $(ARM64_ROOT).tmp && mv $(ARM64_ROOT).tmp $(ARM64_ROOT) && \
	echo "arm64 libc in $(ARM64_ROOT): $$(cd build/apt-arm64 && ls libc6_*_arm64.deb)" || \
	{ rm -rf $(ARM64_ROOT).tmp; echo "could not fetch libc6:arm64: the ARM64 test will be skipped" >&2; }

# every benchmark in bench/, against this machine's executable
bench: deps $(NATIVE)
	for f in bench/*.ts; do ANYLOG_BIN=$(CURDIR)/$(NATIVE) $(BUN) $$f || exit 1; done

# flashable appliance images (appliance/image/, as root): dist/anylog-amd64.img.zst (GPT, ESP with
# systemd-boot, ext4 root) and dist/anylog-rpi-arm64.img.zst (MBR, RASPIFIRM + RASPIROOT), each with
# a .sha256. The Debian layer is cached in build/image/<target>; IMAGES=amd64 builds one of them.
IMAGES ?= amd64 rpi-arm64
image-deps:
	appliance/image/host-deps.sh $(IMAGES)
image: image-deps build
	for t in $(IMAGES); do appliance/image/build.sh $$t || exit 1; done

# boot each image under qemu (TCG): anylog-operator answers on the forwarded REST port, then a
# role change; IMAGE_TEST_FLAGS=--record appends sizes and boot times to bench/RESULTS.md
image-test: image
	for t in $(IMAGES); do $(BUN) appliance/image/image-test.ts $$t $(IMAGE_TEST_FLAGS) || exit 1; done

# remove build output and test leftovers (node_modules stays: it holds bun)
clean:
	rm -rf dist build .anylog-test
