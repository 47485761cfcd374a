#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel in QEMU (TCG, -smp 2) with an initramfs holding
# busybox, the modules and the static test binaries, and run one mode:
#
#   run.sh --mode run    load the module and show it working (make run)
#   run.sh --mode check  KUnit suites + kselftests; prints one
#                        "SUITE <name>: N passed, N failed, N skipped"
#                        line per suite and exits non-zero on any failure
#
# Options: --variant debug|fast (test kernel), --timeout SECONDS,
#          --append "kernel args", --tests "NAME..." (check mode: only these
#          kselftest binaries, and KUnit only if "kunit" is named; default
#          VHOST_IOMMU_TESTS, else everything but qemu). The console log is
#          kept in build/vm/. Every suite expected is reported, or counted
#          failed. --coverage: dump the module's gcov data before unloading it.
#
# Suite qemu (selftests/qemu.sh: a nested QEMU boots a Linux guest behind a
# virtio-iommu) runs only when named: it builds the QEMU of tools/qemu/ and
# the guest kernel (`tools/kernel/build.sh --variant guest`), puts them in
# the initramfs with QEMU's libraries and firmware and the guest's
# initramfs, and gives the VM 4 GiB. VHOST_IOMMU_QEMU_VHOST=on|off (default
# on) is the suite's virtio-iommu-pci vhost mode.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
mode=run
variant=debug
timeout_s=${VHOST_IOMMU_VM_TIMEOUT:-900}
append_extra=""
tests=${VHOST_IOMMU_TESTS:-}
coverage=0
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) mode=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--append) append_extra=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--coverage) coverage=1; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$mode" in run | check) ;; *) echo "run.sh: bad mode $mode" >&2; exit 2 ;; esac

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
applets=$(/bin/busybox --list 2>/dev/null || true)
grep -qx insmod <<<"$applets" || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
named() { grep -qw -- "$1" <<<"$tests"; }
# Suite qemu's firmware: SeaBIOS and QEMU's option ROMs, from Debian.
if named qemu; then
	[ -f /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
	[ -f /usr/share/qemu/linuxboot_dma.bin ] || need+=(qemu-system-data)
fi
[ -f /usr/include/libmnl/libmnl.h ] || need+=(libmnl-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "run.sh: installing ${need[*]}" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${need[@]}" >&2
fi
if ! grep -q 'not a dynamic' <<<"$(ldd /bin/busybox 2>&1 || true)"; then
	echo "run.sh: /bin/busybox is not static; install busybox-static" >&2
	exit 1
fi

kdir=$("$top/tools/kernel/build.sh" --variant "$variant")
# The test VM's module has the test hooks (Kbuild: VHOST_IOMMU_TEST_HOOKS).
# Suite packaging installs the plain module (`make install` builds it
# anew, and kbuild's clean removes every .ko under the tree): the test
# builds wait outside the tree meanwhile.
make -s -C "$top" KDIR="$kdir" VHOST_IOMMU_TEST_HOOKS=1 modules >&2
stash=$(mktemp -d)
trap 'rm -rf "$stash"' EXIT
cp "$top"/vhost_iommu.ko "$stash/"
[ -f "$top/vhost_iommu_kunit.ko" ] && cp "$top/vhost_iommu_kunit.ko" "$stash/"
# --coverage: the notes gcov reads must be those of the build that runs.
if [ $coverage -eq 1 ]; then
	mkdir -p "$stash/gcno"
	(cd "$top" && find drivers -name '*.gcno' -exec cp --parents {} "$stash/gcno/" \;)
fi
make -s -C "$top" KDIR="$kdir" selftests >&2
if named qemu; then
	qemu_dir=$("$top/tools/qemu/build.sh")
	# The nested guest is the same 6.12 kernel whatever the host's.
	guest_dir=$("$top/tools/kernel/build.sh" --variant guest --source 6.12)
fi

out="$top/build/vm"
root="$out/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,vhi/selftests,vhi/bin}
cp /bin/busybox "$root/bin/busybox"
# Everything by default, but suite qemu only when named.
wanted() {
	if [ "$1" = qemu ]; then named qemu; else [ -z "$tests" ] || named "$1"; fi
}
expect=()
if wanted kunit; then
	# Every KUnit suite the sources define must report.
	while read -r name; do expect+=("kunit:$name"); done < <(
		sed -n 's/^[[:space:]]*\.name = "\(vhost_iommu[a-z_]*\)",$/\1/p' \
			"$top"/drivers/tests/*.c)
fi
for t in "$top"/build/selftests/*; do
	n=${t##*/}
	wanted "$n" || continue
	cp "$t" "$root/vhi/selftests/"
	expect+=("$n")
done
cp "$top"/build/bin/* "$root/vhi/bin/" 2>/dev/null || true
# Those linked dynamically (the CLI: Debian ships no libmnl.a) come with
# their shared libraries.
for b in "$top"/build/bin/*; do
	libs=$(ldd "$b" 2>/dev/null | grep -o '/[^ ]*') || continue
	for lib in $libs; do cp -L --parents "$lib" "$root/"; done
done
# Suite packaging: the module installed as `make install` does it (depmod's
# indexes included), and the host's kmod, with its libraries, at the
# kernel's modprobe path, where the suite's modprobe finds it.
if wanted packaging; then
	# depmod's warnings about the kernel's own indexes, absent here, dropped.
	# Never gcov-profiled: a profiled build of other objects loaded in
	# between would make the kernel discard the test build's counts.
	VHOST_IOMMU_GCOV= make -s -C "$top" KDIR="$kdir" install DESTDIR="$root" 2>&1 |
		{ grep -v 'could not open modules\.' || true; } >&2
	kmod_bin=$(readlink -f "$(command -v kmod)") || {
		echo "run.sh: suite packaging needs the host's kmod" >&2
		exit 1
	}
	mkdir -p "$root/sbin"
	cp "$kmod_bin" "$root/sbin/kmod"
	for l in modprobe modinfo depmod; do ln -s kmod "$root/sbin/$l"; done
	ldd "$kmod_bin" | grep -o '/[^ ]*' | while read -r lib; do
		cp -L --parents "$lib" "$root/"
	done
fi
# The test builds, now that no clean can remove them from the initramfs.
cp "$stash/vhost_iommu.ko" "$root/vhi/"
if [ -d "$stash/gcno" ]; then
	find "$top/drivers" -name '*.gcno' -delete
	(cd "$stash/gcno" && find drivers -name '*.gcno' -exec cp --parents {} "$top/" \;)
fi
if wanted kunit && [ -f "$stash/vhost_iommu_kunit.ko" ]; then
	cp "$stash/vhost_iommu_kunit.ko" "$root/vhi/"
fi
rm -rf "$stash"
# Suite qemu: QEMU with its libraries, the firmware it loads to boot a
# -kernel on q35 (-L /vhi/qemu/firmware), the guest's kernel and initramfs
# (static busybox, tools/qemu/guest-init as PID 1), and the vhost mode.
mem=2G
if named qemu; then
	mem=4G
	q="$root/vhi/qemu"
	mkdir -p "$q/firmware"
	cp "$qemu_dir/build/qemu-system-x86_64" "$q/"
	ldd "$q/qemu-system-x86_64" | grep -o '/[^ ]*' | while read -r lib; do
		cp -L --parents "$lib" "$root/"
	done
	for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/share/qemu/kvmvapic.bin; do
		cp -L "$f" "$q/firmware/"
	done
	cp "$guest_dir/arch/x86/boot/bzImage" "$q/bzImage"
	groot="$out/guest-initramfs"
	rm -rf "$groot"
	mkdir -p "$groot"/{bin,dev,proc,sys,tmp}
	cp /bin/busybox "$groot/bin/busybox"
	cp "$top/tools/qemu/guest-init" "$groot/init"
	chmod +x "$groot/init"
	(cd "$groot" && find . | cpio -o -H newc --quiet | gzip -1) >"$q/initramfs.cpio.gz"
	echo "${VHOST_IOMMU_QEMU_VHOST:-on}" >"$q/vhost"
	# make bench-qemu: rounds of the benchmark instead of the tests.
	[ -n "${VHOST_IOMMU_QEMU_BENCH:-}" ] && echo "$VHOST_IOMMU_QEMU_BENCH" >"$q/bench"
fi
cp "$top/tools/vm/init" "$root/init"
echo "$mode" >"$root/vhi/mode"
[ $coverage -eq 1 ] && echo 1 >"$root/vhi/coverage"
# make fuzz: the fuzzer's arguments for a long run.
echo "${VHOST_IOMMU_FUZZ:-}" >"$root/vhi/fuzz-args"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz"

log="$out/console-$mode.log"
: >"$log"
echo "run.sh: booting $(basename "$kdir") ($mode); console log: $log" >&2
start=$(date +%s)
set +e
# The mock IOMMU must own its devices: no vIOMMU, amd_iommu=off. No LA57:
# with 5-level paging the debug kernel once reported a KASAN wild access
# in an interrupt taken during early boot, before the module existed.
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
	-machine q35 -accel tcg -cpu max,la57=off -smp 2 -m "$mem" \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kdir/arch/x86/boot/bzImage" \
	-initrd "$out/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 amd_iommu=off kmemleak=on $append_extra" \
	</dev/null 2>&1 | tr -d '\r' | tee "$log" |
	if [ "$mode" = run ]; then sed -n 's/^@@VHI SHOW //p'; else cat >/dev/null; fi
rc=${PIPESTATUS[0]}
set -e
echo "run.sh: VM ran $(($(date +%s) - start)) s" >&2

exec python3 "$top/tools/vm/report.py" --mode "$mode" --qemu-rc "$rc" \
	--timeout "$timeout_s" --expect "${expect[*]}" "$log"
