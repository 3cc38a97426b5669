#!/usr/bin/env bash
# Before/after comparison: the same benchmarks of two builds, in one run,
# interleaved (before, after, before, after, ...), so that whatever else the
# machine does hits both builds alike. Prints one table: metric, before,
# after, after/before and PASS/FAIL against "no regression": after/before
# <= 1.10 for times and sizes, >= 0.90 for throughput.
#
#   tests/bench/compare.sh BEFORE_BIN AFTER_BIN [--quick] [--rounds N] [--out DIR]
#
# BEFORE_BIN and AFTER_BIN are build bin directories (build/bin), each
# holding allocator_benchmark, portlease_load, portleased, bench_echo_server,
# lease-run and bench_min_client. Per round and per build:
#   allocator_benchmark   CPU time per acquire+release at 10 / 1,000 /
#                         10,000 live leases (--benchmark_min_time=0.2);
#   portlease_load        --duration=2s --clients=1,16 (RSS at 10,000
#                         leases too): p50 at 1 client and pairs/s at 16
#                         clients, as ratios to the echo server;
#   process_cost.sh       --runs 50: lease-run and bench_min_client medians.
# --quick: --benchmark_min_time=0.05, --duration=1s --rss_leases=0, --runs 20.
# --rounds N: N runs of each build (default 2); the table shows medians.
# --out DIR: keep every program's output there (default: a temp dir, kept).
#
# Every server runs on a Unix socket in a temp dir (the programs' own
# set-up); PORTLEASE_ADDR is ignored. The gated rows are the benchmarks'
# targets and the curve; rows marked "info" are shown, not judged. On a
# shared 2-core machine rounds of one build differ by more than 10%: use
# --rounds 5 or more (and a quieter machine) before reading a FAIL as a
# regression. The exit code is 0 whatever the verdicts (1 when a program
# fails, 2 on usage).
set -euo pipefail

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(cd "$(dirname "$0")" && pwd)
quick=0 rounds=2 out="" bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
if [ "${#bins[@]}" -ne 2 ]; then
  echo "compare: need BEFORE_BIN and AFTER_BIN (see --help)" >&2; exit 2
fi
case "$rounds" in ''|*[!0-9]*|0) echo "compare: bad --rounds '$rounds'" >&2; exit 2 ;; esac
programs="allocator_benchmark portlease_load portleased bench_echo_server
  lease-run bench_min_client"
for bin in "${bins[@]}"; do
  for p in $programs; do
    [ -x "$bin/$p" ] || { echo "compare: not an executable: '$bin/$p' (see --help)" >&2; exit 2; }
  done
done
before=$(cd "${bins[0]}" && pwd) after=$(cd "${bins[1]}" && pwd)

if [ "$quick" = 1 ]; then
  min_time=0.05 load_flags=(--duration=1s --clients=1,16 --rss_leases=0) runs=20
else
  min_time=0.2 load_flags=(--duration=2s --clients=1,16) runs=50
fi
[ -n "$out" ] || out=$(mktemp -d /tmp/plcompare.XXXXXX)
mkdir -p "$out"

# The program running now, so that an interrupt stops it (and only it);
# each program stops the servers it started itself.
child=""
stop_child() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
  exit 130
}
trap stop_child INT TERM

# run NAME CMD...: runs CMD with its output in $out/NAME.txt; fails the
# script (showing the output) when it fails.
run() {
  local name="$1"; shift
  "$@" >"$out/$name.txt" 2>"$out/$name.err" &
  child=$!
  if ! wait "$child"; then
    child=""
    echo "compare: failed: $*" >&2; tail -n 20 "$out/$name.err" "$out/$name.txt" >&2
    exit 1
  fi
  child=""
}

# bench SIDE BIN ROUND: the three benchmarks of one build, once.
bench() {
  local side="$1" bin="$2" r="$3"
  echo "round $r/$rounds: $side: allocator_benchmark" >&2
  run "r$r-$side-alloc" "$bin/allocator_benchmark" --benchmark_color=false \
    --benchmark_min_time="$min_time" --benchmark_out_format=json \
    --benchmark_out="$out/r$r-$side-alloc.json"
  echo "round $r/$rounds: $side: portlease_load ${load_flags[*]}" >&2
  run "r$r-$side-load" "$bin/portlease_load" --portleased="$bin/portleased" \
    --echo_server="$bin/bench_echo_server" "${load_flags[@]}"
  echo "round $r/$rounds: $side: process_cost.sh --runs $runs" >&2
  run "r$r-$side-proc" env -u PORTLEASE_ADDR "$here/process_cost.sh" \
    --lease-run "$bin/lease-run" --min-client "$bin/bench_min_client" \
    --portleased "$bin/portleased" --runs "$runs"
}

load() { uptime | sed 's/.*load average/load average/'; }
mode=full
[ "$quick" = 1 ] && mode=quick
{
  echo "before: $before"
  echo "after:  $after"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; at start: $(load)"
  echo "rounds: $rounds ($mode): allocator_benchmark --benchmark_min_time=$min_time;" \
    "portlease_load ${load_flags[*]}; process_cost.sh --runs $runs"
} >"$out/header.txt"
for r in $(seq "$rounds"); do
  bench before "$before" "$r"
  bench after "$after" "$r"
