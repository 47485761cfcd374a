#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: static checks (checkpatch --strict, sparse with W=1,
# kernel-doc on the uAPI header) as suite "static", then every test in the
# VM on the test kernel, and suite qemu in a second VM run. The last line
# is "N passed, N failed, N skipped".
#
# --kernel 6.12|newest (default VHOST_IOMMU_KERNEL, else 6.12) is the test
# kernel of all that. With 6.12, the newest kernel is checked too, unless
# VHOST_IOMMU_CHECK_NEWEST=0: the module built against it with W=1
# (static "build-newest") and a VM run of every suite but qemu on it, its
# suites reported as "<suite>@newest". `make check KERNEL=newest` runs
# everything, suite qemu included, on the newest kernel alone.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=debug
kernel=${VHOST_IOMMU_KERNEL:-6.12}
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	*) echo "check.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$kernel" in
6.12 | newest) ;;
*) echo "check.sh: --kernel must be 6.12 or newest" >&2; exit 2 ;;
esac
export VHOST_IOMMU_KERNEL=$kernel
newest=0
[ "$kernel" = 6.12 ] && [ "${VHOST_IOMMU_CHECK_NEWEST:-1}" != 0 ] && newest=1
cd "$top" || exit 1
start=$(date +%s)

if ! command -v sparse >/dev/null; then
	echo "check.sh: installing sparse" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sparse >&2
fi
kdir=$(tools/kernel/build.sh --variant "$variant" --source "$kernel") || exit 1
# The style and generator tools (checkpatch, kernel-doc, the YNL generators)
# are 6.12's whatever the kernel under test: the sources must stay right for
# 6.12, and newer checkpatch asks for helpers 6.12 lacks (kzalloc_obj).
tkdir=$kdir
if [ "$kernel" != 6.12 ]; then
	tkdir=$(tools/kernel/build.sh --variant "$variant" --source 6.12) || exit 1
fi

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
	out=$("$tkdir/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types -f $(c_sources))
	echo "$out"
	! echo "$out" | grep -qE ': (ERROR|WARNING|CHECK):'
}

sparse_w1() {
	local out
	make -s -C "$kdir" M="$top" clean >/dev/null 2>&1
	echo "$kdir" >.vhost-iommu-kdir
	out=$(make -C "$kdir" M="$top" C=2 W=1 VHOST_IOMMU_TEST_HOOKS=1 modules 2>&1)
	echo "$out"
	# Any compiler or sparse diagnostic about our files fails the check.
	! echo "$out" | grep -E "^$top/|^(drivers|include)/" | grep -qE 'warning|error'
}

kerneldoc() {
	local out
	out=$("$tkdir/scripts/kernel-doc" -none -Wall include/uapi/linux/vhost_iommu.h 2>&1)
	echo "$out"
	[ -z "$out" ]
}

# The generated documentation matches the uAPI headers and the netlink
# spec, and is valid reStructuredText.
uapidoc() {
	tools/docs/gen-uapi.sh --check "$tkdir"
}

netlinkdoc() {
	tools/docs/gen-netlink-rst.sh --check "$tkdir"
}

# The netlink tables and header are what the kernel's YNL generator makes
# of Documentation/netlink/specs/vhost-iommu.yaml.
ynlgen() {
	tools/netlink/ynl-gen.sh --check "$tkdir"
}

# Kbuild's header probes: with none of the uAPI probes found (as on a
# kernel older than 6.8), the build stops at once with the one error that
# names each of them and the release it came with.
kbuild_probes() {
	local out
	out=$(make -C "$kdir" M="$top" vhi_uapi=/dev/null modules 2>&1)
	echo "$out"
	echo "$out" | grep -q 'lacks IOMMU_HWPT_INVALIDATE(6.8) iommu_hwpt_vtd_s1_invalidate(6.8) IOMMU_FAULT_QUEUE_ALLOC(6.11) IOMMUFD_PAGE_RESP_SUCCESS(6.11); the module needs Linux 6.11 or newer' &&
		[ "$(echo "$out" | grep -c 'vhost-iommu:')" -eq 1 ] &&
		! echo "$out" | grep -q ' CC '
}

