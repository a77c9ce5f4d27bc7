#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/handshake.h"

namespace subcorn::ws {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A request head as http::RequestParser produces it (names lowercased); the
// storage lives in the struct so that the views stay valid.
struct Head {
  Headers storage;
  http::RequestHead head;
  Head(const Headers& h, std::string_view method = "GET", int minor = 1) : storage(h) {
    head.method = method;
    head.target = head.path = "/chat";
    head.version_minor = minor;
    for (const auto& [n, v] : storage) head.headers.push_back({n, v});
  }
};

Headers base(Headers extra = {}) {
  Headers h = {{"host", "server.example.com"},
               {"upgrade", "websocket"},
               {"connection", "Upgrade"},
               {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"sec-websocket-version", "13"}};
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

Headers without(Headers h, const std::string& name) {
  std::erase_if(h, [&](const auto& p) { return p.first == name; });
  return h;
}

Headers operator+(Headers a, const Headers& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

HandshakeResult check(const Headers& h, const DeflateConfig& config = {}) {
  Head head(h);
  return check_handshake(head.head, config);
}

// RFC 6455 1.3's example key and accept value.
TEST(Handshake, AcceptKeyOfTheRfc) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  HandshakeResult r = check(base());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_FALSE(r.deflate);
  EXPECT_EQ(r.extensions, "");
}

TEST(Handshake, IsUpgrade) {
  EXPECT_TRUE(is_websocket_upgrade(Head(base()).head));
  Headers lists = without(without(base(), "connection"), "upgrade");
  lists.push_back({"connection", "keep-alive, UPGRADE"});
  lists.push_back({"upgrade", "foo/2, WebSocket"});
  EXPECT_TRUE(is_websocket_upgrade(Head(lists).head));
  EXPECT_FALSE(is_websocket_upgrade(Head(without(base(), "upgrade")).head));
  EXPECT_FALSE(is_websocket_upgrade(Head(without(base(), "connection")).head));
  Headers h2c = without(base(), "upgrade");
  h2c.push_back({"upgrade", "h2c"});
  EXPECT_FALSE(is_websocket_upgrade(Head(h2c).head));
  EXPECT_FALSE(is_websocket_upgrade(Head(base(), "POST").head));
  Headers substring = without(base(), "connection");
  substring.push_back({"connection", "upgrades"});
  EXPECT_FALSE(is_websocket_upgrade(Head(substring).head));
}

TEST(Handshake, Refusals) {
  EXPECT_EQ(check_handshake(Head(base(), "POST").head, {}).status, 400);
  EXPECT_EQ(check_handshake(Head(base(), "GET", 0).head, {}).status, 400);
  EXPECT_EQ(check(without(base(), "upgrade")).status, 400);
  EXPECT_EQ(check(without(base(), "sec-websocket-key")).status, 400);
  for (const char* key : {"dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZ===",
                          "dGhlIHNhbXBsZSBub25j*Q==", "aGVsbG8=", "dGhlIHNhbXBsZSBub25jZSBub25jZQ=="}) {
    EXPECT_EQ(check(without(base(), "sec-websocket-key") + Headers{{"sec-websocket-key", key}}).status, 400) << key;
  }
  EXPECT_EQ(check(base({{"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="}})).status, 400);  // two keys
  HandshakeResult v8 = check(without(base(), "sec-websocket-version") + Headers{{"sec-websocket-version", "8"}});
  EXPECT_EQ(v8.status, 426);
  EXPECT_EQ(check(without(base(), "sec-websocket-version")).status, 426);
  EXPECT_EQ(check(base({{"sec-websocket-version", "13"}})).status, 426);  // two versions
  for (const HandshakeResult& r : {check(without(base(), "sec-websocket-key")), v8}) {
    EXPECT_FALSE(r.reason.empty());
    std::string resp = handshake_error_response(r);
    std::string status_line = r.status == 426 ? "HTTP/1.1 426 Upgrade Required\r\n" : "HTTP/1.1 400 Bad Request\r\n";
    EXPECT_TRUE(resp.starts_with(status_line)) << resp;
    EXPECT_NE(resp.find("connection: close\r\n"), std::string::npos);
    EXPECT_EQ(resp.find("sec-websocket-version: 13\r\n") != std::string::npos, r.status == 426) << resp;
    std::string body = std::string(r.reason) + "\n";
    EXPECT_TRUE(resp.ends_with("\r\n\r\n" + body)) << resp;
    EXPECT_NE(resp.find("content-length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  }
}

TEST(Handshake, Subprotocols) {
  HandshakeResult r = check(base({{"sec-websocket-protocol", "chat, superchat"}, {"sec-websocket-protocol", " v2 ,,"}}));
  EXPECT_EQ(r.subprotocols, (std::vector<std::string>{"chat", "superchat", "v2"}));
  const char* error = "unset";
  std::string resp = accept_response(r, "superchat", {}, &error);
  EXPECT_EQ(error, nullptr);
  EXPECT_EQ(resp,
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: superchat\r\n\r\n");
  EXPECT_EQ(accept_response(r, "other", {}, &error), "");
  EXPECT_NE(error, nullptr);
  EXPECT_EQ(accept_response(check(base()), "chat", {}, &error), "");  // nothing offered
  EXPECT_NE(error, nullptr);
}

TEST(Handshake, ExtraHeaders) {
  HandshakeResult r = check(base());
  const char* error = "unset";
  std::string resp = accept_response(r, "", {{"set-cookie", "a=b"}, {"x-thing", "1"}}, &error);
  EXPECT_EQ(error, nullptr);
  EXPECT_TRUE(resp.ends_with("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nset-cookie: a=b\r\nx-thing: 1\r\n\r\n"))
      << resp;
  for (const auto& bad : Headers{{"bad name", "x"}, {"", "x"}, {"x", "a\r\nb: c"}, {"x", std::string("a\0b", 3)},
                                 {"Upgrade", "x"}, {"connection", "close"}, {"Sec-WebSocket-Protocol", "chat"},
                                 {"sec-websocket-accept", "x"}, {"sec-websocket-extensions", "x"},
                                 {"content-length", "0"}, {"transfer-encoding", "chunked"}}) {
    error = nullptr;
    EXPECT_EQ(accept_response(r, "", {bad}, &error), "") << bad.first;
    EXPECT_NE(error, nullptr) << bad.first;
  }
}

struct Negotiation {
  std::string offer;       // the Sec-WebSocket-Extensions value
  std::string answer;      // "" when declined
  DeflateConfig config = {};
  int server_bits = 15, client_bits = 15;
  bool server_reset = false, client_reset = false;
};

TEST(Handshake, PermessageDeflateNegotiation) {
  DeflateConfig small{.server_max_window_bits = 12, .client_max_window_bits = 10};
  DeflateConfig resets{.server_no_context_takeover = true, .client_no_context_takeover = true};
  const std::vector<Negotiation> cases = {
      {"permessage-deflate", "permessage-deflate"},
      {"permessage-deflate; client_max_window_bits", "permessage-deflate"},
      {"Permessage-Deflate;client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10", {}, 15, 10},
      {"permessage-deflate; client_max_window_bits=\"9\"", "permessage-deflate; client_max_window_bits=9", {}, 15, 9},
      {"permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8", {}, 8, 15},
      {"permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15"},
      {"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", {}, 15, 15, true, true},
      // The server's own limits.
      {"permessage-deflate", "permessage-deflate; server_max_window_bits=12", small, 12, 15},
      {"permessage-deflate; client_max_window_bits",
       "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10", small, 12, 10},
      {"permessage-deflate; server_max_window_bits=9; client_max_window_bits=14",
       "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10", small, 9, 10},
      {"permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", resets, 15,
       15, true, true},
      // Declined offers, then the next one.
      {"permessage-deflate; server_max_window_bits=7, permessage-deflate", "permessage-deflate"},
      {"permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover",
       "permessage-deflate; client_no_context_takeover", {}, 15, 15, false, true},
      {"permessage-deflate; server_max_window_bits", ""},            // a value is required
      {"permessage-deflate; server_max_window_bits=010", ""},        // no leading zero
      {"permessage-deflate; client_max_window_bits=abc", ""},
      {"permessage-deflate; server_no_context_takeover=1", ""},
      {"permessage-deflate; unknown_param", ""},
      {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
      {"x-webkit-deflate-frame", ""},
      {"foo; bar=\"a, permessage-deflate\", permessage-deflate; client_max_window_bits=15",
       "permessage-deflate; client_max_window_bits=15", {}, 15, 15},
      {"permessage-deflate", "", DeflateConfig{.enabled = false}},
  };
  for (const Negotiation& n : cases) {
    HandshakeResult r = check(base({{"sec-websocket-extensions", n.offer}}), n.config);
    ASSERT_EQ(r.status, 0) << n.offer;
    EXPECT_EQ(r.extensions, n.answer) << n.offer;
    EXPECT_EQ(r.deflate.has_value(), !n.answer.empty()) << n.offer;
    if (!r.deflate) continue;
    EXPECT_EQ(r.deflate->server_max_window_bits, n.server_bits) << n.offer;
    EXPECT_EQ(r.deflate->client_max_window_bits, n.client_bits) << n.offer;
    EXPECT_EQ(r.deflate->server_no_context_takeover, n.server_reset) << n.offer;
    EXPECT_EQ(r.deflate->client_no_context_takeover, n.client_reset) << n.offer;
  }
}

TEST(Handshake, ExtensionOffersOnSeveralLines) {
  HandshakeResult r = check(base({{"sec-websocket-extensions", "permessage-deflate; bogus"},
                                  {"sec-websocket-extensions", "permessage-deflate; server_no_context_takeover"}}));
  EXPECT_EQ(r.extensions, "permessage-deflate; server_no_context_takeover");
  const char* error = "unset";
  std::string resp = accept_response(r, "", {}, &error);
  EXPECT_EQ(error, nullptr);
  EXPECT_NE(resp.find("\r\nsec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace subcorn::ws
