// client_ip: strict address parsing, CIDR blocks, and which address is the
// client when proxies (trusted or not) and forwarding headers are involved.
#include "racelab/http/client_ip.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace racelab::http {
namespace {

using namespace std::string_literals;

TrustedProxies Proxies(std::string_view list) {
  std::string error;
  std::optional<TrustedProxies> proxies = TrustedProxies::Parse(list, &error);
  EXPECT_TRUE(proxies.has_value()) << error;
  return proxies.value_or(TrustedProxies());
}

// The key of a request from `peer` carrying `forwarded` in the header our
// proxies are configured to set.
std::string Client(std::string_view peer, std::string_view forwarded, const TrustedProxies& trusted,
                   ForwardedHeader header = ForwardedHeader::kXForwardedFor) {
  return ClientIpResolver({.trusted = trusted, .header = header}).Key(peer, forwarded);
}

Request RequestFrom(std::string peer, std::vector<Header> headers) {
  Request request;
  request.peer_address = std::move(peer);
  request.headers = std::move(headers);
  return request;
}

// ---- IpAddress ------------------------------------------------------------

TEST(IpAddressTest, ParsesIpv4AndIpv6IntoCanonicalText) {
  EXPECT_EQ(IpAddress::Parse("192.0.2.1")->ToString(), "192.0.2.1");
  EXPECT_TRUE(IpAddress::Parse("192.0.2.1")->is_v4());
  EXPECT_EQ(IpAddress::Parse("2001:DB8:0:0::1")->ToString(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::Parse("2001:db8::1")->is_v4());
  EXPECT_EQ(IpAddress::Parse("::1")->ToString(), "::1");
}

TEST(IpAddressTest, Ipv4MappedIpv6IsTheIpv4Address) {
  const std::optional<IpAddress> mapped = IpAddress::Parse("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->is_v4());
  EXPECT_EQ(mapped->ToString(), "192.0.2.1");
  EXPECT_EQ(*mapped, *IpAddress::Parse("192.0.2.1"));
}

TEST(IpAddressTest, RejectsAnythingButOneBareAddress) {
  for (const std::string& bad :
       {""s, "1.2.3"s, "1.2.3.4.5"s, "256.1.1.1"s, "01.2.3.4"s, "1.2.3.4:80"s, "[::1]"s,
        "[::1]:443"s, "fe80::1%eth0"s, " 1.2.3.4"s, "1.2.3.4 "s, "1.2.3.4\0junk"s, "abc"s,
        "::1::2"s, "1.2.3.4/32"s, "unknown"s, "1:2:3:4:5:6:7:8:9"s,
        "1111:2222:3333:4444:5555:6666:7777:8888:9999"s}) {
    EXPECT_FALSE(IpAddress::Parse(bad).has_value()) << "accepted \"" << bad << "\"";
  }
}

// ---- IpNetwork ------------------------------------------------------------

TEST(IpNetworkTest, ContainsAddressesInsideTheBlockOnly) {
  const IpNetwork ten = *IpNetwork::Parse("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(*IpAddress::Parse("10.255.0.1")));
  EXPECT_FALSE(ten.contains(*IpAddress::Parse("11.0.0.1")));
  const IpNetwork odd = *IpNetwork::Parse("192.168.0.0/23");
  EXPECT_TRUE(odd.contains(*IpAddress::Parse("192.168.1.255")));
  EXPECT_FALSE(odd.contains(*IpAddress::Parse("192.168.2.0")));
  const IpNetwork doc6 = *IpNetwork::Parse("2001:db8::/32");
  EXPECT_TRUE(doc6.contains(*IpAddress::Parse("2001:db8:ffff::1")));
  EXPECT_FALSE(doc6.contains(*IpAddress::Parse("2001:db9::1")));
}

TEST(IpNetworkTest, BareAddressIsASingleHost) {
  const IpNetwork host = *IpNetwork::Parse("192.0.2.7");
  EXPECT_EQ(host.ToString(), "192.0.2.7/32");
  EXPECT_TRUE(host.contains(*IpAddress::Parse("192.0.2.7")));
  EXPECT_FALSE(host.contains(*IpAddress::Parse("192.0.2.8")));
  EXPECT_EQ(IpNetwork::Parse("::1")->ToString(), "::1/128");
}

TEST(IpNetworkTest, FamiliesNeverMatchEachOther) {
  EXPECT_FALSE(IpNetwork::Parse("0.0.0.0/0")->contains(*IpAddress::Parse("::1")));
  EXPECT_FALSE(IpNetwork::Parse("::/0")->contains(*IpAddress::Parse("127.0.0.1")));
  EXPECT_TRUE(IpNetwork::Parse("0.0.0.0/0")->contains(*IpAddress::Parse("203.0.113.1")));
}

TEST(IpNetworkTest, HostBitsAreCleared) {
  EXPECT_EQ(IpNetwork::Parse("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(IpNetwork::Parse("2001:db8::1/32")->ToString(), "2001:db8::/32");
}

TEST(IpNetworkTest, MappedBlockMatchesIpv4Addresses) {
  const IpNetwork mapped = *IpNetwork::Parse("::ffff:10.0.0.0/104");
  EXPECT_EQ(mapped.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(mapped.contains(*IpAddress::Parse("10.9.9.9")));
  EXPECT_FALSE(IpNetwork::Parse("::ffff:0:0/95").has_value());
}

TEST(IpNetworkTest, ErrorsNameTheTextAndTheFault) {
  std::string error;
  EXPECT_FALSE(IpNetwork::Parse("10.0.0.0/33", &error).has_value());
  EXPECT_EQ(error, "parse(\"10.0.0.0/33\"): prefix 33 exceeds 32");
  EXPECT_FALSE(IpNetwork::Parse("::/129", &error).has_value());
  EXPECT_EQ(error, "parse(\"::/129\"): prefix 129 exceeds 128");
  EXPECT_FALSE(IpNetwork::Parse("proxy/8", &error).has_value());
  EXPECT_EQ(error, "parse(\"proxy/8\"): \"proxy\" is not an IP address");
  for (const char* bad :
       {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/ 8", "10.0.0.0/8/9", "10.0.0.0/0008"}) {
    EXPECT_FALSE(IpNetwork::Parse(bad).has_value()) << bad;
  }
}

// ---- TrustedProxies -------------------------------------------------------

TEST(TrustedProxiesTest, ParsesCommaAndSpaceSeparatedLists) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8,  192.168.1.1 ::1\t2001:db8::/32,");
  EXPECT_TRUE(proxies.contains(*IpAddress::Parse("10.2.3.4")));
  EXPECT_TRUE(proxies.contains(*IpAddress::Parse("192.168.1.1")));
  EXPECT_TRUE(proxies.contains(*IpAddress::Parse("::1")));
  EXPECT_TRUE(proxies.contains(*IpAddress::Parse("2001:db8::9")));
  EXPECT_FALSE(proxies.contains(*IpAddress::Parse("192.168.1.2")));
}

TEST(TrustedProxiesTest, ParseStopsAtTheFirstBadEntry) {
  std::string error;
  EXPECT_FALSE(TrustedProxies::Parse("10.0.0.0/8, 10.0.0.0/40", &error).has_value());
  EXPECT_EQ(error, "parse(\"10.0.0.0/40\"): prefix 40 exceeds 32");
  TrustedProxies proxies;
  EXPECT_FALSE(proxies.add("nonsense"));
  EXPECT_TRUE(proxies.empty());
}

// ---- ClientIpResolver -------------------------------------------------------

TEST(ClientIpTest, WithoutTrustedProxiesTheHeadersAreNeverRead) {
  EXPECT_EQ(Client("198.51.100.7", "203.0.113.1", TrustedProxies()), "198.51.100.7");
  EXPECT_EQ(Client("198.51.100.7", "203.0.113.2", TrustedProxies(), ForwardedHeader::kXRealIp),
            "198.51.100.7");
}

TEST(ClientIpTest, UntrustedPeerCannotSpoofItsAddress) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("198.51.100.7", "10.0.0.5", proxies), "198.51.100.7");
  EXPECT_EQ(Client("198.51.100.7", "1.1.1.1", proxies, ForwardedHeader::kXRealIp), "198.51.100.7");
}

TEST(ClientIpTest, TrustedPeerGivesTheRightmostUntrustedForwardedAddress) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  // The client claims 203.0.113.9; our edge proxy saw 198.51.100.7.
  EXPECT_EQ(Client("10.0.0.1", "203.0.113.9, 198.51.100.7, 10.0.0.2", proxies), "198.51.100.7");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.7", proxies), "198.51.100.7");
}

// The client sends its own X-Forwarded-For line; the proxy appends the
// address it saw as a second line (HAProxy's forwardfor). The request's
// lines are one list, and the client's line is left of the proxy's.
TEST(ClientIpTest, SecondForwardedForLineCannotSpoofTheKey) {
  const ClientIpResolver clients({.trusted = Proxies("10.0.0.0/8")});
  const Request r = RequestFrom(
      "10.0.0.1", {{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.7"}});
  EXPECT_EQ(clients.Key(r), "198.51.100.7");
}

TEST(ClientIpTest, GarbageLeftOfTheClientIsNeverRead) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("10.0.0.1", "<script>, , 1.2.3.4:80,198.51.100.7", proxies), "198.51.100.7");
}

TEST(ClientIpTest, EveryForwardedAddressTrustedGivesTheLeftmost) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("10.0.0.1", "10.1.1.1, 10.2.2.2", proxies), "10.1.1.1");
  EXPECT_EQ(Client("10.0.0.1", ", 10.1.1.1, , 10.2.2.2", proxies), "10.1.1.1");
}

TEST(ClientIpTest, EmptyForwardedItemsAreSkipped) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.7, , 10.0.0.2", proxies), "198.51.100.7");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.7,", proxies), "198.51.100.7");
  EXPECT_EQ(Client("10.0.0.1", ",", proxies), "10.0.0.1");
}

