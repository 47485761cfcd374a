#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Static check "apt-mirror": tools/debian-mirror.sh on fixture apt
# configurations, the shapes fresh machines have: a disabled third-party
# file listed before Debian's, a third-party repository that carries the
# release's suite name, deb822 and one-line files, entries disabled in
# either format. Each case names the answer it expects; the same files
# written in another order give the same answer.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# fixture NAME: an empty root with os-release saying bookworm.
fixture() {
	mkdir -p "$tmp/$1/etc/apt/sources.list.d"
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n' \
		>"$tmp/$1/etc/os-release"
}

# expect NAME "URI KEYRING" | expect NAME none
expect() {
	local got rc
	got=$("$here/debian-mirror.sh" --root "$tmp/$1" 2>/dev/null)
	rc=$?
	if [ "$2" = none ]; then
		if [ $rc -ne 0 ] && [ -z "$got" ]; then
			echo "ok: $1: no Debian mirror"
			return
		fi
	elif [ $rc -eq 0 ] && [ "$got" = "$2" ]; then
		echo "ok: $1: $got"
		return
	fi
	echo "FAIL: $1: got '$got' (exit $rc), expected '$2'"
	fails=$((fails + 1))
}

debian_kr=/usr/share/keyrings/debian-archive-keyring.gpg

# The machine of the report: a disabled third-party one-line file sorts
# first, a disabled deb822 one after it, Debian's own deb822 file last.
write_cloud() {
	local d=$tmp/$1/etc/apt/sources.list.d
	echo 'deb https://apt.vendor.example.net/apt cloud-sdk-bookworm main' \
		>"$d/a-cloud-sdk.list.disabled-by-admin"
	printf 'Types: deb\nURIs: https://deb.vendor.example.net/node_20.x\nSuites: nodistro\nComponents: main\n' \
		>"$d/nodesource.sources.disabled-by-admin"
	printf '%s\n' 'Types: deb' '# a snapshot comment' \
		'URIs: http://mirror.example.org/debian' 'Suites: bookworm bookworm-updates' \
		'Components: main' "Signed-By: $debian_kr" '' 'Types: deb' \
		'URIs: http://mirror.example.org/debian-security' 'Suites: bookworm-security' \
		'Components: main' "Signed-By: $debian_kr" >"$d/debian.sources"
}
fixture disabled-first
write_cloud disabled-first
expect disabled-first "http://mirror.example.org/debian $debian_kr"

# Same files, written in the opposite order: the same answer.
fixture disabled-first-reordered
d=$tmp/disabled-first-reordered/etc/apt/sources.list.d
fixture tmp-cloud
write_cloud tmp-cloud
for f in debian.sources nodesource.sources.disabled-by-admin a-cloud-sdk.list.disabled-by-admin; do
	cp "$tmp/tmp-cloud/etc/apt/sources.list.d/$f" "$d/$f"
done
expect disabled-first-reordered "http://mirror.example.org/debian $debian_kr"

# An enabled third-party file before Debian's carries the suite's name
# but its own keyring: not Debian's archive.
fixture vendor-suite
d=$tmp/vendor-suite/etc/apt/sources.list.d
echo 'deb [arch=amd64 signed-by=/usr/share/keyrings/vendor.gpg] https://apt.vendor.example.net/debian bookworm main' \
	>"$d/00-vendor.list"
echo "deb [signed-by=$debian_kr] http://ftp.example.org/debian/ bookworm main contrib" \
	>"$d/debian.list"
expect vendor-suite "http://ftp.example.org/debian/ $debian_kr"

# The classic sources.list, unsigned; deb-src lines and a deb822 entry
# with Enabled: no are not taken, nor another release's suite.
fixture classic
printf '%s\n' '# deb http://commented.example.org/debian bookworm main' \
	'deb-src http://src.example.org/debian bookworm main' \
	'deb http://old.example.org/debian bullseye main' \
	'deb http://ftp.example.org/debian bookworm main' >"$tmp/classic/etc/apt/sources.list"
printf 'Types: deb\nURIs: http://off.example.org/debian\nSuites: bookworm\nEnabled: no\nSigned-By: %s\n' \
	"$debian_kr" >"$tmp/classic/etc/apt/sources.list.d/aaa.sources"
expect classic "http://ftp.example.org/debian "

# Only third-party and disabled entries: no answer (the callers then
# fall back to Debian's default mirror).
fixture none
echo 'deb https://apt.vendor.example.net/apt bookworm main' \
	>"$tmp/none/etc/apt/sources.list.d/vendor.list"
echo "deb [signed-by=$debian_kr] http://mirror.example.org/debian bookworm main" \
	>"$tmp/none/etc/apt/sources.list.d/debian.list.save"
expect none none

echo "apt-mirror: $fails failed"
[ $fails -eq 0 ]
