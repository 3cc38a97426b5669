#!/usr/bin/env python3
"""Checks file and function sizes of the source tree.

  check_sizes.py [--root DIR] [--allow FILE] [--print-allowlist]

Two limits (no git needed; build*, hidden and lint sample folders skipped):
  - no .cc/.h/.py/.sh file over 600 lines;
  - no C++ function over 80 lines outside the tests (*_test.cc, tests/**,
    testing/**, server/core/fake_*.h). A function is a top-level, namespace
    or class-member definition, counted from the first line of its
    signature to its closing brace, by a brace matcher that ignores
    comments, strings, character literals, raw strings and preprocessor
    lines.

--allow (default tests/lint/size_allowlist.txt) lists today's accepted
offenders, one per line: "path  # reason" for a file, "path:Function  #
reason" for a function (the name as its definition spells it, e.g.
LeaseManager::AcquireLocked). A row that matches no offender is stale and
itself a failure, so the list only shrinks.

--print-allowlist prints the current offenders in allowlist format and
exits 0. Exit 0 when clean, 1 with one line per offender, 2 on a usage
error.
"""

import argparse
import fnmatch
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
SKIP_DIRS = ("tests/lint/samples", "tests/support/lint_samples")


def usage_error(message):
    print(f"check_sizes: {message}", file=sys.stderr)
    sys.exit(2)


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(("build", "."))
            and (d if rel_dir == "." else f"{rel_dir}/{d}") not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith((".cc", ".h", ".py", ".sh")):
                full = os.path.join(dirpath, name)
                yield os.path.relpath(full, root).replace(os.sep, "/")


def is_test_code(path):
    name = os.path.basename(path)
    return (path.startswith(("tests/", "testing/")) or
            fnmatch.fnmatch(name, "*_test.cc") or
            fnmatch.fnmatch(path, "server/core/fake_*.h"))


def blank(text):
    """Keeps the newlines of text and turns everything else into spaces."""
    return re.sub(r"[^\n]", " ", text)


