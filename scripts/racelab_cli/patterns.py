"""Every regular expression racelab uses, compiled once, with a comment per group.

Every module imports these names; nothing else in the package compiles a pattern of its own.
Patterns that come from data (a manifest's function regex, a suppression's template) are
compiled here too, by `user_regex` and `suppression_regex`, each cached. The parser's hot path
tests cheap substrings first ("Sanitizer" in line, line[:1] == "#") and reaches for these
patterns only on lines that can match.
"""

from __future__ import annotations

import functools
import re

# --- Noise that CI systems and terminals add to every line --------------------------------

# A timestamp that CI log viewers prepend: GitHub Actions / Azure "2024-05-01T12:00:03.0012340Z ",
# ISO "2024-05-01 12:00:03,001 ", "[2024-05-01T12:00:03Z] ", GitLab's "2024-05-01T12:00:03.001Z
# 00O " (stream number, O or E, "+" for a continued line), and a bare "[12:00:01] " or
# "[12:00:01.250] " (Jenkins timestamper, Buildkite).
#   (no groups) the whole prefix, including the separating blank, is removed.
CI_TIMESTAMP = re.compile(
    r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?"
    r"(?: [0-9a-f]{2}[OE]\+?)?"
    r"|\[\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\])\s")

# An ANSI escape sequence (colours from TSAN_OPTIONS=color=always, GitLab's "\x1b[0K").
#   (no groups) removed wherever it appears.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")

# --- Report blocks -------------------------------------------------------------------------


# The headline that opens a TSan report, searched from where "WARNING: ThreadSanitizer: "
# starts (whatever precedes it, e.g. ctest's "3: ", is the block's line prefix):
# "WARNING: ThreadSanitizer: data race (pid=2839)". Whatever follows the first "(pid=N)" is
# another process's output glued to the line ("(pid=2839)[ 41%] Built target x"), not part
# of the headline.
#   headline: what the tool says happened, as printed ("lock-order-inversion (potential
#             deadlock)"); the kind slug is derived from it.
#   pid:      the reporting process.
WARNING_HEADLINE = re.compile(
    r"WARNING: ThreadSanitizer: (?P<headline>.*?)\s*\(pid=(?P<pid>\d+)\)")

# The headline of a Go race detector report: "WARNING: DATA RACE", alone on its line.
#   headline: "DATA RACE" (kind data-race by the slug rule).
GO_HEADLINE = re.compile(r"WARNING: (?P<headline>DATA RACE)\s*$")

# The SUMMARY line near the end of a report: "SUMMARY: ThreadSanitizer: data race x.cc:4 in f".
#   summary: everything after the prefix, kept verbatim.
SUMMARY = re.compile(r"^\s*SUMMARY: ThreadSanitizer: (?P<summary>.*?)\s*$")

# The opening of a fatal runtime error, searched from its "==PID==": "==3021==ERROR:
# ThreadSanitizer: SEGV on unknown address 0x000000000000 (pc 0x55e1 bp 0x1 sp 0x7ffd T3021)".
#   pid:      the "==PID==" prefix.
#   headline: the description after "ThreadSanitizer: ", as printed.
ERROR_HEADLINE = re.compile(
    r"==(?P<pid>\d+)==ERROR: ThreadSanitizer: (?P<headline>.*?)\s*$")

# The opening of an AddressSanitizer or LeakSanitizer report (the asan preset), searched
# from its "==PID==": "==14111==ERROR: AddressSanitizer: heap-use-after-free on address
# 0x6020 at pc 0x56 bp 0x7f sp 0x7f", "==14118==ERROR: LeakSanitizer: detected memory leaks".
#   pid:      the "==PID==" prefix.
#   headline: the description after the tool's name, as printed.
ASAN_HEADLINE = re.compile(
    r"==(?P<pid>\d+)==ERROR: (?:AddressSanitizer|LeakSanitizer): (?P<headline>.*?)\s*$")

