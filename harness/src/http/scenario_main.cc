// main() of every scenario server: the scenario registers its routes, the
// harness does the rest, then, after the scenario's AfterShutdown hooks,
// reports what the server left behind (racelab/http/shutdown_check.h).
#include "racelab/http/scenario.h"
#include "racelab/http/server.h"
#include "racelab/http/shutdown_check.h"

int main(int argc, char** argv) {
  racelab::http::BlockStopSignals();         // before RegisterScenario may start a thread
  const racelab::http::ShutdownCheck check;  // before any thread of the server's
  racelab::http::Router router;
  racelab::RegisterScenario(router);
  return check.Finish(racelab::http::RunServerMain(argc, argv, std::move(router)));
}
