#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate the netlink family's policy and op tables and its uAPI header
# from Documentation/netlink/specs/vhost-iommu.yaml with the kernel tree's
# own generator (tools/net/ynl/ynl-gen-c.py), validated against the tree's
# genetlink schema.
#
#   tools/netlink/ynl-gen.sh KDIR          rewrite the generated files
#   tools/netlink/ynl-gen.sh --check KDIR  fail if they are out of date
set -euo pipefail
cd "$(dirname "$0")/../.."

check=
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
kdir=${1:?usage: ynl-gen.sh [--check] KDIR}
gen=$kdir/tools/net/ynl/ynl-gen-c.py
schema=$kdir/Documentation/netlink/genetlink.yaml
[ -f "$gen" ] && [ -f "$schema" ] ||
	{ echo "ynl-gen.sh: $kdir has no tools/net/ynl/ynl-gen-c.py or genetlink schema" >&2; exit 1; }
python=/usr/bin/python3
"$python" -c 'import yaml, jsonschema' 2>/dev/null || {
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml python3-jsonschema >/dev/null; }

spec=Documentation/netlink/specs/vhost-iommu.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The generator wants a kernel-like tree: the schema next to the specs'
# directory, and a MAINTAINERS file at the top, from which it names the spec.
mkdir -p "$tmp/Documentation/netlink/specs"
cp "$spec" "$tmp/$spec"
ln -s "$schema" "$tmp/Documentation/netlink/genetlink.yaml"
touch "$tmp/MAINTAINERS"

# output file, generator arguments
outputs=(
	"drivers/netlink-gen.h|--mode kernel --header"
	"drivers/netlink-gen.c|--mode kernel --source"
	"include/uapi/linux/vhost_iommu_netlink.h|--mode uapi --header"
)
status=0
for o in "${outputs[@]}"; do
	file=${o%%|*}
	args=${o#*|}
	# shellcheck disable=SC2086
	(cd "$tmp" && timeout 120 "$python" "$gen" $args --spec "$tmp/$spec" \
		-o "$tmp/${file##*/}") >/dev/null
	mv "$tmp/${file##*/}" "$tmp/out"
	if [ -n "$check" ]; then
		if ! cmp -s "$tmp/out" "$file"; then
			echo "ynl-gen.sh: $file is not what $spec generates; run tools/netlink/ynl-gen.sh KDIR" >&2
			diff -u "$file" "$tmp/out" | head -40 >&2 || true
			status=1
		fi
	else
		cp "$tmp/out" "$file"
	fi
done
exit $status
