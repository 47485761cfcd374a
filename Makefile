# SPDX-License-Identifier: GPL-2.0
#
# vhost-iommu. `make` builds the module; `make run` shows it working in a
# VM; `make check` runs every check and test. See README.md.

PWD := $(shell pwd)
VARIANT ?= debug
# KERNEL=6.12 (Debian bookworm's linux-source-6.12, the default) or
# KERNEL=newest (the newest Linux source Debian has, sid's): which test
# kernel tree the targets below build against and boot.
KERNEL ?= $(or $(VHOST_IOMMU_KERNEL),6.12)
export VHOST_IOMMU_KERNEL := $(KERNEL)
TEST_KERNEL := $(PWD)/tools/kernel/build.sh --source $(KERNEL)

# KDIR: the running kernel's build tree if it has iommufd, else the
# project's test kernel (built on demand and cached outside the checkout).
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(KDIR),)
ifneq ($(shell grep -s '^CONFIG_IOMMUFD=[ym]' $(RUNNING_KDIR)/.config),)
KDIR := $(RUNNING_KDIR)
else
KDIR := $(shell $(TEST_KERNEL) --variant $(VARIANT) --print-dir)
KDIR_IS_TEST_KERNEL := 1
endif
endif

.PHONY: all modules kernel selftests run check check-qemu bench-qemu coverage fuzz bench static clean \
	help install uninstall

all: modules

kernel:
	@$(TEST_KERNEL) --variant $(VARIANT) >/dev/null

ifeq ($(KDIR_IS_TEST_KERNEL),1)
modules: kernel
endif
# The test kernel's path names its source version, which is only known once
# linux-source is installed: on a fresh machine, resolve it again after the
# `kernel` prerequisite has run.
ifeq ($(KDIR_IS_TEST_KERNEL),1)
KDIR_NOW = $$($(TEST_KERNEL) --variant $(VARIANT) --print-dir)
else
KDIR_NOW = $(KDIR)
endif

# Objects built against another tree are removed first: kbuild's
# dependency files do not see a change of KDIR.
modules:
	@kdir=$(KDIR_NOW); test -f $$kdir/Makefile || { echo "vhost-iommu: KDIR=$$kdir is not a prepared kernel tree" >&2; exit 1; }; \
		if [ "$$(cat .vhost-iommu-kdir 2>/dev/null)" != "$$kdir $(VHOST_IOMMU_TEST_HOOKS)" ]; then \
			$(MAKE) -s -C $$kdir M=$(PWD) clean; \
			echo "$$kdir $(VHOST_IOMMU_TEST_HOOKS)" >.vhost-iommu-kdir; fi; \
		$(MAKE) -C $$kdir M=$(PWD) modules

selftests: kernel
	@kdir=$(KDIR_NOW); \
		if [ "$$(cat build/.kdir 2>/dev/null)" != "$$kdir" ]; then \
			rm -rf build/selftests build/bin; mkdir -p build; echo "$$kdir" >build/.kdir; fi; \
		$(MAKE) -C selftests KDIR=$$kdir && $(MAKE) -C tools KDIR=$$kdir

run:
	@tools/vm/run.sh --mode run --variant $(VARIANT)

check:
	@tools/check.sh --variant $(VARIANT)

# Suite qemu alone (also part of make check): the patched QEMU of
# tools/qemu/ boots a Linux guest in the VM, its virtio-iommu served by the
# module; VHOST_IOMMU_QEMU_VHOST=off for QEMU's own userspace device.
# Two nested TCG guest boots: the VM may take QEMU_VM_TIMEOUT seconds.
QEMU_VM_TIMEOUT ?= 2400
check-qemu:
	@tools/vm/run.sh --mode check --variant $(VARIANT) --tests qemu --timeout $(QEMU_VM_TIMEOUT)

# The nested guest's small-block I/O with vhost=on against QEMU's own
# device, ROUNDS boots of each in one VM run on the fast kernel:
# Documentation/performance.rst.
ROUNDS ?= 3
bench-qemu:
	@VHOST_IOMMU_QEMU_BENCH=$(ROUNDS) tools/vm/run.sh --mode check --variant fast \
		--tests qemu --timeout $$(( 600 + $(ROUNDS) * 600 )); rc=$$?; \
		tr -d '\r' <build/vm/console-check.log | grep -a '^# round \|^@@BENCH '; exit $$rc

coverage:
	@tools/coverage.sh

# Benchmarks on the fast kernel, RUNS=3 VM runs: Documentation/performance.rst.
bench:
	@tools/bench/bench.sh

