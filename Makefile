# mpathd — build, demo, test, install.
#   make demo     boot a VM with a simulated SAN and show mpathd at work
#   make test     everything: format, vet, unit tests with -race, the VM suite on a real kernel

GO        ?= go
PREFIX    ?= /usr
DESTDIR   ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X github.com/mpathd/mpathd/internal/version.Version=$(VERSION)
BIN       := bin
# Debian packages the tests need: the kernel the VM boots, qemu, busybox for the guest, kmod to
# resolve module dependencies, udev, dmsetup and fio as independent oracles inside the guest, dbus
# (dbus-daemon) for the D-Bus tests' private bus, and multipath-tools and kpartx, which scenarios copy
# into the guest to compare mpathd with multipathd. On a host booted with systemd, installing
# multipath-tools enables and starts multipathd.service; stop and disable it on a SAN host.
VM_PKGS   := qemu-system-x86 linux-image-amd64 busybox-static udev kmod dmsetup fio dbus multipath-tools kpartx open-iscsi iproute2 sg3-utils sg3-utils-udev
# The Debian tier (tests/vm/debian) builds its guest from Debian's mirror with mmdebstrap (as root),
# makes the root file system with mkfs.ext4 -d (e2fsprogs) and boots it on a qcow2 overlay
# (qemu-img, from qemu-utils).
VM_PKGS   += mmdebstrap e2fsprogs qemu-utils
VM_TIMEOUT ?= 40m
# The Debian tier: the image build (once per recipe and machine, 5-8 min) and its scenarios.
VM_DEBIAN_TIMEOUT ?= 30m
# make cross: go vet and the unit tests for each architecture below (amd64 is make vet and make
# unit, the only one with the race detector), the test binaries run under qemu-user by go test
# -exec, so binfmt_misc need not be registered. 386 binaries run natively on the amd64 host (Debian
# 12's qemu-i386 cannot start a Go 386 binary: "bad g in signal handler").
CROSS_ARCHES ?= arm64 ppc64le s390x 386 arm
CROSS_TEST_ARCHES ?= $(CROSS_ARCHES)
# Debian packages the host-side tests need: prometheus, for promtool (check metrics) and a real
# Prometheus server that scrapes the daemon on the fake kernel (loopback only, temporary storage).
# Installed without recommends (no node exporter). On a host booted with systemd the package starts
# prometheus.service on port 9090; stop and disable it there.
HOST_PKGS := prometheus
# qemu-user runs the unit tests of the other architectures (make cross).
HOST_PKGS += qemu-user

.PHONY: all build demo test check vet unit cross fuzz-short vm vm-busybox vm-debian debian-image deps install clean fuzz bench bench-vm

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/mpathd ./cmd/mpathctl ./cmd/multipath

# deps installs what the VM test bed and the host tests need when it is missing (Debian packages only).
deps:
	@missing=""; for p in $(VM_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@missing=""; for p in $(HOST_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: deps
	$(GO) run ./tests/vm/cmd/vmrun -hosts 3 -luns 4 -cmd ./cmd/mpathd -cmd ./cmd/mpathctl \
		-script tests/vm/scenarios/demo.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# The busybox tier, then the Debian tier (one guest at a time there: each is a whole system). -v
# prints the Debian tier's figures: image build, boot to multi-user and to the scenario.
vm: vm-busybox vm-debian

vm-busybox: deps
	MPATHD_VM=1 $(GO) test -count=1 -timeout $(VM_TIMEOUT) -run 'TestVM' ./tests/vm/

vm-debian: deps
	MPATHD_VM=1 $(GO) test -count=1 -v -timeout $(VM_DEBIAN_TIMEOUT) -run 'TestVM' ./tests/vm/debian/

# debian-image builds the Debian tier's image (or finds it in the cache).
debian-image: deps
	$(GO) run ./tests/vm/cmd/debimage

cross:
	@set -e; start=$$(date +%s); for a in $(CROSS_ARCHES); do \
		echo "go vet GOARCH=$$a"; GOARCH=$$a $(GO) vet ./...; \
	done; \
	for a in $(CROSS_TEST_ARCHES); do \
		case $$a in arm64) q=qemu-aarch64;; 386) q=;; *) q=qemu-$$a;; esac; \
		echo "go test GOARCH=$$a $${q:+under $$q}"; t0=$$(date +%s); \
		GOARCH=$$a $(GO) test -count=1 $${q:+-exec $$q} ./...; \
		echo "cross: GOARCH=$$a unit tests $$(( $$(date +%s) - t0 )) s"; \
	done; echo "cross: $$(( $$(date +%s) - start )) s"