TEST(ClientIpTest, MalformedForwardedForFallsBackToThePeer) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  const std::string overlong = "198.51.100.7" + std::string(100, 'x');
  for (const std::string& xff :
       {"garbage"s, "198.51.100.7:99999"s, "198.51.100.7:"s, "198.51.100.7:80:81"s,
        "[198.51.100.7]:80"s, "[2001:db8::1"s, "[2001:db8::1]x"s, overlong,
        overlong + ", 10.0.0.2"s, "198.51.100.7 10.0.0.2"s, "fe80::1%eth0"s}) {
    EXPECT_EQ(Client("10.0.0.1", xff, proxies), "10.0.0.1") << "X-Forwarded-For: " << xff;
  }
}

TEST(ClientIpTest, TooManyTrustedHopsFallsBackToThePeer) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  std::string hops = "198.51.100.7";
  for (int i = 0; i < kMaxForwardedHops - 1; ++i) hops += ", 10.0.0." + std::to_string(i);
  EXPECT_EQ(Client("10.0.0.1", hops, proxies), "198.51.100.7");  // 16 items
  hops += ", 10.0.1.1";
  EXPECT_EQ(Client("10.0.0.1", hops, proxies), "10.0.0.1");  // 17 items
}

TEST(ClientIpTest, VeryLongHeaderCostsBoundedWorkAndStillFindsTheClient) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  const std::string junk(1 << 20, 'a');  // the client's part: never scanned
  EXPECT_EQ(Client("10.0.0.1", junk + ",198.51.100.7", proxies), "198.51.100.7");
}

