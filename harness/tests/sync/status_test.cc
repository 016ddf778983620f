// Status: ok by default, a failure from any text, and InvokeTask's shapes.
#include "racelab/sync/status.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "racelab/sync/context.h"

namespace racelab {
namespace {

TEST(StatusTest, DefaultIsOkWithNoMessage) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status(), Status::Ok());
  EXPECT_EQ(Status::Ok().message(), "");
}

TEST(StatusTest, AnyTextIsAFailureEvenAnEmptyOne) {
  const Status s = "fetch /a: connection refused";
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "fetch /a: connection refused");
  EXPECT_FALSE(Status(std::string()).ok());
  EXPECT_NE(Status(std::string()), Status::Ok());
}

TEST(StatusTest, PrintsOkOrTheMessage) {
  std::ostringstream out;
  out << Status::Ok() << "|" << Status("disk full");
  EXPECT_EQ(out.str(), "ok|disk full");
}

TEST(StatusTest, InvokeTaskAcceptsEveryTaskShape) {
  const Context ctx;
  auto void_task = [] {};
  auto failing_task = []() -> Status { return "bad"; };
  auto ctx_task = [](const Context& c) -> Status { return c.done() ? "done" : Status::Ok(); };
  EXPECT_TRUE(InvokeTask(void_task, ctx).ok());
  EXPECT_EQ(InvokeTask(failing_task, ctx), Status("bad"));
  EXPECT_TRUE(InvokeTask(ctx_task, ctx).ok());
}

}  // namespace
}  // namespace racelab