done
echo "at end: $(load)" >>"$out/header.txt"
cat "$out/header.txt"
echo "outputs: $out"
echo

/usr/bin/python3 - "$out" "$rounds" <<'EOF'
import json, re, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])
UNIT_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}

def read(name):
    with open(f"{out}/{name}.txt") as f:
        return f.read()

def alloc(r, side):
    with open(f"{out}/r{r}-{side}-alloc.json") as f:
        runs = json.load(f)["benchmarks"]
    us = {b["name"].split("/")[-1]: b["cpu_time"] * UNIT_US[b["time_unit"]]
          for b in runs if b.get("run_type", "iteration") == "iteration"}
    return {"alloc10": us["10"], "alloc1k": us["1000"], "alloc10k": us["10000"],
            "alloc_curve": us["10000"] / us["10"]}

ROW = re.compile(r"^\s*(\d+)\s+(portlease|echo)\s+([\d.]+)\s+([\d.]+)\s+"
                 r"([\d.]+)\s+([\d.]+)\s+(\d+)\s*$")

def load(r, side):
    rows, m = {}, {}
    for line in read(f"r{r}-{side}-load").splitlines():
        g = ROW.match(line)
        if g and (int(g[1]), g[2]) not in rows:  # the first (--probe=system) set
            rows[(int(g[1]), g[2])] = [float(x) for x in g.groups()[2:]]
    for c in (1, 16):
        for t in ("portlease", "echo"):
            if (c, t) not in rows:
                sys.exit(f"compare: no {t} row for {c} clients in r{r}-{side}-load.txt")
            if rows[(c, t)][4] > 0:
                print(f"note: round {r} {side}: {t} at {c} clients had "
                      f"{int(rows[(c, t)][4])} errors")
    m["p50_1"] = rows[(1, "portlease")][1]
    m["p50_1_ratio"] = m["p50_1"] / rows[(1, "echo")][1]
    m["tput_16"] = rows[(16, "portlease")][0]
    m["tput_16_ratio"] = m["tput_16"] / rows[(16, "echo")][0]
    g = re.search(r"with (\d+) live 2-port leases.*?: ([\d.]+) MB", read(f"r{r}-{side}-load"))
    if g:
        m["rss"] = float(g[2])
    return m

def proc(r, side):
    text = read(f"r{r}-{side}-proc")
    med = lambda what: float(re.search(re.escape(what) + r"\s+median\s+([\d.]+) ms", text)[1])
    m = {"min_client": med("bench_min_client (1 Status call)"),
         "lease_run": med("lease-run --count 5 -- true")}
    m["proc_ratio"] = m["lease_run"] / m["min_client"]
    return m

# key, label, kind: "time" (lower is better), "rate" (higher), "info" (not judged)
METRICS = [
    ("alloc10", "allocator: acquire+release, 10 live (us CPU)", "time"),
    ("alloc1k", "allocator: acquire+release, 1,000 live (us CPU)", "time"),
    ("alloc10k", "allocator: acquire+release, 10,000 live (us CPU)", "time"),
    ("alloc_curve", "allocator: 10,000 vs 10 live", "info"),
    ("p50_1_ratio", "load: 1 client p50, ratio to echo", "time"),
    ("tput_16_ratio", "load: 16 clients pairs/s, ratio to echo", "rate"),
    ("p50_1", "load: 1 client portlease p50 (us)", "info"),
    ("tput_16", "load: 16 clients portlease pairs/s", "info"),
    ("rss", "load: portleased RSS, 10,000 leases (MB)", "time"),
    ("lease_run", "process: lease-run --count 5 -- true (ms)", "time"),
    ("min_client", "process: bench_min_client (ms)", "info"),
    ("proc_ratio", "process: lease-run vs bench_min_client", "time"),
]

values = {"before": {}, "after": {}}
for r in range(1, rounds + 1):
    for side in values:
        for part in (alloc(r, side), load(r, side), proc(r, side)):
            for k, v in part.items():
                values[side].setdefault(k, []).append(v)

fmt = lambda v: f"{v:,.2f}" if v < 100 else f"{v:,.0f}"
print(f"| metric (median of {rounds}) | before | after | after/before | verdict |")
print("| --- | --- | --- | --- | --- |")
gated = failed = 0
for key, label, kind in METRICS:
    if key not in values["before"] or key not in values["after"]:
        continue
    b, a = statistics.median(values["before"][key]), statistics.median(values["after"][key])
    ratio = a / b if b else float("nan")
    if kind == "info":
        verdict = "info"
    else:
        ok = ratio <= 1.10 if kind == "time" else ratio >= 0.90
        gated += 1
        failed += not ok
        verdict = "PASS" if ok else "FAIL"
    print(f"| {label} | {fmt(b)} | {fmt(a)} | {ratio:.2f} | {verdict} |")
print()
print(f"{gated - failed} of {gated} judged rows PASS (no regression: after/before <= 1.10 "
      "for times and sizes, >= 0.90 for throughput).")
print("Every round, before / after:")
for key, label, kind in METRICS:
    if key in values["before"] and key in values["after"]:
        row = lambda s: " ".join(fmt(v) for v in values[s][key])
        print(f"  {label}: {row('before')} / {row('after')}")
print("Rounds of one build on a shared machine differ by more than 10%: read a "
      "FAIL as 'measure again (more rounds)', not as a regression, unless it repeats.")
EOF
