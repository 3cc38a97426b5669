#!/usr/bin/env python3
"""Checks the example CI recipes ci/github-actions.yml and ci/gitlab-ci.yml.

They run nowhere here, so this is what keeps them honest: valid YAML, the
shape each CI system needs (a parallel matrix, self-hosted runners, a dotenv
report), files they name exist, and every lease-run / portlease acquire flag
they use appears in that binary's --help.

    ci_recipes_test.py SOURCE_DIR LEASE_RUN PORTLEASE

Exit status: 0 pass, 1 fail, 77 skipped (no python3-yaml).
"""
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed")
    sys.exit(77)

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def scripts(value):
    """Every string under `value` (run: and script: bodies among them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from scripts(item)
    elif isinstance(value, list):
        for item in value:
            yield from scripts(item)


def commands(text, program):
    """The flags of each `program ...` command in a shell text, up to the
    end of the command (a lone `--`, `>` or the end of the line)."""
    text = text.replace("\\\n", " ")
    for line in text.splitlines():
        for match in re.finditer(re.escape(program) + r"\b(.*)", line):
            args = match.group(1).split(" -- ")[0].split(">")[0]
            yield re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", args)


def help_text(binary):
    return subprocess.run([binary, "--help"], capture_output=True, text=True,
                          timeout=30, check=True).stdout


def main():
    source, lease_run, portlease = sys.argv[1:4]
    lease_run_help = help_text(lease_run)
    portlease_help = help_text(portlease)

    docs = {}
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        path = os.path.join(source, "ci", name)
        with open(path, encoding="utf-8") as f:
            docs[name] = yaml.safe_load(f)
        text = "\n".join(scripts(docs[name]))
        check("lease-run --profile ci/m2/ports.json" in text,
              f"{name}: no job runs under lease-run with the M2 profile")
        # Files the recipes name (templates, profile, compose file).
        for ref in set(re.findall(r"ci/m2/[\w./-]+", text)):
            check(os.path.exists(os.path.join(source, ref)) or
                  ref.endswith(".yaml") and
                  os.path.exists(os.path.join(source, ref + ".in")),
                  f"{name}: {ref} does not exist")
        used = 0
        for flags in commands(text, "lease-run"):
            used += 1
            for flag in flags:
                check(flag in lease_run_help,
                      f"{name}: lease-run {flag} is not in lease-run --help")
        for flags in commands(text, "portlease acquire"):
            used += 1
            for flag in flags:
                check(flag in portlease_help,
                      f"{name}: portlease acquire {flag} is not in portlease --help")
        check(used > 0, f"{name}: no lease-run or portlease acquire command")

    gh = docs["github-actions.yml"]
    # PyYAML reads the key `on` as the boolean true (YAML 1.1).
    check("on" in gh or True in gh, "github-actions.yml: no `on` trigger")
    jobs = gh.get("jobs", {})
    check(jobs, "github-actions.yml: no jobs")
    for name, job in jobs.items():
        check("self-hosted" in job.get("runs-on", []),
              f"github-actions.yml: job {name} is not on a self-hosted runner")
        check(all("run" in step or "uses" in step for step in job.get("steps", [])),
              f"github-actions.yml: job {name} has a step with neither run nor uses")
    check(any(job.get("strategy", {}).get("matrix") for job in jobs.values()),
          "github-actions.yml: no matrix job")
    check(any("--github-env" in s for s in scripts(gh)),
          "github-actions.yml: no portlease acquire --github-env example")

    gl = docs["gitlab-ci.yml"]
    stages = gl.get("stages", [])
    gl_jobs = {k: v for k, v in gl.items()
               if isinstance(v, dict) and "script" in v}
    check(gl_jobs, "gitlab-ci.yml: no jobs")
    for name, job in gl_jobs.items():
        check(job.get("stage") in stages,
              f"gitlab-ci.yml: job {name} has an undeclared stage")
        for need in job.get("needs", []):
            check(need in gl_jobs, f"gitlab-ci.yml: job {name} needs unknown {need}")
    check(any(job.get("parallel", {}).get("matrix") for job in gl_jobs.values()),
          "gitlab-ci.yml: no parallel:matrix job")
    check(any(job.get("artifacts", {}).get("reports", {}).get("dotenv")
              for job in gl_jobs.values()),
          "gitlab-ci.yml: no dotenv report")
    check(any("--gitlab-dotenv" in s for s in scripts(gl)),
          "gitlab-ci.yml: no portlease acquire --gitlab-dotenv example")
    # --format=env is shell-quoted; GitLab would keep the quotes.
    check(not any("--format=env" in s for s in scripts(gl)),
          "gitlab-ci.yml: --format=env output is not a GitLab dotenv report")

    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
