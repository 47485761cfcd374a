#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make coverage: build the module with GCOV_PROFILE on the debug test
# kernel (CONFIG_GCOV_KERNEL), run every suite in the VM, bring the .gcda
# files back over the console and print line coverage per file of
# drivers/. The gcov output is kept in build/coverage/.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kdir=$(tools/kernel/build.sh --variant debug) || exit 1
grep -q '^CONFIG_GCOV_KERNEL=y' "$kdir/.config" || {
	echo "coverage.sh: $kdir has no CONFIG_GCOV_KERNEL" >&2
	exit 1
}
export VHOST_IOMMU_GCOV=1
make -s -C "$kdir" M="$top" clean >/dev/null 2>&1
tools/vm/run.sh --mode check --variant debug --coverage
rc=$?

out=build/coverage
rm -rf "$out"
mkdir -p "$out"
log=build/vm/console-check.log
sed -n '/^@@VHI GCOV-BEGIN$/,/^@@VHI GCOV-END$/p' "$log" | sed '1d;$d' |
	base64 -d 2>/dev/null | tar -xzf - -C "$out" 2>/dev/null
# The VM names each file by the path of its object in this checkout.
found=0
while IFS= read -r f; do
	rel=${f#"$out"/gcov"$top"/}
	cp "$f" "$top/$rel"
	found=$((found + 1))
done < <(find "$out" -name '*.gcda')
if [ $found -eq 0 ]; then
	echo "coverage.sh: no coverage data came back from the VM" >&2
	exit 1
fi

total_run=0 total_lines=0
printf '%-28s %8s %8s %7s\n' file lines run cover
for src in drivers/*.c; do
	obj=${src%.c}
	[ -f "$obj.gcda" ] || { printf '%-28s %s\n' "$src" "(no data)"; continue; }
	line=$(cd "$out" && gcov -n -o "$top/drivers" "$top/$src" 2>/dev/null |
		awk -v f="$top/$src" '$0 ~ "^File .*" f "." {hit=1; next}
			hit && /^Lines executed:/ {print; exit}')
	pct=$(sed -n 's/^Lines executed:\([0-9.]*\)% of \([0-9]*\)$/\1 \2/p' <<<"$line")
	read -r p n <<<"$pct"
	[ -n "$n" ] || continue
	r=$(awk -v p="$p" -v n="$n" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
	total_run=$((total_run + r))
	total_lines=$((total_lines + n))
	printf '%-28s %8d %8d %6.1f%%\n' "$src" "$n" "$r" "$p"
	(cd "$out" && gcov -o "$top/drivers" "$top/$src" >/dev/null 2>&1)
done
awk -v r=$total_run -v n=$total_lines \
	'BEGIN { printf "%-28s %8d %8d %6.1f%%\n", "total", n, r, n ? 100 * r / n : 0 }'
echo "coverage.sh: annotated sources (*.gcov) in $out" >&2
rm -f "$top"/drivers/*.gcda "$top"/drivers/tests/*.gcda
exit $rc
