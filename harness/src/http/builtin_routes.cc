// GET /healthz and GET /debug/threads, served by every scenario.
#include <boost/json.hpp>

#include "racelab/base/thread_name.h"
#include "racelab/http/server.h"

namespace racelab::http {

void AddBuiltinRoutes(Router& router) {
  router.Get("/healthz",
             [](const Request&, RequestContext&) { return Response::Text(200, "ok\n"); });
  router.Get("/debug/threads", [](const Request&, RequestContext&) {
    boost::json::array threads;
    for (const ThreadInfo& t : ListThreads()) {
      threads.push_back(boost::json::object{{"tid", t.tid}, {"name", t.name}});
    }
    boost::json::object body{{"count", threads.size()}, {"threads", std::move(threads)}};
    return Response::Json(200, boost::json::serialize(body) + "\n");
  });
}

}  // namespace racelab::http
