#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Suite qemu: a real Linux guest drives a virtio-iommu device of QEMU, with
# the module serving its queues (-device virtio-iommu-pci,vhost=on) or
# QEMU's own userspace device (vhost=off). Runs in the test VM (busybox
# sh) with vhost_iommu.ko loaded; prints kselftest TAP.
#
# QEMU (TCG, nested) boots the guest kernel of `tools/kernel/build.sh
# --variant guest` with tools/qemu/guest-init as PID 1, and two virtio-blk
# disks behind the IOMMU (iommu_platform=on): "data", filled here with
# random bytes, and "state", where the guest counts its passes. Pass 1
# reads the data disk, writes the pattern of pass 1 and reboots (a device
# reset); pass 2 reads back what pass 1 wrote, writes the pattern of pass 2
# and loops on I/O until QEMU is killed.
#
# Environment:
#   VHOST_IOMMU_QEMU_VHOST    on|off (default: /vhi/qemu/vhost, else on)
#   VHOST_IOMMU_QEMU_DIR      QEMU, firmware and guest (default /vhi/qemu)
#   VHOST_IOMMU_QEMU_TIMEOUT  seconds each phase may take (default 600)
#   VHOST_IOMMU_QEMU_BENCH    ROUNDS (default: /vhi/qemu/bench): instead of
#                             the tests, the benchmark of make bench-qemu:
#                             ROUNDS guest boots with vhost=off and as many
#                             with vhost=on, each timing the same small-block
#                             O_DIRECT workload (guest-init's vhi.bench)

dir=${VHOST_IOMMU_QEMU_DIR:-/vhi/qemu}
cli=${VHOST_IOMMU_CLI:-/vhi/bin/vhost-iommu}
vhost=${VHOST_IOMMU_QEMU_VHOST:-$(cat "$dir/vhost" 2>/dev/null)}
vhost=${vhost:-on}
phase_s=${VHOST_IOMMU_QEMU_TIMEOUT:-600}
qemu=$dir/qemu-system-x86_64
size_mib=4
ntests=10
bench=${VHOST_IOMMU_QEMU_BENCH:-$(cat "$dir/bench" 2>/dev/null)}

echo "TAP version 13"
[ -n "$bench" ] || echo "1..$ntests"
case "$vhost" in
on | off) ;;
*)
	echo "# VHOST_IOMMU_QEMU_VHOST must be on or off, not '$vhost'"
	vhost=on
	;;
esac
echo "# vhost=$vhost, up to $phase_s s per phase"

suite_start=$(date +%s)
w=$(mktemp -d /tmp/vhi-qemu.XXXXXX) || exit 1
log=$w/console.log
qpid=
cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0 npass=0 nfail=0 nskip=0
# result NAME OK REASON: one TAP line; REASON says why it failed.
result() {
	n=$((n + 1))
	if [ "$2" -eq 1 ]; then
		npass=$((npass + 1))
		echo "ok $n $1"
	else
		nfail=$((nfail + 1))
		echo "# $1: $3"
		echo "not ok $n $1"
	fi
}
skip() {
	n=$((n + 1))
	nskip=$((nskip + 1))
	echo "ok $n $1 # SKIP $2"
}

# The pattern the guest writes in pass N: one 512-byte line per sector.
# Keep it the same as pattern() in tools/qemu/guest-init.
pattern() {
	awk -v p="$1" -v n="$(($2 / 512))" 'BEGIN {
		pad = "."
		while (length(pad) < 512)
			pad = pad pad
		for (i = 0; i < n; i++) {
			h = sprintf("vhost-iommu qemu suite pass %d sector %d ", p, i)
			printf "%s%s\n", h, substr(pad, 1, 511 - length(h))
		}
	}'
}
md5() { md5sum | cut -d' ' -f1; }

