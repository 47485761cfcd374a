#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) the QEMU that drives vhost-iommu: Debian's
# QEMU source package, the patch series in tools/qemu/patches/ applied in
# `series` order, configured minimal (x86_64-softmmu, TCG, no GUI, vhost
# kernel support). The tree is cached outside the checkout, keyed by the
# source version, the series and the configure recipe, and rebuilt only
# when one of them changes. The binary is <dir>/build/qemu-system-x86_64.
#
#   build.sh [--suite SUITE] [--source-version VERSION] [--jobs N] [--print-dir]
#
# --suite           Debian suite to take the source from (default bookworm:
#                   QEMU 7.2; trixie gives 10.0, which needs Debian's meson
#                   source from trixie too, see Documentation/qemu.rst).
#                   Only a deb-src entry is added for it: no binary package
#                   comes from it.
# --source-version  an exact Debian version of the qemu source package
#                   (e.g. 1:10.0.13+ds-0+deb13u1) instead of the suite's newest.
# --jobs            parallel build jobs (default 2, at nice 10).
# --print-dir       prints the tree's path (built or not) and exits.
# Environment: VHOST_IOMMU_CACHE (default ~/.cache/vhost-iommu).
#
# Needs root on the first run: it writes
# /etc/apt/sources.list.d/vhost-iommu-src.sources (deb-src for the mirror
# the machine already uses) and installs the build dependencies from the
# machine's own (bookworm) suites.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
srcver_req=
jobs=2
print_dir=0
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) suite=$2; shift 2 ;;
	--source-version) srcver_req=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--print-dir) print_dir=1; shift ;;
	*) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$jobs" in
'' | *[!0-9]*) echo "build.sh: --jobs needs a number" >&2; exit 2 ;;
esac
case "$suite" in
'' | *[!a-z0-9-]*) echo "build.sh: bad suite name '$suite'" >&2; exit 2 ;;
esac

# Bump when the build recipe below changes in a way the hash cannot see.
recipe=2
cache=${VHOST_IOMMU_CACHE:-$HOME/.cache/vhost-iommu}
srclist=/etc/apt/sources.list.d/vhost-iommu-src.sources
patchdir=$here/patches
apt_opts=(-o DPkg::Lock::Timeout=600 -o APT::Get::Show-Versions=0)

# The minimal configuration: TCG, PCI and virtio (in the x86 defaults), the
# serial console (-nographic), vhost on the kernel's vhost devices, and
# libfdt (7.2's x86 target requires it, for microvm). Everything else is off.
configure_args=(
	--target-list=x86_64-softmmu
	--without-default-features
	--disable-docs
	--disable-user
	--disable-werror
	--enable-tcg
	--enable-vhost-kernel
	--enable-fdt=system
)

die() {
	echo "build.sh: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "need root to $*"
}

need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}" >&2
	need_root "install ${missing[*]}"
	apt-get "${apt_opts[@]}" update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

