#!/usr/bin/env python3
"""cli_json_contract_test.py README PORTLEASE PORTLEASED

The README's "JSON output" examples are the contract of `--format=json`:
runs every command that has it against a real portleased (a Unix socket in
a temp dir, --probe=none: nothing binds the ports it grants), checks that
each output is one line of JSON, and compares it field by field with the
README's example of that command: the same keys at every level, values of
the same JSON type (null, where the README says a value may be absent,
matches any type), list elements like the example's first one. Objects
whose keys are data (a lease's owner, acquire's env) are compared as
objects of strings. Every command with an example is run, and every run
command has an example.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# Objects whose keys are data, not field names.
FREE_FORM = {"owner", "env"}


def readme_examples(path):
    """{command: parsed JSON} from the console blocks of the README's
    "JSON output" section: each `$ portlease ... --format=json` line and the
    (possibly indented) JSON up to the next `$` line or the block's end."""
    lines = open(path).read().splitlines()
    start = next((i for i, l in enumerate(lines)
                  if l.startswith("#") and "JSON output" in l), None)
    if start is None:
        sys.exit(f"{path}: no \"JSON output\" section")
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    examples = {}
    command, text, in_block = None, [], False

    def finish():
        if command is not None:
            try:
                examples[command] = json.loads("\n".join(text))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}: the example of `portlease {command}` is "
                         f"not JSON: {e}")

    for line in lines[start + 1:]:
        if line.startswith("#") and len(line) - len(line.lstrip("#")) <= level:
            break
        if line.startswith("```"):
            if in_block:
                finish()
                command, text = None, []
            in_block = not in_block
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            finish()
            command, text = None, []
            words = line[2:].split()
            if words[0] == "portlease" and "--format=json" in words:
                command = command_name(words[1:])
        elif command is not None:
            text.append(line)
    if not examples:
        sys.exit(f"{path}: no `$ portlease ... --format=json` example in "
                 "the JSON output section")
    return examples


def command_name(args):
    words = [a for a in args if not a.startswith("-")]
    if words and words[0] in ("admin", "server"):
        return " ".join(words[:2])
    return words[0]


def kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def compare(documented, actual, where, problems):
    d, a = kind(documented), kind(actual)
    if d == "null" or a == "null":
        return
    if d != a:
        problems.append(f"{where}: the README shows a {d}, the output has "
                        f"a {a} ({json.dumps(actual)[:80]})")
        return
    if d == "array":
        if documented:
            for i, element in enumerate(actual):
                compare(documented[0], element, f"{where}[{i}]", problems)
    elif d == "object":
        if where.rsplit(".", 1)[-1] in FREE_FORM:
            for key, value in list(documented.items()) + list(actual.items()):
                if not isinstance(value, str):
                    problems.append(f"{where}.{key}: not a string")
            return
        missing = sorted(set(documented) - set(actual))
        extra = sorted(set(actual) - set(documented))
        if missing:
            problems.append(f"{where}: the output lacks {missing}")
        if extra:
            problems.append(f"{where}: the README lacks {extra}")
        for key in sorted(set(documented) & set(actual)):
            compare(documented[key], actual[key], f"{where}.{key}", problems)