# The SUMMARY line that closes an AddressSanitizer or LeakSanitizer report (what follows it,
# the shadow bytes, is no part of the report): "SUMMARY: AddressSanitizer: heap-use-after-free
# /src/x.cc:6:23 in main".
#   summary: everything after the prefix, kept verbatim.
ASAN_SUMMARY = re.compile(r"^\s*SUMMARY: AddressSanitizer: (?P<summary>.*?)\s*$")

# A headline that means the process died of a signal (kind "deadly-signal").
#   signal: the signal name TSan printed ("SEGV", "BUS", "FPE", "ILL", "ABRT", "TRAP").
DEADLY_SIGNAL_HEADLINE = re.compile(
    r"^(?P<signal>[A-Z]+) on unknown address\b|^deadly signal\b", re.IGNORECASE)


# The line that closes a fatal runtime error: "==3021==ABORTING".
#   pid: must match the pid of the ERROR line.
ABORTING = re.compile(r"^\s*==(?P<pid>\d+)==ABORTING\s*$")


# The runtime itself failing, which leaves a log that says nothing about races:
# "ThreadSanitizer: CHECK failed: tsan_rtl.cpp:123 ...", "FATAL: ThreadSanitizer: unexpected
# memory mapping 0x7f..." (high ASLR entropy on newer kernels), "==7==ERROR: ThreadSanitizer
# failed to allocate 0x1000 (4096) bytes of ...".
#   failure: the text from "ThreadSanitizer" on.
RUNTIME_FAILURE = re.compile(
    r"(?P<failure>ThreadSanitizer: CHECK failed:.*|(?<=FATAL: )ThreadSanitizer.*"
    r"|ThreadSanitizer(?:'s allocator)?:? .*?\bfailed to (?:allocate|map|mmap|reserve)\b.*)$")

# The runtime dying at start-up because the kernel placed a mapping where its shadow memory
# must go (high vm.mmap_rnd_bits on recent kernels): "FATAL: ThreadSanitizer: unexpected
# memory mapping 0x7f1c2a000000-0x7f1c2a400000".
#   (no groups)
UNEXPECTED_MAPPING = re.compile(r"unexpected memory mapping")

# The runtime's note that a symbolization did not fit its buffer: frames printed after it
# may carry another address's name (Asio's deep inline chains do this).
#   (no groups)
SYMBOLIZER_BUFFER_TOO_SMALL = re.compile(rb"Symbolizer buffer too small")

# The count a process prints at exit: "ThreadSanitizer: reported 3 warnings" (TSan) or
# "Found 2 data race(s)" (Go). Fewer parsed reports than announced means some were lost.
#   tsan: the number TSan announced.
#   go:   the number Go's race detector announced.
REPORTED_COUNT = re.compile(
    r"(?:ThreadSanitizer: reported (?P<tsan>\d+) warnings?|Found (?P<go>\d+) data race\(s\))\s*$")


# A stack title that names one of the conflicting accesses of a race.
#   (no groups) "Write of size 4 ...", "Previous read of size 8 ...", "Atomic write of size
#   4 ...", Go's "Write at 0x... by goroutine 7", and the external-object API's "Modifying
#   access of Document at ..." / "Previous read-only access of ...".
ACCESS_TITLE = re.compile(
    r"^(?:previous\s+)?(?:atomic\s+)?(?:read|write|modifying access|read-only access)\b",
    re.IGNORECASE)

# A stack title that names one edge of a lock-order cycle.
#   (no groups) "Mutex M1 acquired here while holding mutex M0 in thread T1".
LOCK_EDGE_TITLE = re.compile(r"^Mutex \S+ acquired here while holding mutex\b")

# The line the runtime writes into its log at start-up with verbosity=1: the proof that a
# process was instrumented. TSan: "***** Running under ThreadSanitizer v3 (pid 29434) *****";
# ASan: "==29434==AddressSanitizer Init done". Go's race runtime (TSan's, built for Go)
# writes the very same TSan line with GORACE verbosity=1.
#   (no groups)
RUNTIME_STARTED = re.compile(r"\*+ Running under ThreadSanitizer v\d+ \(pid \d+\)"
                             r"|==\d+==AddressSanitizer Init done")

