#!/usr/bin/env python3
"""Runs the example CI recipes ci/github-actions.yml and ci/gitlab-ci.yml.

Every `run:` step of each GitHub job (in order, `bash -e {0}` as GitHub runs
it) and every GitLab job's before_script+script (one shell, errexit and
pipefail, as gitlab-runner's bash) and after_script (its own shell, always)
run in a clean environment: env -i with PATH (a temp bin folder first),
HOME, fresh XDG_RUNTIME_DIR/XDG_STATE_HOME, TMPDIR and the CI system's
variables (GITHUB_ENV as a fresh file per step, parsed with GitHub's rules
into the later steps' environment; GITHUB_RUN_ID, GITHUB_JOB, CI_JOB_ID,
CI_PIPELINE_ID, ...; a GitLab dotenv report checked against GitLab's rules
and given to the jobs that need it). GitHub jobs run at once; GitLab jobs
stage by stage, a stage's jobs at once; matrix entries are jobs of their own.
Each job works in its own copy of the repository's ci/ folder.

Stand-ins on PATH: `docker` (docker_standin.py: `docker compose up/down`
for the M2 stack with redis-server and m2_standin), and in each job folder
`./run-tests.sh` (run_tests_standin.sh: checks the variables and that the
stack answers on them). Skipped: `uses:` steps (actions/checkout; the job
folder is the checkout), and steps whose every command is cmake or ctest
(the `ctest` job builds and tests the user's own CMake project, which does
not exist here; tests/consumer runs ctest/PortLease.cmake for real).

Settings, each checked for no live lease, no stack process and no leftover
process in any step's process group afterwards:
  1. No system service: PORTLEASE_SYSTEM_ADDR names a socket in a missing
     folder, so lease-run starts the private portleased (its pool from
     ~/.config/portlease/portleased.conf), which is then stopped with
     `portlease server stop --force` and must be gone.
  2. A system server: a portleased on a Unix socket in the temp folder,
     named by PORTLEASE_SYSTEM_ADDR; no private server may start.
  3. Cancelled jobs, against each of the above: when ./run-tests.sh runs
     (the stack is up), SIGTERM goes to the step's process group; the step
     must end with 143 (or by SIGTERM), then the cleanup steps run (GitHub
     `if: always()`, GitLab after_script and the `when: always` job).

    ci_recipes_run_test.py SOURCE_DIR --lease-run F --portlease F
        --portleased F --m2-standin F

Ports: PORTLEASE_TEST_POOL (with-test-ports), split between the two
servers. Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (no python3-yaml
or redis-server). The jobs and steps read from the recipes, and the CI
systems' env-file rules, are in ci_recipes_jobs.py.
"""
import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed")
    sys.exit(77)

from ci_recipes_jobs import (check, failures, github_jobs, gitlab_jobs, lock,
                             parse_github_env, parse_gitlab_dotenv, say)

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = int(os.environ.get("PORTLEASE_TEST_TIME_SCALE", "1") or "1")
STEP_TIMEOUT = 180 * SCALE


def pool_ranges(text):
    ports = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        ports += range(int(lo), int(hi or lo) + 1)
    return ports


def as_ranges(ports):
    out, start = [], ports[0]
    for prev, cur in zip(ports, ports[1:] + [None]):
        if cur != prev + 1:
            out.append(f"{start}-{prev}")
            start = cur
    return ",".join(out)


# ---- Running ------------------------------------------------------------

