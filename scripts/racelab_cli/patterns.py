"""Every regular expression racelab uses, compiled once, with a comment per group.

The parser (parse.py), the runner (runner.py) and the build step (build.py) import these
names; nothing else in the package compiles a pattern of its own.
"""

from __future__ import annotations

import re

# --- Noise that CI systems and terminals add to every line --------------------------------

# A timestamp that CI log viewers prepend, e.g. "2024-05-01T12:00:03.0012340Z " (GitHub
# Actions) or "2024-05-01 12:00:03.001 " / "[2024-05-01T12:00:03Z] ".
#   (no groups) the whole prefix, including the separating space, is removed.
CI_TIMESTAMP = re.compile(
    r"^\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s")

# An ANSI escape sequence (colours from TSAN_OPTIONS=color=always, cursor moves).
#   (no groups) removed wherever it appears.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# --- Report blocks -------------------------------------------------------------------------

# The separator TSan prints before and after each report.
#   (no groups) a line of 18 "=" (we accept 10 or more).
SEPARATOR = re.compile(r"^={10,}\s*$")

# The headline that opens a report: "WARNING: ThreadSanitizer: data race (pid=2839)".
#   headline: what the tool says happened, as printed ("lock-order-inversion (potential
#             deadlock)"); the kind slug is derived from it.
#   pid:      the reporting process.
WARNING_HEADLINE = re.compile(
    r"^\s*WARNING: ThreadSanitizer: (?P<headline>.*?)\s*\(pid=(?P<pid>\d+)\)\s*$")

# The line that closes a report's body: "SUMMARY: ThreadSanitizer: data race x.cc:4 in f".
#   summary: everything after the prefix, kept verbatim.
SUMMARY = re.compile(r"^\s*SUMMARY: ThreadSanitizer: (?P<summary>.*?)\s*$")

# The opening of a fatal runtime error: "==3021==ERROR: ThreadSanitizer: SEGV on unknown
# address 0x000000000000 (pc 0x55e1 bp 0x1 sp 0x7ffd T3021)".
#   pid:      the "==PID==" prefix.
#   headline: the description after "ThreadSanitizer: ", as printed.
ERROR_HEADLINE = re.compile(
    r"^\s*==(?P<pid>\d+)==ERROR: ThreadSanitizer: (?P<headline>.*?)\s*$")

# A headline that means the process died of a signal (kind "deadly-signal").
#   signal: the signal name TSan printed ("SEGV", "BUS", "FPE", "ILL", "ABRT", "TRAP").
DEADLY_SIGNAL_HEADLINE = re.compile(
    r"^(?P<signal>[A-Z]+) on unknown address\b|^deadly signal\b", re.IGNORECASE)

# The line TSan prints before a deadly-signal report: "ThreadSanitizer:DEADLYSIGNAL".
#   (no groups)
DEADLY_SIGNAL_MARKER = re.compile(r"^\s*ThreadSanitizer:DEADLYSIGNAL\s*$")

# The line that closes a fatal runtime error: "==3021==ABORTING".
#   pid: must match the pid of the ERROR line.
ABORTING = re.compile(r"^\s*==(?P<pid>\d+)==ABORTING\s*$")

# A "==PID==" prefixed detail line inside a fatal error ("==3021==Hint: ...").
#   pid:  the process.
#   text: the rest of the line.
PID_PREFIXED = re.compile(r"^\s*==(?P<pid>\d+)==(?P<text>.*)$")

# The title that opens a stack inside a report: two spaces, text, a final colon, e.g.
# "  Write of size 4 at 0x55d9d21f26a8 by thread T2:" or
# "  Mutex M1 acquired here while holding mutex M0 in thread T1:".
#   title: the text without the indentation and the colon.
STACK_TITLE = re.compile(r"^ {2,4}(?P<title>\S.*?):\s*$")

# A stack title that names one of the conflicting memory accesses of a race.
#   (no groups) "Write of size 4 ...", "Previous read of size 8 ...",
#   "Atomic write of size 4 ...", "Previous atomic read ...".
ACCESS_TITLE = re.compile(r"^(?:previous\s+)?(?:atomic\s+)?(?:read|write)\b", re.IGNORECASE)

