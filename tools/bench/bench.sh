#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: builds the fast test kernel if needed (cached by
# tools/kernel/build.sh), the module against it and the benchmark binary;
# boots the VM RUNS times (QEMU TCG -smp 2, the guest kernel with
# idle=poll); collects the @@BENCH lines of each run's console and prints
# the table of tools/bench/report.py: medians and p99 with their spread
# over the runs, every figure as a ratio against its baselines of the same
# run, the issue's targets and the module's counters. Everything lands in
# build/bench/: console-<n>.log, run-<n>.txt, summary.txt, *.csv, *.png.
#
# Options (environment in brackets):
#   --runs N        VM runs (RUNS, default 3)
#   --iters N       measured iterations per figure (ITERS, default 1000)
#   --only LIST     workloads, comma-separated (BENCH_ONLY); see
#                   vhost-iommu-bench --help
#   --args "..."    more arguments for vhost-iommu-bench (BENCH_ARGS)
#   --timeout S     seconds per VM run (VHOST_IOMMU_BENCH_TIMEOUT, 3600)
#   --quiet-wait S  before each run, wait up to S seconds for the rest of
#                   the host to use less than BENCH_QUIET_CPUS (0.25) CPUs
#                   (BENCH_QUIET_WAIT, default 1200; 0: do not wait)
#   --retries N     runs run again because the VM saw a cross-CPU hand-off
#                   slower than BENCH_HANDOFF_MAX_US (50 us) before some
#                   workload (BENCH_RETRIES, default 3 in all)
#   --report-only   the table again from the last runs' logs, no VM
#   --profile       one run under perf (cpu-clock samples of the whole VM,
#                   the host's perf and its libraries copied in), written
#                   to build/bench-profile/profile.txt; its figures are
#                   perturbed and not reported
#
# The VM spins both vCPUs (idle=poll), so a cross-CPU hand-off needs both
# QEMU vCPU threads on a host CPU at once: on a small host shared with
# other VMs or builds, host scheduling (milliseconds) swamps every figure.
# Hence the wait; what the rest of the host used during each run is
# measured and printed with the table.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/tools/bench"
out="$top/build/bench"
runs=${RUNS:-3}
iters=${ITERS:-1000}
only=${BENCH_ONLY:-}
extra=${BENCH_ARGS:-}
timeout_s=${VHOST_IOMMU_BENCH_TIMEOUT:-3600}
quiet_wait=${BENCH_QUIET_WAIT:-1200}
quiet_cpus=${BENCH_QUIET_CPUS:-0.25}
retries=${BENCH_RETRIES:-3}
handoff_max_us=${BENCH_HANDOFF_MAX_US:-50}
report_only=0
profile=${BENCH_PROFILE:-0}
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--iters) iters=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--args) extra=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--quiet-wait) quiet_wait=$2; shift 2 ;;
	--retries) retries=$2; shift 2 ;;
	--report-only) report_only=1; shift ;;
	--profile) profile=1; shift ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

