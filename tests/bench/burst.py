#!/usr/bin/python3
"""A CI matrix starting at once: N jobs that each want 5 ports, side by side.

  tests/bench/burst.py --portleased build/bin/portleased \
      --lease-run build/bin/lease-run --min-client build/bin/bench_min_client \
      --binder build/bin/bench_binder [--jobs 16,64] [--rounds 3] [--hold 1]

For each N in --jobs and each round, four kinds of job are started N at a
time (all N spawned back to back, kinds interleaved round by round):

  lease-run   `lease-run --count 5 -- bench_binder --hold=1s`: the child
              binds the 5 ports it was given and holds them;
  portpicker  a python3 process calling portpicker.pick_unused_port() 5 times
              against Debian's portserver (python3-portpicker), then binding
              the 5 ports and holding them;
  floor       bench_min_client --acquire 5: one Acquire call, hold, Release
              (the smallest gRPC client process that gets ports);
  floor+child bench_min_client --acquire 5 -- bench_binder --hold=1s: the
              floor, running the same child as lease-run with the ports in
              PORTLEASE_PORTS, then Release (the least a wrapper that leases
              and runs a command does: no renewal, no Hold stream, no signal
              handling).

The benchmark starts its own servers on private sockets, with pools of the
same size: a portleased (SQLite in a temp dir, --probe=system, no caller
limits, --cooldown=0s as portserver has none: a port comes back to the pool
as soon as it is released) on a Unix socket for lease-run and the floor,
and portserver on an abstract socket.
Both pools come from --pool (default $PORTLEASE_TEST_POOL, else
30000-31279), split in two halves.

Reported per N and kind: the median and max time from a job's spawn to its
ports held (bound, for lease-run, portpicker and floor+child; granted, for
the floor), the time until every job of the round has exited, the CPU
(user+sys) of the jobs (their children included) and of the server, and the
ratios of lease-run to portpicker, to the floor and to floor+child. Medians
of the rounds. Exit 0 when every job got its ports; 1 otherwise.

--solo RUNS first times `lease-run --count 5 -- true`, the floor and
`bench_min_client --acquire 5 -- true` one at a time, interleaved, and
reports each one's wall time and CPU per run
(`--jobs ""` then skips the bursts).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PORTPICKER_JOB = r"""
import os, socket, sys, time, portpicker
ports = []
for _ in range(5):
    port = portpicker.pick_unused_port()
    if not port:
        sys.exit("no port")
    ports.append(port)
held = []
for port in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", port))
    s.listen()
    held.append(s)
with open(sys.argv[1], "w") as record:
    record.write(f"{time.time_ns()} " + " ".join(map(str, ports)) + "\n")
