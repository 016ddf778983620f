// Internals of the load engine (racelab/http/load_engine.h), not API:
// ResponseParser, an incremental HTTP/1.x response parser that keeps only
// what a load driver needs: the status, whether the connection stays open,
// and where the response ends.
//
//   ResponseParser parser;            // Reset() before each response
//   std::size_t used = parser.Feed(bytes);
//   // keep bytes[used..] and feed them again with what the socket reads next
//   if (parser.done()) count(parser.status(), parser.keep_alive());
//   if (parser.failed()) give_up(parser.error());
//   // at end of stream: parser.FinishAtEof(), then done() or failed()
//
// Bytes may come in any split, down to one at a time. Feed consumes whole
// lines of the head (the status line, header lines, chunk-size lines,
// trailers) and body bytes as they come; a partial line is left unconsumed
// for the caller to feed again, longer. The body is counted, never kept.
//
// Framing (RFC 9112 6.3): 1xx answers are interim and skipped; 204 and 304
// have no body; a Transfer-Encoding whose last coding is chunked is read as
// chunks (extensions and trailers skipped); another Transfer-Encoding, or
// neither it nor Content-Length, runs to the end of the stream; otherwise
// Content-Length bytes. The connection stays open for HTTP/1.1 unless
// "Connection: close", for HTTP/1.0 only with "Connection: keep-alive", and
// never after a body that ran to the end of the stream.
//
// Malformed input (a bad status line, a header line without a name, a bad
// Content-Length or chunk size, a head past kMaxHeadBytes, a bare LF) makes
// failed() true with error() saying what; the parser then consumes nothing
// until Reset().
//
// Thread-safety: a plain value; one thread at a time.
//
// Memory ordering: none.
#ifndef RACELAB_HTTP_INTERNAL_RESPONSE_PARSER_H_
#define RACELAB_HTTP_INTERNAL_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace racelab::http {

class ResponseParser {
 public:
  // The most a head (status line and header lines, or the trailers) may
  // take; a longer one is malformed.
  static constexpr std::size_t kMaxHeadBytes = 64 * 1024;

  // Forgets the last response: the next byte fed starts a new one.
  void Reset();

  // Consumes a prefix of `bytes` and returns its length. Stops at the end
  // of the response (done()), at malformed input (failed()), or at a
  // partial line, which it leaves for the caller to feed again with more.
  std::size_t Feed(std::string_view bytes);

  // The stream ended. A body that runs to the end of the stream is then
  // complete (done()); any other unfinished response fails ("end of stream").
  void FinishAtEof();

  bool done() const { return phase_ == Phase::kDone; }
  bool failed() const { return phase_ == Phase::kFailed; }
  // Whether any byte of this response has been consumed.
  bool started() const { return started_; }
  // Valid once done(): the final status, and whether the server leaves the
  // connection open for the next request.
  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  // What was malformed; "" unless failed().
  const std::string& error() const { return error_; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaderLine,
    kFixedBody,     // Content-Length: body_left_ more bytes
    kChunkSize,     // the line "1a;ext=x"
    kChunkData,     // body_left_ more bytes of a chunk
    kChunkDataEnd,  // the CRLF after a chunk's data
    kTrailerLine,
    kBodyToEof,
    kDone,
    kFailed,
  };

  // Handles one complete line of the head or of the chunk framing, without
  // its CRLF.
  void OnLine(std::string_view line);
  void OnStatusLine(std::string_view line);
  void OnHeaderLine(std::string_view line);
  void OnHeadEnd();
  void OnChunkSize(std::string_view line);
  void Fail(std::string error);

  Phase phase_ = Phase::kStatusLine;
  bool started_ = false;
  int status_ = 0;
  int minor_version_ = 1;
  bool keep_alive_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool chunked_ = false;
  bool has_transfer_encoding_ = false;
  bool has_content_length_ = false;
  std::uint64_t content_length_ = 0;
  std::uint64_t body_left_ = 0;
  std::size_t head_bytes_ = 0;  // of the head or the trailers being read
  std::string error_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_INTERNAL_RESPONSE_PARSER_H_
