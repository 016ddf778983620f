// Request and Response: what a scenario handler sees of HTTP. No Beast here:
// scenario translation units include only racelab headers, so each compiles
// in a second instead of twenty.
//
// Both are plain values. A Request is built by the server before the handler
// runs and is read-only to it; a Response is returned by value.
//
// Memory ordering: none; values are handed over on one connection's strand.
#ifndef RACELAB_HTTP_MESSAGE_H_
#define RACELAB_HTTP_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racelab::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

// "GET", "POST", ...; "OTHER" for kOther.
std::string_view MethodName(Method method);

struct Header {
  std::string name;
  std::string value;
};

// ASCII case-insensitive equality: how field names compare (RFC 9110 5.1).
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

// True if `name` may name a field: a non-empty token (RFC 9110 5.6.2).
bool IsFieldName(std::string_view name);

// True if `value` may go on a field line as it is: it holds no CR, LF or
// NUL, which would end the line early (header injection, response
// splitting).
bool IsFieldValue(std::string_view value);

// The value of the first header named `name` (ASCII case-insensitive), or ""
// if there is none.
std::string_view FindHeader(const std::vector<Header>& headers, std::string_view name);

// The values of every header named `name` (ASCII case-insensitive), in
// order, joined with ", ": one list, as RFC 9110 section 5.3 combines
// repeated field lines. "" if there is none.
std::string JoinHeaders(const std::vector<Header>& headers, std::string_view name);

struct Request {
  Method method = Method::kGet;
  std::string target;           // as sent: "/hit?x=1"
  std::string path;             // target before '?': "/hit"
  std::string query;            // target after '?': "x=1" ("" if none)
  std::vector<Header> headers;  // every line as received, repeated names too
  std::string body;
  std::string peer_address;  // "127.0.0.1"; the TCP peer, never a header

  // The FIRST line named `name` (ASCII case-insensitive), or "" if absent.
  // Only for a field sent once (Host, X-Api-Key). A list field may come in
  // several lines, and a client can add lines of its own before a proxy's
  // (X-Forwarded-For): read those with header_list().
  std::string_view header(std::string_view name) const;

  // Every line named `name`, in order, joined with ", " (RFC 9110 5.3),
  // or "" if absent: "a, b" for the lines "a" and "b".
  std::string header_list(std::string_view name) const;

  // The value of query parameter `key` ("a" in "?a=1&b=2"), undecoded, or ""
  // if absent.
  std::string_view query_param(std::string_view key) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<Header> headers;  // extra headers, sent as given
  std::string body;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_MESSAGE_H_