static checkpatch checkpatch
# The Debian mirror derived from the apt configuration, on fixtures.
static apt-mirror tools/debian-mirror-check.sh
static kbuild-probes kbuild_probes
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
# The module against the newest kernel too, with W=1: any warning about
# our files fails. The in-tree objects are the newest kernel's afterwards;
# `make modules` cleans them when the next build is for another tree.
build_newest() {
	local k out
	k=$(tools/kernel/build.sh --variant "$variant" --source newest) || return 1
	make -s -C "$k" M="$top" clean >/dev/null 2>&1
	echo "$k" >.vhost-iommu-kdir
	out=$(make -C "$k" M="$top" W=1 VHOST_IOMMU_TEST_HOOKS=1 modules 2>&1)
	echo "$out"
	[ -f vhost_iommu.ko ] &&
		! echo "$out" | grep -E "^$top/|^(drivers|include)/" | grep -qE 'warning|error'
}

[ $newest -eq 1 ] && static build-newest build_newest
echo "SUITE static: $passed passed, $failed failed, 0 skipped"
for n in "${static_notes[@]}"; do echo "  $n"; done

# vm_run LABEL SUFFIX RUN.SH-ARGS...: one VM run, its suite lines (names
# followed by SUFFIX) and its totals; the run's whole-run checks are
# reported as suite LABEL.
vm_run() {
	local label=$1 suffix=$2 out rc p f s
	shift 2
	out=$(tools/vm/run.sh --mode check --variant "$variant" "$@")
	rc=$?
	echo "$out" | grep -v '^TOTAL ' | sed "s/^SUITE vm:/SUITE $label:/" |
		sed "s/^SUITE \(.*\): \([0-9]* passed\)/SUITE \1$suffix: \2/"
	read -r _ p f s < <(echo "$out" | grep '^TOTAL ' || echo "TOTAL 0 1 0")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "check.sh: the VM run ($label) failed before reporting" >&2
		failed=$((failed + 1))
	fi
}

vm_run vm ""
# Suite qemu (a nested QEMU guest: make check-qemu) in a VM run of its own:
# it needs 4 GiB, the QEMU and guest kernel builds and about ten minutes,
# and a run of its own keeps its failures apart: the whole-run checks of
# that run (kernel log, kmemleak, rmmod: suite vm-qemu) are about QEMU
# driving the module, not about the other suites.
vm_run vm-qemu "" --tests qemu --timeout "${VHOST_IOMMU_QEMU_VM_TIMEOUT:-2400}"
# The stall tests again on a kernel booted with preempt=none (the debug
# kernel is PREEMPT_DYNAMIC, as Debian's are): only the module's own
# scheduling points let other tasks run, and the soft-lockup detector
# reports a worker that holds a CPU too long (the run's kernel-log check).
vm_run vm @preempt-none --tests robust-stall --append preempt=none
if grep -q 'Dynamic Preempt: none' build/vm/console-check.log; then
	echo "SUITE preempt-none: 1 passed, 0 failed, 0 skipped"
	passed=$((passed + 1))
else
	echo "SUITE preempt-none: 0 passed, 1 failed, 0 skipped"
	echo "  FAIL the VM did not boot with preempt=none (build/vm/console-check.log)"
	failed=$((failed + 1))
fi
# The newest kernel: every suite but qemu (which drives the same ioctls
# through QEMU and costs a nested boot; `make check KERNEL=newest` has it).
[ $newest -eq 1 ] && VHOST_IOMMU_KERNEL=newest vm_run vm @newest
echo "check.sh: $(($(date +%s) - start)) s" >&2
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
