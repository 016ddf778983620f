"""racelab's command line (scripts/racelab): build, run, parse and report.

Modules: cli (argument parsing, one pipeline per command), deps (Debian packages), build
(cmake presets), catalog (scenario manifests), runner (servers under load), gate (any
project's TSan run), tsan_env (the TSAN_OPTIONS both set), parse and patterns (sanitizer
output), baseline (known findings), suppressions (TSan suppression files), diff (two
results compared), model (dataclasses), reports (one writer module per format), progress
(display). Standard library only.
"""