# The suffix of a log_path file: "tsan.12345" (TSan appends ".PID" to log_path).
#   pid: the process that wrote the file.
LOG_PATH_PID = re.compile(r"\.(?P<pid>\d+)$")

# --- Frames --------------------------------------------------------------------------------
# The hot path splits a frame body from the right with string methods (parse._split_frame):
# " (BuildId: ...)", then " (module+0xoffset)", then the last blank-separated token as the
# location ("/x.cc:17:55", "../tsan_interceptors_posix.cpp:1001", a bare file
# "tsan_interceptors_posix.cpp.o", or "<null>"), the rest being the function. These
# patterns serve the parts that need one.

# One frame line: "    #3 std::mutex::lock() /usr/include/c++/12/bits/std_mutex.h:100:17
# (lock_order+0xd4546) (BuildId: 0fa3...)". The body is split further from the right.
#   index: the frame number.
#   body:  everything after "#N ".
FRAME = re.compile(r"^\s*#(?P<index>\d+)\s+(?P<body>.*?)\s*$")

# The optional "0x55d9d21f26a8 in " that ASan-style stack_trace_format puts before the
# function.
#   (no groups) removed from the start of a frame body.
FRAME_PC_PREFIX = re.compile(r"^0x[0-9a-fA-F]+(?:\s+in\b)?\s*")

# The module at the end of a frame body, without the parentheses: "data_race+0xd467f",
# "libc.so.6+0x27249", "/tmp/x/server+0x12", and on Darwin with the architecture of the
# image: "libsystem_pthread.dylib:arm64e+0x6f94", "a.out:x86_64+0x100003f54".
#   module: the module as printed, without the architecture.
#   arch:   Darwin's architecture suffix, when there is one (dropped).
#   offset: the hexadecimal offset in it.
FRAME_MODULE = re.compile(r"^(?P<module>[^()]*?)(?::(?P<arch>x86_64h?|i386|arm64(?:e|_32)?"
                          r"|armv7[sk]?))?\+0x(?P<offset>[0-9a-fA-F]+)$")

# A module or source file that marks GCC's runtime (libtsan.so) rather than clang's static one.
#   (no groups)
GCC_TSAN_MODULE = re.compile(r"(?:^|/)libtsan\.so|/libsanitizer/")

# A character that a file path in a frame never has (a function's argument or template
# list does): a last token like "int)" or "f<int>" is not a location but part of the name.
#   (no groups)
NOT_A_PATH = re.compile(r"[()<>\[\]]")

# The location line under a Go frame, matched without its indentation (a paste may have
# lost it): "/src/x.go:12 +0x44", "_testmain.go:49 +0x2e9".
#   file: the path.
#   line: the line number.
GO_LOCATION = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?$")

# A Go frame's function line, without its indentation: "main.(*Stats).Hit()",
# "racelab.test/hits.TestRacyHits.func1()", "main.f(0xc000012345, 0x1)" (older toolchains):
# a name without blanks or ":" ending in an argument list.
#   (no groups)
GO_FUNCTION = re.compile(r"^[^\s:]+\(.*\)$")

# --- Function name normalisation (for fingerprints) --------------------------------------

# "(anonymous namespace)::" as clang prints it; GCC's libbacktrace leaves it out, so it is
# dropped (before parentheses are stripped) and both compilers give the same name.
#   (no groups)
ANONYMOUS_NAMESPACE = re.compile(r"\(anonymous namespace\)(?:::)?")

# Tags that the demangler appends: GCC clones "[clone .cold]" / "[clone .constprop.0]" and
# ABI tags "[abi:cxx11]".
#   (no groups) removed.
FUNCTION_TAG = re.compile(r"\s*\[(?:clone\b|abi:)[^\]]*\]")

