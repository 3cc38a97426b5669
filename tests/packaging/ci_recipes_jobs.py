"""The job definitions of ci_recipes_run_test.py: the example CI recipes
(ci/github-actions.yml, ci/gitlab-ci.yml, already parsed from YAML) read into
jobs and steps as GitHub and GitLab would expand them, the two CI systems'
env-file rules, and the failure list the checks append to."""
import itertools
import os
import re
import threading

failures = []
lock = threading.Lock()


def say(message):
    with lock:
        print(message, flush=True)


def check(condition, message):
    if not condition:
        say(f"FAIL: {message}")
        failures.append(message)
    return condition


# ---- Reading the recipes -------------------------------------------------

class Step:
    def __init__(self, name, script, always=False, skip=None):
        self.name, self.script, self.always, self.skip = name, script, always, skip


class Job:
    def __init__(self, platform, name, key, env, steps, after=None,
                 dotenv=None, needs=None, stage=None, always=False):
        self.platform, self.name, self.key = platform, name, key
        self.env, self.steps, self.after = env, steps, after or []
        self.dotenv, self.needs, self.stage = dotenv, needs, stage
        self.always = always
        self.status = None
        self.exported = {}


def cmake_only(script):
    lines = [l.strip() for l in script.replace("\\\n", " ").splitlines()
             if l.strip() and not l.strip().startswith("#")]
    return lines and all(re.match(r"(cmake|ctest)\b", l) for l in lines)


def expand_github(text, matrix):
    def replace(match):
        expr = match.group(1).strip()
        if expr.startswith("matrix.") and expr[7:] in matrix:
            return str(matrix[expr[7:]])
        raise ValueError(f"expression ${{{{ {expr} }}}} is not evaluated here")
    return re.sub(r"\$\{\{(.*?)\}\}", replace, str(text))


def github_jobs(doc):
    jobs = []
    for key, job in doc["jobs"].items():
        matrix = job.get("strategy", {}).get("matrix", {})
        axes = {k: v for k, v in matrix.items() if isinstance(v, list)}
        combos = [dict(zip(axes, values))
                  for values in itertools.product(*axes.values())] or [{}]
        for combo in combos:
            name = key + "".join(f"[{v}]" for v in combo.values())
            env = {k: expand_github(v, combo) for k, v in job.get("env", {}).items()}
            steps = []
            for i, step in enumerate(job.get("steps", [])):
                label = step.get("name") or step.get("uses") or f"step {i + 1}"
                cond = str(step.get("if", "success()"))
                always = "always()" in cond
                if "uses" in step:
                    steps.append(Step(label, None, always,
                                      f"`uses: {step['uses']}` (the job folder is the checkout)"))
                elif cmake_only(step["run"]):
                    steps.append(Step(label, step["run"], always,
                                      "cmake/ctest of the user's own project (none here)"))
                else:
                    steps.append(Step(label, expand_github(step["run"], combo), always))
                    steps[-1].env = {k: expand_github(v, combo)
                                     for k, v in step.get("env", {}).items()}
            jobs.append(Job("github", name, key, env, steps))
    return jobs


def gitlab_jobs(doc):
    jobs = []
    for key, job in doc.items():
        if key.startswith(".") or not isinstance(job, dict) or "script" not in job:
            continue
        combos = [{}]
        for entry in job.get("parallel", {}).get("matrix", []):
            axes = {k: v if isinstance(v, list) else [v] for k, v in entry.items()}
            combos = [dict(zip(axes, values))
                      for values in itertools.product(*axes.values())]
        for combo in combos:
            name = key + (f": [{', '.join(map(str, combo.values()))}]" if combo else "")
            env = {k: str(v) for k, v in job.get("variables", {}).items()}
            env.update({k: str(v) for k, v in combo.items()})
            lines = list(job.get("before_script", [])) + list(job["script"])
            script = "set -eo pipefail\n" + "\n".join(lines)
            step = Step("script", script)
            if cmake_only("\n".join(lines)):
                step.skip = "cmake/ctest of the user's own project (none here)"
            after = ["set -eo pipefail\n" + "\n".join(job["after_script"])] \
                if job.get("after_script") else []
            jobs.append(Job("gitlab", name, key, env, [step], after,
                            job.get("artifacts", {}).get("reports", {}).get("dotenv"),
                            job.get("needs"), job.get("stage", "test"),
                            job.get("when") == "always"))
    return jobs


# ---- Env files, as the CI systems read them ------------------------------

def parse_github_env(text, where):
    """GitHub's rules: NAME=value (the value literal, to the end of the
    line) or NAME<<DELIMITER ... DELIMITER."""
    out, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq > 0 and (heredoc < 0 or eq < heredoc):
            key, value = line[:eq], line[eq + 1:]
        elif heredoc > 0:
            key, delim, value_lines = line[:heredoc], line[heredoc + 2:], []
            while i < len(lines) and lines[i] != delim:
                value_lines.append(lines[i])
                i += 1
            check(i < len(lines), f"{where}: {key}<<{delim} is not closed")
            i += 1
            value = "\n".join(value_lines)
        else:
            check(False, f"{where}: invalid line {line!r}")
            continue
        check(not re.match(r"""^(['"]).*\1$""", value),
              f"{where}: {key} would keep its quotes in GitHub: {value}")
        out[key] = value
    return out


def parse_gitlab_dotenv(path, where):
    """GitLab's rules: KEY=value lines only (no empty lines or comments),
    keys of ASCII letters, digits and _, values literal (quotes kept, no
    multi-line), at most 5 KB and (by default) 20 variables."""
    out = {}
    if not check(os.path.exists(path), f"{where}: no dotenv report {path}"):
        return out
    data = open(path, "rb").read()
    check(len(data) <= 5 * 1024, f"{where}: dotenv report over 5 KB")
    for line in data.decode("utf-8").splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not check(match, f"{where}: invalid dotenv line {line!r}"):
            continue
        value = match.group(2).strip()
        check(not re.match(r"""^(['"]).*\1$""", value),
              f"{where}: {match.group(1)} would keep its quotes in GitLab: {value}")
        out[match.group(1)] = value
    check(len(out) <= 20, f"{where}: {len(out)} variables, GitLab takes 20")
    return out
