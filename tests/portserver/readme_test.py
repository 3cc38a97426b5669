#!/usr/bin/python3
"""readme_test.py README BIN_DIR

Runs the ```sh block of the README's section "Using portlease from
portpicker, TensorFlow, gRPC test suites" exactly as written, with
`set -e`, as a user without a system server would: a HOME and
XDG_RUNTIME_DIR of its own, so lease-run starts the private portleased
(from BIN_DIR, its pool 20000-20099 via PORTLEASE_SERVER_ARGS), which
serves @portserver-$UID. That name is one per user on the host, and other
tests' private servers may hold it, so the block runs in a network
namespace of its own (abstract sockets are per namespace): root and
unshare(1) are needed, else the test is skipped (77). The port portpicker
printed must come from that pool (not portpicker's own pick), and the
server's log must show its lease granted to the python process and ended.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SECTION = "## Using portlease from portpicker, TensorFlow, gRPC test suites"
POOL = range(20000, 20100)


def readme_block(readme):
    lines = open(readme).read().splitlines()
    start = lines.index(SECTION)
    begin = lines.index("```sh", start) + 1
    end = lines.index("```", begin)
    return lines[begin:end]


def main():
    readme, bin_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("readme_test: skipped: needs root and unshare(1) for a "
              "network namespace of its own")
        return 77
    try:
        import portpicker  # noqa: F401
    except ImportError:
        print("FAIL: python3-portpicker is not installed (ci/install-deps.sh)")
        return 1
    block = readme_block(readme)
    tmp = tempfile.mkdtemp(prefix="pp-readme.")
    try:
        run = os.path.join(tmp, "run")
        os.makedirs(run, mode=0o700)
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": tmp,
            "XDG_RUNTIME_DIR": run,
            "PORTLEASE_SYSTEM_ADDR": f"unix:{tmp}/no-system-server/s.sock",
            "PORTLEASE_SERVER_ARGS": "--pool=20000-20099 --claims-dir=off",
        }
        # After the block: until the server saw the python process exit
        # (bounded), then the private server stopped.
        script = ("ip link set lo up\nset -e\n" + "\n".join(block) +
                  "\nfor i in $(seq 100); do\n"
                  "  portlease list --format=json | grep -q '\"client\": "
                  "\"portserver\"' || break\n  sleep 0.1\ndone\n"
                  "portlease server stop --force >/dev/null\n")
        proc = subprocess.run(["unshare", "--net", "/bin/bash", "-c", script],
                              env=env, cwd=tmp, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        print(proc.stdout)
        log = os.path.join(tmp, ".local/state/portlease/portleased.log")
        log_text = open(log).read() if os.path.exists(log) else ""
        failures = []
        if proc.returncode != 0:
            failures.append(f"the block exited {proc.returncode}")
        printed = [int(l) for l in proc.stdout.splitlines() if l.isdigit()]
        if len(printed) != 1 or printed[0] not in POOL:
            failures.append(f"portpicker printed {printed}, want one port of "
                            "the private server's pool")
        else:
            port = printed[0]
            for event in ("grant", "release"):
                if not re.search(rf"INFO {event} lease=\w+ ports={port} "
                                 r"owner=client=portserver,", log_text):
                    failures.append(f"no {event} of {port} in the log")
        if "portserver=@portserver-0" not in log_text:
            failures.append("the start-up line names no @portserver-0")
        for f in failures:
            print(f"FAIL: {f}")
        if failures:
            print(log_text)
            return 1
        print(f"README block ran: port {printed[0]} leased and released")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
