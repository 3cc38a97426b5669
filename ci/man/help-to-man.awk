# Turns a program's --help into a man page (troff, man macros).
#
#   portleased --help | awk -f help-to-man.awk -v name=portleased \
#       -v section=8 -v source="portlease 0.1.0" > portleased.8
#
# The --help text is laid out like a man page (see `lease-run --help`):
# headings in capitals at column 0, body indented 4 spaces. In SYNOPSIS and
# EXAMPLES lines are kept as they are. In OPTIONS, COMMANDS, ENVIRONMENT and
# FILES each line indented exactly 4 starts an entry: its tag runs up to two
# spaces (or the end of the line), its text follows, and lines indented
# deeper continue it. Elsewhere lines are filled into paragraphs, blank
# lines separate paragraphs, and lines indented 8 or more are kept as they
# are. POSIX awk (Debian's mawk is enough).

function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  if (s ~ /^[.']/) s = "\\&" s
  return s
}

function indent_of(s) {
  match(s, /^ */)
  return RLENGTH
}

# Closes whatever the previous lines opened.
function close_block() {
  if (nofill) print ".fi"
  nofill = 0
}

BEGIN {
  if (name == "" || section == "") {
    print "help-to-man.awk: set -v name=... -v section=..." > "/dev/stderr"
    exit 2
  }
  printf ".TH %s %s \"\" \"%s\" \"%s\"\n", toupper(name), section, source,
         manual == "" ? "portlease manual" : manual
  print ".nh"
  print ".ad l"
  mode = ""
  pending_para = 0
}

/^[A-Z][A-Z ]*[A-Z]$/ {
  close_block()
  heading = $0
  if (heading ~ / /) printf ".SH \"%s\"\n", heading
  else printf ".SH %s\n", heading
  if (heading == "SYNOPSIS" || heading == "EXAMPLES") {
    mode = "verbatim"
    print ".nf"
    nofill = 1
  } else if (heading == "OPTIONS" || heading == "COMMANDS" ||
             heading == "ENVIRONMENT" || heading == "FILES") {
    mode = "entries"
  } else {
    mode = "prose"
  }
  pending_para = 0
  started = 0
  next
}

/^[ \t]*$/ {
  if (mode == "verbatim") {
    if (started) blank_lines++
  } else {
    pending_para = 1
  }
  next
}

{
  n = indent_of($0)
  text = substr($0, n + 1)
  if (mode == "verbatim") {
    # Blank lines inside the block are kept, trailing ones dropped.
    for (; blank_lines > 0; blank_lines--) print ""
    print esc(substr($0, 5 <= n ? 5 : n + 1))
    started = 1
    next
  }
  if (mode == "entries" && n == 4) {
    tag = text
    rest = ""
    if (match(text, /  +/)) {
      tag = substr(text, 1, RSTART - 1)
      rest = substr(text, RSTART + RLENGTH)
    }
    print ".TP"
    print "\\fB" esc(tag) "\\fR"
    if (rest != "") print esc(rest)
    pending_para = 0
    next
  }
  if (mode == "entries") {
    if (pending_para) print ".IP"
    pending_para = 0
    print esc(text)
    next
  }
  # Prose; also text before the first heading.
  if (n >= 8) {
    if (!nofill) {
      if (started) print ".PP"
      print ".nf"
      print ".RS 4"
      nofill = 1
    }
    print esc(substr($0, 9))
    pending_para = 0
    started = 1
    next
  }
  if (nofill) {
    print ".RE"
    close_block()
    print ".PP"
  } else if (pending_para && started) {
    print ".PP"
  }
  pending_para = 0
  started = 1
  print esc(text)
}

END {
  if (nofill && mode == "prose") print ".RE"
  close_block()
}
