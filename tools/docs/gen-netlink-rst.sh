#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate Documentation/netlink-spec.rst, the reference of the netlink
# family, from Documentation/netlink/specs/vhost-iommu.yaml with the kernel
# tree's own generator (tools/net/ynl/ynl-gen-rst.py, as the kernel builds
# Documentation/networking/netlink_spec/). Documentation/netlink.rst is the
# hand-written half.
#
#   tools/docs/gen-netlink-rst.sh KDIR          rewrite the file
#   tools/docs/gen-netlink-rst.sh --check KDIR  fail if it is out of date
#
# Either way the result is checked with tools/docs/rst-check.py (docutils,
# warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/../.."

check=
args=()
for a in "$@"; do
	case "$a" in
	--check) check=1 ;;
	*) args+=("$a") ;;
	esac
done
[ ${#args[@]} -eq 1 ] || { echo "usage: gen-netlink-rst.sh [--check] KDIR" >&2; exit 2; }
kdir=${args[0]}
gen=$kdir/tools/net/ynl/ynl-gen-rst.py
[ -f "$gen" ] || { echo "gen-netlink-rst.sh: $kdir has no tools/net/ynl/ynl-gen-rst.py" >&2; exit 1; }
python=/usr/bin/python3
"$python" -c 'import yaml, docutils' 2>/dev/null || {
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml python3-docutils >/dev/null; }

spec=Documentation/netlink/specs/vhost-iommu.yaml
doc=Documentation/netlink-spec.rst
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The generator exits 0 even when it could not write; check for output.
timeout 120 "$python" "$gen" -i "$spec" -o "$tmp/gen.rst"
[ -s "$tmp/gen.rst" ] || { echo "gen-netlink-rst.sh: $gen wrote nothing for $spec" >&2; exit 1; }
# Say where the page comes from, under the SPDX line, and drop the
# trailing blanks the generator leaves after empty field bodies.
sed -e 's/[[:space:]]*$//' \
	-e "1a .. Generated from $spec by tools/docs/gen-netlink-rst.sh; do not edit." \
	"$tmp/gen.rst" >"$tmp/out"

status=0
if [ -n "$check" ]; then
	if ! cmp -s "$tmp/out" "$doc"; then
		echo "gen-netlink-rst.sh: $doc is not what $spec generates; run tools/docs/gen-netlink-rst.sh KDIR" >&2
		diff -u "$doc" "$tmp/out" | head -40 >&2 || true
		status=1
	fi
else
	cp "$tmp/out" "$doc"
fi
cp "$tmp/out" "$tmp/netlink-spec.rst"
tools/docs/rst-check.py "$tmp/netlink-spec.rst" || {
	echo "gen-netlink-rst.sh: the generated $doc is not valid reStructuredText (see above)" >&2
	status=1
}
exit $status