# Clone suffixes left on a raw symbol: "Handle.cold", "Parse.constprop.0", "f.isra.0",
# "g.part.1", "h.lto_priv.0", "k.localalias".
#   (no groups) removed.
CLONE_SUFFIX = re.compile(r"(?:\.(?:cold|constprop|isra|part|lto_priv|localalias|clone)"
                          r"(?:\.\d+)*)+(?=$|[(\s<])")

# A lambda's or an unnamed type's compiler-chosen name: GCC "{lambda(int)#1}" and
# "<lambda(int)>" (in template arguments), clang "'lambda'(int)", "'lambda0'()" and "$_0",
# GCC "{unnamed type#1}" and clang "'unnamed'"; each becomes the word it names, so renumbering
# (another lambda added above) does not change a fingerprint.
#   kind: "lambda" or "unnamed".
LAMBDA_NAME = re.compile(
    r"\{(?P<kind>lambda)\((?:[^()]|\([^()]*\))*\)#\d+\}"
    r"|<(?P<kind2>lambda)\((?:[^()]|\([^()]*\))*\)>"
    r"|'(?P<kind3>lambda|unnamed)\d*'(?:\((?:[^()]|\([^()]*\))*\))?"
    r"|\{(?P<kind4>unnamed) type#\d+\}"
    r"|\$_\d+")

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
ADDRESS_OR_LINE = re.compile(r"\+?0x[0-9a-fA-F]+|:\d+(?::\d+)?(?!:)")

# Go: the argument list at the end of a frame's function ("main.f(0xc000012345, 0x1)" in
# older toolchains, "main.f()" in the race detector's), a closure's number ("main.main.func1",
# "main.F.func2.1", "main.main.gowrap1") and type parameters ("main.Map[...].Get").
#   (no groups) GO_ARGUMENTS and GO_TYPE_PARAMS are removed; GO_CLOSURE_NUMBER loses its digits.
GO_ARGUMENTS = re.compile(r"\([^()]*\)$")
GO_CLOSURE_NUMBER = re.compile(r"\.(?P<word>func|gowrap)\d+(?:\.\d+)*")
GO_TYPE_PARAMS = re.compile(r"\[[^\[\]]*\]")

# --- Frames that do not count (top_frame and fingerprints skip them) ----------------------
# The whole ignore list is these six patterns; parse.is_runtime_frame applies them.

# Functions of the sanitizer runtime, its interceptors, the C runtime's entry points and
# compiler-made glue. Matched at the start of the normalised function name:
#   __tsan / __sanitizer / __asan / __ubsan / __lsan / __msan: the sanitizer runtimes;
#   __interceptor_ / ___interceptor_: interceptors as GCC's libtsan names them;
#   __libc_ / __GI_ / __pthread_ / _start / start_thread / clone / call_init: glibc's
#   thread and process entry; __cxa_ / __gthread_ / __gnu_cxx::: the C++ runtime;
#   __cxx_global_var_init / _GLOBAL__sub_I_ / __static_initialization_and_destruction_:
#   static-initialiser thunks.
RUNTIME_FUNCTION = re.compile(
    r"^(?:__tsan|__sanitizer|__asan|__ubsan|__lsan|__msan|__interceptor_|___interceptor_"
    r"|__libc_|__GI_|__pthread_|_start\b|start_thread\b|__?clone\d*\b|call_init\b"
    r"|__cxa_|__gthread_|__gnu_cxx::|__cxx_global_var_init|_GLOBAL__sub_I_"
    r"|__static_initialization_and_destruction_|<null>$)")

