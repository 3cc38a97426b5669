#!/usr/bin/env python3
"""A `docker` stand-in for ci_recipes_run_test.py: `docker compose` for the
M2 example stack (ci/m2/docker-compose.yml) without a container engine.

    docker compose -f FILE [-p NAME] up --detach --wait [SERVICE...]
    docker compose -f FILE [-p NAME] down [--volumes] [--remove-orphans]

It reads the compose file as Compose does: the project name is -p, else
$COMPOSE_PROJECT_NAME, else the compose file's folder; `up` starts the
named services and their depends_on, in order; ${VAR:-default} is
interpolated, except that an unset VAR is an error here (the real stack
would silently take the fixed default port). Images map to processes:
redis:7 runs redis-server with the service's command (bound to 127.0.0.1,
where the file publishes it), m2/worker and m2/orchestrator run
`m2_standin worker|orchestrator`, with the volumes' host files in place of
their container paths. Like containers, the processes run in their own
session, so a signal to the job's process group does not reach them; only
`down` stops them. --wait waits for the healthchecks (run as written) and
for the stand-ins' ready files. Refuses to `up` a project that is already
up (two jobs sharing a project name would clobber each other's stack).

Configuration from the environment the test bakes into the wrapper:
DOCKER_STANDIN_STATE (a folder for projects and logs), M2_STANDIN.
Exit status: 0 done, 1 failure, 2 usage or unsupported command.
"""
import os
import re
import signal
import subprocess
import sys
import time

import yaml

STATE = os.environ["DOCKER_STANDIN_STATE"]
M2_STANDIN = os.environ["M2_STANDIN"]
SCALE = int(os.environ.get("PORTLEASE_TEST_TIME_SCALE", "1") or "1")
WAIT_SECONDS = 30 * SCALE


def die(message, status=1):
    print(f"docker (stand-in): {message}", file=sys.stderr)
    sys.exit(status)


def log(message):
    with open(os.path.join(STATE, "docker.log"), "a", encoding="utf-8") as f:
        f.write(message + "\n")


def interpolate(value):
    """${VAR:-default} and ${VAR}; an unset VAR is an error (see above)."""
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        name, default = match.group(1), match.group(3)
        if os.environ.get(name):
            return os.environ[name]
        die(f"{name} is not set: the stack would use "
            f"{'its default ' + default if default else 'an empty value'}, "
            "a fixed port shared by every job")

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", replace, value)


def parse(argv):
    if argv[:1] != ["compose"]:
        die(f"only `docker compose` is stood in, not: docker {' '.join(argv)}", 2)
    files, project, rest = [], None, argv[1:]
    while rest and rest[0].startswith("-"):
        if rest[0] in ("-f", "--file") and len(rest) > 1:
            files.append(rest[1])
            rest = rest[2:]
        elif rest[0] in ("-p", "--project-name") and len(rest) > 1:
            project = rest[1]
            rest = rest[2:]
        else:
            die(f"unsupported option {rest[0]}", 2)
    if len(files) != 1 or not rest:
        die("usage: docker compose -f FILE [-p NAME] up|down ...", 2)
    project = (project or os.environ.get("COMPOSE_PROJECT_NAME") or
               os.path.basename(os.path.dirname(os.path.abspath(files[0]))))
    return files[0], project, rest[0], rest[1:]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive (its parent may never reap it).
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def project_dir(project):
    return os.path.join(STATE, "projects", project)


def read_pids(project):
    path = os.path.join(project_dir(project), "pids")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [int(line.split()[0]) for line in f if line.strip()]


def wait_until(what, condition, pid):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if not alive(pid):
            die(f"{what}: the process exited (see its log under {STATE})")
        if time.monotonic() > deadline:
            die(f"timed out after {WAIT_SECONDS}s waiting for {what}")
        time.sleep(0.1)


