// Client IP for rate-limit keys: which address a request really came from,
// without letting the client choose it.
//
// The TCP peer is the client, unless the peer is one of our own proxies
// (a configured trusted CIDR, IPv4 or IPv6). Only then are the forwarding
// headers read: X-Forwarded-For, walked from the right (each proxy appends
// the address it saw), skipping our trusted proxies; the first address that
// is not one of ours is the client. Everything to its left was written by
// the client and is never read. Without X-Forwarded-For, X-Real-IP is used.
// A malformed value (garbage, a port, brackets, a zone, an empty item, an
// item longer than any address, more than kMaxForwardedHops proxies) is
// ignored, never trusted: the answer is then the peer.
//
//   racelab::http::TrustedProxies proxies =
//       racelab::http::TrustedProxies::Parse("10.0.0.0/8, ::1").value();
//   std::string key = racelab::http::ClientIpKey(
//       req.peer_address,
//       {req.header("X-Forwarded-For"), req.header("X-Real-IP")}, proxies);
//
// Addresses are parsed with inet_pton, strictly, and printed canonically
// (inet_ntop), so one client is one key however it was spelled; an
// IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address.
// Everything here is a pure function or an immutable value.
//
// Memory ordering: none; values only. A TrustedProxies that is no longer
// modified may be read from any number of threads.
#ifndef RACELAB_HTTP_CLIENT_IP_H_
#define RACELAB_HTTP_CLIENT_IP_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace racelab::http {

// The most proxies walked in X-Forwarded-For before it is called malformed.
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

// The forwarding headers of one request, as received; "" when absent.
struct ForwardedHeaders {
  std::string_view x_forwarded_for;  // several header lines joined with ","
  std::string_view x_real_ip;
};

// The client's address, by the rules above. Returns nullopt only when the
// peer itself is not an address.
std::optional<IpAddress> ClientIp(std::string_view peer, const ForwardedHeaders& headers,
                                  const TrustedProxies& trusted);

// ClientIp() as a rate-limit key: the canonical text of the address, or the
// peer text as given if it is not an address.
std::string ClientIpKey(std::string_view peer, const ForwardedHeaders& headers,
                        const TrustedProxies& trusted);

}  // namespace racelab::http

#endif  // RACELAB_HTTP_CLIENT_IP_H_