# libc / pthread functions that TSan intercepts: in clang's static runtime they show up as
# plain names ("pthread_create <null> (server+0x533fd)") inside the program's own module.
#   (no groups) the whole (normalised) function name.
INTERCEPTED_LIBC_FUNCTION = re.compile(
    r"^(?:pthread_\w+|malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign"
    r"|valloc|memcpy|memmove|memset|memcmp|bcmp|strlen|strcpy|strncpy|strcmp|strncmp|strdup"
    r"|operator new(?:\[\])?|operator delete(?:\[\])?|sleep|usleep|nanosleep|close|read"
    r"|write|send|recv|sendmsg|recvmsg|epoll_wait|poll|select|abort|exit|_exit|raise"
    r"|kill|signal|sigaction|sigsuspend|fork|dlopen|dlclose|atexit)$")

# The standard library's own names: std:: (and libc++'s std::__1::). Such a frame is skipped
# when it is an internal (a reserved name: std::__invoke, std::_Function_handler,
# std::thread::_State_impl, std::function's call operator, std::thread's entry), or when its
# source is a standard header or library (see RUNTIME_FILE / RUNTIME_MODULE), or unknown.
# A std:: function whose source is the user's own file (a std::hash specialisation) counts.
#   internal: set when the name is a library internal.
STD_FUNCTION = re.compile(
    r"^std::(?:__1::)?(?P<internal>(?:\w+::)*(?:__|_[A-Z])|function\b|thread::|invoke\b)?")

# Go's runtime and standard packages whose frames sit on top of the user's:
#   (no groups) runtime.*, sync.* and sync/atomic.*, internal/*, testing.*.
GO_RUNTIME_FUNCTION = re.compile(r"^(?:runtime|sync|sync/atomic|internal/[\w./]+|testing)\.")

# Modules that are the runtime, the C library or the C++ library.
#   (no groups) searched in the module name as printed ("libstdc++.so.6", "libc.so.6",
#   "libtsan.so.2", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libc++.so.1"; on Darwin
#   "libsystem_pthread.dylib" and the other libsystem_*, "libclang_rt.tsan_osx_dynamic.dylib",
#   "libc++.1.dylib", "libdyld.dylib" and the loader "dyld").
RUNTIME_MODULE = re.compile(
    r"(?:^|/)(?:libc|libm|libpthread|libdl|librt|libstdc\+\+|libc\+\+|libc\+\+abi"
    r"|libgcc_s|libtsan|libasan|libubsan|ld-linux[\w-]*|libsystem_\w+|libclang_rt|libdyld)[.-]"
    r"|(?:^|/)dyld$")

# Source files that belong to the runtime or the standard libraries.
#   (no groups) searched in the file path: libstdc++ / libc++ headers (".../include/c++/12/",
#   ".../include/x86_64-linux-gnu/c++/12/", ".../include/c++/v1/"), compiler-rt / libsanitizer
#   sources and objects ("tsan_interceptors_posix.cpp.o"), glibc sources (csu/, sysdeps/, nptl/).
RUNTIME_FILE = re.compile(
    r"/include/(?:[\w-]+/)?c\+\+/|/libsanitizer/|compiler-rt/|(?:^|/)(?:csu|sysdeps|nptl)/"
    r"|(?:^|/)(?:tsan|sanitizer)_\w+\.(?:cpp|cc|h|inc)(?:\.o)?$")

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

# What a scenario server prints once its graceful shutdown is over (it then holds, reading
# stdin, when RACELAB_HOLD_AFTER_SHUTDOWN=1): "racelab: shutdown complete".
#   (no groups)
SHUTDOWN_COMPLETE = re.compile(r"^racelab: shutdown complete\s*$")

# A finding a server reports about itself at shutdown (docs/reference.md, "Harness
# findings"): 'racelab: finding {"kind":"leaked-thread","tid":12,"name":"rl-fetch-3",...}'.
#   json: the finding, one JSON object.
SERVER_FINDING = re.compile(r"^racelab: finding (?P<json>\{.*\})\s*$")

# One option in a TSAN_OPTIONS string ("halt_on_error=0 log_path='/tmp/x y'"); the
# sanitizer runtime separates options by blanks, ':' or ','.
#   key:   the option name.
#   value: its value, quotes included when it was quoted.
TSAN_OPTION = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s:,]*)")

