#!/usr/bin/env bash
# The steps of racelab's CI templates (ci/github/action.yml, ci/gitlab/tsan-gate.yml), in
# one place. Each step is one argument; everything else comes from the environment:
#
#   ci/gate.sh deps        install RACELAB_PACKAGES with apt-get when one is missing, then
#                          check that python3 is 3.11 or newer (racelab's CLI needs nothing
#                          else: it is scripts/racelab beside this folder)
#   ci/gate.sh aslr        lower vm.mmap_rnd_bits to RACELAB_MMAP_RND_BITS (default 28; empty
#                          leaves it): above 28, TSan dies at start-up with "unexpected memory
#                          mapping". A runner that cannot lower it gets a warning; the
#                          self-check then says whether TSan can run
#   ci/gate.sh self-check  racelab gate --self-check: a planted race must be reported and its
#                          atomic twin must be clean, built with $CXX and $CXXFLAGS (set them
#                          for the job, and CMake builds with the same)
#   ci/gate.sh build       run RACELAB_BUILD (a shell script) when it is set
#   ci/gate.sh gate        racelab gate -- RACELAB_COMMAND, with RACELAB_BASELINE,
#                          RACELAB_SUPPRESSIONS, RACELAB_OUT (default tsan-reports),
#                          RACELAB_SHARD (K/N; GitLab's parallel:N sets it by itself),
#                          RACELAB_TIMEOUT and RACELAB_JOBS; with RACELAB_SHARD_COPY, the
#                          shard's results.json is copied there too (for the merge job)
#   ci/gate.sh merge       racelab merge of the results files RACELAB_MERGE names (paths or
#                          globs) into RACELAB_OUT; exit 2 when a shard is missing
#
# gate and merge exit as racelab does: 0 pass, 1 a new finding, 2 could not decide.
set -euo pipefail

RACELAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${RACELAB_OUT:-tsan-reports}"

racelab() {
  python3 "$RACELAB_ROOT/scripts/racelab" "$@"
}

say() {
  echo "racelab-ci: $*"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo -n "$@"
  fi
}

step_deps() {
  local missing=() package
  if ! command -v dpkg-query >/dev/null; then
    say "warning: no dpkg-query (not Debian or Ubuntu?): not checking ${RACELAB_PACKAGES:-}"
  else
    for package in ${RACELAB_PACKAGES:-}; do
      if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q ' installed$'; then
        missing+=("$package")
      fi
    done
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "error: racelab needs Python 3.11 or newer; this runner has" \
      "$(python3 --version 2>&1) (use a newer image, e.g. Ubuntu 24.04 or Debian 12)"
    exit 2
  fi
}

step_aslr() {
  local bits="${RACELAB_MMAP_RND_BITS-28}" current
  if [ -z "$bits" ]; then
    say "leaving vm.mmap_rnd_bits as it is"
    return
  fi
  current="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || true)"
  if [ -z "$current" ]; then
    say "warning: cannot read vm.mmap_rnd_bits; not changing it"
  elif [ "$current" -le "$bits" ]; then
    say "vm.mmap_rnd_bits is $current: TSan can start"
  elif as_root sysctl -q -w "vm.mmap_rnd_bits=$bits"; then
    say "lowered vm.mmap_rnd_bits from $current to $bits, so TSan can start"
  else
    say "warning: vm.mmap_rnd_bits is $current and cannot be lowered here (needs root);" \
      "TSan may die with 'unexpected memory mapping'"
  fi
}

step_self_check() {
  local code=0
  racelab gate --self-check --out "$OUT" || code=$?
  if [ "$code" -ne 0 ]; then
    say "the self-check failed (exit $code): TSan cannot be trusted on this runner with" \
      "this compiler and these flags, so no gate runs (see the lines above)"
    exit "$code"
  fi
}

step_build() {
  if [ -n "${RACELAB_BUILD:-}" ]; then
    bash -euo pipefail -c "$RACELAB_BUILD"
  fi
}