def strip_cxx(source):
    """Blanks comments, string and character literals, raw strings and
    preprocessor lines, keeping every newline (so line numbers hold)."""
    out = []
    i, n = 0, len(source)
    line_start = True
    while i < n:
        c = source[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            # A preprocessor line, with its continuations.
            j = i
            while j < n and source[j] != "\n":
                if source[j] == "\\" and j + 1 < n and source[j + 1] == "\n":
                    j += 2
                    continue
                j += 1
            out.append(blank(source[i:j]))
            i = j
            continue
        line_start = False
        if c == "\n":
            line_start = True
            out.append(c)
            i += 1
        elif source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(source[i:j]))
            i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(blank(source[i:j]))
            i = j
        elif c == '"' or c == "'":
            raw = None
            if c == '"' and re.search(r"(?:^|[^\w])(?:u8|u|U|L)?R$", source[max(0, i - 4):i]):
                m = re.match(r'"([^()\\\s]{0,16})\(', source[i:i + 20])
                raw = m.group(1) if m else None
            if raw is not None:
                end = source.find(")" + raw + '"', i)
                j = n if end < 0 else end + len(raw) + 2
            else:
                j = i + 1
                while j < n and source[j] != c and source[j] != "\n":
                    j += 2 if source[j] == "\\" else 1
                j = min(j + 1, n)
                # A digit separator (1'000) is no literal.
                if c == "'" and i > 0 and source[i - 1].isalnum() and \
                        not re.match(r"[uUL8]", source[i - 1]):
                    out.append(" ")
                    i += 1
                    continue
            out.append(c + blank(source[i + 1:j - 1]) + (c if j - i >= 2 else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


QUALIFIERS = re.compile(
    r"(?:\s|\bconst\b|\bvolatile\b|\bnoexcept\b(?:\s*\(\s*\w*\s*\))?|\boverride\b|"
    r"\bfinal\b|\bmutable\b|&&|&|->\s*[\w:<>,\s*&]+|\bABSL_\w+(?:\s*\([^()]*\))?)*$")
NAME_BEFORE = re.compile(r"((?:[A-Za-z_]\w*\s*(?:<[^<>;{}]*>)?\s*::\s*)*~?\s*"
                         r"(?:operator\s*(?:\(\s*\)|[^\s\w(][^\s(]*|\w[\w\s]*)|[A-Za-z_]\w*))\s*$")


def matching_open(text, close):
    depth = 0
    for k in range(close, -1, -1):
        if text[k] == ")":
            depth += 1
        elif text[k] == "(":
            depth -= 1
            if depth == 0:
                return k
    return -1


def function_name(head):
    """The name a function definition's head defines, or None when the head
    (the text from the end of the previous declaration up to the '{') is
    no function definition."""
    flat = re.sub(r"\s+", " ", head).strip()
    flat = re.sub(r"^(?:(?:public|private|protected)\s*:\s*)+", "", flat)
    if not flat or "=" in flat.split("(")[0] and "operator" not in flat.split("(")[0]:
        return None
    first = flat.split("(")[0].split()
    if first and first[0] in ("namespace", "if", "for", "while", "switch", "catch",
                              "do", "else", "try", "return", "enum", "extern"):
        return None
    # A constructor's initializer list: ") : a_(x), b_{y}".
    close = -1
    for m in re.finditer(r"\)\s*(?:noexcept\s*)?:(?!:)", flat):
        close = m.start()
        break
    if close >= 0 and not flat.endswith((")", "}")):
        return None  # "b_{" of the list: the body's "{" comes later
    if close < 0:
        q = QUALIFIERS.search(flat)
        tail = flat[:q.start()] if q else flat
        if not tail.endswith(")"):
            return None
        close = len(tail) - 1
    open_ = matching_open(flat, close)
    if open_ <= 0:
        return None
    m = NAME_BEFORE.search(flat[:open_])
    if not m:
        return None
    name = re.sub(r"\s+", "", m.group(1))
    if name.split("::")[-1] in ("if", "for", "while", "switch", "catch", "return",
                               "sizeof", "decltype", "alignas", "static_assert"):
        return None
    return name


def functions(source):
    """(name, first line, last line) of every top-level, namespace and
    class-member function definition of a C++ source."""
    text = strip_cxx(source)
    result = []
    # Scopes: ("ns"|"class", None) where definitions are looked for;
    # ("fn", (name, line)) and ("other", None) are skipped through.
    stack = [("ns", None)]
    head_start = 0
    i, n = 0, len(text)
    line_of = [0] * (n + 1)
    line = 1
    for k, ch in enumerate(text):
        line_of[k] = line
        if ch == "\n":
            line += 1
    line_of[n] = line
    while i < n:
        ch = text[i]
        kind = stack[-1][0]
        if kind in ("ns", "class"):
            if ch == ";":
                head_start = i + 1
            elif ch == "{":
                head = text[head_start:i]
                flat = head.strip()
                words = re.sub(r"<[^<>]*>", "", flat).split()
                if re.match(r"(?:inline\s+)?namespace\b", flat) or \
                        re.match(r'extern\s*"\s*"', flat):
                    stack.append(("ns", None))
                    head_start = i + 1
                elif words and "(" not in flat and (
                        words[0] in ("class", "struct", "union") or
                        (words[0] == "template" and
                         re.search(r"\b(class|struct|union)\s+\w+[^<>]*$", flat))):
                    stack.append(("class", None))
                    head_start = i + 1
                else:
                    name = function_name(head)
                    if name:
                        skip = len(head) - len(head.lstrip())
                        start = head_start + skip
                        stack.append(("fn", (name, line_of[start])))
                    else:
                        # An initializer or enum: part of the next head.
                        stack.append(("other", None))
            elif ch == "}":
                stack.pop() if len(stack) > 1 else None
                head_start = i + 1
            i += 1
            continue
        if ch == "{":
            stack.append(("inner", None))
        elif ch == "}":
            done = stack.pop()
            if done[0] == "fn":
                result.append((done[1][0], done[1][1], line_of[i]))
                head_start = i + 1
            elif done[0] == "other" and stack[-1][0] in ("ns", "class"):
                pass  # the head goes on (e.g. "b_{y} {" of an initializer list)
        i += 1
    return result


def offenders(root):
    found = []
    for path in source_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            source = f.read()
        lines = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
        if lines > MAX_FILE_LINES:
            found.append((path, None, 1, lines))
        if path.endswith((".cc", ".h")) and not is_test_code(path):
            for name, first, last in functions(source):
                if last - first + 1 > MAX_FUNCTION_LINES:
                    found.append((path, name, first, last - first + 1))
    return found


def read_allowlist(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.partition("#")[0].split()
            if not fields:
                continue
            if len(fields) != 1:
                usage_error(f"{path}:{number}: expected 'path[:Function]  # reason'")
            where, _, function = fields[0].partition(":")
            rows.append((number, where, function or None))
    return rows


def main():
    parser = argparse.ArgumentParser(description="Checks file and function sizes.")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(HERE)))
    parser.add_argument("--allow", default=os.path.join(HERE, "size_allowlist.txt"))
    parser.add_argument("--print-allowlist", action="store_true")
    parser.add_argument("--functions", metavar="FILE",
                        help="print the functions of FILE with their lengths and exit")
    args = parser.parse_args()
    if args.functions:
        with open(args.functions, encoding="utf-8") as f:
            for name, first, last in functions(f.read()):
                print(f"{args.functions}:{first}: {name} {last - first + 1}")
        return 0
    if not os.path.isdir(args.root):
        usage_error(f"--root {args.root}: not a directory")

    found = offenders(args.root)
    if args.print_allowlist:
        for path, name, _, lines in found:
            if name:
                print(f"{path}:{name}  # {lines} lines, over {MAX_FUNCTION_LINES}")
            else:
                print(f"{path}  # {lines} lines, over {MAX_FILE_LINES}")
        return 0

    rows = read_allowlist(args.allow)
    used = set()
    failures = 0
    for path, name, line, lines in found:
        match = [r for r in rows if r[1] == path and r[2] == name]
        if match:
            used.update(r[0] for r in match)
            continue
        if name:
            print(f"{path}:{line}: function {name} has {lines} lines "
                  f"(at most {MAX_FUNCTION_LINES} outside the tests)")
        else:
            print(f"{path}: {lines} lines (at most {MAX_FILE_LINES})")
        failures += 1
    for number, path, name in rows:
        if number not in used:
            what = f"{path}:{name}" if name else path
            print(f"{args.allow}:{number}: stale row '{what}': it matches no "
                  "offender any more; delete it")
            failures += 1
    if failures:
        print(f"check_sizes: {failures} finding(s)")
        return 1
    print(f"check_sizes: {len(found)} allowed offender(s), no file over "
          f"{MAX_FILE_LINES} lines, no function over {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
