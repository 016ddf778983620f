#include "racelab/http/client_ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace racelab::http {

namespace {

constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN - 1;  // 45
// An X-Forwarded-For item with its brackets, port and optional whitespace;
// longer is malformed. Bounding it bounds the work on a header of any length.
constexpr std::size_t kMaxItemText = kMaxAddressText + 24;
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A port: 1 to 5 digits, at most 65535.
bool IsPort(std::string_view s) {
  if (!IsDigits(s) || s.size() > 5) return false;
  int port = 0;
  for (char c : s) port = port * 10 + (c - '0');
  return port <= 65535;
}

// An address as proxies and peers give it, the port dropped: "192.0.2.1",
// "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443".
std::optional<IpAddress> ParseHost(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && IsPort(rest.substr(1)))) return std::nullopt;
    const std::optional<IpAddress> address = IpAddress::Parse(text.substr(1, close - 1));
    if (!address || address->is_v4()) return std::nullopt;  // brackets hold IPv6 only
    return address;
  }
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    // One colon: IPv4 with a port (an IPv6 address has two or more).
    if (!IsPort(text.substr(colon + 1))) return std::nullopt;
    const std::optional<IpAddress> address = IpAddress::Parse(text.substr(0, colon));
    if (!address || !address->is_v4()) return std::nullopt;
    return address;
  }
  return IpAddress::Parse(text);
}

// The client in X-Forwarded-For: walking from the right, the first address
// that is not a trusted proxy, or the leftmost if all are. Empty items are
// skipped. nullopt if an item on the way is malformed or the walk is too
// long (empty items count towards it).
std::optional<IpAddress> FromForwardedFor(std::string_view xff, const TrustedProxies& trusted) {
  std::optional<IpAddress> leftmost;
  std::size_t end = xff.size();
  for (int hop = 0; hop < kMaxForwardedHops; ++hop) {
    std::size_t start = end;
    while (start > 0 && xff[start - 1] != ',') {
      --start;
      if (end - start > kMaxItemText) return std::nullopt;  // overlong
    }
    if (const std::string_view item = Trim(xff.substr(start, end - start)); !item.empty()) {
      const std::optional<IpAddress> address = ParseHost(item);
      if (!address) return std::nullopt;  // garbage, a bad port, a zone...
      if (!trusted.contains(*address)) return address;
      leftmost = address;
    }
    if (start == 0) return leftmost;  // every hop is ours: the leftmost
    end = start - 1;                  // before the comma
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
  return Containing(*address, prefix);
}

IpNetwork IpNetwork::Containing(const IpAddress& address, int prefix) {
  IpNetwork network;
  network.base_ = address;
  network.prefix_ = std::clamp(prefix, 0, address.v4_ ? 32 : 128);
  // Clear the host bits.
  for (int bit = network.prefix_; bit < 128; ++bit) {
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

// ---- ClientIpResolver ------------------------------------------------------

std::string_view HeaderName(ForwardedHeader header) {
  switch (header) {
    case ForwardedHeader::kXForwardedFor: return "X-Forwarded-For";
    case ForwardedHeader::kXRealIp: return "X-Real-IP";
  }
  return "X-Forwarded-For";
}

ClientIpResolver::ClientIpResolver(Options options) : options_(std::move(options)) {
  if (options_.ipv6_prefix < 32 || options_.ipv6_prefix > 128) {
    throw std::invalid_argument("ClientIpResolver: ipv6_prefix " +
                                std::to_string(options_.ipv6_prefix) + " is outside 32..128");
  }
}

std::optional<IpAddress> ClientIpResolver::Client(const Request& request) const {
  return Client(request.peer_address, request.header_list(HeaderName(options_.header)));
}

std::optional<IpAddress> ClientIpResolver::Client(std::string_view peer,
                                                  std::string_view forwarded) const {
  const std::optional<IpAddress> peer_address = ParseHost(Trim(peer));
  if (!peer_address) return std::nullopt;
  if (!options_.trusted.contains(*peer_address)) return peer_address;  // not our proxy
  forwarded = Trim(forwarded);
  if (forwarded.empty()) return peer_address;
  const std::optional<IpAddress> client = options_.header == ForwardedHeader::kXForwardedFor
                                              ? FromForwardedFor(forwarded, options_.trusted)
                                              : ParseHost(forwarded);  // one line, one address
  return client ? client : peer_address;
}

std::string ClientIpResolver::Key(const Request& request) const {
  return Key(request.peer_address, request.header_list(HeaderName(options_.header)));
}

std::string ClientIpResolver::Key(std::string_view peer, std::string_view forwarded) const {
  const std::optional<IpAddress> client = Client(peer, forwarded);
  if (!client) return std::string(peer);
  if (client->is_v4()) return client->ToString();
  return IpNetwork::Containing(*client, options_.ipv6_prefix).ToString();
}

}  // namespace racelab::http