// Which header the proxies set is configuration: behind a proxy that sets
// X-Real-IP (and replaces the client's), the client's own X-Forwarded-For
// passes through untouched and must not be read.
TEST(ClientIpTest, BehindARealIpProxyAClientForwardedForDoesNotWin) {
  const ClientIpResolver clients(
      {.trusted = Proxies("10.0.0.0/8"), .header = ForwardedHeader::kXRealIp});
  const Request r =
      RequestFrom("10.0.0.1", {{"X-Forwarded-For", "6.6.6.6"}, {"X-Real-IP", "198.51.100.7"}});
  EXPECT_EQ(clients.Key(r), "198.51.100.7");
  const ClientIpResolver xff_clients({.trusted = Proxies("10.0.0.0/8")});
  EXPECT_EQ(xff_clients.Key(RequestFrom("10.0.0.1", {{"X-Real-IP", "6.6.6.6"}})), "10.0.0.1");
}

TEST(ClientIpTest, RealIpIsOneAddressOrIgnored) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  const ForwardedHeader real = ForwardedHeader::kXRealIp;
  EXPECT_EQ(Client("10.0.0.1", " 203.0.113.5 ", proxies, real), "203.0.113.5");
  EXPECT_EQ(Client("10.0.0.1", "203.0.113.5:80", proxies, real), "203.0.113.5");
  EXPECT_EQ(Client("10.0.0.1", "not-an-ip", proxies, real), "10.0.0.1");
  // Two lines: the proxy did not replace the client's; believe neither.
  EXPECT_EQ(Client("10.0.0.1", "6.6.6.6, 203.0.113.5", proxies, real), "10.0.0.1");
}