# A stack title that names one edge of a lock-order cycle.
#   (no groups) "Mutex M1 acquired here while holding mutex M0 in thread T1".
LOCK_EDGE_TITLE = re.compile(r"^Mutex \S+ acquired here while holding mutex\b")

# --- Frames --------------------------------------------------------------------------------

# One frame line: "    #3 std::mutex::lock() /usr/include/c++/12/bits/std_mutex.h:100:17
# (lock_order+0xd4546) (BuildId: 0fa3...)". The body is split further from the right.
#   index: the frame number.
#   body:  everything after "#N ".
FRAME = re.compile(r"^\s*#(?P<index>\d+)\s+(?P<body>.*?)\s*$")

# The optional "0x55d9d21f26a8 in " that ASan-style symbolizers put before the function.
#   (no groups) removed from the start of a frame body.
FRAME_PC_PREFIX = re.compile(r"^0x[0-9a-fA-F]+\s+(?:in\s+)?")

# The optional build id at the end of a frame body: " (BuildId: caf5984b...)".
#   (no groups) removed.
FRAME_BUILD_ID = re.compile(r"\s*\(BuildId:\s*[0-9a-fA-F]+\)$")

# The module at the end of a frame body: " (data_race+0xd467f)", " (libc.so.6+0x27249)",
# " (<unknown module>)". An offset is required, so "f(int)" is never taken for a module.
#   module: the module as printed, without the offset (absent for "<unknown module>").
FRAME_MODULE = re.compile(
    r"\s*\((?:(?P<module>[^()]*?)\+0x[0-9a-fA-F]+|<unknown module>)\)$")

# The source location: the last blank-separated token of what is left, e.g.
# "/work/x.cc:17:55", "../tsan_interceptors_posix.cpp:1001" or "<null>".
#   location: that token.
FRAME_LOCATION = re.compile(r"\s+(?P<location><null>|\S+:\d+(?::\d+)?)$")

# A location split into its parts.
#   file:   the path as printed.
#   line:   the line number.
#   column: the column (clang prints it, GCC does not).
LOCATION_PARTS = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<column>\d+))?$")

# --- Function name normalisation (for fingerprints) --------------------------------------

# "(anonymous namespace)::" as clang prints it; GCC's libbacktrace leaves it out, so it is
# dropped (before parentheses are stripped) and both compilers give the same name.
#   (no groups)
ANONYMOUS_NAMESPACE = re.compile(r"\(anonymous namespace\)(?:::)?")

# C++ operator names whose spelling contains brackets or parentheses; protected before
# template and argument lists are stripped, e.g. "operator()" or "operator<<".
#   op: the operator's symbol(s).
OPERATOR_NAME = re.compile(r"operator\s*(?P<op>\(\)|\[\]|<=>|<<=?|>>=?|<=?|>=?|->\*?)")

# An innermost template argument list "<...>" or argument list "(...)".
#   (no groups) removed repeatedly until none is left, so nesting is handled.
INNERMOST_ANGLES = re.compile(r"<[^<>]*>")
INNERMOST_PARENS = re.compile(r"\([^()]*\)")

# Qualifiers after a member function's argument list: " const", " &&", " noexcept".
#   (no groups) removed from the end.
TRAILING_QUALIFIERS = re.compile(r"(?:\s*(?:const|volatile|noexcept|&&|&))+\s*$")

# Hex addresses and line numbers that can leak into a function name
# ("foo+0x1a", "lambda at x.cc:12:3").
#   (no groups) removed.
ADDRESS_OR_LINE = re.compile(r"\+?0x[0-9a-fA-F]+|:\d+(?::\d+)?")

# --- Runtime frames (ignored for top_frame and fingerprints) ------------------------------

# Functions of the sanitizer runtime, its interceptors and the C runtime's entry points.
#   (no groups) matched at the start of the function name.
#   __tsan / __sanitizer / __asan / __ubsan / __lsan: the sanitizer runtimes themselves;
#   __interceptor_ / ___interceptor_: interceptors as named in GCC's libtsan;
#   __libc_ / __GI_ / _start / start_thread / clone: glibc's thread and process entry;
#   __cxa_ / __gthread_ / __gnu_cxx:: / std::: the C++ runtime and libstdc++ internals
#   (std::thread::_State_impl, std::__invoke, std::mutex::lock, std::lock_guard, ...).
RUNTIME_FUNCTION = re.compile(
    r"^(?:__tsan|__sanitizer|__asan|__ubsan|__lsan|__interceptor_|___interceptor_"
    r"|__libc_|__GI_|_start\b|start_thread\b|__?clone\d*\b|__cxa_|__gthread_"
    r"|__gnu_cxx::|std::|<null>$)")

