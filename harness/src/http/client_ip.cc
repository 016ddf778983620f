#include "racelab/http/client_ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace racelab::http {

namespace {

constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN - 1;  // 45
// An X-Forwarded-For item with its optional whitespace; longer is malformed.
// Bounding it bounds the work on a header of any length.
constexpr std::size_t kMaxItemText = kMaxAddressText + 16;
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The client in X-Forwarded-For: walking from the right, the first address
// that is not a trusted proxy, or the leftmost if all are. nullopt if an
// item on the way is malformed or the walk is too long.
std::optional<IpAddress> FromForwardedFor(std::string_view xff, const TrustedProxies& trusted) {
  std::size_t end = xff.size();
  for (int hop = 0; hop < kMaxForwardedHops; ++hop) {
    std::size_t start = end;
    while (start > 0 && xff[start - 1] != ',') {
      --start;
      if (end - start > kMaxItemText) return std::nullopt;  // overlong
    }
    const std::optional<IpAddress> address = IpAddress::Parse(Trim(xff.substr(start, end - start)));
    if (!address) return std::nullopt;  // garbage, port, empty item...
    if (!trusted.contains(*address)) return address;
    if (start == 0) return address;  // every hop is ours: the leftmost
    end = start - 1;                 // before the comma
  }
  return std::nullopt;  // more hops than we would ever deploy
}

}  // namespace

// ---- IpAddress ------------------------------------------------------------

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressText) return std::nullopt;
  // inet_pton stops at a NUL: "1.2.3.4\0junk" must not pass as 1.2.3.4.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[kMaxAddressText + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(AF_INET, buf, address.bytes_.data()) == 1) {
    address.v4_ = true;
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
  std::memcpy(address.bytes_.data(), v6.s6_addr, 16);
  if (std::memcmp(address.bytes_.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    std::memmove(address.bytes_.data(), address.bytes_.data() + 12, 4);
    std::fill(address.bytes_.begin() + 4, address.bytes_.end(), 0);
    address.v4_ = true;
  }
  return address;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

// ---- IpNetwork ------------------------------------------------------------

std::optional<IpNetwork> IpNetwork::Parse(std::string_view cidr, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<IpNetwork> {
    if (error != nullptr) *error = "parse(" + Quoted(cidr) + "): " + why;
    return std::nullopt;
  };
  const std::size_t slash = cidr.find('/');
  const std::string_view address_text = cidr.substr(0, slash);
  const std::optional<IpAddress> address = IpAddress::Parse(address_text);
  if (!address) return fail(Quoted(address_text) + " is not an IP address");
  // An IPv4-mapped block written in IPv6 ("::ffff:10.0.0.0/104") counts its
  // prefix in IPv6 bits.
  const bool mapped = address->v4_ && address_text.find(':') != std::string_view::npos;
  const int text_bits = address->v4_ && !mapped ? 32 : 128;
  int prefix = text_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = cidr.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fail("prefix " + Quoted(digits) + " is not a number");
    }
    prefix = 0;
    for (char c : digits) prefix = prefix * 10 + (c - '0');
    if (prefix > text_bits) {
      return fail("prefix " + std::to_string(prefix) + " exceeds " + std::to_string(text_bits));
    }
  }
  if (mapped) {
    if (prefix < 96) return fail("an IPv4-mapped block needs a prefix of 96 or more");
    prefix -= 96;
  }
  IpNetwork network;
  network.base_ = *address;
  network.prefix_ = prefix;
  // Clear the host bits.
  for (int bit = prefix; bit < 128; ++bit) {
    network.base_.bytes_[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return network;
}

bool IpNetwork::contains(const IpAddress& address) const noexcept {
  if (address.v4_ != base_.v4_) return false;
  const int whole = prefix_ / 8;
  if (std::memcmp(address.bytes_.data(), base_.bytes_.data(), whole) != 0) return false;
  const int rest = prefix_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (address.bytes_[whole] & mask) == base_.bytes_[whole];
}

std::string IpNetwork::ToString() const { return base_.ToString() + "/" + std::to_string(prefix_); }

// ---- TrustedProxies -------------------------------------------------------

std::optional<TrustedProxies> TrustedProxies::Parse(std::string_view list, std::string* error) {
  TrustedProxies proxies;
  std::size_t i = 0;
  while (i < list.size()) {
    if (list[i] == ',' || IsSpace(list[i]) || list[i] == '\n') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < list.size() && list[j] != ',' && !IsSpace(list[j]) && list[j] != '\n') ++j;
    if (!proxies.add(list.substr(i, j - i), error)) return std::nullopt;
    i = j;
  }
  return proxies;
}

bool TrustedProxies::add(std::string_view cidr, std::string* error) {
  std::optional<IpNetwork> network = IpNetwork::Parse(cidr, error);
  if (!network) return false;
  networks_.push_back(*network);
  return true;
}

bool TrustedProxies::contains(const IpAddress& address) const noexcept {
  return std::any_of(networks_.begin(), networks_.end(),
                     [&](const IpNetwork& n) { return n.contains(address); });
}

// ---- ClientIp -------------------------------------------------------------

std::optional<IpAddress> ClientIp(std::string_view peer, const ForwardedHeaders& headers,
                                  const TrustedProxies& trusted) {
  const std::optional<IpAddress> peer_address = IpAddress::Parse(Trim(peer));
  if (!peer_address) return std::nullopt;
  if (!trusted.contains(*peer_address)) return peer_address;  // headers are the client's
  if (const std::string_view xff = Trim(headers.x_forwarded_for); !xff.empty()) {
    const std::optional<IpAddress> client = FromForwardedFor(xff, trusted);
    return client ? client : peer_address;
  }
  if (const std::string_view real = Trim(headers.x_real_ip); !real.empty()) {
    const std::optional<IpAddress> client = IpAddress::Parse(real);
    return client ? client : peer_address;
  }
  return peer_address;
}

std::string ClientIpKey(std::string_view peer, const ForwardedHeaders& headers,
                        const TrustedProxies& trusted) {
  const std::optional<IpAddress> client = ClientIp(peer, headers, trusted);
  return client ? client->ToString() : std::string(peer);
}

}  // namespace racelab::http
