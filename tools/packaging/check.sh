#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Packaging checks, run by tools/check.sh as static checks:
#
#   check.sh version        dkms.conf's PACKAGE_VERSION equals Kbuild's
#                           VHOST_IOMMU_VERSION (the module's version)
#   check.sh dkms KDIR      the module built and installed through DKMS
#                           against the kernel tree KDIR, then
#                           `make install DESTDIR=`, both into a staging
#                           root under /tmp: the system's /lib/modules,
#                           /usr/src and /var/lib/dkms are not touched.
#                           Installs dkms (without recommends) if missing.
#
# Every step is printed; the exit status says whether all held.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

fails=0
ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_eq() { # what expected actual
	if [ "$2" = "$3" ]; then ok "$1: $3"; else bad "$1: '$3', expected '$2'"; fi
}

conf_value() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" dkms.conf; }
kbuild_version() { sed -n 's/^VHOST_IOMMU_VERSION[[:space:]]*:=[[:space:]]*\([^[:space:]]*\)$/\1/p' Kbuild; }

check_version() {
	local conf kb
	conf=$(conf_value PACKAGE_VERSION)
	kb=$(kbuild_version)
	[ -n "$kb" ] || bad "no VHOST_IOMMU_VERSION := in Kbuild"
	[ -n "$conf" ] || bad "no PACKAGE_VERSION= in dkms.conf"
	expect_eq "dkms.conf PACKAGE_VERSION against Kbuild" "$kb" "$conf"
	expect_eq "dkms.conf PACKAGE_NAME" vhost-iommu "$(conf_value PACKAGE_NAME)"
}

# Fields every install of the module must carry.
check_modinfo() { # ko version
	local ko=$1 ver=$2 aliases
	expect_eq "$ko version" "$ver" "$(modinfo -F version "$ko")"
	expect_eq "$ko license" GPL "$(modinfo -F license "$ko")"
	aliases=$(modinfo -F alias "$ko" | sort | tr '\n' ' ')
	expect_eq "$ko aliases (none: a dynamic minor has no devname)" "" "$aliases"
}

# A dynamic minor: depmod makes no boot-time node for the module.
check_devname() { # modules.devname
	if [ -f "$1" ] && ! grep -q '^vhost_iommu ' "$1"; then
		ok "$1 names no node of vhost_iommu"
	else
		bad "$1 is missing or names a node of vhost_iommu: $(grep -v '^#' "$1" | tr '\n' ' ')"
	fi
}

# depmod over the installed module reports nothing about it.
check_depmod() { # root release
	local out
	out=$(depmod -b "$1" "$2" 2>&1 | grep -v 'could not open modules\.' || true)
	if printf '%s\n' "$out" | grep -q vhost_iommu; then
		bad "depmod on $1: $out"
	else
		ok "depmod on $1 reports nothing about vhost_iommu"
	fi
}

# The only module files under a tree must be vhost_iommu.ko.
check_only_module() { # tree expected-path
	local found
	found=$(cd "$1" && find . -name '*.ko*' | sed 's|^\./||' | sort | tr '\n' ' ')
	expect_eq "modules under $1" "$2 " "$found"
}

check_file() { # source installed: installed is a copy of source, if any
	[ -f "$1" ] || return 0
	if cmp -s "$1" "$2"; then ok "$2"; else bad "$2 is not a copy of $1"; fi
}