time.sleep(float(sys.argv[2]))
"""

KINDS = ("lease-run", "portpicker", "floor", "floor+child")


def fail(message):
    sys.exit(f"burst: {message}")


def split_pool(pool):
    try:
        first, last = (int(p) for p in pool.split("-"))
    except ValueError:
        fail(f"--pool wants one range FIRST-LAST, got {pool!r}")
    half = (last - first + 1) // 2
    if half < 5:
        fail(f"--pool {pool} is too small")
    return (f"{first}-{first + half - 1}",
            f"{first + half}-{first + 2 * half - 1}")


def wait_until(predicate, proc, what, timeout=15.0, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = ""
            if log:
                with open(log) as text:
                    said = ": " + text.read().strip()[-2000:]
            fail(f"{what} exited with {proc.returncode} before it was "
                 f"ready{said}")
        if predicate():
            return
        time.sleep(0.02)
    fail(f"{what} was not ready within {timeout:.0f} s")


def abstract_listening(name):
    with open("/proc/net/unix") as table:
        return any(line.rstrip().endswith("@" + name) for line in table)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid):
    """User+system CPU of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(kind, jobs, args, env, tmp):
    """Starts `jobs` jobs of `kind` at once; returns the round's figures."""
    records = os.path.join(tmp, f"records-{kind}-{time.time_ns()}")
    os.mkdir(records)
    first_spawn = None  # the matrix's clock starts at the first spawn
    pids = set()
    for i in range(jobs):
        record = os.path.join(records, str(i))
        if kind == "lease-run":
            argv = [args.lease_run, "--count", "5", "--", args.binder,
                    f"--record_dir={records}", f"--hold={args.hold}s"]
        elif kind == "floor+child":
            argv = [args.min_client, env["PORTLEASE_ADDR"], "--acquire", "5",
                    "--", args.binder, f"--record_dir={records}",
                    f"--hold={args.hold}s"]
        elif kind == "portpicker":
            argv = ["/usr/bin/python3", "-c", PORTPICKER_JOB, record,
                    str(args.hold)]
        else:
            argv = [args.min_client, env["PORTLEASE_ADDR"], "--acquire", "5",
                    "--hold", str(args.hold)]
        # The floor's stdout is its record; every job's stderr goes to
        # RECORD.err, shown when the job fails.
        out = open(record, "w") if kind == "floor" else None
        err = open(record + ".err", "w")
        actions = [(os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        if out:
            actions.append((os.POSIX_SPAWN_DUP2, out.fileno(), 1))
        if first_spawn is None:
            first_spawn = time.time_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        err.close()
        if out:
            out.close()
        pids.add(pid)
    cpu = 0.0
    failures = 0
    last_exit = 0
    while pids:
        pid, status, usage = os.wait4(-1, 0)
        if pid not in pids:
            fail(f"a server (pid {pid}) exited during a round")
        pids.remove(pid)
        last_exit = time.time_ns()
        cpu += usage.ru_utime + usage.ru_stime
        if os.waitstatus_to_exitcode(status) != 0:
            failures += 1
            if failures == 1:
                print(f"{kind}: a job exited with "
                      f"{os.waitstatus_to_exitcode(status)}", file=sys.stderr)
    # Every job is timed from the round's first spawn: the matrix's clock.
    # Records: bench_binder's "START_NS END_NS ...", the python job's and
    # the floor's "NS PORT...".
    ports_at = []
    for name in os.listdir(records):
        if name.endswith(".err"):
            continue
        with open(os.path.join(records, name)) as record:
            fields = record.read().split()
        if fields:
            ports_at.append(int(fields[0]))
    if len(ports_at) < jobs:
        failures = max(failures, jobs - len(ports_at))
    if failures:
        said = [open(os.path.join(records, n)).read().strip()
                for n in sorted(os.listdir(records)) if n.endswith(".err")]
        said = [text for text in said if text]
        if said:
            print(f"{kind}: a job said: {said[0][-1000:]}", file=sys.stderr)
    waits = [(at - first_spawn) / 1e9 for at in ports_at]
    return {
        "median": statistics.median(waits) if waits else float("nan"),
        "max": max(waits) if waits else float("nan"),
        "all_done": (last_exit - first_spawn) / 1e9,
        "cpu": cpu,
        "failures": failures,
    }


def run_solo(runs, args, env):
    """lease-run, the floor and floor+child with `true`, one at a time."""
    commands = {
        "lease-run --count 5 -- true":
            [args.lease_run, "--count", "5", "--", "/bin/true"],
        "bench_min_client --acquire 5":
            [args.min_client, env["PORTLEASE_ADDR"], "--acquire", "5"],
        "bench_min_client --acquire 5 -- true":
            [args.min_client, env["PORTLEASE_ADDR"], "--acquire", "5", "--",
             "/bin/true"],
    }
    walls = {name: [] for name in commands}
    cpus = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=[
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
            _, status, usage = os.wait4(pid, 0)
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                fail(f"{name} failed")
    print(f"one at a time, {runs} runs each, interleaved:")
    for name in commands:
        print(f"  {name:30} wall median {statistics.median(walls[name]) * 1e3:6.2f} ms"
              f"  CPU median {statistics.median(cpus[name]) * 1e3:6.2f} ms"
              f" mean {statistics.mean(cpus[name]) * 1e3:6.2f} ms")
    lr, fl, fc = (statistics.median(cpus[n]) for n in commands)
    lw, fw, cw = (statistics.median(walls[n]) for n in commands)
    print(f"  lease-run / floor: CPU {lr / fl:.2f}x, wall {lw / fw:.2f}x")
    print(f"  lease-run / floor+child: CPU {lr / fc:.2f}x, wall {lw / cw:.2f}x")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--portleased", required=True)
    parser.add_argument("--lease-run", required=True)
    parser.add_argument("--min-client", required=True)
    parser.add_argument("--binder", required=True)
    parser.add_argument("--portserver", default="/usr/bin/portserver")
    parser.add_argument("--jobs", default="16,64",
                        help="comma-separated numbers of jobs started at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=1.0,
                        help="seconds each job holds its ports")
    parser.add_argument("--solo", type=int, default=0, metavar="RUNS",
                        help="also time `lease-run --count 5 -- true` and the "
                        "floor one at a time, RUNS runs each (CPU per run)")
    parser.add_argument("--pool", default=os.environ.get(
        "PORTLEASE_TEST_POOL", "30000-31279"))
    args = parser.parse_args()
    for path in (args.portleased, args.lease_run, args.min_client,
                 args.binder, args.portserver):
        if not os.access(path, os.X_OK):
            fail(f"not an executable: {path!r} (see --help)")
    try:
        counts = [int(n) for n in args.jobs.split(",") if n]
    except ValueError:
        fail(f"--jobs wants numbers, got {args.jobs!r}")
    portleased_pool, portserver_pool = split_pool(args.pool)
    first, last = (int(p) for p in portleased_pool.split("-"))
    if max(counts, default=1) * 5 > last - first + 1:
        fail(f"--pool {args.pool}: each half needs {max(counts) * 5} ports")

    failed = False
    with tempfile.TemporaryDirectory(prefix="plburst.") as tmp:
        socket_path = os.path.join(tmp, "s.sock")
        name = f"plburst-{os.getpid()}-{os.urandom(4).hex()}"
        leased = subprocess.Popen(
            [args.portleased, "--listen=unix:" + socket_path,
             "--db=" + os.path.join(tmp, "leases.db"),
             "--pool=" + portleased_pool, "--probe=system",
             "--max-leases-per-owner=0", "--max-ports-per-owner=0",
             "--cooldown=0s",
             "--log-level=warning"],
            stdout=subprocess.DEVNULL, stderr=open(
                os.path.join(tmp, "portleased.log"), "w"))
        portserver = subprocess.Popen(
            [args.portserver, "--portserver_static_pool=" + portserver_pool,
             "--portserver_address=@" + name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: os.path.exists(socket_path), leased,
                       "portleased", log=os.path.join(tmp, "portleased.log"))
            wait_until(lambda: abstract_listening(name), portserver,
                       "portserver")
            base = {k: v for k, v in os.environ.items()
                    if not k.startswith("PORTLEASE_")}
            env = dict(base, PORTLEASE_ADDR="unix:" + socket_path,
                       PORTSERVER_ADDRESS="@" + name)
            server_of = {"lease-run": leased, "floor": leased,
                         "floor+child": leased, "portpicker": portserver}
            if args.solo:
                run_solo(args.solo, args, env)
            for jobs in counts:
                results = {kind: [] for kind in KINDS}
                for r in range(args.rounds):
                    for kind in KINDS:
                        server = server_of[kind]
                        before = cpu_seconds(server.pid)
                        result = run_round(kind, jobs, args, env, tmp)
                        result["server_cpu"] = cpu_seconds(server.pid) - before
                        results[kind].append(result)
                        if result["failures"]:
                            failed = True
                            print(f"N={jobs} round {r + 1} {kind}: "
                                  f"{result['failures']} of {jobs} jobs "
                                  "failed", file=sys.stderr)
                report(jobs, args.rounds, results)
        finally:
            stop(leased)
            stop(portserver)
            if failed:
                with open(os.path.join(tmp, "portleased.log")) as log:
                    sys.stderr.write(log.read()[-4000:])
    return 1 if failed else 0


def report(jobs, rounds, results):
    def med(kind, key):
        return statistics.median(r[key] for r in results[kind])

    print(f"N={jobs} jobs at once, 5 ports each, median of {rounds} rounds:")
    print(f"  {'':11} {'median to ports':>16} {'max to ports':>13} "
          f"{'all exited':>11} {'jobs CPU':>9} {'server CPU':>11}")
    for kind in KINDS:
        print(f"  {kind:11} {med(kind, 'median') * 1e3:13.0f} ms "
              f"{med(kind, 'max') * 1e3:10.0f} ms "
              f"{med(kind, 'all_done') * 1e3:8.0f} ms "
              f"{med(kind, 'cpu'):7.2f} s {med(kind, 'server_cpu'):9.2f} s")
    lr = med("lease-run", "median")
    print(f"  lease-run / portpicker: median to ports "
          f"{lr / med('portpicker', 'median'):.2f}x, jobs+server CPU "
          f"{(med('lease-run', 'cpu') + med('lease-run', 'server_cpu')) / max(1e-9, med('portpicker', 'cpu') + med('portpicker', 'server_cpu')):.2f}x")
    print(f"  lease-run / floor:      median to ports "
          f"{lr / med('floor', 'median'):.2f}x, jobs CPU "
          f"{med('lease-run', 'cpu') / max(1e-9, med('floor', 'cpu')):.2f}x")
    child_cpu = max(1e-9, med("floor+child", "cpu"))
    print(f"  lease-run / floor+child: median to ports "
          f"{lr / med('floor+child', 'median'):.2f}x, jobs CPU "
          f"{med('lease-run', 'cpu') / child_cpu:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
