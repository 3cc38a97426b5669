#!/usr/bin/env python3
"""readme_sessions_test.py README SOURCE_DIR --portlease F --portleased F

The README's captured console sessions are a contract: each one is run
here, command by command as written, in the world its text describes, and
every command's output must match the README's line by line, except for
what differs from run to run (numbers, ids, times, paths, quoted command
lines, user@host; see normalize()). A command's exit status must be the
one the session shows (`(exit N)` under its output, `$ echo $?`), else 0.
`...` in the README stands for more lines of output.

The sessions and their worlds (each in a temp folder):
  - "Shell steps": a portleased on a Unix socket as PORTLEASE_ADDR, the
    pool 20000-20015 with --probe=none and --claims-dir=off (nothing binds
    or claims a host port, so fixed numbers are safe), ci/m2/ports.json in
    the working folder.
  - "Who holds a port": no server at all, a redis-server and a
    `python3 -m http.server` listening; their ports (6379 and 8080 in the
    README) are leased from the suite's server (PORTLEASE_TEST_POOL) and
    the commands' port numbers mapped to them, since a test never assumes
    a fixed port is free.
  - "Administration": the portleased the README names (its flags, with
    /tmp/pl a temp folder), a lease on 20000-20001 and one on 20002-20005,
    and a restart where the session says "# after a restart".
Sessions not listed are named in NOT_RUN with the test that covers them;
a new session is a failure until it is listed.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []

# First command of a session -> why it is not run here.
NOT_RUN = {
    "portlease list": "a lease-run killed with kill -9 while its redis "
                      "keeps the port: DaemonTest.OrphanedListenerKeeps"
                      "LeasedPortDraining (tests/portsafety)",
    "portlease who 31000": "a port claimed by another user's server: "
                           "claims_two_servers_test",
}


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", flush=True)
        failures.append(message)
    return condition


def sh_blocks(readme):
    """[(first line number, [lines])] of the README's ```sh blocks."""
    lines = open(readme).read().splitlines()
    found, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        found.append((start + 1, body))
    return found