TEST(ClientIpTest, ProxyThatAppendsAPortDoesNotCollapseClientsOntoItself) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.7:4711", proxies), "198.51.100.7");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.8:4712", proxies), "198.51.100.8");
  EXPECT_EQ(Client("10.0.0.1", "[2001:db8::7]:443", proxies), "2001:db8::/64");
  EXPECT_EQ(Client("10.0.0.1", "[2001:db8::7]", proxies), "2001:db8::/64");
  EXPECT_EQ(Client("10.0.0.1", "198.51.100.7:4711, 10.0.0.2:80", proxies), "198.51.100.7");
}

TEST(ClientIpTest, PeerGivenWithAPortIsOneKeyPerHost) {
  EXPECT_EQ(Client("198.51.100.7:50000", "", TrustedProxies()), "198.51.100.7");
  EXPECT_EQ(Client("198.51.100.7:50001", "", TrustedProxies()), "198.51.100.7");
  EXPECT_EQ(Client("[2001:db8::1]:50001", "", TrustedProxies()), "2001:db8::/64");
  EXPECT_EQ(Client("10.0.0.1:3128", "198.51.100.7", Proxies("10.0.0.0/8")), "198.51.100.7");
}

TEST(ClientIpTest, Ipv6ClientsAreKeyedPerSlash64) {
  EXPECT_EQ(Client("2001:db8:1:2::1", "", TrustedProxies()), "2001:db8:1:2::/64");
  EXPECT_EQ(Client("2001:db8:1:2:ffff::9", "", TrustedProxies()), "2001:db8:1:2::/64");
  EXPECT_EQ(Client("2001:db8:1:3::1", "", TrustedProxies()), "2001:db8:1:3::/64");
  EXPECT_EQ(Client("198.51.100.7", "", TrustedProxies()), "198.51.100.7");  // IPv4: /32
}

TEST(ClientIpTest, Ipv6PrefixIsConfigurableWithinSaneBounds) {
  const ClientIpResolver per56({.ipv6_prefix = 56});
  EXPECT_EQ(per56.Key("2001:db8:1:2ff::1", ""), "2001:db8:1:200::/56");
  const ClientIpResolver per_host({.ipv6_prefix = 128});
  EXPECT_EQ(per_host.Key("2001:db8::1", ""), "2001:db8::1/128");
  for (int prefix : {0, 31, 129}) {
    try {
      ClientIpResolver bad({.ipv6_prefix = prefix});
      ADD_FAILURE() << "ipv6_prefix " << prefix << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(e.what(),
                "ClientIpResolver: ipv6_prefix " + std::to_string(prefix) + " is outside 32..128");
    }
  }
}

TEST(ClientIpTest, Ipv6PeersProxiesAndClients) {
  const TrustedProxies proxies = Proxies("::1, 2001:db8:aaaa::/48");
  EXPECT_EQ(Client("::1", "2001:DB8::7, 2001:db8:aaaa::2", proxies), "2001:db8::/64");
  EXPECT_EQ(Client("2001:db8:bbbb::1", "2001:db8::7", proxies), "2001:db8:bbbb::/64");
}

TEST(ClientIpTest, MappedPeerMatchesIpv4TrustedProxies) {
  const TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(Client("::ffff:10.0.0.1", "198.51.100.7", proxies), "198.51.100.7");
  EXPECT_EQ(Client("::ffff:198.51.100.9", "", proxies), "198.51.100.9");
}

TEST(ClientIpTest, UnparseablePeerIsReturnedAsGiven) {
  const ClientIpResolver clients({.trusted = Proxies("0.0.0.0/0")});
  EXPECT_FALSE(clients.Client("unix:/run/sock", "").has_value());
  EXPECT_EQ(clients.Key("unix:/run/sock", "198.51.100.7"), "unix:/run/sock");
}

TEST(IpNetworkTest, ContainingClearsTheBitsPastThePrefix) {
  EXPECT_EQ(IpNetwork::Containing(*IpAddress::Parse("2001:db8:1:2:3::4"), 64).ToString(),
            "2001:db8:1:2::/64");
  EXPECT_EQ(IpNetwork::Containing(*IpAddress::Parse("192.0.2.77"), 24).ToString(), "192.0.2.0/24");
  EXPECT_EQ(IpNetwork::Containing(*IpAddress::Parse("192.0.2.77"), 64).ToString(), "192.0.2.77/32");
}

}  // namespace
}  // namespace racelab::http
