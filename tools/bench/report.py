#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The table of `make bench`: reads the @@BENCH lines of each VM run (one
# file per run, as tools/bench/bench.sh writes them), prints medians and
# p99 with their spread over the runs, every vhost figure as a ratio
# against each baseline of the same run, the targets, the
# structural counters; writes CSV files, rst tables and gnuplot plots to
# --out.
#
#   report.py --out build/bench [--machine FILE] run-1.txt run-2.txt ...

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys

WORKLOADS = ["inval1-hot", "inval1-cold", "batch-1", "batch-8", "batch-64",
             "batch-256", "pagereq", "scale-1", "scale-8", "scale-64"]
IMPLS = ["vhost", "vhost-poll", "user", "user-batch", "raw"]
BASELINES = ["user", "user-batch", "raw"]

# The figures of the performance issue: (name, short name for the plot,
# workload, numerator, denominator, kind, target, the "today").
# kind "le": the ratio of medians numerator/denominator must be at most
# the target; "ge": at least.
TARGETS = [
    ("single INVALIDATE vs userspace backend", "single / user",
     "inval1-hot", "vhost", "user", "le", 0.4, "0.94-1.91"),
    ("single INVALIDATE vs userspace backend, cold", "single cold / user",
     "inval1-cold", "vhost", "user", "le", 0.4, "0.80-1.14"),
    ("single INVALIDATE vs the raw ioctl", "single / raw",
     "inval1-hot", "vhost", "raw", "le", 1.3, "4.9-6.5"),
    ("single INVALIDATE vs the raw ioctl, busy polling", "single poll / raw",
     "inval1-hot", "vhost-poll", "raw", "le", 1.15, "-"),
    ("single INVALIDATE vs userspace backend, busy polling",
     "single poll / user", "inval1-hot", "vhost-poll", "user", "le", 0.4, "-"),
    ("256 per kick: speed-up over one ioctl per entry", "256: speed-up",
     "batch-256", "user", "vhost", "ge", 15.0, "0.69-1.29x"),
    ("256 per kick vs a batching userspace backend", "256 / user-batch",
     "batch-256", "vhost", "user-batch", "le", 0.8, "4.2-11.6"),
    ("256 per kick vs the raw batched ioctl", "256 / raw",
     "batch-256", "vhost", "raw", "le", 1.2, "28-91"),
    ("page-request round trip vs the userspace path", "page request / user",
     "pagereq", "vhost", "user", "le", 0.4, "1.19-1.44"),
]

COUNTERS = ["kicks_per_req", "wakeups_per_req", "inval_calls_per_req",
            "iommufd_calls_per_req", "uaccess_per_req"]


def parse_value(v):
    try:
        return float(v)
    except ValueError:
        return v


def read_run(path):
    """The results of one run: {(workload, impl): {key: value}}, info, errors."""
    res, info, errs = {}, {}, []
    with open(path, errors="replace") as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if words[0] == "@@BENCH" and len(words) >= 3:
                d = {}
                for w in words[3:]:
                    if "=" in w:
                        k, v = w.split("=", 1)
                        d[k] = parse_value(v)
                res[(words[1], words[2])] = d
            elif words[0] == "@@BENCHINFO" and words[1:2] == ["pingpong"]:
                d = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                info.setdefault("pingpong", []).append(
                    (d.get("before", "?"), float(d.get("median_ns", "nan"))))
            elif words[0] == "@@BENCHINFO":
                for w in words[1:]:
                    if "=" in w:
                        k, v = w.split("=", 1)
                        info[k] = v
            elif words[0] in ("@@BENCH-ERROR", "@@BENCH-WARN", "@@VHI-KERNEL"):
                errs.append(line.strip())
    return res, info, errs


