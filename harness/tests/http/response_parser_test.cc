#include "racelab/http/internal/response_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace racelab::http {
namespace {

using ::testing::HasSubstr;

// What a reader does with a ResponseParser: appends what arrives (here in
// pieces of `piece` bytes) to the bytes not yet consumed, feeds them, keeps
// the rest, until the response is done or failed. Returns the bytes left
// unconsumed at the end.
std::string FeedInPieces(ResponseParser& parser, std::string_view bytes, std::size_t piece) {
  std::string pending;
  for (std::size_t at = 0; at < bytes.size() && !parser.done() && !parser.failed(); at += piece) {
    pending.append(bytes.substr(at, piece));
    pending.erase(0, parser.Feed(pending));
  }
  return pending;
}

constexpr std::string_view kChunked =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: gzip, chunked\r\n"
    "\r\n"
    "5;name=value\r\nhello\r\n"
    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
    "0\r\n"
    "Trailer-Field: x\r\n"
    "\r\n";

TEST(ResponseParserTest, ContentLengthBodyEndsAtItsLastByte) {
  ResponseParser parser;
  const std::string_view response = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n";
  EXPECT_EQ(parser.Feed(response.substr(0, response.size() - 1)), response.size() - 1);
  EXPECT_FALSE(parser.done());
  EXPECT_EQ(parser.Feed(response.substr(response.size() - 1)), 1u);
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.status(), 404);
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParserTest, StopsAtTheEndOfTheResponseAndLeavesWhatFollows) {
  ResponseParser parser;
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string second = "HTTP/1.1 204 No Content\r\n\r\n";
  EXPECT_EQ(parser.Feed(first + second), first.size());
  EXPECT_TRUE(parser.done());
  parser.Reset();
  EXPECT_EQ(parser.Feed(second), second.size());
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.status(), 204);
}

TEST(ResponseParserTest, ChunkedBodySkipsExtensionsAndTrailers) {
  ResponseParser parser;
  EXPECT_EQ(parser.Feed(kChunked), kChunked.size());
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.status(), 200);
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParserTest, ResponseSplitIntoSingleBytesParsesAsWhole) {
  for (const std::string_view response :
       {kChunked, std::string_view("HTTP/1.1 201 Created\r\ncontent-length: 10\r\n\r\n0123456789"),
        std::string_view("HTTP/1.0 200 OK\r\n\r\nruns to the end")}) {
    ResponseParser parser;
    EXPECT_EQ(FeedInPieces(parser, response, 1), "") << response;
    if (!parser.done()) parser.FinishAtEof();
    ASSERT_TRUE(parser.done()) << response << ": " << parser.error();
    EXPECT_FALSE(parser.failed());
  }
}

TEST(ResponseParserTest, ConnectionCloseEndsKeepAlive) {
  ResponseParser parser;
  parser.Feed("HTTP/1.1 200 OK\r\nConnection: Upgrade, close\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParserTest, Http10KeepsTheConnectionOnlyWhenAskedTo) {
  ResponseParser parser;
  parser.Feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
  parser.Reset();
  parser.Feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(parser.done());
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParserTest, BodyWithoutLengthRunsToTheEndOfTheStream) {
  ResponseParser parser;
  const std::string_view response = "HTTP/1.1 200 OK\r\n\r\nall of this, and more";
  EXPECT_EQ(parser.Feed(response), response.size());
  EXPECT_FALSE(parser.done());
  parser.FinishAtEof();
  ASSERT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParserTest, NoBodyAfter204Or304) {
  for (const std::string_view response :
       {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"}) {
    ResponseParser parser;
    EXPECT_EQ(parser.Feed(response), response.size());
    EXPECT_TRUE(parser.done()) << response;
    EXPECT_TRUE(parser.keep_alive());
  }
}

TEST(ResponseParserTest, InterimAnswersAreSkippedForTheFinalOne) {
  ResponseParser parser;
  parser.Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n");
  EXPECT_FALSE(parser.done());
  parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.status(), 200);
}

TEST(ResponseParserTest, MalformedResponsesFailSayingWhat) {
  struct Case {
    std::string_view bytes;
    std::string_view error;
  };
  for (const Case& c : {
           Case{"garbage\r\n\r\n", "bad status line"},
           Case{"HTTP/1.1 20 OK\r\n\r\n", "bad status line"},
           Case{"HTTP/2 200 OK\r\n\r\n", "bad status line"},
           Case{"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"},
           Case{"HTTP/1.1 200 OK\r\n: no name\r\n\r\n", "bad header line"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "bad Content-Length"},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                "not followed by CRLF"},
           Case{"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "LF without CR"},
           Case{"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"},
       }) {
    ResponseParser parser;
    parser.Feed(c.bytes);
    ASSERT_TRUE(parser.failed()) << c.bytes;
    EXPECT_THAT(parser.error(), HasSubstr(std::string(c.error))) << c.bytes;
    EXPECT_EQ(parser.Feed("HTTP/1.1 200 OK\r\n\r\n"), 0u) << "a failed parser consumes nothing";
  }
}

TEST(ResponseParserTest, HeadPastTheLimitFailsEvenWithoutALineEnd) {
  ResponseParser parser;
  const std::string endless =
      "HTTP/1.1 200 OK\r\nX: " + std::string(ResponseParser::kMaxHeadBytes, 'a');
  FeedInPieces(parser, endless, 4096);
  ASSERT_TRUE(parser.failed());
  EXPECT_THAT(parser.error(), HasSubstr("larger than 64 KiB"));
}

TEST(ResponseParserTest, EndOfStreamBeforeTheEndFails) {
  ResponseParser before;
  before.FinishAtEof();
  ASSERT_TRUE(before.failed());
  EXPECT_EQ(before.error(), "end of stream");

  ResponseParser inside;
  inside.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  inside.FinishAtEof();
  ASSERT_TRUE(inside.failed());
  EXPECT_EQ(inside.error(), "end of stream inside a response");
}

}  // namespace
}  // namespace racelab::http
