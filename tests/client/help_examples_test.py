#!/usr/bin/env python3
"""help_examples_test.py SOURCE_DIR --portlease F --lease-run F --portleased F

Every line of the EXAMPLES sections of `portlease --help` and
`lease-run --help` runs as a newcomer would type it, in order, in one
shell, and must succeed. Two worlds, each in a temp folder with its own
HOME and XDG_RUNTIME_DIR:

  - private: no system server (PORTLEASE_SYSTEM_ADDR names a socket that
    does not exist), so the first client starts the private portleased
    from the build, its pool from ~/.config/portlease/portleased.conf;
  - system: a portleased the test starts with --admin-token-file, as an
    operator runs it, for the `portlease admin` examples.

What is not as written, and why:
  - port numbers of the pool (20017, 20018, 20000-24999, 21000-21099) are
    mapped into PORTLEASE_TEST_POOL (from with-test-ports): a test never
    assumes a fixed port is free; `who 6379 8080` and `preflight` only
    look, so they keep theirs (preflight may exit 1 when the host uses
    one of the profile's default ports);
  - /etc/portlease/admin-token is the system world's token file;
  - `docker`, `make` targets and the ctest project are small stand-ins in
    the world's folder (`docker` on PATH prints the ports it was given and
    fails without them; the Makefile's `test` checks the leased variables
    and the rendered file).
Every example line must be covered: a new line without a world fails the
test until it gets one.
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


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", flush=True)
        failures.append(message)
    return condition


def examples(binary):
    """The EXAMPLES lines of `binary --help`, continuation lines joined."""
    text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                          check=True).stdout
    lines, inside, current = [], False, ""
    for line in text.splitlines():
        if line.strip() == "EXAMPLES":
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        if not inside or not line.strip():
            continue
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip() + " "
            continue
        lines.append(current)
        current = ""
    return lines


def pool_ports(text):
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def rewrite(line, pool, token_file):
    """The example with the pool's numbers mapped into the test pool."""
    lo, hi = pool[0], pool[-1]
    mapping = {
        "20000-24999": f"{lo}-{hi}",
        "21000-21099": f"{lo + 8}-{hi}",
        "20017-20018": f"{lo + 1}-{lo + 2}",
        "20017": str(lo + 1),
        "20018": str(lo + 2),
        "/etc/portlease/admin-token": token_file,
    }
    pattern = re.compile("|".join(re.escape(k) for k in
                                  sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda m: mapping[m.group(0)], line)


STANDINS = {
    # `docker compose up` in the foreground: the leased variables or fail.
    "bin/docker": """#!/bin/sh
[ "$1 $2" = "compose up" ] || { echo "docker stand-in: only 'compose up'" >&2; exit 2; }
: "${REDIS_PORT:?no REDIS_PORT}" "${WORKER_PORT:?no WORKER_PORT}"
echo "compose up: redis $REDIS_PORT, worker $WORKER_PORT (project $COMPOSE_PROJECT_NAME)"
""",
    "redis.conf.in": "port ${REDIS_PORT}\nbind 127.0.0.1\n",
    "Makefile": """test:
\t@test -n "$$REDIS_PORT" || { echo "no REDIS_PORT" >&2; exit 1; }
\t@if [ -e redis.conf ]; then grep -qx "port $$REDIS_PORT" redis.conf; fi
\t@echo "make test: redis on $$REDIS_PORT"
""",
    # A ctest project: two tests that each need one block of ports.
    "CTestTestfile.cmake": """add_test(a /bin/sh -c "test -n \\"$CTEST_RESOURCE_GROUP_0_PORTLEASE\\"")
add_test(b /bin/sh -c "test -n \\"$CTEST_RESOURCE_GROUP_0_PORTLEASE\\"")
set_tests_properties(a b PROPERTIES RESOURCE_GROUPS "portlease:1")
""",
}


class World:
    def __init__(self, name, root, args, pool):
        self.name = name
        self.dir = os.path.join(root, name)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(self.dir, "bin"))
        os.makedirs(self.home)
        shutil.copytree(os.path.join(args.source_dir, "ci", "m2"),
                        os.path.join(self.dir, "ci", "m2"))
        for path, text in STANDINS.items():
            full = os.path.join(self.dir, path)
            with open(full, "w") as f:
                f.write(text)
            if path.startswith("bin/"):
                os.chmod(full, 0o755)
        self.token_file = os.path.join(self.dir, "admin-token")
        with open(self.token_file, "w") as f:
            f.write("t0ken-for-the-examples\n")
        os.chmod(self.token_file, 0o600)
        bin_dirs = {os.path.dirname(os.path.abspath(p)) for p in
                    (args.portlease, args.lease_run, args.portleased)}
        self.env = {
            "PATH": ":".join([os.path.join(self.dir, "bin"), *sorted(bin_dirs),
                              "/usr/bin", "/bin"]),
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
            "PORTLEASE_SERVER_BIN": args.portleased,
            "PORTLEASE_SYSTEM_ADDR": f"unix:{self.dir}/none/portleased.sock",
            "CI_PIPELINE_ID": "4711",
        }
        self.server = None

    def run(self, lines, pool):
        """Runs `lines` in one bash, in order; [(line, exit code)]."""
        script = []
        rc_file = os.path.join(self.dir, "rc")
        for line in lines:
            script.append(rewrite(line, pool, self.token_file))
            script.append(f'echo $? >>"{rc_file}"')
        with open(os.path.join(self.dir, "examples.sh"), "w") as f:
            f.write("\n".join(script) + "\n")
        proc = subprocess.run(["/bin/bash", "examples.sh"], cwd=self.dir,
                              env=self.env, capture_output=True, text=True,
                              timeout=120)
        print(f"[{self.name}] stdout:\n{proc.stdout}[{self.name}] stderr:\n"
              f"{proc.stderr}", flush=True)
        codes = []
        if os.path.exists(rc_file):
            codes = [int(x) for x in open(rc_file).read().split()]
        return list(zip(lines, codes + [None] * (len(lines) - len(codes))))

    def stop(self, args):
        subprocess.run([args.portlease, "server", "stop", "--force"],
                       env=self.env, cwd=self.dir, capture_output=True,
                       timeout=60)
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