# marker KIND PASS: the fields of the guest's last "@@G KIND pass=PASS"
# line; fails if there is none.
marker() {
	[ -f "$log" ] || return 1
	tr -d '\r' <"$log" 2>/dev/null | awk -v k="$1" -v p="pass=$2" '
		$1 == "@@G" && $2 == k && $3 == p {
			sub(/^@@G [^ ]+ [^ ]+ ?/, ""); last = $0; found = 1
		}
		END { if (found) print last; exit !found }'
}
# field KEY FIELDS: the value of KEY=value in a marker's fields.
field() {
	for kv in $2; do
		case "$kv" in "$1="*) echo "${kv#*=}"; return 0 ;; esac
	done
	return 1
}
group_line() {
	tr -d '\r' <"$log" 2>/dev/null |
		awk -v p="pass=$1" -v d="disk=$2" '
		$1 == "@@G" && $2 == "GROUP" && $3 == p && $4 == d { last = $0 }
		END { print last }'
}

alive() {
	[ -n "$qpid" ] && [ -r "/proc/$qpid/stat" ] &&
		! grep -q '^[0-9]* ([^)]*) [ZX]' "/proc/$qpid/stat" 2>/dev/null
}

# wait_marker KIND PASS: wait for the marker; on failure $why says why.
# A phase that times out kills QEMU, so the phases after it end at once.
why=
wait_marker() {
	wt0=$(date +%s)
	while :; do
		marker "$1" "$2" >/dev/null && return 0
		if we=$(marker ERROR "$2"); then
			why="the guest reported an error in pass $2: $we"
			return 1
		fi
		if ! alive; then
			why="QEMU is not running (no '@@G $1 pass=$2')"
			return 1
		fi
		if [ $(($(date +%s) - wt0)) -ge "$phase_s" ]; then
			why="no '@@G $1 pass=$2' within $phase_s s; QEMU killed"
			kill -9 "$qpid" 2>/dev/null
			return 1
		fi
		sleep 1
	done
}

slow_path() { "$cli" -j stats 2>/dev/null | sed -n 's/.*"slow_path":\([0-9]*\).*/\1/p' | head -n 1; }
ndevs() { "$cli" -j show 2>/dev/null | grep -c '"dev":'; }

# The guest's whole console, for a failure's diagnosis (the outer VM's
# console log keeps it), and QEMU's output.
guest_console() {
	[ -f "$log" ] || return 0
	echo "# --- guest console ---"
	tr -d '\r' <"$log" 2>/dev/null | sed 's/^/#   /'
	if [ -s "$w/qemu.out" ]; then
		echo "# --- QEMU's output ---"
		tail -n 10 "$w/qemu.out" | sed 's/^/#   /'
	fi
}


