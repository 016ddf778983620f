// main() of every scenario server: the scenario registers its routes, the
// harness does the rest.
#include "racelab/http/scenario.h"
#include "racelab/http/server.h"

int main(int argc, char** argv) {
  racelab::http::BlockStopSignals();  // before RegisterScenario may start a thread
  racelab::http::Router router;
  racelab::RegisterScenario(router);
  return racelab::http::RunServerMain(argc, argv, std::move(router));
}
