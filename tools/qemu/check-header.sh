#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU series carries a copy of include/uapi/linux/vhost_iommu.h
# (patches/0002-linux-headers-Add-vhost_iommu.h.patch, a new file there):
# fail when the copy differs from the header, so a uAPI change comes with
# the series refreshed (Documentation/qemu.rst, "The patch series").
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
patch=$(grep -l '^+++ b/linux-headers/linux/vhost_iommu.h$' "$top"/tools/qemu/patches/*.patch) || {
	echo "check-header.sh: no patch adds linux-headers/linux/vhost_iommu.h" >&2
	exit 1
}
copy=$(awk '
	/^\+\+\+ b\/linux-headers\/linux\/vhost_iommu.h$/ { on = 1; next }
	on && /^@@ / { next }
	on && /^\+/ { print substr($0, 2); next }
	on { exit }' "$patch")
if ! diff -u <(echo "$copy") "$top/include/uapi/linux/vhost_iommu.h"; then
	echo "check-header.sh: $(basename "$patch") carries another vhost_iommu.h than include/uapi/linux/" >&2
	exit 1
fi
