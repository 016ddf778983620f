#include "racelab/http/router.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace racelab::http {

void Router::Handle(Method method, std::string path, Handler handler) {
  routes_[std::move(path)][method] = std::move(handler);
}

void Router::Get(std::string path, Handler handler) {
  Handle(Method::kGet, std::move(path), std::move(handler));
}

void Router::Post(std::string path, Handler handler) {
  Handle(Method::kPost, std::move(path), std::move(handler));
}

void Router::AfterShutdown(std::function<void()> fn) { after_shutdown_.push_back(std::move(fn)); }

std::vector<std::function<void()>> Router::TakeAfterShutdown() {
  std::vector<std::function<void()>> hooks = std::move(after_shutdown_);
  after_shutdown_.clear();
  std::reverse(hooks.begin(), hooks.end());
  return hooks;
}

Response Router::Dispatch(const Request& request, RequestContext& context) const {
  const auto route = routes_.find(request.path);
  if (route == routes_.end()) {
    return Response::Text(404, "no route for " + request.path + "\n");
  }
  const auto& by_method = route->second;
  // HEAD is answered by GET's handler; the server drops the body.
  const Method lookup = request.method == Method::kHead ? Method::kGet : request.method;
  const auto handler = by_method.find(lookup);
  if (handler == by_method.end()) {
    std::string allow;
    for (const auto& [method, unused] : by_method) {
      if (!allow.empty()) allow += ", ";
      allow += MethodName(method);
      if (method == Method::kGet) allow += ", HEAD";
    }
    Response r = Response::Text(
        405, std::string(MethodName(request.method)) + " not allowed on " + request.path + "\n");
    r.headers.push_back({"Allow", allow});
    return r;
  }
  try {
    return handler->second(request, context);
  } catch (const std::exception& e) {
    return Response::Text(500, std::string("handler failed: ") + e.what() + "\n");
  } catch (...) {
    return Response::Text(500, "handler failed\n");
  }
}

std::vector<std::string> Router::Paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, unused] : routes_) paths.push_back(path);
  return paths;
}

}  // namespace racelab::http
