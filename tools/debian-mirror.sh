#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the Debian archive mirror this machine already uses, as
# "URI KEYRING" (KEYRING may be empty), for the scripts that add a source
# of their own (tools/kernel/build.sh for sid, tools/qemu/build.sh for
# deb-src). Exit 1 if there is none.
#
#   debian-mirror.sh [--root DIR] [--suite CODENAME]
#
# Only what apt itself reads counts: DIR/etc/apt/sources.list and, in name
# order, DIR/etc/apt/sources.list.d/*.list and *.sources ("foo.list.disabled"
# and the like are ignored), enabled 'deb' entries only. Of those, an entry
# for the release's own suite (CODENAME, default VERSION_CODENAME of
# DIR/etc/os-release) that is Debian's archive: signed by
# debian-archive-keyring, or unsigned with a URI path ending in /debian.
# A third-party repository that happens to carry the suite's name is not
# taken. The first such entry wins, so the answer never depends on
# directory order.
set -euo pipefail

root=
suite=
while [ $# -gt 0 ]; do
	case "$1" in
	--root) root=$2; shift 2 ;;
	--suite) suite=$2; shift 2 ;;
	*) echo "debian-mirror.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$suite" ]; then
	suite=$(sed -n 's/^VERSION_CODENAME=["]*\([a-z0-9-]*\).*/\1/p' \
		"$root/etc/os-release" 2>/dev/null || true)
fi
[ -n "$suite" ] || { echo "debian-mirror.sh: no VERSION_CODENAME" >&2; exit 1; }

# Both formats print "URI KEYRING SUITE..." for each enabled deb entry.
one_line() {
	awk '
	/^[ \t]*deb[ \t]/ {
		sub(/^[ \t]*deb[ \t]+/, "")
		kr = ""
		if ($0 ~ /^\[/) {
			opts = substr($0, 2, index($0, "]") - 2)
			$0 = substr($0, index($0, "]") + 1)
			n = split(opts, o, /[ \t]+/)
			for (i = 1; i <= n; i++)
				if (o[i] ~ /^signed-by=/)
					kr = substr(o[i], 11)
		}
		if ($1 != "" && $2 != "")
			print $1, (kr == "" ? "-" : kr), $2
	}' "$1"
}

deb822() {
	awk '
	BEGIN { RS = ""; FS = "\n" }
	{
		types = ""; uri = ""; suites = ""; kr = ""; enabled = "yes"
		for (i = 1; i <= NF; i++) {
			line = $i
			if (line ~ /^[ \t]*#/ || index(line, ":") == 0)
				continue
			k = tolower(substr(line, 1, index(line, ":") - 1))
			v = substr(line, index(line, ":") + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k == "types") types = " " v " "
			else if (k == "uris") { split(v, u, /[ \t]+/); uri = u[1] }
			else if (k == "suites") suites = v
			else if (k == "signed-by") kr = v
			else if (k == "enabled") enabled = tolower(v)
		}
		if (enabled != "no" && types ~ / deb / && uri != "" && suites != "")
			print uri, (kr ~ /^\// ? kr : "-"), suites
	}' "$1"
}

entries() {
	local f
	[ -f "$root/etc/apt/sources.list" ] && one_line "$root/etc/apt/sources.list"
	for f in "$root"/etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && one_line "$f"
	done
	for f in "$root"/etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && deb822 "$f"
	done
	return 0
}

# LC_ALL=C: the glob order above is then byte order on every machine.
export LC_ALL=C
entries | awk -v suite="$suite" '
{
	uri = $1; kr = $2
	ours = 0
	for (i = 3; i <= NF; i++)
		if ($i == suite)
			ours = 1
	if (!ours)
		next
	if (kr != "-") {
		if (kr !~ /debian-archive-keyring/)
			next
	} else {
		path = uri
		sub(/\/+$/, "", path)
		if (path !~ /\/debian$/)
			next
	}
	print uri, (kr == "-" ? "" : kr)
	found = 1
	exit
}
END { exit found ? 0 : 1 }'
