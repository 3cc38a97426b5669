#!/usr/bin/env bash
# Checks ci/man/help-to-man.awk on a small --help text, then the man pages
# the build made from the real binaries: every section a man page needs,
# no groff warnings, and the .gz that is installed holds the same page.
#
#   man_pages_test.sh HELP_TO_MAN_AWK MAN_DIR
set -euo pipefail
awk_script="$1"
man_dir="$2"
command -v groff >/dev/null || { echo "SKIP: no groff (package groff-base)"; exit 77; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The converter: headings, entries, verbatim blocks, prose, escapes.
cat >"$tmp/help" <<'HELP'
NAME
    tool - does things

SYNOPSIS
    tool [--flag] -- CMD

DESCRIPTION
    First paragraph,
    continued.

    Second paragraph:
        indented example
    back to prose with a \backslash.

OPTIONS
    --flag=X      What it does,
                  continued.
    --other
        Text below the tag.

EXIT STATUS
    0 success.
HELP
awk -f "$awk_script" -v name=tool -v section=1 -v source="tool 1.0" \
  <"$tmp/help" >"$tmp/tool.1"
expected=(
  '.TH TOOL 1 "" "tool 1.0" "portlease manual"'
  '.SH NAME'
  'tool \- does things'
  '.nf'
  'tool [\-\-flag] \-\- CMD'
  '.fi'
  '.PP'
  '.RS 4'
  'indented example'
  '.RE'
  'back to prose with a \ebackslash.'
  '.TP'
  '\fB\-\-flag=X\fR'
  'What it does,'
  'continued.'
  '\fB\-\-other\fR'
  'Text below the tag.'
  '.SH "EXIT STATUS"'
)
for line in "${expected[@]}"; do
  grep -qxF -- "$line" "$tmp/tool.1" || fail "help-to-man.awk output lacks: $line"$'\n'"$(cat "$tmp/tool.1")"
done
warnings="$(groff -man -ww -z "$tmp/tool.1" 2>&1)"
[ -z "$warnings" ] || fail "groff warns on the test page: $warnings"

# The real pages.
for page in portleased.8 lease-run.1 portlease.1; do
  [ -s "$man_dir/$page" ] || fail "$man_dir/$page was not built"
done
for file in "$man_dir"/*.[18]; do
  page="$(basename "$file")"
  cmp -s "$file" <(gzip -dc "$file.gz") || fail "$file.gz differs from $file"
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT '"EXIT STATUS"' EXAMPLES '"SEE ALSO"'; do
    grep -qx ".SH $section" "$file" || fail "$page has no $section section"
  done
  warnings="$(groff -man -ww -z "$file" 2>&1)"
  [ -z "$warnings" ] || fail "groff warns on $page: $warnings"
done
# portleased's OPTIONS come from its flag registry: spot-check a few.
for flag in listen db pool 'default\\-ttl' '\[no\]durable'; do
  grep -q "^\\\\fB\\\\-\\\\-$flag" "$man_dir/portleased.8" || fail "portleased.8 lacks --$flag"
done
echo "PASS"