def command_of(name, service, compose_dir, workdir):
    """The process standing in for `service`, and how to tell it is ready."""
    image = service.get("image", "")
    command = [str(c) for c in interpolate(service.get("command", []))]
    mounts = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        host = os.path.normpath(os.path.join(compose_dir, host))
        if not os.path.isfile(host):
            die(f"service {name}: volume {host} is not a file (not rendered?)")
        mounts[container] = host
    command = [mounts.get(c, c) for c in command]
    ready = os.path.join(workdir, f"{name}.ready")
    if image.startswith("redis:"):
        if command[:1] != ["redis-server"]:
            die(f"service {name}: expected a redis-server command")
        return (command + ["--bind", "127.0.0.1", "--dir", workdir,
                           "--daemonize", "no"], None)
    if image in ("m2/worker", "m2/orchestrator"):
        role = image.split("/")[1]
        return [M2_STANDIN, role] + command + ["--ready-file", ready], ready
    die(f"service {name}: no stand-in for image {image!r}")


def healthy(service):
    check = service.get("healthcheck", {}).get("test")
    if not check:
        return True
    check = [str(c) for c in interpolate(check)]
    if check[0] != "CMD":
        die(f"unsupported healthcheck {check}")
    try:
        out = subprocess.run(check[1:], capture_output=True, text=True,
                             timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0


def up(compose_file, project, args):
    flags = [a for a in args if a.startswith("-")]
    wanted = [a for a in args if not a.startswith("-")]
    if set(flags) - {"--detach", "-d", "--wait"} or not {"--detach", "-d"} & set(flags):
        die(f"only `up --detach [--wait]` is stood in, not {flags}", 2)
    with open(compose_file, encoding="utf-8") as f:
        services = yaml.safe_load(f)["services"]
    for name in wanted:
        if name not in services:
            die(f"no such service: {name}")
    order = []

    def add(name):
        if name in order:
            return
        for dep in services[name].get("depends_on", {}):
            add(dep)
        order.append(name)

    for name in wanted or list(services):
        add(name)
    workdir = project_dir(project)
    if any(alive(pid) for pid in read_pids(project)):
        die(f"project {project} is already up (another job's stack?)")
    os.makedirs(workdir, exist_ok=True)
    compose_dir = os.path.dirname(os.path.abspath(compose_file))
    ports = []
    for name in order:
        service = services[name]
        ports += [p.split(":")[1] for p in interpolate(service.get("ports", []))]
        argv, ready = command_of(name, service, compose_dir, workdir)
        with open(os.path.join(workdir, f"{name}.log"), "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=workdir,
                                    start_new_session=True)
        with open(os.path.join(workdir, "pids"), "a", encoding="utf-8") as f:
            f.write(f"{proc.pid} {name}\n")
        with open(os.path.join(STATE, "all-pids"), "a", encoding="utf-8") as f:
            f.write(f"{proc.pid} {project} {name}\n")
        if "--wait" in flags or any(
                cond.get("condition") == "service_healthy"
                for other in order for dep, cond in
                (services[other].get("depends_on") or {}).items() if dep == name):
            wait_until(f"{name} healthy", lambda s=service: healthy(s), proc.pid)
            if ready:
                wait_until(f"{name} ready", lambda r=ready: os.path.exists(r),
                           proc.pid)
    log(f"up {project} {' '.join(order)} ports {' '.join(ports)}")
    print(f"stack {project} up: {' '.join(order)} on {' '.join(ports)}")


def down(project, args):
    if set(args) - {"--volumes", "-v", "--remove-orphans"}:
        die(f"unsupported down arguments {args}", 2)
    pids = read_pids(project)
    for pid in reversed(pids):
        if not alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5 * SCALE
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        deadline = time.monotonic() + 5 * SCALE
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            die(f"pid {pid} of project {project} did not exit")
    path = os.path.join(project_dir(project), "pids")
    if os.path.exists(path):
        os.rename(path, path + ".down")
    log(f"down {project} ({len(pids)} processes)")


def main():
    compose_file, project, verb, args = parse(sys.argv[1:])
    if verb == "up":
        up(compose_file, project, args)
    elif verb == "down":
        down(project, args)
    else:
        die(f"`docker compose {verb}` is not stood in", 2)


if __name__ == "__main__":
    main()
