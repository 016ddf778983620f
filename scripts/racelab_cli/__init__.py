"""racelab's command line (scripts/racelab): build, run, parse and report.

Modules: cli (argument parsing, one pipeline per command), deps (Debian packages), build
(cmake presets), catalog (scenario manifests), runner (servers under load), parse and
patterns (sanitizer output), model (dataclasses), reports (writers), progress (display).
Standard library only.
"""
