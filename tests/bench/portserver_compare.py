#!/usr/bin/python3
"""Time to 5 ports for a portpicker user: portleased vs Google's portserver.

  tests/bench/portserver_compare.py --portleased build/bin/portleased \
      [--pools 24000-25999,26000-27999] [--groups 200] [--rounds 3]

Starts Debian's portserver (/usr/bin/portserver, python3-portpicker) and a
portleased with --portserver-listen, each on a private abstract socket with
a pool of the same size, then times the same client against both: one
process that calls portpicker.pick_unused_port() 5 times per group, for
--groups groups, rounds interleaved (portserver, portleased, portserver,
...). Prints the median time per group of 5 ports for each server and the
ratio portleased / portserver, per round and overall.

Both pools must be free ranges that no other server hands out. The client
runs in one process, so neither server gets a port back before the round
ends: each pool needs 5 x --groups ports.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CLIENT = r"""
import os, sys, time, portpicker
groups = int(sys.argv[1])
times = []
for _ in range(groups):
    start = time.perf_counter()
    for _ in range(5):
        if not portpicker.pick_unused_port():
            sys.exit("no port")
    times.append(time.perf_counter() - start)
print(" ".join(f"{t:.6f}" for t in times))
"""


def wait_for_socket(name, proc, timeout=10.0):
    """Waits until the abstract socket @name is listening."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        with open("/proc/net/unix") as table:
            if any(line.rstrip().endswith("@" + name) for line in table):
                return
        time.sleep(0.05)
    sys.exit(f"@{name} did not appear within {timeout}s")


def run_client(name, groups):
    env = dict(os.environ, PORTSERVER_ADDRESS="@" + name)
    out = subprocess.run(["/usr/bin/python3", "-c", CLIENT, str(groups)],
                         env=env, check=True, capture_output=True, text=True)
    return [float(t) for t in out.stdout.split()]


def start_portserver(pool, name):
    proc = subprocess.Popen(
        ["/usr/bin/portserver", "--portserver_static_pool=" + pool,
         "--portserver_address=@" + name],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_socket(name, proc)
    return proc


def start_portleased(binary, pool, name, tmp):
    proc = subprocess.Popen(
        [binary, "--listen=unix:" + os.path.join(tmp, "s.sock"),
         "--db=" + os.path.join(tmp, "leases.db"), "--pool=" + pool,
         "--portserver-listen=@" + name, "--log-level=warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_socket(name, proc)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portleased", required=True)
    parser.add_argument("--pools", default="24000-25999,26000-27999",
                        help="two ranges of equal size: portserver's, "
                        "portleased's")
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pools = args.pools.split(",")
    if len(pools) != 2:
        parser.error("--pools wants two ranges")
    tag = os.urandom(4).hex()
    medians = {"portserver": [], "portleased": []}
    for r in range(args.rounds):
        for kind in ("portserver", "portleased"):
            name = f"bench-{kind}-{tag}-{r}"
            with tempfile.TemporaryDirectory(prefix="psbench.") as tmp:
                if kind == "portserver":
                    proc = start_portserver(pools[0], name)
                else:
                    proc = start_portleased(args.portleased, pools[1], name,
                                            tmp)
                try:
                    times = run_client(name, args.groups)
                finally:
                    stop(proc)
            medians[kind].append(statistics.median(times))
        ratio = medians["portleased"][-1] / medians["portserver"][-1]
        print(f"round {r + 1}: 5 ports, median of {args.groups}: portserver "
              f"{medians['portserver'][-1] * 1e3:.2f} ms, portleased "
              f"{medians['portleased'][-1] * 1e3:.2f} ms, ratio {ratio:.2f}")
    ps = statistics.median(medians["portserver"])
    pl = statistics.median(medians["portleased"])
    print(f"median of rounds: portserver {ps * 1e3:.2f} ms, portleased "
          f"{pl * 1e3:.2f} ms per 5 ports; portleased / portserver "
          f"{pl / ps:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
