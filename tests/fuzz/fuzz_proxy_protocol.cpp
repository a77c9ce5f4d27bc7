// Fuzzes the PROXY protocol header parser (http/proxy_protocol.h) the way a
// connection feeds it: the bytes so far, growing at fuzzer-chosen cuts. Every
// feeding must reach the same answer as the whole input; NeedMore only while
// every byte given may still be the header's; a Done header's length within
// what was given and its addresses valid text; and one is re-parsed from its
// own bytes alone to the same result (nothing after it was looked at).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/address_set.h"
#include "http/proxy_protocol.h"

using subcorn::http::IpAddress;
using subcorn::http::parse_proxy_header;
using subcorn::http::ProxyHeader;
using subcorn::http::ProxyParse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte chooses the step of the growing feed.
  size_t step = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  ProxyHeader whole;
  std::string error;
  ProxyParse whole_result = parse_proxy_header(input, &whole, &error);
  if (whole_result == ProxyParse::Invalid) FUZZ_CHECK(!error.empty());

  ProxyHeader fed;
  ProxyParse fed_result = ProxyParse::NeedMore;
  size_t given = 0;
  while (fed_result == ProxyParse::NeedMore && given < input.size()) {
    given = std::min(input.size(), given + step);
    fed_result = parse_proxy_header(input.substr(0, given), &fed, &error);
  }
  FUZZ_CHECK(fed_result == whole_result);
  if (whole_result != ProxyParse::Done) return 0;

  FUZZ_CHECK(whole.length > 0 && whole.length <= input.size());
  FUZZ_CHECK(whole.length <= subcorn::http::PROXY_V2_FIXED + 65535);
  FUZZ_CHECK(fed.length == whole.length);
  FUZZ_CHECK(fed.source_host == whole.source_host && fed.source_port == whole.source_port);
  if (whole.kind == ProxyHeader::Kind::Proxied) {
    FUZZ_CHECK(IpAddress::parse(whole.source_host).has_value());
    FUZZ_CHECK(IpAddress::parse(whole.destination_host).has_value());
    FUZZ_CHECK(whole.source_port >= 0 && whole.source_port <= 65535);
    FUZZ_CHECK(whole.destination_port >= 0 && whole.destination_port <= 65535);
  }
  ProxyHeader alone;
  FUZZ_CHECK(parse_proxy_header(input.substr(0, whole.length), &alone, &error) == ProxyParse::Done);
  FUZZ_CHECK(alone.length == whole.length && alone.source_host == whole.source_host &&
             alone.destination_port == whole.destination_port);
  return 0;
}
