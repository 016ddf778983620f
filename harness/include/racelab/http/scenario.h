// The one header a scenario includes. A scenario defines RegisterScenario;
// the harness provides main(), which calls it once, on the main thread,
// before the server starts, then serves until SIGTERM.
//
//   #include "racelab/http/scenario.h"
//   namespace racelab {
//   void RegisterScenario(http::Router& router) {
//     router.Get("/hit", HandleHit);
//   }
//   }  // namespace racelab
//
// RegisterScenario may start threads of its own (SIGTERM and SIGINT are
// blocked already, so they inherit the mask); it names them
// (racelab/base/thread_name.h) and registers, with router.AfterShutdown, the
// hook that stops and joins them once the server has answered its last
// request.
#ifndef RACELAB_HTTP_SCENARIO_H_
#define RACELAB_HTTP_SCENARIO_H_

#include "racelab/http/message.h"
#include "racelab/http/request_context.h"
#include "racelab/http/router.h"

namespace racelab {

// Defined by each scenario (bad and fixed alike).
void RegisterScenario(http::Router& router);

}  // namespace racelab

#endif  // RACELAB_HTTP_SCENARIO_H_
