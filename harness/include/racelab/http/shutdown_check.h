// ShutdownCheck: what a server left behind, checked once it has shut down
// gracefully, and printed for the runner to read.
//
// Three things no race detector reports (the harness kinds of
// docs/reference.md): threads still alive that were not alive before the
// server started (racelab/leak/thread_leak.h), work done for requests after
// they were cancelled, and jobs accepted and never run
// (racelab/http/work_audit.h). The scenario main() constructs the check
// first, so that its snapshot of the live threads is the baseline, and hands
// it RunServerMain's status:
//
//   int main(int argc, char** argv) {
//     racelab::http::BlockStopSignals();
//     const racelab::http::ShutdownCheck check;  // before any thread of the server's
//     racelab::http::Router router;
//     racelab::RegisterScenario(router);
//     return check.Finish(racelab::http::RunServerMain(argc, argv, std::move(router)));
//   }
//
// Finish runs the check only after a graceful shutdown (RunServerMain calls
// NoteGracefulShutdown() once its server has drained; not after --help, a
// usage or bind error). By then the server is destroyed, its io threads
// joined, the scenario's Router::AfterShutdown hooks have run and whatever
// the routes owned is gone (a pool captured by its handlers goes with them).
// Then, on stdout, one line per finding and a last line:
//
//   racelab: finding
//   {"kind":"leaked-thread","tid":1234,"name":"rl-fetch-3","state":"S","wchan":"futex_wait_queue"}
//   racelab: finding
//   {"kind":"lost-cancellation","what":"report","count":31,"max_after_cancel_ms":412} racelab:
//   finding {"kind":"lost-job","what":"webhook","count":2} racelab: shutdown complete
//
// Leaked threads come first, sorted by tid (the thread check waits for
// threads on their way out, so a detached job finishing late is counted as
// run, not lost); then every RequestWork with lost units and every JobLedger
// with jobs not run. A summary for people goes to stderr. With
// RACELAB_HOLD_AFTER_SHUTDOWN=1 in the environment, Finish then reads stdin
// until EOF before it returns, so that the runner can attach a debugger and
// read the leaked threads' stacks.
//
// Exiting with leaked threads: Finish returns the status and main returns
// it. So std::exit runs the static destructors and the sanitizer's exit
// hook (TSan's thread-leak reports and exitcode), then exit_group ends every
// thread, the leaked ones with it: nothing joins them (they may never
// return). Chosen over _exit, which would skip TSan's hook; safe as long as
// a leaked thread does not use a static object while static destructors run
// (one blocked in a futex, the usual leak, uses nothing). A shutdown stuck
// in a handler never gets here: RunServerMain ends the process with _Exit(3).
//
// Thread-safety: construct it and call Finish on the main thread.
//
// Memory ordering: the check reads the audits' counters after the server
// joined its io threads, so every handler's records are in; see
// work_audit.h for threads it did not join.
#ifndef RACELAB_HTTP_SHUTDOWN_CHECK_H_
#define RACELAB_HTTP_SHUTDOWN_CHECK_H_

#include <cstdio>
#include <string>
#include <vector>

#include "racelab/http/work_audit.h"
#include "racelab/leak/thread_leak.h"

namespace racelab::http {

class ShutdownCheck {
 public:
  // Snapshots the live threads. `threads` says how long to wait for
  // threads on their way out and which names to ignore.
  explicit ShutdownCheck(leak::CheckOptions threads = {});

  // After a graceful shutdown: Report() on stdout and stderr, then
  // "racelab: shutdown complete", then the hold (see above). Returns
  // `status`, which is that of RunServerMain: findings do not change it.
  int Finish(int status) const;

  // Runs the check: the finding lines on `out`, the summary on `log`.
  // Returns the number of findings.
  int Report(std::FILE* out, std::FILE* log) const;

 private:
  leak::CheckOptions options_;
  leak::Snapshot before_;
};

// RunServerMain calls this once its server has shut down gracefully: it
// arms ShutdownCheck::Finish.
void NoteGracefulShutdown();

// The JSON of each finding, in the order Report prints them.
std::vector<std::string> FindingsJson(const std::vector<leak::ThreadRecord>& leaked,
                                      const LostWork& work);

}  // namespace racelab::http

#endif  // RACELAB_HTTP_SHUTDOWN_CHECK_H_
