// Client IP for rate-limit keys: which address a request really came from,
// without letting the client choose it, and the key to limit it by.
//
//   racelab::http::ClientIpResolver clients({
//       .trusted = racelab::http::TrustedProxies::Parse("10.0.0.0/8, ::1").value(),
//       .header = racelab::http::ForwardedHeader::kXForwardedFor,  // what they set
//   });
//   racelab::Decision d = limiter.allow(clients.Key(request));
//
// The rules:
//   - The TCP peer is the client, unless the peer is one of our own proxies
//     (a configured trusted CIDR, IPv4 or IPv6). Only then is a forwarding
//     header read, and only the one the proxies are configured to set
//     (Options::header): behind proxies that set X-Real-IP, a client's own
//     X-Forwarded-For is never read, and the other way round.
//   - X-Forwarded-For is read as ONE list over all its lines (RFC 9110
//     5.3: Request::header_list), walked from the right: each proxy appends
//     the address it saw, so the rightmost address that is not a trusted
//     proxy is the client. Everything to its left was written by the client
//     and is never read, a line of its own included. Empty items are
//     skipped (RFC 9110 5.6.1).
//   - X-Real-IP must be exactly one address: a proxy that sets it replaces
//     the client's, so a second line means it did not, and is malformed.
//   - An address may carry a port, as some proxies and peers give it:
//     "192.0.2.1:4711", "[2001:db8::1]:443", "[2001:db8::1]". The port is
//     dropped: one host is one key however many connections it opens.
//   - Anything malformed (garbage, a bad port, a zone, an item longer than
//     any address, more than kMaxForwardedHops items walked) is ignored,
//     never trusted: the answer is then the peer.
//   - The key of an IPv4 client is its address; of an IPv6 client, the
//     block of Options::ipv6_prefix bits that holds it ("2001:db8:1:2::/64"
//     by default), since one host commonly holds a whole /64 and would
//     otherwise pick a new key per request. The prefix is 32 to 128 bits,
//     so no setting keys everyone alike.
//
// Addresses are parsed with inet_pton, strictly, and printed canonically
// (inet_ntop), so one client is one key however it was spelled; an
// IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address.
//
// Memory ordering: none; values only. A ClientIpResolver (or a
// TrustedProxies) that is no longer modified may be read from any number
// of threads.
#ifndef RACELAB_HTTP_CLIENT_IP_H_
#define RACELAB_HTTP_CLIENT_IP_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "racelab/http/message.h"

namespace racelab::http {

// The most items walked in X-Forwarded-For before it is called malformed.
inline constexpr int kMaxForwardedHops = 16;

class IpAddress {
 public:
  // One address, strictly: "192.0.2.1", "2001:db8::1". Nothing else: no
  // port, brackets, zone ("%eth0"), spaces, leading zeros or NUL bytes.
  // Guarantees: an IPv4-mapped IPv6 address comes back as IPv4.
  static std::optional<IpAddress> Parse(std::string_view text);

  bool is_v4() const noexcept { return v4_; }
  // Canonical text: "192.0.2.1", "2001:db8::1".
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  friend class IpNetwork;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4: the first 4
  bool v4_ = false;
};

// A CIDR block: an address and a prefix length.
class IpNetwork {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.1" is /32,
  // "::1" is /128). Bits past the prefix are ignored ("10.1.2.3/8" is
  // 10.0.0.0/8). On failure, *error (if given) names the text and the fault:
  // parse("10.0.0.0/33"): prefix 33 exceeds 32.
  static std::optional<IpNetwork> Parse(std::string_view cidr, std::string* error = nullptr);

  // The block of `prefix` bits that holds `address` (prefix clamped to the
  // address family's 32 or 128 bits).
  static IpNetwork Containing(const IpAddress& address, int prefix);

  bool contains(const IpAddress& address) const noexcept;
  // "10.0.0.0/8".
  std::string ToString() const;

 private:
  IpAddress base_;  // host bits cleared
  int prefix_ = 0;
};

// The proxies whose forwarding headers we believe.
class TrustedProxies {
 public:
  // Trusts nobody: forwarding headers are never read.
  TrustedProxies() = default;

  // A list separated by commas and/or whitespace: "10.0.0.0/8, ::1". On the
  // first bad entry returns nullopt and sets *error (if given).
  static std::optional<TrustedProxies> Parse(std::string_view list, std::string* error = nullptr);

  // Adds one block. Returns false, adding nothing, if `cidr` is malformed.
  bool add(std::string_view cidr, std::string* error = nullptr);

  bool contains(const IpAddress& address) const noexcept;
  bool empty() const noexcept { return networks_.empty(); }

 private:
  std::vector<IpNetwork> networks_;
};

// The header our trusted proxies set to say who the client is.
enum class ForwardedHeader { kXForwardedFor, kXRealIp };

// "X-Forwarded-For", "X-Real-IP".
std::string_view HeaderName(ForwardedHeader header);

class ClientIpResolver {
 public:
  struct Options {
    // The peers whose forwarding header is read; empty: nobody's.
    TrustedProxies trusted;
    // The one header those proxies set; the other is never read.
    ForwardedHeader header = ForwardedHeader::kXForwardedFor;
    // IPv6 clients are keyed by the block of this many bits (32 to 128).
    int ipv6_prefix = 64;
  };

  // Throws: std::invalid_argument for an ipv6_prefix outside 32..128 (the
  // text names the value).
  explicit ClientIpResolver(Options options);

  // The client of `request` (its peer_address, and all lines of the
  // configured header), by the rules above. nullopt only when the peer
  // itself is not an address.
  std::optional<IpAddress> Client(const Request& request) const;
  // The same from the parts: `forwarded` is the configured header's lines
  // joined with "," ("" when absent), as Request::header_list gives them.
  std::optional<IpAddress> Client(std::string_view peer, std::string_view forwarded) const;

  // Client() as a rate-limit key: an IPv4 address, or an IPv6 block
  // ("2001:db8:1:2::/64"); the peer text as given if it is not an address.
  std::string Key(const Request& request) const;
  std::string Key(std::string_view peer, std::string_view forwarded) const;

  const Options& options() const noexcept { return options_; }

 private:
  Options options_;
};

}  // namespace racelab::http

#endif  // RACELAB_HTTP_CLIENT_IP_H_