check_dkms() {
	local kdir=$1 name ver rel tmp src f rc
	name=$(conf_value PACKAGE_NAME)
	ver=$(conf_value PACKAGE_VERSION)
	rel=$(cat "$kdir/include/config/kernel.release")
	if ! command -v dkms >/dev/null; then
		echo "installing dkms"
		apt-get update -qq
		# Its recommends would bring kernel headers packages: not wanted.
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends dkms
	fi
	echo "$(dkms --version) against $kdir ($rel)"

	tmp=$(mktemp -d /tmp/vhost-iommu-pkg.XXXXXX)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	# The source as a package ships it: dkms.conf and what Kbuild builds.
	src=$tmp/usr/src/$name-$ver
	mkdir -p "$src" "$tmp/lib/modules/$rel" "$tmp/var/lib/dkms"
	git ls-files -co --exclude-standard -- dkms.conf Kbuild drivers include |
		while read -r f; do [ -f "$f" ] && cp --parents "$f" "$src/"; done
	local tree=(--dkmstree "$tmp/var/lib/dkms" --sourcetree "$tmp/usr/src"
		--installtree "$tmp/lib/modules")
	# No module signing: with a signing tool found, DKMS would create a
	# key under the real /var/lib/dkms.
	export sign_file=/nonexistent

	if dkms add -m "$name" -v "$ver" "${tree[@]}" &&
		dkms build -m "$name" -v "$ver" -k "$rel" --kernelsourcedir "$kdir" "${tree[@]}" &&
		dkms install -m "$name" -v "$ver" -k "$rel" --kernelsourcedir "$kdir" \
			--no-depmod "${tree[@]}"; then
		ok "dkms add, build, install"
	else
		bad "dkms add/build/install"
		tail -n 30 "$tmp/var/lib/dkms/$name/$ver/build/make.log" 2>/dev/null || true
	fi
	dkms status -m "$name" "${tree[@]}"
	local ko=$tmp/lib/modules/$rel/updates/dkms/vhost_iommu.ko
	if [ -f "$ko" ]; then
		check_modinfo "$ko" "$ver"
		check_only_module "$tmp/lib/modules/$rel" updates/dkms/vhost_iommu.ko
		check_depmod "$tmp" "$rel"
		check_devname "$tmp/lib/modules/$rel/modules.devname"
	else
		bad "no $ko"
	fi

	# BUILD_EXCLUSIVE_*: a kernel without iommufd, or older than 6.11, is
	# skipped (DKMS exit status 77), not a failed build.
	mkdir -p "$tmp/noiommufd"
	grep -v '^CONFIG_IOMMUFD=' "$kdir/.config" >"$tmp/noiommufd/.config"
	rc=0
	dkms build -m "$name" -v "$ver" -k "$rel-noiommufd" \
		--kernelsourcedir "$tmp/noiommufd" "${tree[@]}" >/dev/null 2>&1 || rc=$?
	expect_eq "dkms build on a kernel without CONFIG_IOMMUFD (exit status)" 77 "$rc"
	rc=0
	dkms build -m "$name" -v "$ver" -k 6.10.14 --kernelsourcedir "$kdir" \
		"${tree[@]}" >/dev/null 2>&1 || rc=$?
	expect_eq "dkms build for kernel 6.10.14 (exit status)" 77 "$rc"

	# make install into a staging root.
	local stage=$tmp/stage
	if make -s KDIR="$kdir" install DESTDIR="$stage"; then
		ok "make install DESTDIR=$stage"
	else
		bad "make install DESTDIR=$stage"
	fi
	ko=$stage/lib/modules/$rel/extra/vhost_iommu.ko
	if [ -f "$ko" ]; then
		check_modinfo "$ko" "$ver"
		check_only_module "$stage/lib/modules/$rel" extra/vhost_iommu.ko
		check_depmod "$stage" "$rel"
		check_devname "$stage/lib/modules/$rel/modules.devname"
	else
		bad "no $ko"
	fi
	check_file tools/udev/60-vhost-iommu.rules "$stage/usr/lib/udev/rules.d/60-vhost-iommu.rules"
	check_file tools/packaging/modules-load.conf "$stage/usr/lib/modules-load.d/vhost-iommu.conf"
	# The CLI and its man page, when there are.
	check_file build/bin/vhost-iommu "$stage/usr/sbin/vhost-iommu"
	check_file tools/vhost-iommu/vhost-iommu.8 "$stage/usr/share/man/man8/vhost-iommu.8"
	if make -s KDIR="$kdir" uninstall DESTDIR="$stage" 2>/dev/null &&
		[ -z "$(find "$stage" -type f ! -name 'modules.*')" ]; then
		ok "make uninstall DESTDIR=$stage left only depmod's indexes"
	else
		bad "make uninstall left: $(find "$stage" -type f ! -name 'modules.*' | tr '\n' ' ')"
	fi
}

case "${1:-}" in
version) check_version ;;
dkms)
	[ $# -eq 2 ] || { echo "usage: $0 dkms KDIR" >&2; exit 2; }
	check_version
	check_dkms "$2"
	;;
*) echo "usage: $0 version | dkms KDIR" >&2; exit 2 ;;
esac
[ "$fails" -eq 0 ]
