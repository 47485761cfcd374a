#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) the vhost-iommu test kernel from Debian's
# linux-source-6.12 (--source 6.12, the default) or from the newest Linux
# source Debian carries (--source newest: sid's linux-source-X.Y package,
# downloaded with a private apt configuration and unpacked, never installed):
# tinyconfig + base.config (+ debug.config for the debug variant, + newest.config
# for the newest tree). The guest variant is the nested guest of suite qemu: tinyconfig
# + guest.config alone, bzImage only (no modules, no headers). The tree is
# cached outside the checkout, keyed by the source package version and a
# hash of the fragments, and rebuilt only when one of them changes.
#
#   build.sh [--variant debug|fast|guest] [--source 6.12|newest] [--print-dir]
#
# --print-dir prints the tree's path (built or not) and exits.
# Environment: VHOST_IOMMU_CACHE (default ~/.cache/vhost-iommu),
# VHOST_IOMMU_KERNEL (the default for --source; `make KERNEL=newest` sets it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
variant=debug
source=${VHOST_IOMMU_KERNEL:-6.12}
print_dir=0
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
	--source) source=$2; shift 2 ;;
	--print-dir) print_dir=1; shift ;;
	*) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

case "$variant" in
debug) frags=("$here/base.config" "$here/debug.config") ;;
fast) frags=("$here/base.config") ;;
guest) frags=("$here/guest.config") ;;
*) echo "build.sh: variant must be debug, fast or guest" >&2; exit 2 ;;
esac

case "$source" in
6.12 | newest) ;;
*) echo "build.sh: --source must be 6.12 or newest" >&2; exit 2 ;;
esac
[ "$source" = newest ] && frags+=("$here/newest.config")

# Bump when the build recipe below changes in a way the hash cannot see.
recipe=1
cache=${VHOST_IOMMU_CACHE:-$HOME/.cache/vhost-iommu}

need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "build.sh: need root to install ${missing[*]}" >&2
		exit 1
	fi
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
}

# sid's package lists live in the cache, so the machine's own apt sources
# and packages are never touched by the newest tree.
sid=$cache/apt-sid
sid_opts=(-o "Dir::Etc::SourceList=$sid/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$sid/lists" -o "Dir::Cache=$sid/cache"
	-o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root)

sid_update() {
	local uri
	mkdir -p "$sid/lists/partial" "$sid/cache/archives/partial"
	# The Debian archive the machine already uses (tools/debian-mirror.sh).
	read -r uri _ < <("$here/../debian-mirror.sh") || true
	uri=${uri:-http://deb.debian.org/debian}
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" \
		>"$sid/sources.list"
	apt-get "${sid_opts[@]}" update -qq >&2
}

# The newest linux-source-X.Y sid has, as "X.Y VERSION".
sid_newest() {
	[ -d "$sid/lists" ] || return 0
	apt-cache "${sid_opts[@]}" show linux-source 2>/dev/null |
		sed -n 's/^Depends:.*linux-source-\([0-9][0-9.]*\).*/\1/p' | sort -V | tail -n 1 |
		while read -r series; do
			echo "$series $(apt-cache "${sid_opts[@]}" show "linux-source-$series" |
				sed -n 's/^Version: //p' | sort -V | tail -n 1)"
		done
}

if [ "$source" = 6.12 ]; then
	series=6.12
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	if [ -z "$ver" ] && [ $print_dir -eq 0 ]; then
		need_pkgs linux-source-6.12
		ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	fi
	tarball=/usr/src/linux-source-6.12.tar.xz
else
	read -r series ver < <(sid_newest) || true
	if [ -z "${ver:-}" ] && [ $print_dir -eq 0 ]; then
		need_pkgs apt
		sid_update
		read -r series ver < <(sid_newest) || true
		[ -n "${ver:-}" ] || { echo "build.sh: sid lists no linux-source-X.Y" >&2; exit 1; }
	fi
	tarball=$sid/src/$series-$ver/usr/src/linux-source-$series.tar.xz
fi
pkg=linux-source-${series:-none}
ver=${ver:-none}
key=$( (echo "$ver $variant $recipe"; cat "${frags[@]}") | sha256sum | cut -c1-12)
dir="$cache/linux-$(echo "$ver" | tr -c 'A-Za-z0-9.\n' '_')-$variant-$key"

if [ $print_dir -eq 1 ]; then
	echo "$dir"
	exit 0
fi

if [ -f "$dir/.vhost-iommu-built" ]; then
	echo "$dir"
	exit 0
fi

[ "$source" = 6.12 ] && need_pkgs "$pkg"
need_pkgs build-essential bc bison flex libelf-dev libssl-dev cpio \
	xz-utils kmod python3 perl

mkdir -p "$cache"
exec 9>"$cache/.lock-$variant"
flock 9
if [ -f "$dir/.vhost-iommu-built" ]; then
	echo "$dir"
	exit 0
fi

if [ "$source" = newest ] && [ ! -f "$tarball" ]; then
	echo "build.sh: downloading $pkg $ver from sid" >&2
	rm -rf "$sid/src"
	mkdir -p "$sid/src/$series-$ver"
	(cd "$sid/src" && apt-get "${sid_opts[@]}" download "$pkg=$ver" >&2 &&
		dpkg-deb -x "${pkg}_"*.deb "$series-$ver" && rm -f "${pkg}_"*.deb)
fi

# Only the newest tree of each variant and source is kept.
for old in "$cache"/linux-*-"$variant"-*; do
	[ -e "$old" ] && [ "$old" != "$dir" ] || continue
	[ "$(cat "$old/.vhost-iommu-source" 2>/dev/null || echo 6.12)" = "$source" ] &&
		rm -rf "$old"
done
rm -rf "$dir"
mkdir -p "$dir"
log="$cache/build-$variant-$series.log"
echo "build.sh: building $variant kernel from $pkg $ver in $dir (log: $log)" >&2
start=$(date +%s)

tar -xf "$tarball" -C "$dir" --strip-components=1
cd "$dir"
echo "$source" >.vhost-iommu-source
{
	make tinyconfig
	scripts/kconfig/merge_config.sh -m .config "${frags[@]}"
	make olddefconfig
} >"$log" 2>&1

# merge_config.sh and olddefconfig drop options whose dependencies are unmet
# without failing; check that every fragment line made it.
missing=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" .config || missing+=("$line")
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		grep -q "^$opt=" .config && missing+=("$line")
		;;
	esac
done < <(cat "${frags[@]}")
if [ ${#missing[@]} -gt 0 ]; then
	echo "build.sh: these fragment options are not in the final .config:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi

targets=(bzImage modules)
[ "$variant" = guest ] && targets=(bzImage)
if ! make -j"$(nproc)" "${targets[@]}" >>"$log" 2>&1 ||
	{ [ "$variant" != guest ] && ! make headers >>"$log" 2>&1; }; then
	tail -n 40 "$log" >&2
	echo "build.sh: kernel build failed; full log: $log" >&2
	exit 1
fi
touch .vhost-iommu-built
echo "build.sh: built in $(($(date +%s) - start)) s" >&2
echo "$dir"