class Pipeline:
    """One run of both recipes in one setting."""

    def __init__(self, args, root, label, env, cancel):
        self.args, self.root, self.label = args, root, label
        self.base_env, self.cancel = env, cancel
        self.state = env["DOCKER_STANDIN_STATE"]
        self.groups = []        # every step's process group id
        self.owner_listings = []  # (owner key, portlease list --owner output)
        self.running = {}       # job folder -> Popen of its current step
        self.seq = itertools.count(1)
        self.run_id = str(int(time.time()) % 100000 * 10 + len(label) % 10)

    def job_dir(self, job):
        path = tempfile.mkdtemp(prefix=f"{self.label}-{job.platform}-",
                                dir=os.path.join(self.root, "jobs"))
        shutil.copytree(os.path.join(self.args.source, "ci"),
                        os.path.join(path, "ci"))
        with open(os.path.join(HERE, "run_tests_standin.sh"), encoding="utf-8") as f:
            text = f.read().replace('STATE="${STATE:?}"', f'STATE="{self.state}"')
        with open(os.path.join(path, "run-tests.sh"), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(os.path.join(path, "run-tests.sh"), 0o755)
        return path

    def shell(self, job, cwd, script, env, logname):
        fd, script_path = tempfile.mkstemp(suffix=".sh", dir=os.path.join(self.root, "scripts"))
        os.close(fd)
        with open(script_path, "w", encoding="utf-8") as f:
            f.write(script + "\n")
        with open(os.path.join(cwd, logname), "w", encoding="utf-8") as log:
            proc = subprocess.Popen(["bash", "-e", script_path], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        with lock:
            self.groups.append(proc.pid)
            self.running[os.path.realpath(cwd)] = proc
        try:
            rc = proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = "timeout"
        with lock:
            self.running.pop(os.path.realpath(cwd), None)
        with open(os.path.join(cwd, logname), encoding="utf-8", errors="replace") as f:
            output = f.read()
        return rc, output

    def report(self, job, what, rc, output, expect_ok=True):
        status = "ok" if rc == 0 else f"exit {rc}"
        say(f"[{self.label}] {job.platform} {job.name}: {what}: {status}")
        if rc != 0 and expect_ok:
            for line in output.rstrip().splitlines()[-30:]:
                say(f"    | {line}")

    def run_github_job(self, job):
        cwd = self.job_dir(job)
        env = dict(self.base_env, GITHUB_ACTIONS="true", CI="true",
                   GITHUB_RUN_ID=self.run_id, GITHUB_RUN_ATTEMPT="1",
                   GITHUB_JOB=job.key, GITHUB_REPOSITORY="example/m2",
                   RUNNER_NAME=f"runner-{next(self.seq)}", GITHUB_WORKSPACE=cwd,
                   RUNNER_TEMP=os.path.join(cwd, ".runner-temp"))
        os.makedirs(env["RUNNER_TEMP"])
        env.update(job.env)
        failed = cancelled = False
        for n, step in enumerate(job.steps):
            if step.skip:
                say(f"[{self.label}] github {job.name}: SKIP '{step.name}': {step.skip}")
                continue
            if (failed or cancelled) and not step.always:
                say(f"[{self.label}] github {job.name}: '{step.name}' not run (job failed or cancelled)")
                continue
            files = {}
            for var in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
                files[var] = os.path.join(env["RUNNER_TEMP"], f"{var.lower()}-{n}")
                open(files[var], "w").close()
            step_env = dict(env, **files, **getattr(step, "env", {}))
            rc, output = self.shell(job, cwd, step.script, step_env, f".step-{n}.log")
            if rc in (-signal.SIGTERM, 143) and self.cancel:
                cancelled = True
                job.cancel_rc = rc
                self.report(job, f"'{step.name}' cancelled", rc, output, False)
            else:
                failed = failed or rc != 0
                self.report(job, f"'{step.name}'", rc, output)
            with open(files["GITHUB_ENV"], encoding="utf-8") as f:
                added = parse_github_env(f.read(), f"{job.name} '{step.name}' GITHUB_ENV")
            env.update(added)
            job.exported.update(added)
            job.logs = getattr(job, "logs", "") + output
        job.status = "cancelled" if cancelled else "failed" if failed else "success"

    def run_gitlab_job(self, job, dotenv):
        cwd = self.job_dir(job)
        env = dict(self.base_env, GITLAB_CI="true", CI="true",
                   CI_JOB_ID=str(next(self.seq) + 1000), CI_PIPELINE_ID=self.run_id,
                   CI_PROJECT_PATH="example/m2", CI_RUNNER_ID="7",
                   CI_CONCURRENT_ID=str(next(self.seq) % 8), CI_JOB_NAME=job.name,
                   CI_JOB_STAGE=job.stage, CI_PROJECT_DIR=cwd)
        env.update(job.env)
        env.update(dotenv)
        step = job.steps[0]
        if step.skip:
            say(f"[{self.label}] gitlab {job.name}: SKIP: {step.skip}")
            job.status = "success"
            return
        rc, output = self.shell(job, cwd, step.script, env, ".script.log")
        if rc in (-signal.SIGTERM, 143) and self.cancel:
            job.status, job.cancel_rc = "cancelled", rc
            self.report(job, "script cancelled", rc, output, False)
        else:
            job.status = "success" if rc == 0 else "failed"
            self.report(job, "script", rc, output)
        job.logs = output
        for n, script in enumerate(job.after):
            rc, output = self.shell(job, cwd, script, env, f".after-{n}.log")
            self.report(job, "after_script", rc, output)
            check(rc == 0, f"{self.label}: gitlab {job.name}: after_script exit {rc}")
            job.logs += output
        if job.dotenv and job.status == "success":
            job.exported = parse_gitlab_dotenv(os.path.join(cwd, job.dotenv),
                                               f"{job.name} dotenv")

    def canceller(self, stop):
        """Cancels each job whose ./run-tests.sh is holding."""
        done = set()
        while not stop.is_set():
            for name in os.listdir(self.state):
                if not name.startswith("holding.") or name in done:
                    continue
                with open(os.path.join(self.state, name), encoding="utf-8") as f:
                    where = os.path.realpath(f.read().strip())
                with lock:
                    proc = self.running.get(where)
                if proc is None:
                    continue
                done.add(name)
                key = "GITHUB_RUN_ID" if "-github-" in where else "CI_PIPELINE_ID"
                listed = subprocess.run(
                    [self.args.portlease, "list", "--format=json", "--owner",
                     f"{key}={self.run_id}"], env=self.env_for_list(),
                    capture_output=True, text=True, timeout=30)
                self.owner_listings.append((key, listed.stdout))
                say(f"[{self.label}] cancelling the step in {where} "
                    f"(SIGTERM to process group {proc.pid})")
                os.killpg(proc.pid, signal.SIGTERM)
            stop.wait(0.2)

    def env_for_list(self):
        return dict(self.base_env, PORTLEASE_ADDR=self.base_env["SERVER_IN_USE"])

    def run(self, gh_jobs, gl_jobs):
        if self.cancel:
            open(os.path.join(self.state, "hold"), "w").close()
        stop = threading.Event()
        watcher = threading.Thread(target=self.canceller, args=(stop,))
        watcher.start()
        try:
            threads = [threading.Thread(target=self.run_github_job, args=(j,))
                       for j in gh_jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            stages = []
            for job in gl_jobs:
                if job.stage not in stages:
                    stages.append(job.stage)
            for stage in sorted(stages, key=lambda s: self.args.gitlab_stages.index(s)):
                threads = []
                for job in [j for j in gl_jobs if j.stage == stage]:
                    sources = [j for j in gl_jobs if j.key in job.needs] \
                        if job.needs is not None else \
                        [j for j in gl_jobs if self.args.gitlab_stages.index(j.stage) <
                         self.args.gitlab_stages.index(stage)]
                    if any(j.status != "success" for j in sources) and not job.always:
                        say(f"[{self.label}] gitlab {job.name}: not run (a needed job did not succeed)")
                        job.status = "skipped"
                        continue
                    dotenv = {}
                    for j in sources:
                        dotenv.update(j.exported)
                    threads.append(threading.Thread(target=self.run_gitlab_job,
                                                    args=(job, dotenv)))
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        finally:
            stop.set()
            watcher.join()
            if os.path.exists(os.path.join(self.state, "hold")):
                os.remove(os.path.join(self.state, "hold"))


# ---- Checks after a run ---------------------------------------------------

def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_alive(pgid):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[3]) == pgid:
                return True
    return False


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds * SCALE
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def live_leases(args, env):
    out = subprocess.run([args.portlease, "list", "--format=json"], env=env,
                         capture_output=True, text=True, timeout=60)
    if not check(out.returncode == 0, f"portlease list: exit {out.returncode}: {out.stderr}"):
        return ["?"]
    return [l for l in json.loads(out.stdout or "{}").get("leases", [])
            if l.get("state") == "LEASE_STATE_LIVE"]


def after_run(pipeline, gh_jobs, gl_jobs):
    label, args = pipeline.label, pipeline.args
    for job in gh_jobs + gl_jobs:
        if job.status == "skipped":
            continue
        if pipeline.cancel and hasattr(job, "cancel_rc"):
            check(job.cancel_rc in (143, -signal.SIGTERM),
                  f"{label}: {job.name}: cancelled step ended {job.cancel_rc}")
        elif pipeline.cancel and job.status == "cancelled":
            pass
        else:
            check(job.status == "success", f"{label}: {job.platform} {job.name}: {job.status}")
        lease_id = job.exported.get("PORTLEASE_LEASE_ID")
        if lease_id:
            check(lease_id not in getattr(job, "logs", ""),
                  f"{label}: {job.name}: the lease id appears in the job log")
    if pipeline.cancel:
        check(any(getattr(j, "cancel_rc", None) for j in gh_jobs + gl_jobs),
              f"{label}: no job was cancelled")
        for key, listing in pipeline.owner_listings:
            check(f'"{key}":"{pipeline.run_id}"' in listing.replace(" ", ""),
                  f"{label}: portlease list --owner {key}=... showed no lease "
                  f"while the job ran: {listing}")
    for pgid in pipeline.groups:
        check(wait_for(lambda: not group_alive(pgid), 30),
              f"{label}: processes left in step process group {pgid}")
    state = pipeline.state
    if os.path.exists(os.path.join(state, "all-pids")):
        with open(os.path.join(state, "all-pids"), encoding="utf-8") as f:
            for line in f:
                pid, project, service = line.split()
                check(wait_for(lambda: not pid_alive(int(pid)), 15),
                      f"{label}: {service} of stack {project} (pid {pid}) still runs")
    check(wait_for(lambda: not live_leases(args, pipeline.env_for_list()), 30),
          f"{label}: live leases remain: {live_leases(args, pipeline.env_for_list())}")
    if os.path.exists(os.path.join(state, "tests.log")):
        with open(os.path.join(state, "tests.log"), encoding="utf-8") as f:
            runs = f.read().splitlines()
        projects = [r.split()[1] for r in runs]
        check(len(set(projects)) == len(projects),
              f"{label}: jobs shared a COMPOSE_PROJECT_NAME: {runs}")
        say(f"[{label}] test suites run: {len(runs)}")
        os.rename(os.path.join(state, "tests.log"),
                  os.path.join(state, f"tests-{label}.log"))


# ---- Settings ------------------------------------------------------------

def setup(args, root):
    bin_dir = os.path.join(root, "bin")
    os.makedirs(bin_dir)
    for name in ("lease-run", "portlease"):
        os.symlink(getattr(args, name.replace("-", "_")), os.path.join(bin_dir, name))
    with open(os.path.join(bin_dir, "docker"), "w", encoding="utf-8") as f:
        f.write(f"#!/bin/sh\nexec {sys.executable} {HERE}/docker_standin.py \"$@\"\n")
    os.chmod(os.path.join(bin_dir, "docker"), 0o755)
    for sub in ("scripts", "jobs", "docker", "home", "tmp"):
        os.makedirs(os.path.join(root, sub))
    return bin_dir


def base_env(args, root, bin_dir, home):
    xdg_run = os.path.join(home, "run")
    os.makedirs(xdg_run, mode=0o700, exist_ok=True)
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "LANG": "C.UTF-8", "USER": os.environ.get("USER", "runner"),
        "XDG_RUNTIME_DIR": xdg_run,
        "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        "TMPDIR": os.path.join(root, "tmp"),
        "PORTLEASE_SERVER_BIN": args.portleased,
        "PORTLEASE_TEST_TIME_SCALE": str(SCALE),
        "DOCKER_STANDIN_STATE": os.path.join(root, "docker"),
        "M2_STANDIN": args.m2_standin,
    }


def load_jobs(args):
    with open(os.path.join(args.source, "ci", "github-actions.yml"), encoding="utf-8") as f:
        gh = github_jobs(yaml.safe_load(f))
    with open(os.path.join(args.source, "ci", "gitlab-ci.yml"), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    args.gitlab_stages = doc.get("stages", ["build", "test", "deploy"])
    return gh, gitlab_jobs(doc)


def run_setting(args, root, label, env, cancel):
    gh, gl = load_jobs(args)
    if cancel:
        # Only the jobs that reach ./run-tests.sh, plus the cleanup job.
        gh = [j for j in gh if j.key in ("redis-steps",) or j.name.endswith("[api]")]
        gl = [j for j in gl if j.key in ("lease", "redis-tests", "release")
              or j.name.endswith("[api]")]
    pipeline = Pipeline(args, root, label, env, cancel)
    pipeline.run(gh, gl)
    after_run(pipeline, gh, gl)


def no_system_service(args, root, bin_dir, pool):
    home = os.path.join(root, "home", "private")
    env = base_env(args, root, bin_dir, home)
    env["PORTLEASE_SYSTEM_ADDR"] = f"unix:{root}/nonexistent/portleased.sock"
    conf = os.path.join(home, ".config", "portlease")
    os.makedirs(conf)
    with open(os.path.join(conf, "portleased.conf"), "w", encoding="utf-8") as f:
        f.write(f"--pool={pool}\n")
    env["SERVER_IN_USE"] = f"unix:{env['XDG_RUNTIME_DIR']}/portlease/portleased.sock"
    try:
        run_setting(args, root, "no-service", env, cancel=False)
        run_setting(args, root, "no-service-cancel", env, cancel=True)
    finally:
        out = subprocess.run([args.portlease, "server", "status", "--format=json"],
                             env=env, capture_output=True, text=True, timeout=60)
        pid = None
        try:
            pid = int(json.loads(out.stdout).get("pid", 0)) or None
        except (ValueError, AttributeError):
            pass
        check(pid, f"no-service: no private server was running: {out.stdout}{out.stderr}")
        stop = subprocess.run([args.portlease, "server", "stop", "--force"], env=env,
                              capture_output=True, text=True, timeout=60)
        check(stop.returncode == 0, f"portlease server stop --force: exit "
              f"{stop.returncode}: {stop.stdout}{stop.stderr}")
        if pid:
            check(wait_for(lambda: not pid_alive(pid), 15),
                  f"no-service: private portleased {pid} still runs")


def system_service(args, root, bin_dir, pool):
    home = os.path.join(root, "home", "system")
    env = base_env(args, root, bin_dir, home)
    sysdir = os.path.join(root, "sys")
    os.makedirs(os.path.join(sysdir, "run"))
    address = f"unix:{sysdir}/run/portleased.sock"
    env["PORTLEASE_SYSTEM_ADDR"] = env["SERVER_IN_USE"] = address
    with open(os.path.join(sysdir, "portleased.log"), "w") as log:
        server = subprocess.Popen([args.portleased, f"--listen={address}",
                                   f"--db={sysdir}/leases.db", f"--pool={pool}"],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    try:
        up = wait_for(lambda: os.path.exists(f"{sysdir}/run/portleased.sock") and
                      subprocess.run([args.portlease, "status"], env=dict(env, PORTLEASE_ADDR=address),
                                     capture_output=True, timeout=30).returncode == 0, 30)
        if not check(up, "system portleased did not start"):
            return
        run_setting(args, root, "system", env, cancel=False)
        run_setting(args, root, "system-cancel", env, cancel=True)
        status = subprocess.run([args.portlease, "server", "status"], env=env,
                                capture_output=True, text=True, timeout=60)
        check(status.returncode == 3,
              f"system: a private server started beside the system one: {status.stdout}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15 * SCALE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    for name in ("--lease-run", "--portlease", "--portleased", "--m2-standin"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    for name in ("redis-server", "redis-cli"):
        if not shutil.which(name):
            print(f"SKIP: {name} is not installed")
            return 77
    pool = os.environ.get("PORTLEASE_TEST_POOL")
    if not pool:
        print("ci_recipes_run_test: PORTLEASE_TEST_POOL is not set (run it "
              "under with-test-ports)", file=sys.stderr)
        return 2
    ports = pool_ranges(pool)
    if len(ports) < 64:
        print("ci_recipes_run_test: needs 64 ports or more", file=sys.stderr)
        return 2
    half = len(ports) // 2
    root = tempfile.mkdtemp(prefix="cirun.", dir="/tmp")
    try:
        bin_dir = setup(args, root)
        no_system_service(args, root, bin_dir, as_ranges(ports[:half]))
        system_service(args, root, bin_dir, as_ranges(ports[half:]))
    finally:
        if failures or os.environ.get("CI_RECIPES_KEEP"):
            say(f"kept {root} for inspection")
        else:
            shutil.rmtree(root, ignore_errors=True)
    for failure in failures:
        print("FAIL:", failure)
    print("FAIL" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
