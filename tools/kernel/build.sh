#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) the vhost-iommu test kernel from Debian's
# linux-source-6.12: tinyconfig + base.config (+ debug.config for the debug
# variant). The guest variant is the nested guest of suite qemu: tinyconfig
# + guest.config alone, bzImage only (no modules, no headers). The tree is
# cached outside the checkout, keyed by the source package version and a
# hash of the fragments, and rebuilt only when one of them changes.
#
#   build.sh [--variant debug|fast|guest] [--print-dir]
#
# --print-dir prints the tree's path (built or not) and exits.
# Environment: VHOST_IOMMU_CACHE (default ~/.cache/vhost-iommu).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
variant=debug
print_dir=0
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
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

pkg=linux-source-6.12
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

srcver() {
	dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true
}

ver=$(srcver)
if [ -z "$ver" ] && [ $print_dir -eq 0 ]; then
	need_pkgs "$pkg"
	ver=$(srcver)
fi
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

need_pkgs "$pkg" build-essential bc bison flex libelf-dev libssl-dev cpio \
	xz-utils kmod python3 perl

mkdir -p "$cache"
exec 9>"$cache/.lock-$variant"
flock 9
if [ -f "$dir/.vhost-iommu-built" ]; then
	echo "$dir"
	exit 0
fi

# Only the newest tree of each variant is kept.
for old in "$cache"/linux-*-"$variant"-*; do
	[ -e "$old" ] && [ "$old" != "$dir" ] && rm -rf "$old"
done
rm -rf "$dir"
mkdir -p "$dir"
log="$cache/build-$variant.log"
echo "build.sh: building $variant kernel from $pkg $ver in $dir (log: $log)" >&2
start=$(date +%s)

tar -xf /usr/src/linux-source-6.12.tar.xz -C "$dir" --strip-components=1
cd "$dir"
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