def spread(values, fmt):
    """median [min-max] of the per-run values."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med)
    return "%s [%s-%s]" % (fmt(med), fmt(min(vals)), fmt(max(vals)))


def us(ns):
    return "%.1f" % (ns / 1000.0) if ns < 100000 else "%.0f" % (ns / 1000.0)


def ratio_fmt(r):
    return "%.2f" % r if r < 10 else "%.1f" % r


def rate(x):
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return "%.2f%s" % (x / div, unit)
    return "%.0f" % x


def table(headers, rows):
    """A reStructuredText simple table, readable as plain text."""
    rows = [[str(c) if str(c) != "" else "-" for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    rule = "  ".join("=" * w for w in widths)
    out = [rule, "  ".join(h.ljust(w) for h, w in zip(headers, widths)), rule]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    out.append(rule)
    return "\n".join(out)


def values(runs, wl, impl, key):
    out = []
    for res in runs:
        d = res.get((wl, impl))
        out.append(d.get(key) if d and isinstance(d.get(key), float) else None)
    return out


def ratios(runs, wl, num, den, key="median_ns"):
    out = []
    for res in runs:
        a, b = res.get((wl, num)), res.get((wl, den))
        if a and b and a.get(key) and b.get(key):
            out.append(a[key] / b[key])
    return out


def have(runs, wl, impl):
    return any((wl, impl) in res for res in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--machine")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    runs, infos, problems = [], [], []
    for i, p in enumerate(a.runs):
        res, info, errs = read_run(p)
        runs.append(res)
        infos.append(info)
        problems += ["run %d: %s" % (i + 1, e) for e in errs]
    n = len(runs)
    text = []

    def emit(s=""):
        text.append(s)

    info = infos[0] if infos else {}
    emit("vhost-iommu benchmark: %d VM run%s, %s iterations each (%s warm-up), "
         "kernel %s, %s CPUs, clock read %s ns"
         % (n, "" if n == 1 else "s", info.get("iters", "?"),
            info.get("warmup", "?"), info.get("kernel", "?"),
            info.get("cpus", "?"), info.get("timer_ns", "?")))
    emit("module counters known to this build: %s" % info.get("stats", "?"))
    if a.machine and os.path.exists(a.machine):
        with open(a.machine) as f:
            for line in f:
                emit(line.rstrip())
    for i, inf in enumerate(infos):
        pp = [v for _, v in inf.get("pingpong", [])]
        if pp:
            worst = max(inf["pingpong"], key=lambda x: x[1])
            emit("run %d: cross-CPU hand-off in the VM before each workload, "
                 "median %.2f-%.2f us (slowest before %s)"
                 % (i + 1, min(pp) / 1000, max(pp) / 1000, worst[0]))
    emit("Figures: median of the %d run medians, [min-max] over the runs." % n)
    emit()

    # Latency and throughput.
    rows = []
    for wl in WORKLOADS:
        for impl in IMPLS:
            if not have(runs, wl, impl):
                continue
            med = values(runs, wl, impl, "median_ns")
            p99 = values(runs, wl, impl, "p99_ns")
            ops = values(runs, wl, impl, "ops_per_s")
            per_iter = values(runs, wl, impl, "per_iter")
            unit = "round trips/s" if wl.startswith(("inval1", "pagereq")) \
                else "descriptors/s"
            rows.append([wl, impl, spread(med, us), spread(p99, us),
                         spread(ops, rate) + " " + unit,
                         "%d" % (per_iter[0] or 0) if per_iter[0] else "-"])
    emit("Latency per iteration (us) and throughput")
    emit()
    emit(table(["workload", "impl", "median us", "p99 us", "throughput",
                "per iter"], rows))
    emit()

    # Ratios against the baselines of the same run.
    rows = []
    for wl in WORKLOADS:
        for v in ("vhost", "vhost-poll"):
            if not have(runs, wl, v):
                continue
            for b in BASELINES:
                if not have(runs, wl, b):
                    continue
                rm = ratios(runs, wl, v, b)
                rp = ratios(runs, wl, v, b, "p99_ns")
                rows.append([wl, v + " / " + b, spread(rm, ratio_fmt),
                             spread(rp, ratio_fmt),
                             " ".join(ratio_fmt(r) for r in rm)])
    emit("vhost time / baseline time, same run (below 1: vhost is faster)")
    emit()
    emit(table(["workload", "ratio", "of medians", "of p99", "per run"], rows))
    emit()

    # The targets.
    rows, trows = [], []
    for name, short, wl, num, den, kind, target, today in TARGETS:
        r = ratios(runs, wl, num, den)
        if not r:
            continue
        lo, hi = min(r), max(r)
        met = (hi <= target) if kind == "le" else (lo >= target)
        suffix = "x" if kind == "ge" else ""
        rows.append([name, "%s-%s%s" % (ratio_fmt(lo), ratio_fmt(hi), suffix),
                     today,
                     ("<= " if kind == "le" else ">= ") + ratio_fmt(target) + suffix,
                     "yes" if met else "no"])
        trows.append([name, short, wl, num, den, kind, target,
                      statistics.median(r), lo, hi, met])
    emit("Targets of the performance issue (ratio of medians, min-max over runs;")
    emit("'issue': the issue's own measurement, of main at feb41f0)")
    emit()
    emit(table(["figure", "measured", "issue", "target", "met"], rows))
    emit()

    # Structural counters.
    rows = []
    for wl in WORKLOADS:
        for impl in IMPLS:
            if impl == "raw" or not have(runs, wl, impl):
                continue
            cells = []
            for c in COUNTERS:
                v = values(runs, wl, impl, c)
                cells.append(spread(v, lambda x: "%.3f" % x)
                             if any(x is not None for x in v) else "n/a")
            rows.append([wl, impl] + cells)
    emit("Work per request (per round trip for pagereq), from the module's "
         "VHOST_IOMMU_GET_STATS and the userspace backend's own counts")
    emit()
    emit(table(["workload", "impl", "kicks", "wake-ups", "invalidate calls",
                "iommufd calls", "user accesses"], rows))
    emit()

    # Idle memory.
    rows = []
    for impl in ("vhost", "user"):
        if not have(runs, "idle-mem", impl):
            continue
        rows.append([impl,
                     spread(values(runs, "idle-mem", impl, "devices"),
                            lambda x: "%d" % x),
                     spread(values(runs, "idle-mem", impl, "mem_per_dev"),
                            lambda x: "%.0f" % (x / 1024)),
                     spread(values(runs, "idle-mem", impl, "slab_per_dev"),
                            lambda x: "%.1f" % (x / 1024)),
                     spread(values(runs, "idle-mem", impl, "kstack_per_dev"),
                            lambda x: "%.1f" % (x / 1024))])
    if rows:
        emit("Memory per idle device (KiB): MemAvailable, Slab, KernelStack deltas")
        emit()
        emit(table(["impl", "devices", "MemAvailable", "Slab", "KernelStack"],
                   rows))
        emit()

    if problems:
        emit("Problems reported by the runs:")
        for p in problems:
            emit("  " + p)
        emit()

    summary = "\n".join(text)
    print(summary)
    with open(os.path.join(a.out, "summary.txt"), "w") as f:
        f.write(summary + "\n")

    # CSV: every result line of every run, the ratios, the targets.
    keys = sorted({k for res in runs for d in res.values() for k in d})
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "workload", "impl"] + keys)
        for i, res in enumerate(runs):
            for (wl, impl), d in sorted(res.items()):
                w.writerow([i + 1, wl, impl] + [d.get(k, "") for k in keys])
    with open(os.path.join(a.out, "ratios.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "ratio", "statistic"]
                   + ["run%d" % (i + 1) for i in range(n)]
                   + ["median", "min", "max"])
        pairs = [(wl, v, b) for wl in WORKLOADS
                 for v in ("vhost", "vhost-poll") for b in BASELINES]
        for wl, v, b in pairs:
            for key in ("median_ns", "p99_ns"):
                r = ratios(runs, wl, v, b, key)
                if r:
                    w.writerow([wl, v + "/" + b, key]
                               + ["%.4f" % x for x in r]
                               + ["%.4f" % statistics.median(r),
                                  "%.4f" % min(r), "%.4f" % max(r)])
    with open(os.path.join(a.out, "targets.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["figure", "short", "workload", "numerator", "denominator",
                    "kind", "target", "median", "min", "max", "met"])
        for t in trows:
            w.writerow(t)

    plots(a.out, runs, trows)
    return 1 if any("BENCH-ERROR" in p for p in problems) else 0


def med_lo_hi(v):
    v = [x for x in v if x is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def plots(out, runs, trows):
    gp = shutil.which("gnuplot")
    if not gp:
        print("report.py: gnuplot not found, no plots", file=sys.stderr)
        return
    terms = subprocess.run([gp, "-e", "set terminal"], capture_output=True,
                           text=True).stdout + subprocess.run(
        [gp, "-e", "set terminal"], capture_output=True, text=True).stderr
    term = "pngcairo size 960,540 font ',10'" if "pngcairo" in terms \
        else "png size 960,540"

    # Round trips: bars with the spread of the run medians.
    lat = ["inval1-hot", "inval1-cold", "pagereq"]
    impls = ["vhost", "user", "raw"]
    with open(os.path.join(out, "latency.dat"), "w") as f:
        f.write("# workload " + " ".join("%s %s_min %s_max" % (i, i, i)
                                         for i in impls) + "\n")
        for wl in lat:
            cells = []
            for impl in impls:
                m = med_lo_hi(values(runs, wl, impl, "median_ns"))
                cells += ["%.3f %.3f %.3f" % tuple(x / 1000 for x in m)
                          if m else "? ? ?"]
            f.write(wl + " " + " ".join(cells) + "\n")

    # Batches: descriptors/s against N, per implementation.
    for impl in IMPLS:
        with open(os.path.join(out, "batch-%s.dat" % impl), "w") as f:
            for nper in (1, 8, 64, 256):
                m = med_lo_hi(values(runs, "batch-%d" % nper, impl, "ops_per_s"))
                if m:
                    f.write("%d %.1f %.1f %.1f\n" % ((nper,) + m))
    # Scale: aggregate descriptors/s against devices.
    for impl in ("vhost", "user", "user-batch"):
        with open(os.path.join(out, "scale-%s.dat" % impl), "w") as f:
            for d in (1, 8, 64):
                m = med_lo_hi(values(runs, "scale-%d" % d, impl, "ops_per_s"))
                if m:
                    f.write("%d %.1f %.1f %.1f\n" % ((d,) + m))
    with open(os.path.join(out, "ratios.dat"), "w") as f:
        for i, t in enumerate(trows):
            f.write('%d "%s" %.4f %.4f %.4f %.4f\n'
                    % (i, t[1], t[7], t[8], t[9], t[6]))

    script = """
