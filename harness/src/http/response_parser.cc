#include "racelab/http/internal/response_parser.h"

#include <algorithm>
#include <utility>

#include "racelab/http/message.h"

namespace racelab::http {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls visit(token) for each comma-separated element of a list field,
// blanks trimmed, empty elements skipped.
template <typename Visit>
void ForEachListElement(std::string_view value, Visit visit) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view element = TrimBlanks(value.substr(0, comma));
    if (!element.empty()) visit(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void ResponseParser::Reset() { *this = ResponseParser(); }

std::size_t ResponseParser::Feed(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size()) {
    const std::size_t left = bytes.size() - used;
    switch (phase_) {
      case Phase::kDone:
      case Phase::kFailed: return used;
      case Phase::kFixedBody:
      case Phase::kChunkData: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, left));
        used += take;
        body_left_ -= take;
        started_ = true;
        if (body_left_ == 0) {
          phase_ = phase_ == Phase::kFixedBody ? Phase::kDone : Phase::kChunkDataEnd;
        }
        continue;
      }
      case Phase::kBodyToEof: started_ = true; return bytes.size();
      default: break;  // a line
    }
    const bool in_head = phase_ == Phase::kStatusLine || phase_ == Phase::kHeaderLine ||
                         phase_ == Phase::kTrailerLine;
    const std::size_t budget = in_head ? kMaxHeadBytes - head_bytes_ : kMaxHeadBytes;
    const std::string_view rest = bytes.substr(used);
    const auto newline = rest.find('\n');
    const char* too_long =
        in_head ? "response head larger than 64 KiB" : "chunk-size line longer than 64 KiB";
    if (newline == std::string_view::npos) {
      if (left > budget) Fail(too_long);
      return used;  // a partial line: fed again, longer
    }
    if (newline + 1 > budget) {
      Fail(too_long);
      return used;
    }
    if (newline == 0 || rest[newline - 1] != '\r') {
      Fail("a line ends in LF without CR");
      return used;
    }
    if (in_head) head_bytes_ += newline + 1;
    used += newline + 1;
    started_ = true;
    OnLine(rest.substr(0, newline - 1));
  }
  return used;
}

void ResponseParser::FinishAtEof() {
  if (phase_ == Phase::kBodyToEof) {
    phase_ = Phase::kDone;
    keep_alive_ = false;
  } else if (phase_ != Phase::kDone && phase_ != Phase::kFailed) {
    Fail(started_ ? "end of stream inside a response" : "end of stream");
  }
}

void ResponseParser::OnLine(std::string_view line) {
  switch (phase_) {
    case Phase::kStatusLine: OnStatusLine(line); return;
    case Phase::kHeaderLine: OnHeaderLine(line); return;
    case Phase::kChunkSize: OnChunkSize(line); return;
    case Phase::kChunkDataEnd:
      if (line.empty()) {
        phase_ = Phase::kChunkSize;
      } else {
        Fail("a chunk's data is not followed by CRLF");
      }
      return;
    case Phase::kTrailerLine:
      if (line.empty()) phase_ = Phase::kDone;  // trailer fields are skipped
      return;
    default: return;
  }
}

// "HTTP/1.1 200 OK", "HTTP/1.0 404", ...
void ResponseParser::OnStatusLine(std::string_view line) {
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (line.size() < 12 || line.substr(0, kPrefix.size()) != kPrefix || !IsDigit(line[7]) ||
      line[8] != ' ' || !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) ||
      line[9] == '0' || (line.size() > 12 && line[12] != ' ')) {
    Fail("bad status line '" + std::string(line.substr(0, 40)) + "'");
    return;
  }
  minor_version_ = line[7] - '0';
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  connection_close_ = connection_keep_alive_ = false;
  chunked_ = has_transfer_encoding_ = has_content_length_ = false;
  content_length_ = 0;
  phase_ = Phase::kHeaderLine;
}

void ResponseParser::OnHeaderLine(std::string_view line) {
  if (line.empty()) {
    OnHeadEnd();
    return;
  }
  const auto colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || !IsFieldName(name)) {
    Fail("bad header line '" + std::string(line.substr(0, 40)) + "'");
    return;
  }
  const std::string_view value = TrimBlanks(line.substr(colon + 1));
  if (EqualsIgnoringCase(name, "content-length")) {
    std::uint64_t length = 0;
    const bool digits_only =
        !value.empty() && value.size() <= 18 && std::all_of(value.begin(), value.end(), IsDigit);
    for (char c : digits_only ? value : std::string_view()) length = length * 10 + (c - '0');
    if (!digits_only || (has_content_length_ && length != content_length_)) {
      Fail("bad Content-Length '" + std::string(value.substr(0, 40)) + "'");
      return;
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoringCase(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    ForEachListElement(value, [this](std::string_view coding) {
      chunked_ = EqualsIgnoringCase(coding, "chunked");  // the last coding decides
    });
  } else if (EqualsIgnoringCase(name, "connection")) {
    ForEachListElement(value, [this](std::string_view option) {
      if (EqualsIgnoringCase(option, "close")) connection_close_ = true;
      if (EqualsIgnoringCase(option, "keep-alive")) connection_keep_alive_ = true;
    });
  }
}

void ResponseParser::OnHeadEnd() {
  if (status_ == 101) {
    Fail("101 Switching Protocols, which no request asked for");
    return;
  }
  if (status_ < 200) {  // interim: the final answer follows
    phase_ = Phase::kStatusLine;
    head_bytes_ = 0;
    return;
  }
  keep_alive_ =
      minor_version_ >= 1 ? !connection_close_ : connection_keep_alive_ && !connection_close_;
  if (status_ == 204 || status_ == 304) {
    phase_ = Phase::kDone;
  } else if (has_transfer_encoding_) {
    if (chunked_) {
      phase_ = Phase::kChunkSize;
    } else {
      phase_ = Phase::kBodyToEof;
      keep_alive_ = false;
    }
  } else if (has_content_length_) {
    body_left_ = content_length_;
    phase_ = body_left_ == 0 ? Phase::kDone : Phase::kFixedBody;
  } else {
    phase_ = Phase::kBodyToEof;
    keep_alive_ = false;
  }
}

// "1a", "1a;name=value", "1a ; name": hex digits, then extensions, skipped.
void ResponseParser::OnChunkSize(std::string_view line) {
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; digits < line.size() && HexValue(line[digits]) >= 0; ++digits) {
    size = size * 16 + static_cast<std::uint64_t>(HexValue(line[digits]));
  }
  const std::string_view rest = TrimBlanks(line.substr(digits));
  if (digits == 0 || digits > 15 || (!rest.empty() && rest.front() != ';')) {
    Fail("bad chunk size '" + std::string(line.substr(0, 40)) + "'");
    return;
  }
  if (size == 0) {
    phase_ = Phase::kTrailerLine;
    head_bytes_ = 0;
  } else {
    body_left_ = size;
    phase_ = Phase::kChunkData;
  }
}

void ResponseParser::Fail(std::string error) {
  phase_ = Phase::kFailed;
  error_ = std::move(error);
}

}  // namespace racelab::http