class Cli:
    def __init__(self, binary, env):
        self.binary, self.env = binary, env

    def run(self, *args, expect=0):
        r = subprocess.run([self.binary, *args], env=self.env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != expect:
            sys.exit(f"portlease {' '.join(args)}: exit {r.returncode}, want "
                     f"{expect}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def json(self, *args, expect=0):
        out = self.run(*args, "--format=json", expect=expect).stdout
        if out.count("\n") != 1 or not out.endswith("\n"):
            sys.exit(f"portlease {' '.join(args)} --format=json: not one "
                     f"line: {out!r}")
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            sys.exit(f"portlease {' '.join(args)} --format=json: not JSON "
                     f"({e}): {out!r}")


def start_server(portleased, tmp, token_file):
    socket_path = os.path.join(tmp, "s.sock")
    read_fd, write_fd = os.pipe()
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen(
        [portleased, "--listen", "unix:" + socket_path, "--db", ":memory:",
         "--probe=none", "--claims_dir=off", "--pool", "20000-20015",
         "--admin_token_file", token_file, f"--ready_fd={write_fd}"],
        pass_fds=(write_fd,), stdout=log, stderr=log)
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        line = ready.readline()
    if not line.startswith("ready"):
        server.kill()
        sys.exit("portleased did not start:\n" +
                 open(os.path.join(tmp, "server.log")).read())
    return server, "unix:" + socket_path


def main():
    readme, portlease, portleased = sys.argv[1:4]
    examples = readme_examples(readme)
    tmp = tempfile.mkdtemp(prefix="pljson-", dir="/tmp")
    server = None
    try:
        token_file = os.path.join(tmp, "admin-token")
        with open(token_file, "w") as f:
            f.write("json-contract-test-token-0123456789\n")
        os.chmod(token_file, 0o600)
        server, address = start_server(portleased, tmp, token_file)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PORTLEASE_", "GITHUB_", "CI_"))}
        env.update({"PORTLEASE_ADDR": address,
                    "PORTLEASE_ADMIN_TOKEN_FILE": token_file,
                    "PORTLEASE_SYSTEM_ADDR": "unix:" + tmp + "/none/s.sock",
                    "XDG_RUNTIME_DIR": os.path.join(tmp, "run"),
                    "XDG_STATE_HOME": os.path.join(tmp, "state"),
                    "XDG_CONFIG_HOME": os.path.join(tmp, "config")})
        cli = Cli(portlease, env)

        outputs = {}
        # No lease yet: an empty list is still there.
        empty = cli.json("list")
        if empty != {"leases": []}:
            sys.exit(f"list with no leases: {empty}, want {{\"leases\": []}}")
        acquired = cli.json("acquire", "--ports", "redis,web", "--ttl", "10m")
        outputs["acquire"] = acquired
        lease_id = acquired["lease"]["lease_id"]
        outputs["renew"] = cli.json("renew", lease_id, "--ttl", "20m")
        outputs["list"] = cli.json("list")
        outputs["status"] = cli.json("status")
        base = acquired["lease"]["base_port"]
        # A leased port, and one outside the pool (no lease: null) that a
        # socket of this process listens on (a holder), kept open meanwhile.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            held = listener.getsockname()[1]
            outputs["who"] = cli.json("who", str(base), str(held))
        outputs["admin drain"] = cli.json("admin", "drain", "20015")
        outputs["admin undrain"] = cli.json("admin", "undrain", "20015")
        outputs["admin set-pool"] = cli.json(
            "admin", "set-pool", "--pool", "20000-20015", "--exclude", "20010")
        outputs["admin force-release"] = cli.json(
            "admin", "force-release", str(base))
        # No private server runs here (exit 3): its keys are still there.
        outputs["server status"] = cli.json("server", "status", expect=3)

        # Values the contract fixes, beyond their type.
        problems = []
        lease = outputs["list"]["leases"][0]
        if lease["state"] != "live":
            problems.append(f"list: state {lease['state']!r}, want \"live\"")
        if lease["lease_id"] != "":
            problems.append("list: the full lease id is shown")
        if lease["udp"] is not False:
            problems.append("list: udp false is not printed as false")
        who = outputs["who"]["ports"]
        if who[1]["lease"] is not None or who[1]["in_pool"] is not False:
            problems.append(f"who {held}: {who[1]}, want lease null and "
                            "in_pool false")
        if [h["pid"] for h in who[1]["holders"]] != [os.getpid()]:
            problems.append(f"who {held}: holders {who[1]['holders']}, want "
                            f"one with pid {os.getpid()} (a number)")
        if outputs["server status"]["running"] is not False:
            problems.append("server status: running is not false")
        for command in sorted(set(outputs) | set(examples)):
            if command not in examples:
                problems.append(f"portlease {command} --format=json has no "
                                "example in the README's JSON output section")
            elif command not in outputs:
                problems.append(f"the README shows portlease {command} "
                                "--format=json, which this test does not run")
            else:
                compare(examples[command], outputs[command], command, problems)
        if problems:
            sys.exit("the JSON output differs from the README:\n  " +
                     "\n  ".join(problems))
        print(f"{len(outputs)} commands print the README's JSON shapes: "
              + ", ".join(sorted(outputs)))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