report() {
	local files=()
	for ((r = 1; r <= runs; r++)); do
		[ -f "$out/run-$r.txt" ] && files+=("$out/run-$r.txt")
	done
	if [ ${#files[@]} -eq 0 ]; then
		echo "bench.sh: no run results in $out" >&2
		return 1
	fi
	python3 "$here/report.py" --out "$out" --machine "$out/machine.txt" "${files[@]}"
}

if [ $report_only -eq 1 ]; then
	report
	exit
fi

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
applets=$(/bin/busybox --list 2>/dev/null || true)
grep -qx insmod <<<"$applets" || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	echo "bench.sh: installing ${need[*]}" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${need[@]}" >&2
fi
if ! grep -q 'not a dynamic' <<<"$(ldd /bin/busybox 2>&1 || true)"; then
	echo "bench.sh: /bin/busybox is not static; install busybox-static" >&2
	exit 1
fi

if [ "$profile" = 1 ]; then
	command -v perf >/dev/null || {
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf
	}
	out="$top/build/bench-profile"
	runs=1
	retries=0
fi

kdir=$("$top/tools/kernel/build.sh" --variant fast)
make -s -C "$top" KDIR="$kdir" modules >&2
make -s -C "$here" KDIR="$kdir" >&2

mkdir -p "$out"
root="$out/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,vhi/bin}
cp /bin/busybox "$root/bin/busybox"
cp "$top/vhost_iommu.ko" "$root/vhi/"
cp "$top/build/bench/bin/vhost-iommu-bench" "$root/vhi/bin/"
cp "$here/init" "$root/init"
chmod +x "$root/init"
args="--iters $iters"
[ -n "$only" ] && args+=" --only $only"
[ -n "$extra" ] && args+=" $extra"
echo "$args" >"$root/vhi/bench-args"
if [ "$profile" = 1 ]; then
	# The host's perf, dynamically linked: its libraries come along.
	perf_bin=$(readlink -f "$(command -v perf)")
	mkdir -p "$root/usr/bin"
	cp "$perf_bin" "$root/usr/bin/perf"
	ldd "$perf_bin" | grep -o '/[^ ]*' | while read -r lib; do
		cp -L --parents "$lib" "$root/"
	done
	touch "$root/vhi/profile"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz"

# What the figures were measured on, and what else ran there.
{
	echo "host: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, $(uname -r)"
	echo "qemu: $(qemu-system-x86_64 --version | head -1); guest kernel $(basename "$kdir")"
	echo "tree: $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "started $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

hz=$(getconf CLK_TCK)
# Busy time of the whole host so far, in clock ticks.
host_busy() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# CPUs the host used over a 5 s look, and whether that is below quiet_cpus.
host_load() {
	local b0 b1
	b0=$(host_busy)
	sleep 5
	b1=$(host_busy)
	awk -v d=$((b1 - b0)) -v hz="$hz" -v q="$quiet_cpus" \
		'BEGIN { u = d / hz / 5; printf "%.2f\n", u; exit !(u < q) }'
}
wait_quiet() {
	local waited=0 load
	while ! load=$(host_load); do
		if [ "$waited" -ge "$quiet_wait" ]; then
			echo "bench.sh: the host is still busy ($load CPUs used); measuring anyway" >&2
			return
		fi
		[ "$waited" -eq 0 ] &&
			echo "bench.sh: the host is busy ($load CPUs used by others); waiting up to $quiet_wait s" >&2
		waited=$((waited + 5))
	done
}

rm -f "$out"/run-*.txt "$out"/console-*.log "$out"/cpu-*.txt "$out"/contended-*
failed=0
retries_left=$retries
r=1
while [ "$r" -le "$runs" ]; do
	log="$out/console-$r.log"
	[ "$quiet_wait" -gt 0 ] && wait_quiet
	echo "bench.sh: run $r of $runs: booting $(basename "$kdir"); console log: $log" >&2
	start=$(date +%s)
	busy0=$(host_busy)
	qemus=$(pgrep -c -f '^qemu-system' || true)
	set +e
	# As tools/vm/run.sh: no vIOMMU and amd_iommu=off, so that the mock
	# owns its devices; idle=poll, or cross-CPU wake-ups under TCG cost
	# hundreds of microseconds and swamp every figure.
	# Our own CPU time comes from bash's time; the rest is the others'.
	{
		TIMEFORMAT='%U %S'
		time timeout -k 10 "$timeout_s" qemu-system-x86_64 \
			-machine q35 -accel tcg -cpu max,la57=off -smp 2 -m 2G \
			-nographic -no-reboot -nodefaults -serial stdio \
			-kernel "$kdir/arch/x86/boot/bzImage" \
			-initrd "$out/initramfs.cpio.gz" \
			-append "console=ttyS0 panic=-1 amd_iommu=off idle=poll" \
			</dev/null >"$log.raw" 2>&1
	} 2>"$out/cpu-$r.txt"
	rc=$?
	set -e
	busy1=$(host_busy)
	wall=$(($(date +%s) - start))
	tr -d '\r' <"$log.raw" >"$log"
	rm -f "$log.raw"
	others=$(awk -v d=$((busy1 - busy0)) -v hz="$hz" -v w="$wall" \
		'{ o = d / hz - $1 - $2; if (o < 0) o = 0;
		   printf "%.2f", w ? o / w : 0 }' "$out/cpu-$r.txt")
	echo "run $r: $(date -u -d "@$start" '+%Y-%m-%d %H:%M UTC'), $wall s, other QEMU processes at the start: $((qemus)), the rest of the host used $others CPUs on average" >>"$out/machine.txt"
	echo "bench.sh: run $r: VM ran $wall s, qemu rc $rc; the rest of the host used $others CPUs" >&2
	{
		grep -a '^@@BENCH' "$log" || true
		# Kernel warnings during the run are reported with the table.
		sed -n '/^@@VHI DMESG-BEGIN/,/^@@VHI DMESG-END/p' "$log" |
			grep -aE 'WARNING:|BUG:|Oops|Call Trace|hung_task' |
			sed 's/^/@@VHI-KERNEL /' || true
	} >"$out/run-$r.txt"
	if ! grep -q '^@@BENCH-DONE errors=0' "$out/run-$r.txt" ||
		! grep -q '^@@VHI DONE' "$log"; then
		echo "bench.sh: run $r did not finish cleanly; tail of its console:" >&2
		tail -n 30 "$log" >&2
		failed=1
	fi
	if grep -q '^@@VHI-KERNEL' "$out/run-$r.txt"; then
		echo "bench.sh: run $r: the kernel log has warnings (see $log)" >&2
		failed=1
	fi
	# The slowest cross-CPU hand-off the VM saw before a workload.
	worst=$(awk '$1 == "@@BENCHINFO" && $2 == "pingpong" {
			for (i = 3; i <= NF; i++)
				if ($i ~ /^median_ns=/ && substr($i, 11) + 0 > m)
					m = substr($i, 11) + 0
		} END { print m + 0 }' "$out/run-$r.txt")
	if [ "$worst" -gt $((handoff_max_us * 1000)) ] && [ "$retries_left" -gt 0 ]; then
		echo "bench.sh: run $r was contended (a cross-CPU hand-off took $((worst / 1000)) us, more than $handoff_max_us); running it again" >&2
		k=$((retries - retries_left + 1))
		mv "$out/run-$r.txt" "$out/contended-$r-$k.txt"
		mv "$log" "$out/contended-$r-$k.log"
		echo "run $r (attempt $k) discarded: contended" >>"$out/machine.txt"
		retries_left=$((retries_left - 1))
		continue
	fi
	r=$((r + 1))
done

if [ "$profile" = 1 ]; then
	sed -n 's/^@@PROFILE //p' "$out/console-1.log" >"$out/profile.txt"
	[ -s "$out/profile.txt" ] || failed=1
	echo "bench.sh: profile in $out/profile.txt" >&2
	exit $failed
fi
report || failed=1
exit $failed