# The Debian tier's image (downloading and unpacking packages, 5-8 minutes once per machine) is
# built in the background while the host-side tests run, then waited for before the Debian tier.
DEBIAN_IMAGE_LOG ?= $${TMPDIR:-/tmp}/mpathd-debian-image.log
test: deps
	@$(MAKE) --no-print-directory debian-image >$(DEBIAN_IMAGE_LOG) 2>&1 & img=$$!; \
	$(MAKE) --no-print-directory check vet unit cross fuzz-short vm-busybox || { kill $$img 2>/dev/null; wait $$img; exit 1; }; \
	wait $$img || { echo "Debian tier image build failed:"; tail -n 50 $(DEBIAN_IMAGE_LOG); exit 1; }; \
	tail -n 1 $(DEBIAN_IMAGE_LOG); \
	$(MAKE) --no-print-directory vm-debian

# A fuzzing pass over every fuzz target, FUZZTIME each. `make test` runs a short one (TEST_FUZZTIME
# each); a target that no longer builds or is listed by no package fails it, as a crash does.
FUZZTIME ?= 10s
TEST_FUZZTIME ?= 3s
fuzz:
	@n=0; out=$$(mktemp); for pkg in $$($(GO) list ./...); do \
		fs=$$($(GO) test -list '^Fuzz' $$pkg) || exit 1; \
		for f in $$(echo "$$fs" | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; n=$$((n + 1)); \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1 || \
				{ cat $$out; rm -f $$out; exit 1; }; \
		done; \
	done; rm -f $$out; echo "fuzz: $$n targets passed, $(FUZZTIME) each"; \
	[ $$n -gt 0 ]

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bench-vm runs Debian's multipathd and then mpathd on one simulated SAN in the VM and prints their
# figures side by side (not part of make test). BENCH_LUNS per host: 64 (256 paths) or 1024 (4,096).
BENCH_LUNS ?= 64
bench-vm: deps
	MPATHD_VM=1 MPATHD_BENCH=1 MPATHD_BENCH_LUNS=$(BENCH_LUNS) $(GO) test -count=1 -v -timeout 3h -run '^TestVMBench$$' ./tests/vm/

install: build
	install -D -m 0755 $(BIN)/mpathd $(DESTDIR)$(PREFIX)/sbin/mpathd
	install -D -m 0755 $(BIN)/mpathctl $(DESTDIR)$(PREFIX)/bin/mpathctl
	install -D -m 0755 $(BIN)/multipath $(DESTDIR)$(PREFIX)/sbin/multipath
	ln -sf multipath $(DESTDIR)$(PREFIX)/sbin/multipathd
	ln -sf multipath $(DESTDIR)$(PREFIX)/sbin/mpathpersist
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	$(BIN)/mpathctl completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mpathctl
	$(BIN)/mpathctl completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_mpathctl
	install -D -m 0644 configs/mpathd.service $(DESTDIR)$(PREFIX)/lib/systemd/system/mpathd.service
	install -D -m 0644 configs/org.mpathd.Daemon1.conf $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.mpathd.Daemon1.conf
	install -D -m 0644 configs/mpathd.toml $(DESTDIR)$(PREFIX)/share/doc/mpathd/mpathd.toml

clean:
	rm -rf $(BIN)