def start_system_server(world, args, pool):
    sock = os.path.join(world.dir, "system", "portleased.sock")
    os.makedirs(os.path.dirname(sock))
    log = open(os.path.join(world.dir, "system.log"), "w")
    world.server = subprocess.Popen(
        [args.portleased, f"--listen=unix:{sock}",
         f"--db={world.dir}/system/leases.db", f"--pool={pool[0]}-{pool[-1]}",
         f"--admin-token-file={world.token_file}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    world.env["PORTLEASE_SYSTEM_ADDR"] = f"unix:{sock}"
    for _ in range(200):
        if os.path.exists(sock):
            return True
        if world.server.poll() is not None:
            break
        time.sleep(0.05)
    return check(False, f"the system portleased did not start: "
                        f"{open(log.name).read()}")


def portleased_examples(args, root, ports):
    """Starts each `portleased --help` example, as written but for what
    would touch the host: system paths go to a temp folder, TCP ports to
    leased ones, 0.0.0.0 to 127.0.0.1 (tests listen on loopback only), the
    group `ci` to this user's group, server.pem/server.key made with
    openssl. Each must get ready (--ready-fd) and stop cleanly on SIGTERM.
    `systemctl enable ...` is ci/package-test.sh's (systemd-analyze verify;
    CI machines run no systemd)."""
    work = os.path.join(root, "portleased")
    os.makedirs(work)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", "server.key", "-out", "server.pem", "-days", "1",
         "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        cwd=work, check=True, capture_output=True)
    token = os.path.join(work, "admin-token")
    with open(token, "w") as f:
        f.write("an-admin-token-for-the-examples\n")
    os.chmod(token, 0o600)
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    ran = 0
    for n, line in enumerate(examples(args.portleased)):
        if line.startswith("systemctl "):
            continue
        if not check(line.split()[0] == "portleased",
                     f"portleased example `{line}` is not run by this test"):
            continue
        here = os.path.join(work, f"ex{n}")
        os.makedirs(here)
        mapping = {
            "unix:/run/portlease/portleased.sock": f"unix:{here}/system.sock",
            "unix:/tmp/pl/sock": f"unix:{here}/sock",
            "0.0.0.0:7700": f"127.0.0.1:{ports[0]}",
            "127.0.0.1:7700": f"127.0.0.1:{ports[0]}",
            "127.0.0.1:9464": f"127.0.0.1:{ports[1]}",
            "21000-21999": f"{ports[2]}-{ports[-1]}",
            "/etc/portlease/admin-token": token,
            "--socket-group=ci": f"--socket-group={group}",
            "server.pem": os.path.join(work, "server.pem"),
            "server.key": os.path.join(work, "server.key"),
        }
        pattern = re.compile("|".join(re.escape(k) for k in
                                      sorted(mapping, key=len, reverse=True)))
        argv = [pattern.sub(lambda m: mapping[m.group(0)], a)
                for a in line.split()[1:]]
        # The defaults name system paths: a temp folder's instead.
        if not any(a.startswith("--listen=unix:") for a in argv):
            argv.append(f"--listen=unix:{here}/default.sock")
        if not any(a.startswith("--db=") for a in argv):
            argv.append(f"--db={here}/leases.db")
        read_fd, write_fd = os.pipe()
        log = os.path.join(here, "stderr")
        proc = subprocess.Popen(
            [args.portleased, *argv, f"--ready-fd={write_fd}"],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        os.close(write_fd)
        ready = b""
        with os.fdopen(read_fd, "rb") as r:
            ready = r.readline()
        ok = check(ready.startswith(b"ready "),
                   f"portleased example `{line}` (run as {argv}) did not get "
                   f"ready: {open(log).read()}")
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if ok:
            check(code == 0, f"portleased example `{line}` exited {code} on "
                             f"SIGTERM: {open(log).read()}")
            ran += 1
    return ran


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source_dir")
    parser.add_argument("--portlease", required=True)
    parser.add_argument("--lease-run", required=True)
    parser.add_argument("--portleased", required=True)
    args = parser.parse_args()
    pool_text = os.environ.get("PORTLEASE_TEST_POOL", "")
    if not pool_text:
        print("SKIP: PORTLEASE_TEST_POOL is unset (run through ctest, which "
              "sets it with with-test-ports)")
        return 77
    ranges = [pool_ports(part) for part in pool_text.split(",")]
    # 64 contiguous ports for the worlds, 8 more for the daemons.
    if not check(len(ranges[0]) >= 64 and sum(map(len, ranges[1:])) >= 8,
                 f"PORTLEASE_TEST_POOL={pool_text}: 64 contiguous ports and "
                 "8 more needed"):
        return 1
    pool = ranges[0][:64]
    spare = [p for r in ranges[1:] for p in r]

    lines = examples(args.portlease) + examples(args.lease_run)
    admin = [l for l in lines if " admin " in l or "ADMIN_TOKEN" in l]
    # Restarting the private server with new flags: a world of its own,
    # where no earlier example left a lease (`server stop` refuses then).
    config = [l for l in lines if l not in admin and
              ("portleased.conf" in l or "server stop" in l or
               "~/.config" in l)]
    private = [l for l in lines if l not in admin and l not in config]
    check(len(admin) >= 3 and len(private) >= 8 and len(config) >= 2,
          f"the EXAMPLES sections look short: {lines}")
    # Each world its own share of the test pool.
    shares = {"system": pool[:16], "private": pool[16:48],
              "config": pool[48:64]}

    root = tempfile.mkdtemp(prefix="help-examples.")
    worlds = []
    daemons = 0
    try:
        daemons = portleased_examples(args, root, spare)
        system = World("system", root, args, shares["system"])
        worlds.append(system)
        if start_system_server(system, args, shares["system"]):
            # The operator's case: a job holds the port to take back.
            held = subprocess.run(
                [args.portlease, "acquire", "--count", "3", "--ttl", "10m"],
                env=system.env, cwd=system.dir, capture_output=True,
                text=True, timeout=60)
            check(held.returncode == 0 and
                  f"={shares['system'][1]}" in held.stdout.replace(" ", "="),
                  f"[system] no job lease on {shares['system'][1]}: "
                  f"{held.stdout}{held.stderr}")
            for line, code in system.run(admin, shares["system"]):
                check(code == 0, f"[system] `{line}` exited {code}")
        for name, group in (("private", private), ("config", config)):
            world = World(name, root, args, shares[name])
            worlds.append(world)
            share = shares[name]
            conf = os.path.join(world.home, ".config", "portlease")
            if name == "private":
                os.makedirs(conf)
                with open(os.path.join(conf, "portleased.conf"), "w") as f:
                    f.write(f"--pool={share[0]}-{share[-1]}\n")
            else:
                # The examples write the config themselves: start the
                # server on the share first, so they restart it.
                world.env["PORTLEASE_SERVER_ARGS"] = (
                    f"--pool={share[0]}-{share[-1]}")
                subprocess.run([args.lease_run, "--count", "1", "--", "true"],
                               env=world.env, cwd=world.dir,
                               capture_output=True, timeout=60)
                del world.env["PORTLEASE_SERVER_ARGS"]
            for line, code in world.run(group, share):
                # preflight looks at the host's fixed ports: 1 says one is
                # busy.
                ok = code == 0 or (code == 1 and " preflight " in line)
                check(ok, f"[{name}] `{line}` exited {code}")
            if name == "config":
                status = subprocess.run(
                    [args.portlease, "server", "status"], env=world.env,
                    cwd=world.dir, capture_output=True, text=True)
                check("flags from:     " in status.stdout and
                      f"pool size:      {len(share) - 8}" in status.stdout,
                      f"[config] the restarted server does not use the "
                      f"examples' config file: {status.stdout}")
    finally:
        for world in worlds:
            world.stop(args)
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"all {len(lines)} example lines ran, and {daemons} portleased "
          "examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
