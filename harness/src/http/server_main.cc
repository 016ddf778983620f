// RunServerMain: flags, signals and the listening line around Server.
//
// SIGTERM and SIGINT are blocked in every thread (the mask is set before the
// first thread starts and is inherited) and taken by sigwait on the main
// thread, so no code runs in signal context.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "racelab/base/thread_name.h"
#include "racelab/http/server.h"
#include "racelab/http/shutdown_check.h"

namespace racelab::http {

namespace {
constexpr int kExitUsage = 2;
constexpr int kExitStuck = 3;
}  // namespace

int RunServerMain(int argc, char** argv, Router router) {
  ServerOptions options;
  long long drain_ms = options.drain_timeout.count();
  long long read_ms = options.read_timeout.count();
  CLI::App app{"racelab scenario server: serves the scenario's routes until SIGTERM"};
  app.add_option("--host", options.host, "address to bind (loopback by default)");
  app.add_option("--port", options.port, "port to bind; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  app.add_option("--threads", options.io_threads, "io threads running handlers")
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
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
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
  NoteGracefulShutdown();  // main's ShutdownCheck runs now
  return 0;
}

}  // namespace racelab::http
