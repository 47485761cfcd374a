#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read a test VM's console log and report what ran.

Prints one "SUITE <name>: N passed, N failed, N skipped" line per suite
(KUnit suites, kselftest binaries, and the "vm" suite of whole-run checks:
boot, load, unload, kernel reports, leaks) and exits non-zero on any
failure. In run mode only the whole-run checks apply. Every suite named
in --expect must report, or it counts as failed. Kselftest binaries named
robust-<part> are parts of one suite, "robust".
"""
import argparse
import re
import sys

MARK = "@@VHI "

# Kernel reports that fail a run, whatever the tests said.
REPORT_RES = [
    re.compile(p)
    for p in (
        r"BUG: ",
        r"WARNING: ",
        r"UBSAN: ",
        r"Kernel panic",
        r"general protection fault",
        r"\bOops\b",
        r"INFO: task .* blocked for more than",
        r"kmemleak: .*new suspected memory leaks",
        r"Unable to handle kernel",
    )
]

KUNIT_TOTAL = re.compile(r"#\s*([\w-]+): pass:(\d+) fail:(\d+) skip:(\d+) total:(\d+)")
KUNIT_CASE = re.compile(r"^    (not ok|ok) \d+ (\S+)(.*)$")
KSFT_TOTAL = re.compile(
    r"# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) xpass:(\d+) skip:(\d+) error:(\d+)")
KSFT_CASE = re.compile(r"^(not ok|ok) \d+ (\S+)(.*)$")
KSFT_END = re.compile(r"KSFT-END (\S+) rc=(\d+)")


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0
        self.notes = []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.notes.append("FAIL " + what)

    def line(self):
        return (f"SUITE {self.name}: {self.passed} passed, {self.failed} failed, "
                f"{self.skipped} skipped")


def blocks(lines, begin, end):
    """Yield (name, body, end_line) for each BEGIN/END marker pair."""
    cur = None
    body = []
    for ln in lines:
        if ln == MARK + begin or ln.startswith(MARK + begin + " "):
            cur = ln[len(MARK + begin):].strip()
            body = []
        elif cur is not None and ln.startswith(MARK + end):
            yield cur, body, ln
            cur = None
        elif cur is not None:
            body.append(ln)
    if cur is not None:
        yield cur, body, None


def kunit_suite(name, body):
    s = Suite("kunit:" + name)
    total = None
    for ln in body:
        m = KUNIT_TOTAL.search(ln)
        if m and m.group(1) == name:
            total = m
        m = KUNIT_CASE.match(ln)
        if m:
            if "# SKIP" in m.group(3):
                s.notes.append(f"SKIP {m.group(2)}{m.group(3)}")
            elif m.group(1) == "not ok":
                s.notes.append(f"FAIL {m.group(2)}")
    if total:
        s.passed, s.failed, s.skipped = (int(total.group(i)) for i in (2, 3, 4))
    else:
        # Older KUnit logs lack the totals line: count the case lines.
        for ln in body:
            m = KUNIT_CASE.match(ln)
            if not m:
                continue
            if "# SKIP" in m.group(3):
                s.skipped += 1
            elif m.group(1) == "ok":
                s.passed += 1
            else:
                s.failed += 1
    if s.passed + s.failed + s.skipped == 0:
        s.check(False, "no test results in the suite's debugfs log")
    return s


def ksft_suite(name, body, end):
    s = Suite(name)
    total = None
    for ln in body:
        m = KSFT_TOTAL.search(ln)
        if m:
            total = m
        m = KSFT_CASE.match(ln)
        if m:
            if "# SKIP" in m.group(3):
                s.notes.append(f"SKIP {m.group(2)}{m.group(3)}")
            elif m.group(1) == "not ok":
                s.notes.append(f"FAIL {m.group(2)}")
        if ln.startswith("# STAT "):
            s.notes.append(ln[2:])
    if total:
        p, f, xf, xp, sk, err = (int(x) for x in total.groups())
        s.passed, s.failed, s.skipped = p + xf, f + xp + err, sk
    else:
        s.check(False, "no '# Totals' line (the binary crashed or was killed)")
    m = KSFT_END.search(end or "")
    if not m:
        s.check(False, "did not finish")
    elif int(m.group(2)) != 0 and s.failed == 0:
        s.check(False, f"exited with status {m.group(2)} but reported no failure")
    return s


def merge_parts(suites, name):
    """Fold the suites <name>-<part> into one suite <name>, notes prefixed."""
    parts = [s for s in suites if s.name.startswith(name + "-")]
    if not parts:
        return suites
    whole = Suite(name)
    for p in parts:
        whole.passed += p.passed
        whole.failed += p.failed
        whole.skipped += p.skipped
        part = p.name[len(name) + 1:]
        whole.notes.append(f"{part}: {p.passed} passed, {p.failed} failed, "
                           f"{p.skipped} skipped")
        whole.notes += [f"{part}: {n}" for n in p.notes]
    return [s for s in suites if s not in parts] + [whole]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("run", "check"), required=True)
    ap.add_argument("--qemu-rc", type=int, required=True)
    ap.add_argument("--timeout", type=int, required=True)
    ap.add_argument("--expect", default="",
                    help="space-separated suites that must report")
    ap.add_argument("log")
    a = ap.parse_args()

    with open(a.log, errors="replace") as f:
        lines = [ln.rstrip("\n") for ln in f]
    marks = [ln[len(MARK):] for ln in lines if ln.startswith(MARK)]

    suites = []
    if a.mode == "check":
        for name, body, _ in blocks(lines, "KUNIT-BEGIN", "KUNIT-END"):
            suites.append(kunit_suite(name, body))
        for name, body, end in blocks(lines, "KSFT-BEGIN", "KSFT-END"):
            suites.append(ksft_suite(name, body, end))
        seen = {s.name for s in suites}
        for name in a.expect.split():
            if name not in seen:
                s = Suite(name)
                s.check(False, "the suite did not report at all"
                        + (" (vhost_iommu_kunit.ko missing or not run)"
                           if name.startswith("kunit:") else ""))
                suites.append(s)
        suites = merge_parts(suites, "robust")

    vm = Suite("vm")
    timed_out = a.qemu_rc in (124, 137)
    vm.check(any(m.startswith("BOOTED") for m in marks), "the VM did not boot to init")
    vm.check(any(m.startswith("LOADED") for m in marks), "insmod vhost_iommu.ko failed")
    vm.check("DONE" in marks and not timed_out,
             f"the VM did not finish (QEMU exit {a.qemu_rc}"
             + (f", killed after {a.timeout} s" if timed_out else "") + ")")
    if a.mode == "run":
        demo = [m for m in marks if m.startswith("DEMO rc=")]
        if demo:
            vm.check(demo[0] == "DEMO rc=0", "the demo failed (" + demo[0] + ")")
    if a.mode == "check":
        vm.check(any(m.startswith("UNLOADED") for m in marks),
                 "rmmod vhost_iommu failed at the end of the run")
    reports = [ln for ln in lines if not ln.startswith(MARK)
               and any(r.search(ln) for r in REPORT_RES)]
    vm.check(not reports, "kernel reports: " + "; ".join(reports[:5]))
    if a.mode == "check":
        leak_blocks = list(blocks(lines, "KMEMLEAK-BEGIN", "KMEMLEAK-END"))
        if not leak_blocks and "KMEMLEAK-UNAVAILABLE" in marks:
            vm.skipped += 1
            vm.notes.append("SKIP kmemleak: not in this kernel")
        else:
            leaks = [ln for _, body, _ in leak_blocks for ln in body
                     if "unreferenced object" in ln]
            vm.check(bool(leak_blocks) and not leaks,
                     f"kmemleak: {len(leaks)} unreferenced objects"
                     if leak_blocks else "kmemleak scan did not run")
    suites.append(vm)

    for s in suites:
        print(s.line())
        for n in s.notes:
            print("  " + n)
    failed = sum(s.failed for s in suites)
    if failed and (timed_out or "DONE" not in marks or reports):
        print("--- last 40 console lines (" + a.log + ") ---", file=sys.stderr)
        for ln in lines[-40:]:
            print(ln, file=sys.stderr)
    if a.mode == "check":
        print(f"TOTAL {sum(s.passed for s in suites)} {failed} "
              f"{sum(s.skipped for s in suites)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