set terminal %(term)s
set datafile missing "?"
set grid ytics
set key top left

set output "%(out)s/latency.png"
set title "Round trip (median of run medians; bars: min-max over runs)"
set ylabel "microseconds"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot "%(out)s/latency.dat" using 2:3:4:xtic(1) title "vhost", \\
     "" using 5:6:7 title "user (VMM thread, 1 ioctl per entry)", \\
     "" using 8:9:10 title "raw ioctl (floor)"

set output "%(out)s/batch.png"
set title "N INVALIDATEs per kick: descriptors per second"
set style data linespoints
set logscale xy 2
set xlabel "requests per kick"
set ylabel "descriptors / s"
set xrange [0.7:370]
set yrange [*:*]
set xtics (1, 8, 64, 256)
set format y "%%.0s%%c"
plot "%(out)s/batch-vhost.dat" using 1:2:3:4 with yerrorlines title "vhost", \\
     "%(out)s/batch-user.dat" using 1:2:3:4 with yerrorlines title "user, 1 ioctl per entry", \\
     "%(out)s/batch-user-batch.dat" using 1:2:3:4 with yerrorlines title "user, 1 ioctl per kick", \\
     "%(out)s/batch-raw.dat" using 1:2:3:4 with yerrorlines title "raw ioctl of N entries"