# The words of RACELAB_COMMAND, split as a POSIX shell would (quotes kept, nothing run).
command_words() {
  python3 -c 'import shlex, sys; print("\0".join(shlex.split(sys.argv[1])), end="")' \
    "$RACELAB_COMMAND"
}

step_gate() {
  local args=(--out "$OUT") shard="${RACELAB_SHARD:-}" words=() code=0
  if [ -z "${RACELAB_COMMAND:-}" ]; then
    say "error: RACELAB_COMMAND is empty: nothing to gate"
    exit 2
  fi
  if ! command_words >/dev/null; then
    say "error: cannot split RACELAB_COMMAND into words: $RACELAB_COMMAND"
    exit 2
  fi
  mapfile -d '' -t words < <(command_words)
  if [ -z "$shard" ] && [ "${CI_NODE_TOTAL:-1}" -gt 1 ]; then
    shard="${CI_NODE_INDEX}/${CI_NODE_TOTAL}"
  fi
  [ -n "${RACELAB_BASELINE:-}" ] && args+=(--baseline "$RACELAB_BASELINE")
  [ -n "${RACELAB_SUPPRESSIONS:-}" ] && args+=(--suppressions "$RACELAB_SUPPRESSIONS")
  [ -n "${RACELAB_TIMEOUT:-}" ] && args+=(--timeout "$RACELAB_TIMEOUT")
  [ -n "${RACELAB_JOBS:-}" ] && args+=(--jobs "$RACELAB_JOBS")
  [ -n "$shard" ] && args+=(--shard "$shard")
  racelab gate "${args[@]}" -- "${words[@]}" || code=$?
  if [ -n "${RACELAB_SHARD_COPY:-}" ] && [ -f "$OUT/results.json" ]; then
    mkdir -p "$RACELAB_SHARD_COPY"
    shard="${shard:-1/1}"
    cp "$OUT/results.json" "$RACELAB_SHARD_COPY/shard-${shard/\//-of-}.json"
  fi
  explain "$code"
}

step_merge() {
  local files=() pattern
  shopt -s nullglob
  for pattern in ${RACELAB_MERGE:-}; do
    # shellcheck disable=SC2206  # each pattern is a glob on purpose
    files+=($pattern)
  done
  shopt -u nullglob
  if [ "${#files[@]}" -eq 0 ]; then
    say "error: no results file matches RACELAB_MERGE='${RACELAB_MERGE:-}': nothing to merge"
    exit 2
  fi
  all_shards "${files[@]}"
  local code=0
  racelab merge --out "$OUT" "${files[@]}" || code=$?
  explain "$code"
}

# Fail closed when a shard is missing (its job died before the gate wrote results.json):
# the files of a K/N gate must hold each shard 1..N exactly once.
all_shards() {
  python3 - "$@" <<'PY' || exit 2
import json, sys
shards = [(json.load(open(path)).get("gate") or {}).get("shard") for path in sys.argv[1:]]
totals = {s.split("/")[1] for s in shards if s}
if totals:
    n = int(min(totals))
    want = [f"{k}/{n}" for k in range(1, n + 1)]
    if len(totals) > 1 or sorted(shards, key=str) != sorted(want):
        sys.exit(f"racelab-ci: error: the results are shards {sorted(shards, key=str)}, "
                 f"not each of {want} once: a shard is missing or repeated")
PY
}

explain() {
  case "$1" in
    0) say "pass (exit 0): no new finding; reports in $OUT" ;;
    1) say "refused (exit 1): a new finding (see $OUT/summary.md); fix it, or accept it" \
         "with 'racelab baseline update --reason TEXT $OUT/results.json'" ;;
    *) say "could not decide (exit $1): see the errors above and $OUT/summary.md" ;;
  esac
  exit "$1"
}

case "${1:-}" in
  deps) step_deps ;;
  aslr) step_aslr ;;
  self-check) step_self_check ;;
  build) step_build ;;
  gate) step_gate ;;
  merge) step_merge ;;
  *)
    echo "usage: ci/gate.sh deps|aslr|self-check|build|gate|merge" >&2
    exit 2
    ;;
esac
