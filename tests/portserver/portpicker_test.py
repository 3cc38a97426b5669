#!/usr/bin/python3
"""portpicker_test.py --portleased F --portlease F

The REAL portpicker (Debian's python3-portpicker) against a real portleased
serving Google's portserver protocol (--portserver-listen=@NAME, a name of
this run), its pool PORTLEASE_TEST_POOL (with-test-ports; claims off, as
for any pool leased from another portleased):

  - rounds: 64 processes at once, 10 rounds, each calling
    portpicker.pick_unused_port() with PORTSERVER_ADDRESS set, binding the
    port it got and holding it until every process of the round has one.
    No port twice in a round, every port in the pool, every one listed by
    `portlease list` with owner client=portserver and the process's pid;
  - pid death: on a one-port pool, a process gets the port and exits; the
    next request gets the same port back once the server saw the exit and
    the cool-down (1s) passed (bounded poll), and nothing before;
  - --idle-exit: a live portserver lease keeps the server running, and it
    exits idle once the lease ended with its process;
  - portpicker's own command line (`python3 -m portpicker PID`, the
    client-side tool; the Debian package has no other, /usr/bin/portserver
    is Google's server): the lease goes to PID, survives a restart of the
    server, and ends when PID exits (watched again after the restart).

python3-portpicker missing is a failure, not a skip: ci/install-deps.sh
installs it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
ROUNDS = 10
CLIENTS = 64
failures = []

# A portpicker client: asks, binds what it got, says so, holds until told.
CLIENT = r"""
import socket, sys, portpicker
port = portpicker.pick_unused_port()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", port))
    s.listen(1)
    print(port, flush=True)
except OSError as e:
    print(f"BIND {port} {e}", flush=True)