# The series: tools/qemu/patches/series names the patches in order (quilt
# format: one file name a line, '#' comments). Without a series file, every
# *.patch in name order. A patch the series does not name is an error: it
# would silently not be applied.
patches=()
if [ -f "$patchdir/series" ]; then
	while IFS= read -r line; do
		line=${line%%#*}
		read -r name _ <<<"$line" || true
		[ -n "${name:-}" ] || continue
		[ -f "$patchdir/$name" ] || die "patches/series names $name, which is not in $patchdir"
		patches+=("$patchdir/$name")
	done <"$patchdir/series"
	for p in "$patchdir"/*.patch; do
		[ -e "$p" ] || continue
		listed=0
		for q in "${patches[@]}"; do
			[ "$p" = "$q" ] && listed=1
		done
		[ $listed -eq 1 ] || die "$(basename "$p") is in $patchdir but not in patches/series"
	done
else
	for p in "$patchdir"/*.patch; do
		[ -e "$p" ] && patches+=("$p")
	done
fi

# deb-src only: the machine's own release and the suite we take sources from.
setup_sources() {
	local uri kr want suites
	suites=$(sed -n 's/^VERSION_CODENAME=["]*\([a-z0-9-]*\).*/\1/p' /etc/os-release)
	[ "$suite" = "$suites" ] || suites="$suites $suite"
	read -r uri kr < <("$here/../debian-mirror.sh") || true
	[ -n "${uri:-}" ] || die "found no 'deb' entry for this Debian release in /etc/apt to derive a deb-src mirror from"
	kr=${kr:-/usr/share/keyrings/debian-archive-keyring.gpg}
	want=$(printf '%s\n' \
		"# Written by vhost-iommu tools/qemu/build.sh: Debian source packages" \
		"# (deb-src only) to build QEMU from; no binary package comes from here." \
		"Types: deb-src" \
		"URIs: $uri" \
		"Suites: $suites" \
		"Components: main" \
		"Signed-By: $kr")
	if [ "$(cat "$srclist" 2>/dev/null)" != "$want" ]; then
		need_root "write $srclist"
		echo "build.sh: adding deb-src $uri $suites in $srclist" >&2
		echo "$want" >"$srclist"
	fi
}

# Version of a source package as apt would fetch it (no epoch), or nothing.
resolve() {
	local spec=$1 tmp
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get source --print-uris "$spec" 2>/dev/null) |
		awk '$2 ~ /\.dsc$/ { sub(/^[^_]*_/, "", $2); sub(/\.dsc$/, "", $2); print $2; exit }' || true
	rmdir "$tmp"
}

qemu_spec=qemu/$suite
[ -n "$srcver_req" ] && qemu_spec=qemu=$srcver_req
ver=$(resolve "$qemu_spec")
if [ -z "$ver" ] && [ $print_dir -eq 0 ]; then
	need_pkgs dpkg-dev
	setup_sources
	need_root "run apt-get update"
	apt-get "${apt_opts[@]}" update -qq >&2
	ver=$(resolve "$qemu_spec")
	[ -n "$ver" ] || die "apt finds no source package $qemu_spec (deb-src in $srclist)"
fi
ver=${ver:-none}

key=$( (
	echo "$ver $recipe ${configure_args[*]}"
	for p in "${patches[@]}"; do
		basename "$p"
		cat "$p"
	done
) | sha256sum | cut -c1-12)
dir="$cache/qemu-$(echo "$ver" | tr -c 'A-Za-z0-9.\n' '_')-$key"

if [ $print_dir -eq 1 ]; then
	echo "$dir"
	exit 0
fi

if [ -f "$dir/.vhost-iommu-built" ]; then
	echo "$dir"
	exit 0
fi

need_pkgs dpkg-dev build-essential pkg-config ninja-build python3 python3-venv \
	python3-pip python3-setuptools libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev patch

mkdir -p "$cache"
exec 9>"$cache/.lock-qemu"
flock 9
if [ -f "$dir/.vhost-iommu-built" ]; then
	echo "$dir"
	exit 0
fi

# Only the newest tree is kept.
for old in "$cache"/qemu-*; do
	[ -e "$old" ] && [ "$old" != "$dir" ] && rm -rf "$old"
done
rm -rf "$dir"
log="$cache/build-qemu.log"
: >"$log"
echo "build.sh: building QEMU $ver ($qemu_spec, ${#patches[@]} patches) in $dir (log: $log)" >&2
start=$(date +%s)

fail() {
	tail -n 40 "$log" >&2
	die "$*; full log: $log"
}