# libc / pthread functions that TSan intercepts: in clang's static runtime they show up as
# plain names ("pthread_create <null> (server+0x533fd)") inside the program's own module.
#   (no groups) the whole function name.
INTERCEPTED_LIBC_FUNCTION = re.compile(
    r"^(?:pthread_\w+|malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign"
    r"|valloc|memcpy|memmove|memset|memcmp|strlen|strcpy|strncpy|strcmp|strncmp|strdup"
    r"|operator new(?:\[\])?|operator delete(?:\[\])?|sleep|usleep|nanosleep|close|read"
    r"|write|send|recv|sendmsg|recvmsg|epoll_wait|poll|select|abort|exit|_exit|raise"
    r"|kill|signal|sigaction|fork|dlopen|dlclose|atexit|__cxa_atexit)$")

# Modules that are the runtime, the C library or the C++ library.
#   (no groups) searched in the module name as printed ("libstdc++.so.6", "libc.so.6",
#   "libtsan.so.2", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libc++.so.1").
RUNTIME_MODULE = re.compile(
    r"(?:^|/)(?:libc|libm|libpthread|libdl|librt|libstdc\+\+|libc\+\+|libc\+\+abi"
    r"|libgcc_s|libtsan|libasan|libubsan|ld-linux[\w-]*)[.-]")

# Source files that belong to the runtime or the standard libraries.
#   (no groups) searched in the file path: libstdc++ headers, compiler-rt / libsanitizer
#   sources, glibc sources (csu/, sysdeps/, nptl/).
RUNTIME_FILE = re.compile(
    r"/include/c\+\+/|/libsanitizer/|compiler-rt/|(?:^|/)(?:csu|sysdeps|nptl)/")

# A module that marks GCC's runtime (libtsan.so) rather than clang's static one.
#   (no groups)
GCC_TSAN_MODULE = re.compile(r"(?:^|/)libtsan\.so|/libsanitizer/")

# --- Manifests -----------------------------------------------------------------------------

# A finding kind as a manifest names it: lowercase words joined by "-" ("data-race").
#   (no groups)
KIND_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# --- Runner --------------------------------------------------------------------------------

# The line every scenario server prints once it accepts connections:
# "racelab: listening on 127.0.0.1:39011".
#   host: the address it bound (IPv6 in brackets).
#   port: the port it bound.
LISTENING_LINE = re.compile(
    r"^racelab: listening on (?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:]+):(?P<port>\d+)\s*$")

# One option in a TSAN_OPTIONS string ("halt_on_error=0 log_path='/tmp/x y'"); the
# sanitizer runtime separates options by blanks, ':' or ','.
#   key:   the option name.
#   value: its value, quotes included when it was quoted.
TSAN_OPTION = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s:,]*)")

# --- Build and test output -----------------------------------------------------------------

# Ninja's progress prefix: "[12/87] Building CXX object ...".
#   done:  steps finished.
#   total: steps planned.
NINJA_PROGRESS = re.compile(r"^\[(?P<done>\d+)/(?P<total>\d+)\]\s")

# ctest's closing line: "100% tests passed, 0 tests failed out of 12".
#   (no groups) the whole line is reprinted.
CTEST_SUMMARY = re.compile(r"^\d+% tests passed, \d+ tests? failed out of \d+\s*$")

# pytest's closing line: "============ 42 passed, 1 skipped in 3.21s ============".
#   (no groups) the whole line is reprinted.
PYTEST_SUMMARY = re.compile(r"^=+ .*\b(?:passed|failed|error|errors|no tests ran)\b.* in "
                            r"[\d.]+s(?: \([\d:]+\))? =+\s*$")

# racelab run's closing line: "racelab: verdict pass (1 scenario: ...)".
#   (no groups) the whole line is reprinted.
RUN_SUMMARY = re.compile(r"^racelab: verdict \w+\b.*$")