# A shard of a test list or a catalog: "2/4", the 2nd of 4.
#   k: this shard (1-based).
#   n: how many shards there are.
SHARD = re.compile(r"^(?P<k>\d+)/(?P<n>\d+)$")

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

# --- Suppressions --------------------------------------------------------------------------

# The line that opens TSan's list of matched suppressions (print_suppressions=1), e.g.
# "ThreadSanitizer: Matched 3 suppressions (pid=4242):"; searched, so a CI timestamp or
# other prefix may stand before it.
#   hits: the total hit count over all matched suppressions.
#   pid:  the process.
MATCHED_HEADER = re.compile(
    r"ThreadSanitizer: Matched (?P<hits>\d+) suppressions \(pid=(?P<pid>\d+)\):\s*$")

# One line of that list: "2 race:BumpHits" (a prefix such as a CI timestamp may precede).
#   count, type, pattern: its hits, its suppression type (race, mutex, ...) and its
#   pattern as written in the file (TSan trims trailing blanks).
MATCHED_LINE = re.compile(
    r"(?:^|\s)(?P<count>\d+) (?P<type>race_top|race|mutex|thread|signal|deadlock"
    r"|called_from_lib):(?P<pattern>.*?)\s*$")


@functools.lru_cache(maxsize=1024)
def suppression_regex(template: str) -> re.Pattern[str]:
    """TSan's TemplateMatch as a regex: substring match, `*` matches anything, a leading
    `^` anchors at the start and a trailing `$` at the end."""
    anchored = template.startswith("^")
    body = template[1:] if anchored else template
    at_end = body.endswith("$")
    if at_end:
        body = body[:-1]
    regex = "".join(".*" if c == "*" else re.escape(c) for c in body)
    return re.compile(("^" if anchored else "") + regex + ("$" if at_end else ""), re.DOTALL)


RegexError = re.error  # what user_regex raises for a bad pattern


@functools.lru_cache(maxsize=1024)
def user_regex(text: str) -> re.Pattern[str]:
    """A regex written in a manifest (an expectation's function). Raises re.error."""
    return re.compile(text)


# --- Report writers ------------------------------------------------------------------------

# Characters that start emphasis, code, links or tables inline in Markdown ("<", ">" and
# "&" are HTML-escaped instead); a line never starts with the text, so "#", "-", "+" are safe.
#   (group 1) the character, escaped with a backslash.
MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

# A run of backticks inside text that goes into a Markdown code span or fence.
#   (no groups) the longest run decides how many backticks the fence needs.
BACKTICK_RUN = re.compile(r"`+")

# A character XML 1.0 cannot hold (control characters, lone surrogates).
#   (no groups) replaced by U+FFFD in junit.xml.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# --- Invariants ----------------------------------------------------------------------------

# The number an invariant reads from an HTTP body ("4000\n", "hits=4000").
#   value: the first integer, with its sign.
BODY_INTEGER = re.compile(r"(?P<value>-?\d+)")

# A count of the load an invariant compares with: "ok:/hit", "requests:/stats".
#   what: ok (2xx answers) or requests (all answers).
#   path: the request path.
LOAD_COUNT = re.compile(r"^(?P<what>ok|requests):(?P<path>/\S*)$")

# A header line the load sends with every request ([load] headers): "Name: value".
#   name: an HTTP token (RFC 9110 5.6.2).
#   value: anything on one line ("{n}" in it is the request's number, for racelab-load).
LOAD_HEADER = re.compile(r"^(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+):(?P<value>[^\r\n\0]*)$")

# --- HTTP benchmark (racelab bench-http): wrk's report and /proc ---------------------------

# wrk's closing rate: "Requests/sec:  43818.56" (wrk prints it "%9.2f", trailing blanks
# possible; a metric suffix as in its thread stats, "43.82k", is read too).
#   value: the number.
#   unit:  "", "k", "M", "G": a factor of 1000 each.
WRK_REQUESTS_PER_S = re.compile(r"^\s*Requests/sec:\s+(?P<value>\d+(?:\.\d+)?)(?P<unit>[kMG]?)\s*$")