# ------------------------------------------------------------- benchmark
# bench_boot MODE: boot the guest with vhi.bench and vhost=MODE; prints
# "CS IOS SLOW" (the workload's time in 1/100 s, its I/Os, and the slow
# path requests the module counted during it, or - with vhost=off).
bench_boot() {
	bopt=
	[ "$1" = on ] && bopt=,vhost=on
	: >"$log"
	"$qemu" -L "$dir/firmware" -machine q35 -accel tcg -cpu max -smp 1 -m 256M \
		-display none -nodefaults -serial "file:$log" \
		-kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" \
		-append "console=ttyS0 iommu.strict=1 panic=-1 vhi.bench" \
		-device "virtio-iommu-pci$bopt" \
		-drive "if=none,id=data,file=$w/data.img,format=raw,cache=writeback" \
		-device virtio-blk-pci,drive=data,serial=data,iommu_platform=on,disable-legacy=on \
		-drive "if=none,id=state,file=$w/state.img,format=raw,cache=writeback" \
		-device virtio-blk-pci,drive=state,serial=state,iommu_platform=on,disable-legacy=on \
		</dev/null >"$w/qemu.out" 2>&1 &
	qpid=$!
	s0=-
	if ! wait_marker BENCH-START 1; then
		echo "# vhost=$1: $why"
		return 1
	fi
	[ "$1" = on ] && s0=$(slow_path)
	if ! wait_marker BENCH 1; then
		echo "# vhost=$1: $why"
		return 1
	fi
	s1=-
	[ "$1" = on ] && s1=$(($(slow_path) - s0))
	m=$(marker BENCH 1)
	kill -9 "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=
	echo "$(field cs "$m") $(field ios "$m") $s1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

run_bench() {
	echo "1..1"
	if [ -n "$setup_err" ]; then
		echo "# setup:$setup_err"
		echo "not ok 1 bench"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		return 1
	fi
	: >"$w/off" && : >"$w/on"
	r=0
	while [ $r -lt "$bench" ]; do
		r=$((r + 1))
		for mode in off on; do
			res=$(bench_boot $mode) || {
				echo "$res"
				echo "not ok 1 bench"
				echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
				return 1
			}
			# shellcheck disable=SC2086 # three numbers
			set -- $res
			echo "# round $r vhost=$mode: $2 I/Os of 4 KiB in $1/100 s ($((${1}0000 / $2)) us per I/O), slow path requests $3"
			echo "$1 $2 $3" >>"$w/$mode"
		done
	done
	off=$(cut -d' ' -f1 "$w/off" | median)
	on=$(cut -d' ' -f1 "$w/on" | median)
	ios=$(head -n 1 "$w/on" | cut -d' ' -f2)
	slow=$(cut -d' ' -f3 "$w/on" | median)
	echo "@@BENCH qemu ios=$ios off_cs=$off on_cs=$on slow_per_io=$(awk -v s="$slow" -v n="$ios" 'BEGIN { printf "%.2f", s / n }') ratio_on_off=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }') rounds=$bench"
	echo "ok 1 bench"
	echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
}

# -------------------------------------------------------------- setup
setup_err=
for f in "$qemu" "$dir/bzImage" "$dir/initramfs.cpio.gz" "$dir/firmware/bios-256k.bin"; do
	[ -e "$f" ] || setup_err="$setup_err missing $f;"
done
[ -x "$cli" ] || setup_err="$setup_err missing $cli;"
vopt=
if [ "$vhost" = on ]; then
	vopt=,vhost=on
	[ -c /dev/vhost-iommu ] || setup_err="$setup_err no /dev/vhost-iommu;"
	if [ -z "$setup_err" ] &&
		! "$qemu" -device virtio-iommu-pci,help 2>/dev/null | grep -q '^ *vhost='; then
		setup_err="$setup_err this QEMU's virtio-iommu-pci has no vhost property (unpatched?);"
	fi
fi

dd if=/dev/urandom of="$w/data.img" bs=1M count=$size_mib 2>/dev/null &&
	dd if=/dev/zero of="$w/state.img" bs=64k count=1 2>/dev/null ||
	setup_err="$setup_err cannot make the disk images in $w;"
orig=$(md5 <"$w/data.img")
size=$((size_mib * 1024 * 1024))
want1=$(pattern 1 $size | md5)
want2=$(pattern 2 $size | md5)

# Kernel messages of this suite start after this line.
kmark="vhost-iommu selftest qemu: start $$"
echo "$kmark" >/dev/kmsg

# The guest and its disks. tmpfs has no O_DIRECT: cache=writeback, and the
# guest's flushes reach the image's page cache, which reads here see.
# The monitor (stop, cont) is a pair of FIFOs that QEMU opens read-write.
[ -n "$bench" ] || mkfifo "$w/mon.in" "$w/mon.out" ||
	setup_err="$setup_err cannot make the monitor FIFOs;"
if [ -n "$bench" ]; then
	run_bench
	exit $?
elif [ -z "$setup_err" ]; then
	t_start=$(date +%s)
	"$qemu" -L "$dir/firmware" -machine q35 -accel tcg -cpu max -smp 1 -m 256M \
		-display none -nodefaults -serial "file:$log" -monitor "pipe:$w/mon" \
		-kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" \
		-append "console=ttyS0 iommu.strict=1 panic=-1" \
		-device "virtio-iommu-pci$vopt" \
		-drive "if=none,id=data,file=$w/data.img,format=raw,cache=writeback" \
		-device virtio-blk-pci,drive=data,serial=data,iommu_platform=on,disable-legacy=on \
		-drive "if=none,id=state,file=$w/state.img,format=raw,cache=writeback" \
		-device virtio-blk-pci,drive=state,serial=state,iommu_platform=on,disable-legacy=on \
		</dev/null >"$w/qemu.out" 2>&1 &
	qpid=$!
	echo "# QEMU pid $qpid: $("$qemu" --version | head -n 1)"
fi

# --------------------------------------------------------------- boot
# The guest booted, and its virtio-iommu driver probed.
ok=0
if [ -n "$setup_err" ]; then
	why="setup:$setup_err"
elif wait_marker IOMMU 1; then
	boot1=$(($(date +%s) - t_start))
	b=$(marker BOOT 1)
	echo "# guest boot (pass 1): $boot1 s to init ($(field uptime "$b") s guest uptime), kernel $(field kernel "$b"), O_DIRECT $(field direct "$b")"
	m=$(marker IOMMU 1)
	if [ "$(field probed "$m")" = yes ]; then
		ok=1
	else
		why="the guest has no IOMMU in /sys/class/iommu ($m)"
	fi
fi
booted=$ok
result boot $ok "$why"

# -------------------------------------------------------------- attach
# The data disk is in a translated (DMA) domain, not identity. The guest
# prints its groups before READY.
ok=0
if [ $booted -eq 1 ] && wait_marker READY 1; then
	g=$(group_line 1 data)
	t=$(field type "$g")
	if [ "$t" = DMA ]; then
		ok=1
		echo "# data disk: ${g#@@G GROUP pass=1 }"
	else
		why="the data disk's IOMMU group has type '${t:-none}' (want DMA): $g"
	fi
elif [ $booted -ne 1 ]; then
	why="the guest did not boot"
fi
result attach $ok "$why"

# ---------------------------------------------------------- slow path (1)
# Before the guest's I/O (the guest idles 3 s after READY): a device exists
# and its slow path served the guest's boot (ATTACH, PROBE, MAPs).
slow0=
devs0=
if [ $booted -eq 1 ] && [ "$vhost" = on ] && marker READY 1 >/dev/null; then
	devs0=$(ndevs)
	slow0=$(slow_path)
fi

# ---------------------------------------------------------------- read
# The guest reads the disk as it was made here.
ok=0
if [ $booted -eq 1 ] && wait_marker READ 1; then
	got=$(field md5 "$(marker READ 1)")
	if [ "$got" = "$orig" ]; then
		ok=1
	else
		why="the guest read md5 $got, the image has $orig"
	fi
elif [ $booted -ne 1 ]; then
	why="the guest did not boot"
fi
result read $ok "$why"

# --------------------------------------------------------------- write
# The guest writes the pattern of pass 1: what it wrote, what it reads back
# and what the image file holds here are that pattern.
ok=0
written1=0
if [ $booted -eq 1 ] && wait_marker WROTE 1; then
	m=$(marker WROTE 1)
	file=$(md5 <"$w/data.img")
	slow1=
	[ "$vhost" = on ] && slow1=$(slow_path)
	g_md5=$(field md5 "$m")
	g_rb=$(field readback "$m")
	if [ "$g_md5" = "$want1" ] && [ "$g_rb" = "$want1" ] && [ "$file" = "$want1" ]; then
		ok=1
		written1=1
	else
		why="pattern $want1: guest wrote $g_md5, read back $g_rb, image file has $file"
	fi
elif [ $booted -ne 1 ]; then
	why="the guest did not boot"
fi
result write $ok "$why"

# ------------------------------------------------------------ slowpath
# vhost=on: the guest's requests took the module's slow path to QEMU.
if [ "$vhost" = off ]; then
	skip slowpath "vhost=off: QEMU's userspace virtio-iommu, no vhost-iommu device"
else
	ok=0
	if [ $booted -ne 1 ]; then
		why="the guest did not boot"
	elif [ "${devs0:-0}" -lt 1 ]; then
		why="no vhost-iommu device while QEMU runs ('$cli -j show' lists ${devs0:-none})"
	elif [ "${slow0:-0}" -lt 1 ]; then
		why="slow_path is '${slow0:-none}' after the guest's boot"
	elif [ $written1 -ne 1 ] || [ "${slow1:-0}" -le "$slow0" ]; then
		why="slow_path ${slow0} before the guest's I/O, '${slow1:-none}' after"
	else
		ok=1
		echo "# slow_path: $slow0 after boot, $slow1 after reading and writing ${size_mib} MiB"
	fi
	result slowpath $ok "$why"
fi

# --------------------------------------------------------------- reset
# reboot -f resets the devices; pass 2 boots with the IOMMU translating
# again, reads back what pass 1 wrote and writes the pattern of pass 2.
ok=0
if [ $written1 -ne 1 ]; then
	why="pass 1 did not write"
elif ! wait_marker REBOOT 1; then
	:
elif t_reboot=$(date +%s) && ! wait_marker BOOT 2; then
	:
elif t_boot2=$(date +%s) && ! wait_marker WROTE 2; then
	:
else
	boot2=$(marker BOOT 2)
	t=$(field type "$(group_line 2 data)")
	r=$(field md5 "$(marker READ 2)")
	m=$(marker WROTE 2)
	file=$(md5 <"$w/data.img")
	echo "# guest boot (pass 2): $((t_boot2 - t_reboot)) s from reboot to init ($(field uptime "$boot2") s guest uptime)"
	if [ "$(field probed "$(marker IOMMU 2)")" != yes ] || [ "$t" != DMA ]; then
		why="after the reset: IOMMU '$(marker IOMMU 2)', data disk group type '$t'"
	elif [ "$r" != "$want1" ]; then
		why="pass 2 read $r, pass 1 wrote $want1"
	elif [ "$(field md5 "$m")" != "$want2" ] || [ "$(field readback "$m")" != "$want2" ] ||
		[ "$file" != "$want2" ]; then
		why="pattern $want2: pass 2 wrote $(field md5 "$m"), read back $(field readback "$m"), image file has $file"
	else
		ok=1
	fi
fi
result reset $ok "$why"

# --------------------------------------------------------------- pause
# The monitor's stop and cont in the middle of the guest's I/O: with
# vhost=on a stop and a start of the vhost device (SET_RUNNING 0, the ring
# bases saved and restored). The guest goes on where it was: no request
# lost, none answered twice, every round of its loop reads the pattern.
iters() {
	tr -d '\r' <"$log" 2>/dev/null |
		awk '$1 == "@@G" && $2 == "ITER" && $3 == "pass=2" { n++ } END { print n + 0 }'
}
bad_iters() {
	tr -d '\r' <"$log" 2>/dev/null | awk -v m="md5=$want2" '
		$1 == "@@G" && $2 == "ITER" && $3 == "pass=2" && $5 != m { print; exit }'
}
ok=0
if [ $booted -ne 1 ]; then
	why="the guest did not boot"
elif wait_marker ITER 2; then
	echo stop >"$w/mon.in"
	sleep 3
	n0=$(iters)
	sleep 4
	n1=$(iters)
	echo cont >"$w/mon.in"
	wt0=$(date +%s)
	while [ "$(iters)" -lt $((n1 + 2)) ] && alive &&
		[ $(($(date +%s) - wt0)) -lt "$phase_s" ]; do
		sleep 1
	done
	n2=$(iters)
	b=$(bad_iters)
	if [ "$n1" -ne "$n0" ]; then
		why="the guest ran while stopped ($n0 rounds, then $n1)"
	elif [ "$n2" -lt $((n1 + 2)) ]; then
		why="after cont the guest did $((n2 - n1)) rounds of I/O in $phase_s s (want 2)"
	elif [ -n "$b" ]; then
		why="a round read something else than the pattern: $b"
	else
		ok=1
		echo "# stopped for 7 s after round $n0; $((n2 - n1)) rounds after cont"
	fi
fi
result pause $ok "$why"

# ---------------------------------------------------------------- kill
# SIGKILL to QEMU in the middle of the guest's I/O: no device is left, the
# module is not held, and the kernel logged no warning.
ok=0
if [ $booted -ne 1 ]; then
	why="the guest did not boot"
elif wait_marker LOOP 2; then
	sleep 5
	if ! alive; then
		why="QEMU exited during the I/O loop"
	else
		[ "$vhost" = on ] && echo "# during the I/O loop: $(ndevs) device(s), slow_path $(slow_path)"
		kill -9 "$qpid"
		i=0
		while alive && [ $i -lt 30 ]; do
			sleep 1
			i=$((i + 1))
		done
		wait "$qpid" 2>/dev/null
		i=0
		while :; do
			d=$(ndevs)
			rc=$(cat /sys/module/vhost_iommu/refcnt 2>/dev/null || echo 0)
			[ "$d" -eq 0 ] && [ "$rc" -eq 0 ] && break
			[ $i -ge 20 ] && break
			sleep 1
			i=$((i + 1))
		done
		reports=$(dmesg | sed -n "/$kmark/,\$p" |
			grep -E 'WARNING:|BUG:|UBSAN:|Oops|general protection|Kernel panic|blocked for more than|kmemleak:.*leak' |
			head -n 5)
		if alive; then
			why="QEMU still runs after SIGKILL"
		elif [ "$d" -ne 0 ]; then
			why="$d vhost-iommu device(s) left after QEMU died: $("$cli" -j show 2>&1 | head -n 3)"
		elif [ "$rc" -ne 0 ]; then
			why="vhost_iommu still held (refcnt $rc) after QEMU died"
		elif [ -n "$reports" ]; then
			why="kernel reports: $(echo "$reports" | tr '\n' ';')"
		else
			ok=1
		fi
	fi
fi
qpid=
result kill $ok "$why"
[ $nfail -eq 0 ] || guest_console

# ------------------------------------------------------------- vhostfd
# vhostfd=N: QEMU takes a /dev/vhost-iommu descriptor it inherited (here
# opened by the shell, as a management layer would) and owns that device.
owner_of() { "$cli" -j show 2>/dev/null | sed -n 's/.*"owner_pid":\([0-9]*\).*/\1/p' | head -n 1; }
bare_qemu() {
	exec "$qemu" -L "$dir/firmware" -machine q35 -accel tcg -cpu max -m 64M -S \
		-display none -nodefaults -serial none -device "virtio-iommu-pci$1" \
		</dev/null >"$w/qemu.out" 2>&1 3<>/dev/vhost-iommu
}
ok=0
if [ -n "$setup_err" ]; then
	why="setup:$setup_err"
else
	bare_qemu ,vhost=on,vhostfd=3 &
	qpid=$!
	vpid=$qpid
	i=0
	while [ "$(owner_of)" != "$qpid" ] && alive && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	owner=$(owner_of)
	d=$(ndevs)
	kill -9 "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=
	i=0
	while [ "$(ndevs)" -ne 0 ] && [ $i -lt 20 ]; do
		sleep 1
		i=$((i + 1))
	done
	if [ "$owner" != "$vpid" ] || [ "$d" -ne 1 ]; then
		why="$d device(s), owner '${owner:-none}', QEMU pid $vpid: $(tail -n 3 "$w/qemu.out")"
	elif [ "$(ndevs)" -ne 0 ]; then
		why="the device outlived QEMU"
	else
		ok=1
	fi
fi
result vhostfd $ok "$why"

# vhostfd without vhost=on is refused at realize, and leaves no device.
ok=0
if [ -n "$setup_err" ]; then
	why="setup:$setup_err"
else
	bare_qemu ,vhostfd=3 &
	qpid=$!
	i=0
	while alive && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	wait "$qpid"
	rc=$?
	alive && kill -9 "$qpid"
	qpid=
	if [ $rc -eq 0 ] || ! grep -q 'vhostfd needs vhost=on' "$w/qemu.out"; then
		why="QEMU exited $rc: $(tail -n 3 "$w/qemu.out")"
	elif [ "$(ndevs)" -ne 0 ]; then
		why="a device is left: $("$cli" -j show 2>&1 | head -n 3)"
	else
		ok=1
	fi
fi
result vhostfd-needs-vhost $ok "$why"

echo "# suite: $(($(date +%s) - suite_start)) s"
echo "# Totals: pass:$npass fail:$nfail xfail:0 xpass:0 skip:$nskip error:0"
[ $nfail -eq 0 ]