tools="$dir/.vhost-iommu"
dl=$(mktemp -d "$cache/.qemu-dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
if ! (cd "$dl" && apt-get "${apt_opts[@]}" source --download-only "$qemu_spec") >>"$log" 2>&1 ||
	! (cd "$dl" && dpkg-source -x qemu_*.dsc src) >>"$log" 2>&1; then
	fail "fetching or unpacking $qemu_spec failed"
fi
mv "$dl/src" "$dir"
rm -f "$dl"/*
mkdir -p "$tools"
cd "$dir"

for p in "${patches[@]}"; do
	echo "== patch $(basename "$p")" >>"$log"
	if ! patch -p1 -F0 -N --batch --no-backup-if-mismatch -i "$p" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "patch $(basename "$p") does not apply to qemu $ver (no fuzz allowed); full log: $log"
	fi
done

# QEMU 8.1 and later build in a Python venv of their own and want a newer
# Meson than bookworm's (10.0: >= 1.5.0). Debian's source drops the
# bundled wheel (python/wheels), so take Meson from Debian's source
# package of the same suite and install it (pure Python) into a venv of
# this tree; configure's venv nests in it and finds it. No binary package
# of another suite is used.
need_meson=$(sed -n "s/.*meson_version *: *'>= *\([0-9.]*\)'.*/\1/p" meson.build | head -n 1)
have_meson=$(dpkg-query -W -f='${Version}' meson 2>/dev/null || true)
py_args=()
if grep -q mkvenv configure; then
	if [ -n "$have_meson" ] && dpkg --compare-versions "$have_meson" ge "$need_meson"; then
		: # the system Meson will do
	else
		echo "build.sh: QEMU $ver needs Meson >= $need_meson; building Debian's meson/$suite in $tools" >&2
		if ! (cd "$dl" && apt-get "${apt_opts[@]}" source --download-only "meson/$suite") >>"$log" 2>&1 ||
			! (cd "$dl" && dpkg-source -x meson_*.dsc meson) >>"$log" 2>&1 ||
			! mv "$dl/meson" "$tools/meson" ||
			! python3 -m venv --system-site-packages --without-pip "$tools/venv" >>"$log" 2>&1 ||
			! "$tools/venv/bin/python3" -m pip install --no-index --no-deps \
				--no-build-isolation --disable-pip-version-check "$tools/meson" >>"$log" 2>&1; then
			fail "QEMU $ver needs Meson >= $need_meson (bookworm has ${have_meson:-none}) and installing it from Debian's meson/$suite source failed (is that source reachable from this mirror?); --suite bookworm builds QEMU 7.2 with bookworm's Meson"
		fi
		py_args=(--python="$tools/venv/bin/python3")
		rm -rf "$tools/meson"
	fi
	# Everything is in the source package: never download subprojects.
	configure_args+=(--disable-download)
	# Since 8.2 pixman is optional; the default VGA wants it.
	grep -q "option('pixman'" meson_options.txt && configure_args+=(--enable-pixman)
else
	need_pkgs meson
fi

t=$(date +%s)
echo "== configure ${configure_args[*]} ${py_args[*]}" >>"$log"
if ! ./configure "${configure_args[@]}" "${py_args[@]}" >>"$log" 2>&1; then
	fail "configure failed"
fi
grep -q '^#define CONFIG_VHOST_KERNEL' build/config-host.h ||
	fail "configure did not enable vhost-kernel support"
echo "build.sh: configured in $(($(date +%s) - t)) s" >&2

t=$(date +%s)
# Only the emulator: QEMU's default target also builds its unit and qtest
# programs, which take as long again.
if ! nice -n 10 make -C build -j"$jobs" qemu-system-x86_64 >>"$log" 2>&1; then
	fail "QEMU build failed"
fi
echo "build.sh: compiled in $(($(date +%s) - t)) s" >&2

# Self-check: the binary runs from the build directory and has the device.
qemu=build/qemu-system-x86_64
if ! "$qemu" --version >>"$log" 2>&1; then
	fail "$dir/$qemu --version does not run"
fi
if ! "$qemu" -device help 2>>"$log" | grep -q '"virtio-iommu-pci"'; then
	fail "$dir/$qemu -device help lists no virtio-iommu-pci"
fi
touch .vhost-iommu-built
echo "build.sh: $("$qemu" --version | head -n 1), built in $(($(date +%s) - start)) s" >&2
echo "$dir"