# The latency row of wrk's thread stats: "    Latency     1.09ms    1.40ms  12.12ms   87.08%".
#   avg, stdev, max: durations as wrk prints them (us, ms, s, m, h); stdev may be "-nan".
WRK_LATENCY_STATS = re.compile(
    r"^\s*Latency\s+(?P<avg>\S+)\s+(?P<stdev>\S+)\s+(?P<max>\S+)\s+\S+%\s*$")

# One line of wrk's "Latency Distribution" (--latency): "     99%    6.51ms", "  50%  1.66s"
# (wrk2's "50.000%" too).
#   percent: the percentile.
#   value:   a duration as wrk prints it.
WRK_PERCENTILE = re.compile(r"^\s*(?P<percent>\d+(?:\.\d+)?)%\s+(?P<value>\d+(?:\.\d+)?[a-z]+)\s*$")

# wrk's totals: "  87856 requests in 2.00s, 8.29MB read".
#   requests: answers received (any status).
#   duration: the run's length as wrk prints it.
WRK_TOTALS = re.compile(r"^\s*(?P<requests>\d+) requests in (?P<duration>\S+), \S+ read\s*$")

# wrk's socket errors, printed only when there were some:
# "  Socket errors: connect 0, read 3, write 0, timeout 12".
#   connect, read, write, timeout: the counts.
WRK_SOCKET_ERRORS = re.compile(
    r"^\s*Socket errors: connect (?P<connect>\d+), read (?P<read>\d+), "
    r"write (?P<write>\d+), timeout (?P<timeout>\d+)\s*$")

# wrk's count of answers that were not 2xx or 3xx: "  Non-2xx or 3xx responses: 5".
#   count: how many.
WRK_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (?P<count>\d+)\s*$")

# A duration as wrk prints it: "574.00us", "1.40ms", "1.92s", "5.00m" (wrk's units: us, ms,
# s, then m and h).
#   value: the number.
#   unit:  us, ms, s, m or h.
WRK_DURATION = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<unit>us|ms|s|m|h)$")

# The resident set size in /proc/PID/status: "VmRSS:\t   10240 kB".
#   kib: the size in KiB.
VM_RSS = re.compile(r"^VmRSS:\s+(?P<kib>\d+) kB\s*$", re.MULTILINE)

# --- Stacks of a live process (gdb's "thread apply all bt") ---------------------------------

# The line that opens one thread's backtrace: 'Thread 2 (Thread 0x7f3a (LWP 4242) "rl-io-0"):'
# (the name is missing for an unnamed thread, and so is "Thread 0x..." for some targets).
#   number: gdb's thread number.
#   tid:    the kernel's thread id.
#   name:   the thread's name, when it has one.
GDB_THREAD = re.compile(
    r'^Thread (?P<number>\d+) \(.*?LWP (?P<tid>\d+)\)(?: "(?P<name>[^"]*)")?\):\s*$')

# One frame of a backtrace: "#3  0x0000558a in ns::Worker (n=2) at /src/x.cc:12", or
# "#0  futex_wait (...) at ../sysdeps/nptl/futex-internal.h:146", or "... from /lib/libc.so".
#   index: the frame number.
#   body:  the rest, without the "0x... in " address.
GDB_FRAME = re.compile(r"^#(?P<index>\d+)\s+(?:0x[0-9a-fA-F]+ in )?(?P<body>.*?)\s*$")

# The location at the end of a gdb frame body: " at /src/x.cc:12" or " from /lib/libc.so.6".
#   file, line: the source location.
#   module:     the object the frame is in, when there is no source.
GDB_LOCATION = re.compile(r"(?: at (?P<file>\S+):(?P<line>\d+)| from (?P<module>\S+))$")
