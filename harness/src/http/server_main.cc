// RunServerMain: flags, signals and the listening line around Server.
//
// SIGTERM and SIGINT are blocked in every thread (the mask is set before the
// first thread starts and is inherited) and taken by sigwait on the main
// thread, so no code runs in signal context. The router's AfterShutdown
// hooks run once the server is done with every request.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "racelab/base/thread_name.h"
#include "racelab/http/server.h"
#include "racelab/http/shutdown_check.h"

namespace racelab::http {

namespace {
constexpr int kExitUsage = 2;
constexpr int kExitStuck = 3;

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Runs the scenario's AfterShutdown hooks when RunServerMain returns, however
// it returns (a usage or bind error too: the scenario's threads run already).
class AfterShutdownHooks {
 public:
  explicit AfterShutdownHooks(std::vector<std::function<void()>> hooks)
      : hooks_(std::move(hooks)) {}
  ~AfterShutdownHooks() {
    for (const auto& fn : hooks_) fn();
  }
  AfterShutdownHooks(const AfterShutdownHooks&) = delete;
  AfterShutdownHooks& operator=(const AfterShutdownHooks&) = delete;

 private:
  std::vector<std::function<void()>> hooks_;  // in the order to run them
};

}  // namespace

void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int RunServerMain(int argc, char** argv, Router router) {
  const AfterShutdownHooks after_shutdown(router.TakeAfterShutdown());
  ServerOptions options;
  long long drain_ms = options.drain_timeout.count();
  long long read_ms = options.read_timeout.count();
  CLI::App app{"racelab scenario server: serves the scenario's routes until SIGTERM"};
  app.add_option("--host", options.host, "address to bind (loopback by default)");
  app.add_option("--port", options.port, "port to bind; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  app.add_option("--threads", options.io_threads,
                 "io threads running handlers (default: one per core)")
      ->check(CLI::Range(1, 256));
  app.add_option("--drain-timeout-ms", drain_ms, "on SIGTERM, how long requests in flight may take")
      ->check(CLI::Range(0LL, 3'600'000LL));
  app.add_option("--read-timeout-ms", read_ms, "idle or slow clients are closed after this long")
      ->check(CLI::Range(1LL, 3'600'000LL));
  app.add_option("--body-limit", options.body_limit, "largest request body in bytes (413 above)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  options.drain_timeout = std::chrono::milliseconds(drain_ms);
  options.read_timeout = std::chrono::milliseconds(read_ms);

  SetCurrentThreadName("rl-main");
  BlockStopSignals();
  signal(SIGPIPE, SIG_IGN);

  AddBuiltinRoutes(router);
  Server server(options, std::move(router));
  std::uint16_t port = 0;
  try {
    port = server.Start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "racelab: %s\n", e.what());
    return kExitUsage;
  }
  std::printf("racelab: listening on %s:%u\n", options.host.c_str(), static_cast<unsigned>(port));
  std::fflush(stdout);

  const sigset_t stop_signals = StopSignals();
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "racelab: %s received, shutting down\n",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  const ServerShutdown result = server.Shutdown();
  const ServerStats stats = server.stats();
  std::fprintf(stderr, "racelab: served %llu requests (%llu rejected) on %llu connections\n",
               static_cast<unsigned long long>(stats.requests),
               static_cast<unsigned long long>(stats.rejected),
               static_cast<unsigned long long>(stats.connections));
  if (result == ServerShutdown::kStuck) {
    std::fprintf(stderr,
                 "racelab: handlers still running after the drain deadline; exiting with %d\n",
                 kExitStuck);
    std::fflush(stderr);
    std::_Exit(kExitStuck);  // io threads are stuck in handlers; exit() would race them
  }
  NoteGracefulShutdown();  // main runs its ShutdownCheck after the AfterShutdown hooks
  return 0;
}

}  // namespace racelab::http
