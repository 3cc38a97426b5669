#!/usr/bin/env python3
"""Checks the #include lines of the source tree against the layer rules.

  check_layers.py [--root DIR] [--rules FILE] [--allow FILE] [--print-allowlist]

Walks server client common testing proto under DIR (default: the checkout,
build* folders skipped; no git needed), reads every .h/.cc and applies the
rules of --rules (default tests/lint/layers.txt, format described there).
A finding is "path:line: includes X (rule R: reason)".

--allow (default tests/lint/layers_allowlist.txt) lists today's accepted
findings, one per line: "path [include]  # reason". A row without an
include accepts every finding of the file. A row that matches no finding
is stale and itself a failure, so the list only shrinks.

--print-allowlist prints the current findings in allowlist format and
exits 0. Exit 0 when clean, 1 with one line per finding, 2 on a usage
error.
"""

import argparse
import fnmatch
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDERS = ("server", "client", "common", "testing", "proto")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


class Rule:
    def __init__(self, name, glob, scope, kind, prefixes, reason):
        self.name, self.glob, self.scope = name, glob, scope
        self.kind, self.prefixes, self.reason = kind, prefixes, reason
        # ** matches any folders (also none); * matches within one name.
        pattern = re.escape(glob).replace(r"\*\*/", "(?:.*/)?")
        pattern = pattern.replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        self.regex = re.compile(pattern + r"\Z")

    def applies(self, path, test_source):
        if self.scope == "nontest" and test_source:
            return False
        return bool(self.regex.match(path))

    def violated_by(self, angle, include):
        starts = any(include.startswith(p) for p in self.prefixes)
        if self.kind == "deny":
            return starts
        if self.kind == "deny-angle":
            return angle and starts
        if self.kind == "only":
            return not angle and not starts
        raise AssertionError(self.kind)


def usage_error(message):
    print(f"check_layers: {message}", file=sys.stderr)
    sys.exit(2)


def read_rules(path):
    rules = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text, _, reason = line.partition("#")
            fields = text.split()
            if not fields:
                continue
            if len(fields) < 5 or fields[2] not in ("all", "nontest") or \
                    fields[3] not in ("deny", "only", "deny-angle"):
                usage_error(f"{path}:{number}: expected 'rule glob all|nontest "
                            "deny|only|deny-angle prefix...'")
            rules.append(Rule(fields[0], fields[1], fields[2], fields[3],
                              tuple(fields[4:]), reason.strip()))
    return rules


def read_allowlist(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.partition("#")[0].split()
            if not fields:
                continue
            if len(fields) > 2:
                usage_error(f"{path}:{number}: expected 'path [include]  # reason'")
            rows.append((number, fields[0], fields[1] if len(fields) == 2 else None))
    return rows


def is_test_source(path):
    name = os.path.basename(path)
    return (path.startswith("testing/") or
            fnmatch.fnmatch(name, "*_test.cc") or
            fnmatch.fnmatch(name, "*_benchmark.cc") or
            fnmatch.fnmatch(name, "*_test_*.cc") or
            fnmatch.fnmatch(name, "*_test_*.h") or
            fnmatch.fnmatch(name, "fake_*.h") or
            fnmatch.fnmatch(name, "test_*.h") or
            fnmatch.fnmatch(name, "test_*.cc"))


def source_files(root):
    for folder in FOLDERS:
        top = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames
                                 if not d.startswith("build") and not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".h", ".cc")):
                    full = os.path.join(dirpath, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def findings(root, rules):
    found = []
    for path in source_files(root):
        test_source = is_test_source(path)
        applying = [r for r in rules if r.applies(path, test_source)]
        if not applying:
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                angle, include = m.group(1) == "<", m.group(2)
                for rule in applying:
                    if rule.violated_by(angle, include):
                        found.append((path, number, include, rule))
                        break
    return found


def main():
    parser = argparse.ArgumentParser(
        description="Checks #include lines against tests/lint/layers.txt.")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(HERE)))
    parser.add_argument("--rules", default=os.path.join(HERE, "layers.txt"))
    parser.add_argument("--allow", default=os.path.join(HERE, "layers_allowlist.txt"))
    parser.add_argument("--print-allowlist", action="store_true")
    args = parser.parse_args()
    if not os.path.isdir(args.root):
        usage_error(f"--root {args.root}: not a directory")

    rules = read_rules(args.rules)
    found = findings(args.root, rules)
    if args.print_allowlist:
        for path, _, include, rule in found:
            print(f"{path} {include}  # rule {rule.name}: {rule.reason}")
        return 0

    rows = read_allowlist(args.allow)
    used = set()
    failures = 0
    for path, number, include, rule in found:
        match = [r for r in rows if r[1] == path and r[2] in (None, include)]
        if match:
            used.update(r[0] for r in match)
            continue
        print(f"{path}:{number}: includes {include} (rule {rule.name}: {rule.reason})")
        failures += 1
    for number, path, include in rows:
        if number not in used:
            what = f"{path} {include}" if include else path
            print(f"{args.allow}:{number}: stale row '{what}': it matches no "
                  "finding any more; delete it")
            failures += 1
    if failures:
        print(f"check_layers: {failures} finding(s)")
        return 1
    print(f"check_layers: {len(rules)} rules, {len(found)} allowed finding(s), "
          "no include crosses a layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
