"""TSAN_OPTIONS and GORACE as `racelab run` and `racelab gate` set them (docs/reference.md,
"TSAN_OPTIONS and GORACE")."""

from __future__ import annotations

from pathlib import Path

from racelab_cli import collect, tsan_env


def test_tsan_options_keep_user_keys_and_ours_win(tmp_path: Path) -> None:
    options = tsan_env.tsan_options(tmp_path / "tsan", "halt_on_error=1:verbosity=1,color=never",
                                    symbolizers=())
    assert options == (f"halt_on_error=0 verbosity=1 color=never log_path={tmp_path / 'tsan'} "
                       "history_size=7 second_deadlock_stack=1 detect_deadlocks=1 "
                       "report_thread_leaks=1 exitcode=66")


def test_tsan_options_add_a_symbolizer_unless_the_user_set_one(tmp_path: Path) -> None:
    symbolizer = tmp_path / "llvm-symbolizer"
    symbolizer.write_text("#!/bin/sh\n")
    symbolizer.chmod(0o755)
    chosen = tsan_env.tsan_options(tmp_path / "tsan", None,
                                   symbolizers=("/nope", str(symbolizer)))
    assert f"external_symbolizer_path={symbolizer}" in chosen.split()
    kept = tsan_env.tsan_options(tmp_path / "tsan", "external_symbolizer_path=/mine",
                                 symbolizers=(str(symbolizer),))
    assert "external_symbolizer_path=/mine" in kept.split()
    assert str(symbolizer) not in kept


def test_instrumented_env_never_hands_racelab_suppressions_to_the_runtime(
        tmp_path: Path) -> None:
    env = collect.instrumented_env({"TSAN_OPTIONS": "verbosity=1", "HOME": "/h"}, tmp_path)
    options = env["TSAN_OPTIONS"].split()
    assert f"log_path={tmp_path / 'tsan'}" in options and "verbosity=1" in options
    assert not any(o.startswith(("suppressions=", "print_suppressions=")) for o in options)
    assert env["HOME"] == "/h"


def test_tsan_options_keep_the_users_suppressions_and_print_their_matches(
        tmp_path: Path) -> None:
    options = tsan_env.tsan_options(tmp_path / "tsan", "suppressions=/s.txt",
                                    symbolizers=()).split()
    assert "suppressions=/s.txt" in options and "print_suppressions=1" in options
    quiet = tsan_env.tsan_options(tmp_path / "tsan", "suppressions=/s.txt print_suppressions=0",
                                  symbolizers=()).split()
    assert "print_suppressions=0" in quiet


def test_tsan_options_quote_paths_with_separators(tmp_path: Path) -> None:
    options = tsan_env.tsan_options(tmp_path / "a b:c" / "tsan", None, symbolizers=())
    assert f'log_path="{tmp_path / "a b:c" / "tsan"}"' in options


def test_gorace_keeps_user_keys_and_ours_win(tmp_path: Path) -> None:
    options = tsan_env.gorace_options(tmp_path / "tsan",
                                      "halt_on_error=1 atexit_sleep_ms=0,strip_path_prefix=/src")
    assert options == (f"halt_on_error=0 atexit_sleep_ms=0 strip_path_prefix=/src "
                       f"log_path={tmp_path / 'tsan'} exitcode=66 verbosity=1")
    assert "verbosity=2" in tsan_env.gorace_options(tmp_path / "tsan", "verbosity=2").split()
    quoted = tsan_env.gorace_options(tmp_path / "a b" / "tsan", None)
    assert quoted.startswith(f'log_path="{tmp_path / "a b" / "tsan"}" ')


def test_instrumented_env_points_go_programs_at_the_same_folder(tmp_path: Path) -> None:
    env = collect.instrumented_env({"GORACE": "history_size=3 log_path=/elsewhere"}, tmp_path)
    options = tsan_env.parse_options(env["GORACE"])
    assert options == {"history_size": "3", "log_path": str(tmp_path / "tsan"),
                       "halt_on_error": "0", "exitcode": "66", "verbosity": "1"}
    assert f"log_path={tmp_path / 'tsan'}" in env["TSAN_OPTIONS"].split()
    under_ctest = collect.instrumented_env({}, tmp_path, report_exit_code=0)
    assert tsan_env.parse_options(under_ctest["GORACE"])["exitcode"] == "0"
    assert "GORACE" not in collect.instrumented_env({}, tmp_path, sanitizer="asan")


def test_the_pipeline_uses_the_shared_tsan_options() -> None:
    assert collect.tsan_options is tsan_env.tsan_options
    assert collect.TSAN_EXIT_CODE == tsan_env.TSAN_EXIT_CODE == 66
