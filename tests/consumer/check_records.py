#!/usr/bin/env python3
"""check_records.py OUT_DIR EXPECTED

Reads the NAME.rec files the consumer's tests wrote ("NAME KIND START END
PORT...", KIND bind or shared) and fails when two tests that bound ports at
overlapping times had a port in common, when a SHARED test connected to a
port outside the stack it was given, or when there are not EXPECTED
records. Prints one summary line.
"""
import glob
import os
import sys


def main():
    out_dir, expected = sys.argv[1], int(sys.argv[2])
    records = []
    for path in glob.glob(os.path.join(out_dir, "*.rec")):
        for line in open(path):
            name, kind, start, end, *ports = line.split()
            records.append((name, kind, int(start), int(end), set(map(int, ports))))
    errors = []
    if len(records) != expected:
        errors.append(f"{len(records)} records, want {expected}: "
                      + " ".join(sorted(r[0] for r in records)))
    binds = [r for r in records if r[1] == "bind"]
    pairs = 0
    for i, a in enumerate(binds):
        for b in binds[i + 1:]:
            if a[2] < b[3] and b[2] < a[3]:
                pairs += 1
                common = a[4] & b[4]
                if common:
                    errors.append(f"{a[0]} and {b[0]} held port(s) "
                                  f"{sorted(common)} at the same time")
    stacks = [r for r in binds if r[0].startswith("fx_stack")]
    for r in records:
        if r[1] == "shared" and not any(r[4] <= s[4] for s in stacks):
            errors.append(f"{r[0]} connected to {sorted(r[4])}, no stack's ports")
    ports = set().union(*(r[4] for r in records)) if records else set()
    for e in errors:
        print("check_records: " + e, file=sys.stderr)
    print(f"{len(records)} tests recorded, {len(ports)} distinct ports, "
          f"{pairs} pairs running at once, {len(errors)} conflicts")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