set output "%(out)s/scale.png"
set title "Devices at once: aggregate descriptors per second"
set xlabel "devices"
set xrange [0.7:90]
set xtics (1, 8, 64)
plot "%(out)s/scale-vhost.dat" using 1:2:3:4 with yerrorlines title "vhost", \\
     "%(out)s/scale-user.dat" using 1:2:3:4 with yerrorlines title "user, 1 ioctl per entry", \\
     "%(out)s/scale-user-batch.dat" using 1:2:3:4 with yerrorlines title "user, 1 ioctl per kick"

set output "%(out)s/ratios.png"
set title "The issue's figures: measured ratio (min-max over runs) and target"
unset logscale x
set logscale y 10
set format y "%%g"
set xlabel ""
set ylabel "ratio"
set xrange [-0.5:%(nt)d-0.5]
set xtics rotate by -20 left
plot "%(out)s/ratios.dat" using 1:3:4:5:xtic(2) with yerrorbars pt 7 title "measured", \\
     "" using 1:6 with points pt 6 ps 2 title "target", \\
     1 with lines dt 2 notitle
""" % {"term": term, "out": out, "nt": max(len(trows), 1)}
    path = os.path.join(out, "plots.gp")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run([gp, path], capture_output=True, text=True)
    if r.returncode:
        print("report.py: gnuplot failed:\n" + r.stderr, file=sys.stderr)
    else:
        print("plots: " + ", ".join(os.path.join(out, p) for p in
              ("latency.png", "batch.png", "scale.png", "ratios.png")))


if __name__ == "__main__":
    sys.exit(main())