sys.stdin.read()
"""


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", flush=True)
        failures.append(message)
    return condition


def pool_ports(pool):
    ports = set()
    for part in pool.split(","):
        lo, _, hi = part.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return ports


class Server:
    """A portleased on a temp dir, serving the portserver protocol."""

    def __init__(self, args, tmp, pool, name, extra=()):
        self.sock = os.path.join(tmp, "s.sock")
        self.address = f"@{name}"
        self.log = os.path.join(tmp, "portleased.log")
        self.argv = [
            args.portleased, f"--listen=unix:{self.sock}",
            f"--db={os.path.join(tmp, 'leases.db')}", f"--pool={pool}",
            "--claims-dir=off", "--cooldown=1s", "--rate-limit=0",
            "--max-ports-per-owner=0", "--max-leases-per-owner=0",
            f"--portserver-listen={self.address}", *extra]
        self.env = dict(os.environ, PORTSERVER_ADDRESS=self.address,
                        PORTLEASE_ADDR=f"unix:{self.sock}")
        self.cli = args.portlease
        self.start()

    def start(self):
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen(
            [*self.argv, f"--ready-fd={ready_w}"], pass_fds=(ready_w,),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "a"))
        os.close(ready_w)
        with os.fdopen(ready_r) as ready:
            line = ready.read()
        # The log is written by portleased's log thread, maybe after the
        # ready line: wait (bounded) for the start-up line naming the
        # portserver addresses.
        wait_until(lambda: "portserver=" in open(self.log).read(), 10)
        log = open(self.log).read()
        # Served by this server, not skipped for another one's.
        if (not line.startswith("ready") or
                f"portserver={self.address}" not in log or
                "served by another process" in log):
            print(log)
            raise SystemExit(f"portleased did not start serving {self.address}")

    def leases(self):
        out = subprocess.run([self.cli, "list", "--format=json"],
                             env=self.env, stdout=subprocess.PIPE,
                             check=True, timeout=30).stdout
        return [l for l in json.loads(out)["leases"] if l["state"] == "live"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def rounds(server, pool):
    for n in range(ROUNDS):
        clients = [subprocess.Popen([PYTHON, "-c", CLIENT], env=server.env,
                                    stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
                   for _ in range(CLIENTS)]
        lines = [c.stdout.readline().strip() for c in clients]
        # Each client with the port it printed (None: it could not bind).
        got = [(c, int(l) if l.isdigit() else None)
               for c, l in zip(clients, lines)]
        ports = [port for _, port in got if port is not None]
        check(len(ports) == CLIENTS, f"round {n}: {lines}")
        check(len(set(ports)) == len(ports),
              f"round {n}: duplicates {sorted(ports)}")
        check(set(ports) <= pool, f"round {n}: outside the pool: "
              f"{sorted(set(ports) - pool)}")
        live = server.leases()
        listed = {l["base_port"]: l["owner"] for l in live}
        check(len(listed) == len(live), f"round {n}: two leases on one "
              f"port: {sorted(l['base_port'] for l in live)}")
        for client, port in got:
            if port is None:
                continue
            owner = listed.get(port)
            if not check(owner is not None, f"round {n}: {port} not listed"):
                continue
            if not check(owner.get("client") == "portserver" and
                         owner.get("pid") == str(client.pid),
                         f"round {n}: port {port} of process {client.pid}: "
                         f"owner pid {owner.get('pid')} {owner.get('client')}"):
                print("".join(l for l in open(server.log)
                              if f"ports={port} " in l), flush=True)
        for c in clients:
            c.stdin.close()
        for c in clients:
            c.wait(timeout=30)
    print(f"{ROUNDS} rounds of {CLIENTS} portpicker clients: no duplicate")


def wait_until(condition, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def pid_death(args, tmp, port):
    import portpicker
    server = Server(args, tmp, f"{port}-{port}",
                    f"portlease-pp-{os.urandom(6).hex()}")
    try:
        got = subprocess.run(
            [PYTHON, "-c", "import portpicker; print(portpicker.pick_unused_port())"],
            env=server.env, stdout=subprocess.PIPE, text=True, timeout=30)
        check(got.stdout.strip() == str(port), f"first port: {got.stdout!r}")
        exited = time.monotonic()
        # Nothing until the server saw the exit and the port cooled down.
        attempts = []
        while time.monotonic() < exited + 15:
            attempts.append(portpicker.get_port_from_port_server(server.address))
            if attempts[-1] is not None:
                break
            time.sleep(0.1)
        took = time.monotonic() - exited
        check(attempts[-1] == port,
              f"got {attempts[-1]} back after {took:.1f}s, want {port}")
        check(took >= 0.9, f"the port came back after {took:.2f}s, before "
              "the 1s cool-down")
        check(attempts[0] is None, "the pool had a second port")
        print(f"pid death: port {port} back after {took:.1f}s")
    finally:
        server.stop()


def command_line_tool(server):
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        got = subprocess.run([PYTHON, "-m", "portpicker", str(sleeper.pid)],
                             env=server.env, stdout=subprocess.PIPE,
                             text=True, timeout=30).stdout.strip()
        port = int(got)
        owners = [l["owner"] for l in server.leases() if l["base_port"] == port]
        check(owners and owners[0].get("pid") == str(sleeper.pid),
              f"python3 -m portpicker {sleeper.pid}: {port} owners {owners}")
        # A restart keeps the lease, and the new server watches it again.
        server.stop()
        server.start()
        check(any(l["base_port"] == port for l in server.leases()),
              f"the lease on {port} did not survive a restart")
    finally:
        sleeper.kill()
        sleeper.wait()
    check(wait_until(lambda: all(l["base_port"] != port
                                 for l in server.leases()), 10),
          f"the lease on {port} outlived process {sleeper.pid}")
    print(f"python3 -m portpicker PID: {port}, kept across a restart, "
          "ended with PID")


def idle_exit(args, tmp, port):
    """A live portserver lease keeps --idle-exit off; its end lets it run."""
    server = Server(args, tmp, f"{port}-{port}",
                    f"portlease-pp-{os.urandom(6).hex()}", ["--idle-exit=2s"])
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        got = subprocess.run([PYTHON, "-m", "portpicker", str(sleeper.pid)],
                             env=server.env, stdout=subprocess.PIPE,
                             text=True, timeout=30).stdout.strip()
        check(got == str(port), f"idle exit: got {got!r}, want {port}")
        time.sleep(3)
        check(server.proc.poll() is None,
              "the server exited idle while a portserver lease was live")
    finally:
        sleeper.kill()
        sleeper.wait()
    try:
        server.proc.wait(timeout=15)
        print("idle exit: kept while the lease lived, exited after its end")
    except subprocess.TimeoutExpired:
        check(False, "the server did not exit idle after the lease ended")
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--portleased", required=True)
    parser.add_argument("--portlease", required=True)
    args = parser.parse_args()
    try:
        import portpicker  # noqa: F401
    except ImportError:
        print("FAIL: python3-portpicker is not installed (apt-get install "
              "python3-portpicker; ci/install-deps.sh installs it)")
        return 1
    pool = os.environ.get("PORTLEASE_TEST_POOL")
    if not pool:
        print("FAIL: PORTLEASE_TEST_POOL is not set (run under with-test-ports)")
        return 1
    ports = pool_ports(pool)
    with tempfile.TemporaryDirectory(prefix="pp-death.") as tmp:
        pid_death(args, tmp, min(ports))
    with tempfile.TemporaryDirectory(prefix="pp-idle.") as tmp:
        idle_exit(args, tmp, min(ports))
    with tempfile.TemporaryDirectory(prefix="pp-rounds.") as tmp:
        server = Server(args, tmp, pool, f"portlease-pp-{os.urandom(6).hex()}")
        try:
            rounds(server, ports)
            command_line_tool(server)
        finally:
            server.stop()
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
