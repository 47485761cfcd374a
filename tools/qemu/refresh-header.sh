#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Rewrite the QEMU series' copy of the uAPI header (the patch that adds
# linux-headers/linux/vhost_iommu.h) from include/uapi/linux/vhost_iommu.h:
# the diffstat, the blob index and the new-file hunk. Run after a uAPI
# change; check-header.sh (static check qemu-header) then passes. The
# QEMU build cache is keyed by the series, so the next QEMU build is a
# fresh one.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
hdr=$top/include/uapi/linux/vhost_iommu.h
patch=$(grep -l '^+++ b/linux-headers/linux/vhost_iommu.h$' "$top"/tools/qemu/patches/*.patch)
n=$(wc -l <"$hdr")
blob=$(git hash-object "$hdr" | cut -c1-8)
plus=$(printf '%*s' $((n > 30 ? 30 : n)) '' | tr ' ' '+')
tmp=$(mktemp)
awk -v n="$n" -v blob="$blob" -v plus="$plus" -v hdr="$hdr" '
	/^ linux-headers\/linux\/vhost_iommu.h \| / {
		printf " linux-headers/linux/vhost_iommu.h | %d %s\n", n, plus; next
	}
	/^ 1 file changed, [0-9]+ insertions/ {
		printf " 1 file changed, %d insertions(+)\n", n; next
	}
	/^index 0+\.\.[0-9a-f]+$/ { sub(/\.\.[0-9a-f]+$/, ".." blob); print; next }
	/^@@ -0,0 \+1,[0-9]+ @@/ {
		printf "@@ -0,0 +1,%d @@\n", n
		while ((getline l < hdr) > 0) print "+" l
		skip = 1; next
	}
	skip && /^\+/ { next }
	{ skip = 0; print }' "$patch" >"$tmp"
mv "$tmp" "$patch"
echo "refresh-header.sh: $(basename "$patch") now carries $n lines, blob $blob"
