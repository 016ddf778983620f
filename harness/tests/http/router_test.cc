#include "racelab/http/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace racelab::http {
namespace {

Request MakeRequest(Method method, std::string target) {
  Request r;
  r.method = method;
  r.target = target;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  return r;
}

Response Dispatch(const Router& router, Method method, std::string target) {
  RequestContext context(1, {});
  return router.Dispatch(MakeRequest(method, std::move(target)), context);
}

TEST(RouterTest, DispatchesToTheHandlerOfMethodAndPath) {
  Router router;
  router.Get("/a", [](const Request&, RequestContext&) { return Response::Text(200, "get a"); });
  router.Post("/a", [](const Request&, RequestContext&) { return Response::Text(201, "post a"); });
  router.Get("/b", [](const Request&, RequestContext&) { return Response::Text(200, "get b"); });
  EXPECT_EQ(Dispatch(router, Method::kGet, "/a").body, "get a");
  EXPECT_EQ(Dispatch(router, Method::kPost, "/a").status, 201);
  EXPECT_EQ(Dispatch(router, Method::kGet, "/b?x=1").body, "get b");
}

TEST(RouterTest, UnknownPathAnswers404) {
  Router router;
  router.Get("/a", [](const Request&, RequestContext&) { return Response::Text(200, ""); });
  EXPECT_EQ(Dispatch(router, Method::kGet, "/nope").status, 404);
  EXPECT_EQ(Dispatch(router, Method::kGet, "/a/").status, 404);
}

TEST(RouterTest, WrongMethodAnswers405WithAllowHeader) {
  Router router;
  router.Get("/a", [](const Request&, RequestContext&) { return Response::Text(200, ""); });
  router.Post("/a", [](const Request&, RequestContext&) { return Response::Text(200, ""); });
  const Response r = Dispatch(router, Method::kDelete, "/a");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "Allow");
  EXPECT_EQ(r.headers[0].value, "GET, HEAD, POST");
}

TEST(RouterTest, HeadIsServedByTheGetHandler) {
  Router router;
  router.Get("/a", [](const Request&, RequestContext&) { return Response::Text(200, "body"); });
  EXPECT_EQ(Dispatch(router, Method::kHead, "/a").status, 200);
}

TEST(RouterTest, ThrowingHandlerAnswers500WithTheReason) {
  Router router;
  router.Get("/boom", [](const Request&, RequestContext&) -> Response {
    throw std::runtime_error("disk on fire");
  });
  const Response r = Dispatch(router, Method::kGet, "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, ::testing::HasSubstr("disk on fire"));
}

TEST(RouterTest, ListsRegisteredPathsSorted) {
  Router router;
  router.Get("/z", {});
  router.Get("/a", {});
  EXPECT_THAT(router.Paths(), ::testing::ElementsAre("/a", "/z"));
}

TEST(RouterTest, AfterShutdownHooksComeBackLastRegisteredFirst) {
  Router router;
  std::vector<std::string> ran;
  router.AfterShutdown([&] { ran.push_back("started first"); });
  router.AfterShutdown([&] { ran.push_back("started last"); });
  for (const auto& fn : router.TakeAfterShutdown()) fn();
  EXPECT_THAT(ran, ::testing::ElementsAre("started last", "started first"));
  EXPECT_TRUE(router.TakeAfterShutdown().empty()) << "a hook handed out twice would run twice";
}

TEST(RequestTest, HeaderLookupIgnoresCase) {
  Request r;
  r.headers = {{"X-Forwarded-For", "1.2.3.4"}, {"x-forwarded-for", "5.6.7.8"}};
  EXPECT_EQ(r.header("x-FORWARDED-for"), "1.2.3.4");
  EXPECT_EQ(r.header("Missing"), "");
}

// Repeated lines are one list (RFC 9110 5.3); header() reads the first.
TEST(RequestTest, HeaderListJoinsRepeatedLinesInOrder) {
  Request r;
  r.headers = {
      {"X-Forwarded-For", "6.6.6.6"}, {"Host", "x"}, {"x-forwarded-for", "198.51.100.7, 10.0.0.2"}};
  EXPECT_EQ(r.header_list("X-Forwarded-For"), "6.6.6.6, 198.51.100.7, 10.0.0.2");
  EXPECT_EQ(r.header("X-Forwarded-For"), "6.6.6.6");
  EXPECT_EQ(r.header_list("Host"), "x");
  EXPECT_EQ(r.header_list("X-Real-IP"), "");
}

TEST(RequestTest, QueryParamFindsExactKeys) {
  Request r = MakeRequest(Method::kGet, "/p?a=1&ab=2&flag&b=");
  EXPECT_EQ(r.query_param("a"), "1");
  EXPECT_EQ(r.query_param("ab"), "2");
  EXPECT_EQ(r.query_param("b"), "");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("c"), "");
}

}  // namespace
}  // namespace racelab::http