# A long fuzz run in the VM: make fuzz SEED=<n> N=<requests>.
SEED ?= 1
N ?= 2000000
fuzz:
	@VHOST_IOMMU_FUZZ="--seed $(SEED) --requests $(N)" \
		tools/vm/run.sh --mode check --variant $(VARIANT) --tests robust-fuzz \
		--timeout $$(( 900 + $(N) / 500 ))

# make install: the module into /lib/modules/<KDIR's release>/extra, depmod,
# the udev rule, the modules-load.d file that loads it at boot, and the CLI
# and its man page if built (`make selftests`).
# DESTDIR=<root> stages everything under <root> (depmod -b <root>);
# INSTALL_MOD_PATH, INSTALL_MOD_DIR and DEPMOD (DEPMOD=true: skip depmod)
# as for the kernel's modules_install. Documentation/packaging.rst.
INSTALL_MOD_PATH ?= $(DESTDIR)
INSTALL_MOD_DIR ?= extra
DEPMOD ?= depmod
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
SBINDIR ?= /usr/sbin
MAN8DIR ?= /usr/share/man/man8
# The unit tests are never installed: only vhost_iommu.ko.
install_moddir = $(INSTALL_MOD_PATH)/lib/modules/$$rel/$(INSTALL_MOD_DIR)
install_depmod = $(DEPMOD) $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $$rel

install: modules
	@kdir=$(KDIR_NOW); rel=$$(cat $$kdir/include/config/kernel.release) || exit 1; \
		$(MAKE) -C $$kdir M=$(PWD) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
			INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) DEPMOD=true modules_install && \
		rm -f $(install_moddir)/vhost_iommu_kunit.ko* && \
		$(install_depmod) && \
		install -D -m 0644 tools/udev/60-vhost-iommu.rules \
			$(DESTDIR)$(UDEVRULESDIR)/60-vhost-iommu.rules && \
		install -D -m 0644 tools/packaging/modules-load.conf \
			$(DESTDIR)$(MODULESLOADDIR)/vhost-iommu.conf && \
		if [ -f build/bin/vhost-iommu ]; then \
			install -D -m 0755 build/bin/vhost-iommu $(DESTDIR)$(SBINDIR)/vhost-iommu; fi && \
		if [ -f tools/vhost-iommu/vhost-iommu.8 ]; then \
			install -D -m 0644 tools/vhost-iommu/vhost-iommu.8 $(DESTDIR)$(MAN8DIR)/vhost-iommu.8; fi && \
		echo "vhost-iommu: installed for $$rel into $(or $(DESTDIR),/)"

uninstall:
	@kdir=$(KDIR_NOW); rel=$$(cat $$kdir/include/config/kernel.release) || exit 1; \
		rm -f $(install_moddir)/vhost_iommu.ko* $(install_moddir)/vhost_iommu_kunit.ko* \
			$(DESTDIR)$(UDEVRULESDIR)/60-vhost-iommu.rules \
			$(DESTDIR)$(MODULESLOADDIR)/vhost-iommu.conf \
			$(DESTDIR)$(SBINDIR)/vhost-iommu $(DESTDIR)$(MAN8DIR)/vhost-iommu.8 && \
		$(install_depmod)

clean:
	@if [ -f $(KDIR)/Makefile ]; then $(MAKE) -C $(KDIR) M=$(PWD) clean; fi
	$(MAKE) -C selftests clean
	$(MAKE) -C tools clean
	rm -rf build

help:
	@echo "make            build vhost_iommu.ko against KDIR (default: running kernel if it has iommufd, else the test kernel)"
	@echo "make install    install the module (depmod), udev rule, CLI; DESTDIR= stages"
	@echo "make kernel     build the test kernel (VARIANT=debug|fast) into ~/.cache/vhost-iommu"
	@echo "make run        boot the test kernel in QEMU, load the module, show it working"
	@echo "make check      static checks + every test in the VM on the debug test kernel (KERNEL=6.12|newest)"
	@echo "make check-qemu suite qemu alone: a nested QEMU guest drives the module (VHOST_IOMMU_QEMU_VHOST=on|off)"
	@echo "make coverage   every test with a GCOV-profiled module; line coverage per file"
	@echo "make bench      benchmarks against userspace baselines (RUNS=3 VM runs)"
	@echo "make bench-qemu the nested guest's block I/O, vhost=on vs off (ROUNDS=3 boots each)"
	@echo "make fuzz       a long fuzz run in the VM (SEED=, N= requests)"
