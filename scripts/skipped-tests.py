#!/usr/bin/env python3
"""Lists the skipped tests of a meson test run with the reason each printed,
so a skip is visible in the CI log and not only as a count.

    skipped-tests.py BUILD_DIR/meson-logs/testlog.json

A test that exits 77 counts as skipped; its reason is the first output line
starting with "SKIP" (the C harness, tests/kvm-available.sh). Python
unittest cases skipped inside a passing test ("... skipped 'why'") are
listed too. Prints nothing when nothing was skipped."""
import json
import re
import sys

CASE_SKIP = re.compile(r"^(\S+) \(.*\) \.\.\. skipped '(.*)'$")


def main(path):
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            test = json.loads(raw)
            name = test["name"].split(" / ")[-1]
            out = (test.get("stdout") or "") + (test.get("stderr") or "")
            if test["result"] == "SKIP":
                why = next((l for l in out.splitlines() if l.startswith("SKIP")),
                           "(printed no SKIP line)")
                lines.append(f"  {name}: {why}")
            for l in out.splitlines():
                m = CASE_SKIP.match(l)
                if m:
                    lines.append(f"  {name}, case {m.group(1)}: SKIP: {m.group(2)}")
    if lines:
        print(f"Skipped ({len(lines)}):")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
