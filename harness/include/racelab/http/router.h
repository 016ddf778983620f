// Router: maps (method, exact path) to a handler.
//
//   racelab::http::Router router;
//   router.Get("/hit", HandleHit);
//   Response r = router.Dispatch(request, context);
//
// An unknown path answers 404; a known path with another method answers 405
// with an Allow header; HEAD is served by the GET handler with the body
// dropped by the server. A handler that throws answers 500 (the server lives
// on).
//
// A scenario that starts threads of its own (a health checker, a job
// worker) stops them in an AfterShutdown hook, which RunServerMain runs once
// the server is done with every request:
//
//   router.AfterShutdown([] { checker.request_stop(); checker.join(); });
//
// Thread-safety: register every route and hook before the server starts;
// after that the router is read-only and Dispatch may run on many threads at
// once. Handlers run concurrently with each other (one per connection at a
// time): whatever they share, they must synchronize themselves. That is the
// point.
//
// Memory ordering: routes registered before Server::Start happen-before
// every Dispatch (the server starts its threads after reading them). Every
// handler call happens-before the AfterShutdown hooks (RunServerMain runs
// them after Server::Shutdown has joined the io threads).
#ifndef RACELAB_HTTP_ROUTER_H_
#define RACELAB_HTTP_ROUTER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "racelab/http/message.h"
#include "racelab/http/request_context.h"

namespace racelab::http {

using Handler = std::function<Response(const Request&, RequestContext&)>;

class Router {
 public:
  // Registers `handler` for `method` on exactly `path`. Registering the same
  // (method, path) twice replaces the first handler.
  // Requires: path starts with '/'; called before the server starts.
  void Handle(Method method, std::string path, Handler handler);
  void Get(std::string path, Handler handler);
  void Post(std::string path, Handler handler);

  // Registers `fn` to run after the server has shut down: every request
  // answered, every io thread joined, so no handler runs now or later. The
  // place to stop and join what the scenario started. RunServerMain runs the
  // hooks once, on its own thread, last registered first (the last thing
  // started is the first stopped), on every way out but a stuck shutdown:
  // after a drain, and after a usage or bind error (the server never ran).
  // Requires: called before the server starts; fn does not throw.
  void AfterShutdown(std::function<void()> fn);

  // The hooks registered with AfterShutdown, in the order to run them (last
  // registered first); the router keeps none. For whoever runs the server.
  std::vector<std::function<void()>> TakeAfterShutdown();

  // Answers `request`: the handler's response, 404, 405 or 500.
  Response Dispatch(const Request& request, RequestContext& context) const;

  // Registered paths, sorted; for diagnostics.
  std::vector<std::string> Paths() const;

 private:
  std::map<std::string, std::map<Method, Handler>> routes_;
  std::vector<std::function<void()>> after_shutdown_;  // in registration order
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_ROUTER_H_
