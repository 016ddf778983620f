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
// Thread-safety: register every route before the server starts; after that
// the router is read-only and Dispatch may run on many threads at once.
// Handlers run concurrently with each other (one per connection at a time):
// whatever they share, they must synchronize themselves. That is the point.
//
// Memory ordering: routes registered before Server::Start happen-before
// every Dispatch (the server starts its threads after reading them).
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

  // Answers `request`: the handler's response, 404, 405 or 500.
  Response Dispatch(const Request& request, RequestContext& context) const;

  // Registered paths, sorted; for diagnostics.
  std::vector<std::string> Paths() const;

 private:
  std::map<std::string, std::map<Method, Handler>> routes_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_ROUTER_H_