def sessions(readme):
    """[(first line number, [(command, [expected lines])])] from ```console
    blocks and indented blocks whose lines start with `$ `."""
    lines = open(readme).read().splitlines()
    found, i = [], 0
    while i < len(lines):
        line = lines[i]
        fenced = line.strip() == "```console"
        indented = line.startswith("    $ ") and (
            i == 0 or not lines[i - 1].startswith("    "))
        if not (fenced or indented):
            i += 1
            continue
        start = i + 1
        body = []
        if fenced:
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
        else:
            while i < len(lines) and (lines[i].startswith("    ") or
                                      not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
        i += 1
        steps = []
        for text in body:
            if text.startswith("$ "):
                steps.append((text[2:], []))
            elif steps:
                steps[-1][1].append(text)
        for _, output in steps:
            while output and not output[-1].strip():
                output.pop()
        if steps:
            found.append((start, steps))
    return found


PATTERNS = [
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z"), "<time>"),
    (re.compile(r'"(?:[^"\\]|\\.)*"'), '"<cmd>"'),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    # An id prefix may be all digits: no port or pid has 8 of them.
    (re.compile(r"\b[0-9a-f]{8}\b"), "<id8>"),
    (re.compile(r"(?:unix:)?/[\w./+-]+"), "<path>"),
    (re.compile(r"\S+@\S+ pid"), "<user@host> pid"),
    (re.compile(r"'[^']*-<id8>'"), "'<project>'"),
    (re.compile(r"\[[#+~!x.]+\]"), "[<bar>]"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalize(line):
    for pattern, replacement in PATTERNS:
        line = pattern.sub(replacement, line)
    return line.strip()


def compare(label, expected, actual):
    """Line by line after normalize(); `...` matches the rest."""
    exp = [l for l in expected if not re.fullmatch(r"\(exit \d+\)", l.strip())]
    act = actual.splitlines()
    for n, want in enumerate(exp):
        if want.strip() == "...":
            return
        if n >= len(act):
            check(False, f"{label}: output ends before README line {want!r}"
                         f"\n--- got:\n{actual}")
            return
        if not check(normalize(want) == normalize(act[n]),
                     f"{label}: line {n + 1}\n  README: {want}\n  got:    "
                     f"{act[n]}\n  ({normalize(want)!r} vs "
                     f"{normalize(act[n])!r})"):
            return
    check(len(act) == len(exp),
          f"{label}: more output than the README shows:\n{actual}")


class Shell:
    """Runs commands one by one in bash, carrying exported variables and $?
    from one to the next."""

    def __init__(self, cwd, env):
        self.cwd, self.env = cwd, env
        self.state = os.path.join(cwd, ".session-state")
        open(self.state, "w").close()
        self.last = 0

    def run(self, command, mapping):
        for old, new in mapping.items():
            command = re.sub(rf"\b{re.escape(old)}\b", new, command)
        script = (f'. "{self.state}"\n(exit {self.last})\n{command}\n'
                  f'__rc=$?\nexport -p >"{self.state}"\nexit $__rc\n')
        proc = subprocess.run(["/bin/bash", "-c", script], cwd=self.cwd,
                              env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)
        self.last = proc.returncode
        return proc.returncode, proc.stdout


def expected_code(steps, index):
    """The exit status the README shows for step `index`."""
    command, output = steps[index]
    for line in output:
        m = re.fullmatch(r"\(exit (\d+)\)", line.strip())
        if m:
            return int(m.group(1))
    if index + 1 < len(steps) and steps[index + 1][0] == "echo $?":
        return int(steps[index + 1][1][0])
    return 0


class Server:
    def __init__(self, binary, args, log):
        self.binary, self.args, self.log = binary, args, log
        self.proc = None

    def start(self, socket_path):
        self.proc = subprocess.Popen(
            [self.binary, *self.args], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        for _ in range(400):
            if os.path.exists(socket_path):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return check(False, f"portleased did not start: {open(self.log).read()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def base_env(args, tmp):
    bins = sorted({os.path.dirname(os.path.abspath(p))
                   for p in (args.portlease, args.portleased)})
    return {"PATH": ":".join(bins + ["/usr/bin", "/bin"]),
            "HOME": tmp, "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": os.path.join(tmp, "run"),
            "PORTLEASE_SYSTEM_ADDR": f"unix:{tmp}/none/portleased.sock",
            "PORTLEASE_SERVER_BIN": args.portleased}


def run_steps(label, shell, steps, mapping, hooks=None):
    for index, (command, output) in enumerate(steps):
        if command == "echo $?":
            continue
        if hooks:
            hooks(index)
        code, out = shell.run(command, mapping)
        want = expected_code(steps, index)
        check(code == want, f"{label}: `{command}` exited {code}, the README "
                            f"shows {want}:\n{out}")
        compare(f"{label}: `{command}`", output, out)


def throwaway_server(args, tmp):
    """A portleased on pool 20000-20015 that neither probes nor claims host
    ports, and the environment that names it."""
    sock = os.path.join(tmp, "sock")
    server = Server(args.portleased,
                    [f"--listen=unix:{sock}", "--db=:memory:",
                     "--pool=20000-20015", "--probe=none", "--claims-dir=off"],
                    os.path.join(tmp, "server.log"))
    env = base_env(args, tmp)
    env["PORTLEASE_ADDR"] = f"unix:{sock}"
    return server, sock, env


def check_no_lease(args, env, label):
    listed = subprocess.run([args.portlease, "list", "--format=json"],
                            env=env, capture_output=True, text=True)
    check('"leases": []' in listed.stdout,
          f"{label} leaves a lease: {listed.stdout}")


def shell_steps(args, tmp, steps):
    server, sock, env = throwaway_server(args, tmp)
    os.makedirs(os.path.join(tmp, "ci"))
    shutil.copytree(os.path.join(args.source_dir, "ci", "m2"),
                    os.path.join(tmp, "ci", "m2"))
    try:
        if server.start(sock):
            run_steps("Shell steps", Shell(tmp, env), steps, {})
            check_no_lease(args, env, "Shell steps: the session")
    finally:
        server.stop()


def who_steps(args, tmp, steps):
    pool = os.environ.get("PORTLEASE_TEST_POOL", "")
    ports = []
    for part in filter(None, pool.split(",")):
        lo, _, hi = part.partition("-")
        ports += range(int(lo), int(hi or lo) + 1)
    if len(ports) < 5:
        check(False, f"Who: PORTLEASE_TEST_POOL={pool!r}: 5 ports needed "
                     "(run through ctest)")
        return
    readme_ports = ["6379", "7001", "8080", "8081", "9090"]
    mapping = dict(zip(readme_ports, map(str, ports)))
    env = base_env(args, tmp)
    procs = []
    try:
        procs.append(subprocess.Popen(
            ["redis-server", "--port", mapping["6379"], "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"], cwd=tmp,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            ["/usr/bin/python3", "-m", "http.server", mapping["8080"],
             "--bind", "127.0.0.1"], cwd=tmp, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        # Both listen before the session starts.
        for _ in range(200):
            listening = subprocess.run(
                [args.portlease, "preflight", "--ports",
                 f"{mapping['6379']},{mapping['8080']}"], env=env,
                capture_output=True, text=True)
            if listening.stdout.count("BUSY") == 2:
                break
            time.sleep(0.05)
        run_steps("Who holds a port", Shell(tmp, env), steps, mapping)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def admin_steps(args, tmp, steps):
    pl = os.path.join(tmp, "pl")
    os.makedirs(pl)
    for name, token in (("admin-token", "the-admin-token-of-this-session"),
                        ("other-token", "not-the-admin-token-of-it")):
        with open(os.path.join(pl, name), "w") as f:
            f.write(token + "\n")
        os.chmod(os.path.join(pl, name), 0o600)
    sock = os.path.join(pl, "sock")
    server = Server(args.portleased,
                    [f"--listen=unix:{sock}", "--pool=20000-20015",
                     "--probe=none", f"--admin-token-file={pl}/admin-token",
                     f"--db={pl}/leases.db", "--claims-dir=off"],
                    os.path.join(tmp, "server.log"))
    env = base_env(args, tmp)
    env["PORTLEASE_ADDR"] = f"unix:{sock}"
    # The commands name /tmp/pl: the same files, in the temp folder.
    steps = [(c.replace("/tmp/pl", pl), o) for c, o in steps]
    restart_at = [i for i, (c, o) in enumerate(steps)
                  if o and o[-1].strip() == "# after a restart"]

    def hooks(index):
        if index - 1 in restart_at:
            server.stop()
            server.start(sock)

    try:
        if not server.start(sock):
            return
        for spec in (["--ports", "redis,web"], ["--count", "4"]):
            held = subprocess.run([args.portlease, "acquire", *spec, "--ttl",
                                   "10m"], env=env, capture_output=True,
                                  text=True)
            check(held.returncode == 0, f"Administration: setup: {held.stderr}")
        steps = [(c, [l for l in o if l.strip() != "# after a restart"])
                 for c, o in steps]
        run_steps("Administration", Shell(tmp, env), steps, {}, hooks)
    finally:
        server.stop()


def events_steps(args, tmp, steps):
    """The audit trail after one lease-run: its grant and its release."""
    server, sock, env = throwaway_server(args, tmp)
    try:
        if not server.start(sock):
            return
        run = subprocess.run(["lease-run", "--count", "3", "--", "true"],
                             env={**env, "CI_JOB_ID": "42"},
                             cwd=tmp, capture_output=True, text=True)
        check(run.returncode == 0, f"Audit trail: setup: {run.stderr}")
        run_steps("Audit trail", Shell(tmp, env), steps, {})
    finally:
        server.stop()


# `docker compose up` in the foreground, as the README's blocks run it:
# the stack's variables must be set, and a rendered config must hold them.
DOCKER_STANDIN = """#!/bin/sh
case " $* " in *" compose up "*) ;; *) echo "docker stand-in: $*" >&2; exit 2 ;; esac
for v in REDIS_PORT WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT COMPOSE_PROJECT_NAME; do
  eval "test -n \\"\\${$v:-}\\"" || { echo "docker stand-in: $v is not set" >&2; exit 1; }
done
for f in configs/orchestrator.yaml ci/m2/configs/orchestrator.yaml; do
  if [ -e "$f" ] && ! grep -q "ws_port: $ORCH_PORT" "$f"; then
    echo "docker stand-in: $f does not hold ORCH_PORT $ORCH_PORT" >&2; exit 1
  fi
done
echo "compose up: project $COMPOSE_PROJECT_NAME, redis $REDIS_PORT"
"""

# First line of a ```sh block -> lines appended to check what it did, or
# None when it is run elsewhere.
SH_BLOCKS = {
    "lease-run --profile ci/m2/ports.json -- docker compose up": [],
    "cd ci/m2": [],
    "portlease acquire --profile ci/m2/ports.json --ttl 300s --format=env "
    ">lease.env": ['test -n "$REDIS_PORT" && test -n "$PORTLEASE_LEASE_ID"',
                   'portlease release "$PORTLEASE_LEASE_ID"'],
    # .ci/run runs both Quick start commands, and the package steps are
    # ci/package-test.sh.
    "ci/example.sh   # installs, builds, runs the M2 example stack under "
    "lease-run": None,
    "cmake --build build && (cd build && cpack -G DEB)   # "
    "build/portlease_0.1.0_amd64.deb": None,
    # tests/client/listen_fds_integration_test.cc (ports it leased).
    "lease-run --ports web --listen-fds -- python3 -c '": None,
    # tests/client/compose_integration_test.cc (docker-compose, ports it
    # leased).
    "# a stack you did not write: fixed ports 8080, 8443 and 53/udp": None,
    # tests/portserver/readme_test.py, in a network namespace of its own.
    "export PORTSERVER_ADDRESS=@portserver-$UID": None,
    # Run as written, with the test's etcd endpoints and socket directory, by
    # DaemonReplicasTest.TheReadmesReplicaBlockRunsAsWritten
    # (tests/server/replicated/daemon_replicas_test.cc).
    "# three replicas of the pool of host ci-host, on one etcd cluster": None,
}


def sh_block(args, tmp, lines, extra):
    """Runs a ```sh block with `set -e` against a throwaway portleased, in a
    folder holding the checkout's ci/m2, `docker` a stand-in on PATH."""
    server, sock, env = throwaway_server(args, tmp)
    shutil.copytree(os.path.join(args.source_dir, "ci", "m2"),
                    os.path.join(tmp, "ci", "m2"))
    os.makedirs(os.path.join(tmp, "bin"))
    with open(os.path.join(tmp, "bin", "docker"), "w") as f:
        f.write(DOCKER_STANDIN)
    os.chmod(os.path.join(tmp, "bin", "docker"), 0o755)
    env["PATH"] = os.path.join(tmp, "bin") + ":" + env["PATH"]
    try:
        if not server.start(sock):
            return
        script = "set -e\n" + "\n".join(lines + extra) + "\n"
        proc = subprocess.run(["/bin/bash", "-c", script], cwd=tmp, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=120)
        check(proc.returncode == 0,
              f"```sh block `{lines[0]}` exited {proc.returncode}:\n"
              f"{proc.stdout}")
        check_no_lease(args, env, f"```sh block `{lines[0]}`")
    finally:
        server.stop()


WORLDS = {
    "portlease acquire --profile ci/m2/ports.json --ttl 300s --format=shell "
    ">lease.sh": shell_steps,
    "portlease who 6379 8080 7001": who_steps,
    "export PORTLEASE_ADMIN_TOKEN_FILE=/tmp/pl/admin-token": admin_steps,
    "portlease events --since 10m": events_steps,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("readme")
    parser.add_argument("source_dir")
    parser.add_argument("--portlease", required=True)
    parser.add_argument("--portleased", required=True)
    args = parser.parse_args()
    found = sessions(args.readme)
    ran = 0
    for line, steps in found:
        first = steps[0][0]
        if first in NOT_RUN:
            print(f"README line {line}: `{first}` not run here: "
                  f"{NOT_RUN[first]}")
            continue
        if "--format=json" in first:
            continue  # the JSON section: cli_json_contract_test
        world = WORLDS.get(first)
        if not check(world is not None,
                     f"README line {line}: a session starting `{first}` has "
                     "no world in this test"):
            continue
        tmp = tempfile.mkdtemp(prefix="readme-session.")
        try:
            world(args, tmp, steps)
            ran += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    check(ran == len(WORLDS), f"ran {ran} sessions of {len(WORLDS)}")
    blocks = 0
    for line, lines in sh_blocks(args.readme):
        first = lines[0] if lines else ""
        if not check(first in SH_BLOCKS,
                     f"README line {line}: a ```sh block starting `{first}` "
                     "is not run by this test"):
            continue
        if SH_BLOCKS[first] is None:
            print(f"README line {line}: `{first}` runs in another test")
            continue
        tmp = tempfile.mkdtemp(prefix="readme-sh.")
        try:
            sh_block(args, tmp, lines, SH_BLOCKS[first])
            blocks += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"{ran} README sessions matched, {blocks} sh blocks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
