"""`racelab show NAME`: reason, diff and last findings of one pair, running it when no run
of it is on record."""

from __future__ import annotations

from conftest import FakeTree, run_racelab

README = """# counter

**Reason.** Two handlers bump one plain integer
at once, and hits are lost.

**Bad** ...
"""


def add_sources(tree: FakeTree) -> None:
    (tree.root / "scenarios" / "counter" / "README.md").write_text(README)
    (tree.root / "scenarios" / "counter" / "counter.cc").write_text(
        "// counter: x\nint hits = 0;\nvoid Hit() { ++hits; }  // RACE: unguarded\n")
    fixes = tree.root / "fixes" / "counter"
    fixes.mkdir(parents=True)
    (fixes / "counter.cc").write_text(
        "// counter: x\nint hits = 0;\nvoid Hit() { Bump(hits); }  // FIX: atomic\n")


def show(tree: FakeTree):
    return run_racelab("show", "counter", "--root", str(tree.root), "--out", str(tree.out),
                       "--build-dir", str(tree.build), "--no-build")


def test_show_runs_the_pair_when_no_run_is_on_record_then_shows_it(
        fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    add_sources(fake_tree)
    done = show(fake_tree)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "racelab: no run of counter in " \
        f"{fake_tree.out / 'results.json'}: running it"
    assert "Reason: Two handlers bump one plain integer at once, and hits are lost." in lines
    assert "-void Hit() { ++hits; }  // RACE: unguarded" in lines
    assert "+void Hit() { Bump(hits); }  // FIX: atomic" in lines
    [finding] = [line for line in lines if line.startswith("  bad: ")]
    assert finding.startswith("  bad: data-race (expected) x1 at ")
    assert "WriterAlpha" in finding or "WriterBeta" in finding


def test_show_uses_the_last_run_without_running_again(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    add_sources(fake_tree)
    assert fake_tree.run().returncode == 0
    (fake_tree.bin / "counter_bad").unlink()  # a new run would now fail
    done = show(fake_tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "running it" not in done.stdout
    assert "  bad: data-race (expected) x1 at " in done.stdout


def test_show_exits_2_for_an_unknown_pair(fake_tree: FakeTree) -> None:
    fake_tree.add_scenario()
    done = run_racelab("show", "nosuch", "--root", str(fake_tree.root))
    assert done.returncode == 2
    assert "unknown scenario 'nosuch'" in done.stderr
