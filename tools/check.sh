#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: static checks (checkpatch --strict, sparse with W=1,
# kernel-doc on the uAPI header) as suite "static", then every test in the
# VM on the test kernel, and suite qemu in a second VM run. The last line
# is "N passed, N failed, N skipped".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=debug
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
	*) echo "check.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
cd "$top" || exit 1
start=$(date +%s)

if ! command -v sparse >/dev/null; then
	echo "check.sh: installing sparse" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sparse >&2
fi
kdir=$(tools/kernel/build.sh --variant "$variant") || exit 1

mkdir -p build
passed=0 failed=0 skipped=0
static_notes=()
static() {
	local name=$1
	shift
	if "$@" >"build/static-$name.log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		static_notes+=("FAIL $name (build/static-$name.log):")
		while IFS= read -r l; do static_notes+=("    $l"); done \
			< <(tail -n 20 "build/static-$name.log")
	fi
}

c_sources() {
	git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^build/'
}

checkpatch() {
	local out
	# shellcheck disable=SC2046
	out=$("$kdir/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types -f $(c_sources))
	echo "$out"
	! echo "$out" | grep -qE ': (ERROR|WARNING|CHECK):'
}

sparse_w1() {
	local out
	make -s -C "$kdir" M="$top" clean >/dev/null 2>&1
	out=$(make -C "$kdir" M="$top" C=2 W=1 modules 2>&1)
	echo "$out"
	# Any compiler or sparse diagnostic about our files fails the check.
	! echo "$out" | grep -E "^$top/|^(drivers|include)/" | grep -qE 'warning|error'
}

kerneldoc() {
	local out
	out=$("$kdir/scripts/kernel-doc" -none -Wall include/uapi/linux/vhost_iommu.h 2>&1)
	echo "$out"
	[ -z "$out" ]
}

# The generated documentation matches the uAPI headers and the netlink
# spec, and is valid reStructuredText.
uapidoc() {
	tools/docs/gen-uapi.sh --check "$kdir"
}

netlinkdoc() {
	tools/docs/gen-netlink-rst.sh --check "$kdir"
}

# The netlink tables and header are what the kernel's YNL generator makes
# of Documentation/netlink/specs/vhost-iommu.yaml.
ynlgen() {
	tools/netlink/ynl-gen.sh --check "$kdir"
}

static checkpatch checkpatch
static sparse sparse_w1
static ynl-gen ynlgen
static kernel-doc kerneldoc
static uapi-doc uapidoc
static netlink-doc netlinkdoc
# Packaging: dkms.conf's version is Kbuild's; DKMS and make install into a
# staging root (Documentation/packaging.rst).
static dkms-version tools/packaging/check.sh version
static dkms tools/packaging/check.sh dkms "$kdir"
# The QEMU series' copy of the uAPI header is the header (tools/qemu/).
static qemu-header tools/qemu/check-header.sh
echo "SUITE static: $passed passed, $failed failed, 0 skipped"
for n in "${static_notes[@]}"; do echo "  $n"; done

# vm_run LABEL RUN.SH-ARGS...: one VM run, its suite lines and its totals;
# the run's whole-run checks are reported as suite LABEL.
vm_run() {
	local label=$1 out rc p f s
	shift
	out=$(tools/vm/run.sh --mode check --variant "$variant" "$@")
	rc=$?
	echo "$out" | grep -v '^TOTAL ' | sed "s/^SUITE vm:/SUITE $label:/"
	read -r _ p f s < <(echo "$out" | grep '^TOTAL ' || echo "TOTAL 0 1 0")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "check.sh: the VM run ($label) failed before reporting" >&2
		failed=$((failed + 1))
	fi
}

vm_run vm
# Suite qemu (a nested QEMU guest: make check-qemu) in a VM run of its own:
# it needs 4 GiB, the QEMU and guest kernel builds and about ten minutes,
# and a run of its own keeps its failures apart: the whole-run checks of
# that run (kernel log, kmemleak, rmmod: suite vm-qemu) are about QEMU
# driving the module, not about the other suites.
vm_run vm-qemu --tests qemu --timeout "${VHOST_IOMMU_QEMU_VM_TIMEOUT:-2400}"
echo "check.sh: $(($(date +%s) - start)) s" >&2
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
