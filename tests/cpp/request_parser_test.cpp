// Request parser spec as data: raw input -> expected events (after llhttp's
// Markdown specs and picohttpparser's PARSE table). Every case is fed whole,
// one byte at a time, split in two at every point, and with a pipelined
// request behind it (after h11's tests/test_io.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "http/limits.h"
#include "parser_driver.h"

namespace subcorn::http::test {
namespace {

struct Case {
  const char* name;
  std::string input;
  Trace expected;
  Limits limits = {};
};

// gtest prints a failing parameter with this instead of its raw bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// A literal with embedded NULs, without the terminating one.
template <size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string operator*(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

const std::vector<Case>& cases() {
  using S = std::string;
  static const std::vector<Case> all = {
      // --- the common case ---
      {"simple_get", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[example.com]", "complete"}},
      {"no_headers_raw_target", "GET /a%20b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /a%20b?x=1&y HTTP/1.1", "h host=[h]", "complete"}},
      {"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head OPTIONS * HTTP/1.1", "h host=[h]", "complete"}},
      {"absolute_form", "GET http://h.example/p?q HTTP/1.1\r\nHost: h.example\r\n\r\n",
       {"head GET http://h.example/p?q HTTP/1.1 path=/p?q", "h host=[h.example]", "complete"}},
      {"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", {"head GET / HTTP/1.1", "h host=[h]", "complete"}},

      // --- header names, order, repeats, whitespace ---
      {"headers_lowercased_in_order_with_repeats",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Custom-Header: One\r\nACCEPT: */*\r\nx-custom-header: Two\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[a]", "h x-custom-header=[One]", "h accept=[*/*]",
        "h x-custom-header=[Two]", "complete"}},
      {"value_whitespace_trimmed", "GET / HTTP/1.1\r\nHost: h\r\nA:   spaced out  \r\nB:\tt\tab\t\r\nC:\r\nD: \t \r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h a=[spaced out]", "h b=[t\tab]", "h c=[]", "h d=[]", "complete"}},
      {"value_obs_text_kept", "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h x-name=[caf\xc3\xa9]", "complete"}},

      // --- keep-alive ---
      {"http10_closes_by_default", "GET / HTTP/1.0\r\n\r\n", {"head GET / HTTP/1.0 close", "complete"}},
      {"http10_keep_alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
       {"head GET / HTTP/1.0", "h connection=[keep-alive]", "complete"}},
      {"http11_connection_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
       {"head GET / HTTP/1.1 close", "h host=[h]", "h connection=[close]", "complete"}},
      {"http11_connection_close_in_list", "GET / HTTP/1.1\r\nHost: h\r\nConnection: TE, Close\r\n\r\n",
       {"head GET / HTTP/1.1 close", "h host=[h]", "h connection=[TE, Close]", "complete"}},

      // --- bodies ---
      {"content_length_body", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
       {"head POST /p HTTP/1.1 cl=5", "h host=[h]", "h content-length=[5]", "body [hello]", "complete"}},
      {"content_length_zero", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
       {"head POST /p HTTP/1.1 cl=0", "h host=[h]", "h content-length=[0]", "complete"}},
      {"chunked_with_extensions_and_trailers",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n6;name=value;flag\r\n world\r\n0;last\r\nTrailer-A: x\r\nTrailer-B: y\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [hello world]", "complete"}},
      {"chunked_hex_sizes_any_case", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
       "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[Chunked]", "body [0123456789abcdefghijk]", "complete"}},
      {"chunked_empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "complete"}},
      {"invalid_chunk_size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "error 400"}},
      {"chunk_size_overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "error 400"}},
      {"chunk_data_without_crlf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [abc]", "error 400"}},
      {"space_after_chunk_size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "error 400"}},
      {"chunk_missing_final_crlf_then_garbage",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "error 400"}},
      {"chunk_extensions_too_long",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + S("x") * 200 + "\r\na\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "error 400"}, Limits{.max_head_bytes = 128}},

      // --- framing conflicts and codings ---
      {"cl_then_te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {"error 400"}},
      {"te_then_cl", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", {"error 400"}},
      {"duplicate_content_length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", {"error 400"}},
      {"content_length_not_a_number", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\nx", {"error 400"}},
      {"content_length_overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", {"error 400"}},
      {"content_length_negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", {"error 400"}},
      {"te_not_ending_in_chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", {"error 400"}},
      {"te_chunked_twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", {"error 400"}},
      {"te_other_coding_before_chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
       {"error 501"}},
      {"te_other_coding_on_own_line",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {"error 501"}},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {"error 400"}},

      // --- limits ---
      {"head_exactly_at_limit", "GET /limit HTTP/1.1\r\nHost: h\r\n\r\n",  // 32 bytes
       {"head GET /limit HTTP/1.1", "h host=[h]", "complete"}, Limits{.max_head_bytes = 32}},
      {"head_one_over_limit", "GET /limit HTTP/1.1\r\nHost: h\r\n\r\n", {"error 431"}, Limits{.max_head_bytes = 31}},
      {"head_with_long_value", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + S("v") * 2000 + "\r\n\r\n", {"error 431"},
       Limits{.max_head_bytes = 1024}},
      {"head_with_long_target", "GET /" + S("t") * 2000 + " HTTP/1.1\r\n\r\n", {"error 431"}, Limits{.max_head_bytes = 1024}},
      {"head_of_whitespace", "GET / HTTP/1.1\r\nHost: h\r\nX-Big:" + S(" ") * 2000, {"error 431"}, Limits{.max_head_bytes = 1024}},
      {"head_of_empty_lines", S("\r\n") * 600, {"error 431"}, Limits{.max_head_bytes = 1024}},
      {"headers_at_count_limit", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h a=[1]", "h b=[2]", "h c=[3]", "complete"}, Limits{.max_headers = 4}},
      {"too_many_headers", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", {"error 431"}, Limits{.max_headers = 4}},
      {"too_many_trailers",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT1: 1\r\nT2: 2\r\nT3: 3\r\nT4: 4\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [a]", "error 431"}, Limits{.max_headers = 3}},
      {"trailers_too_large",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: " + S("x") * 200 + "\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [a]", "error 431"}, Limits{.max_head_bytes = 128}},
      {"content_length_at_limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd",
       {"head POST / HTTP/1.1 cl=4", "h host=[h]", "h content-length=[4]", "body [abcd]", "complete"}, Limits{.max_body_bytes = 4}},
      {"content_length_over_limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde", {"error 413"},
       Limits{.max_body_bytes = 4}},
      {"chunked_over_limit", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [abc]", "error 413"}, Limits{.max_body_bytes = 4}},
      {"chunked_at_limit", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [abcd]", "complete"}, Limits{.max_body_bytes = 4}},

      // --- malformed request lines ---
      {"no_space_after_method", "GET/ HTTP/1.1\r\n\r\n", {"error 400"}},
      // RFC 9112 3 lets a recipient split the request line on whitespace; llhttp does.
      {"two_spaces_after_method_tolerated", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "complete"}},
      {"space_in_target", "GET /a b HTTP/1.1\r\n\r\n", {"error 400"}},
      {"extra_token", "GET / HTTP/1.1 x\r\n\r\n", {"error 400"}},
      // Methods are case-sensitive tokens: "get" is a method nobody implements.
      {"lowercase_method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"unknown_method", "FROB / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"unknown_method_known_prefix", "GETX / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"unknown_method_prefix_of_known", "G / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"unknown_method_after_empty_lines", "\r\nPU / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"rtsp_method", "DESCRIBE / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 501"}},
      {"unknown_method_pipelined", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nFROB /b HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /a HTTP/1.1", "h host=[h]", "complete", "error 501"}},
      // A token is an unknown method only if a space follows it.
      {"token_without_target", "GARBAGE\r\n\r\n", {"error 400"}},
      {"token_then_tab", "FROB\t/ HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"unknown_method_over_line_limit", "FROB" + S("X") * 100 + " / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"},
       Limits{.max_request_line = 50}},
      {"unknown_method_over_head_limit", "FROB" + S("X") * 100 + " / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 431"},
       Limits{.max_head_bytes = 64}},
      // The empty lines before it count toward the head, also when they come
      // in the same read as the token (found by fuzz_request_parser: 501 whole,
      // 431 when cut after the empty lines).
      {"unknown_method_after_empty_lines_over_head_limit", S("\r\n") * 30 + "FROB / HTTP/1.1\r\nHost: h\r\n\r\n",
       {"error 431"}, Limits{.max_head_bytes = 62}},
      {"unknown_method_after_empty_lines_within_head_limit", S("\r\n") * 30 + "FROB / HTTP/1.1\r\nHost: h\r\n\r\n",
       {"error 501"}, Limits{.max_head_bytes = 65}},
      {"no_method_leading_space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"no_method_tab_after", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"version_1_2", "GET / HTTP/1.2\r\n\r\n", {"error 400"}},
      {"version_2_0", "GET / HTTP/2.0\r\n\r\n", {"error 400"}},
      {"rtsp_protocol", "GET / RTSP/1.0\r\n\r\n", {"error 400"}},
      {"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {"error 400"}},
      {"pri_in_http11", "PRI * HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"pri_origin_form", "PRI / HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"http09_request_line", "GET /\r\n\r\n", {"error 400"}},
      {"tab_in_target", "GET /a\tb HTTP/1.1\r\n\r\n", {"error 400"}},
      {"control_char_in_target", "GET /a\x01 HTTP/1.1\r\n\r\n", {"error 400"}},
      {"bare_lf_line_ends", "GET / HTTP/1.1\nHost: h\n\n", {"error 400"}},
      {"bare_cr_in_head", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", {"error 400"}},
      {"binary_garbage", raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), {"error 400"}},

      // --- malformed header lines ---
      {"bad_name_char_at", "GET / HTTP/1.1\r\nHost: h\r\nBad@Name: x\r\n\r\n", {"error 400"}},
      {"bad_name_space", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", {"error 400"}},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost: h\r\nName : x\r\n\r\n", {"error 400"}},
      {"empty_name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", {"error 400"}},
      {"no_colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", {"error 400"}},
      {"obs_fold", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n  c\r\n\r\n", {"error 400"}},
      {"obs_fold_first_line", "GET / HTTP/1.1\r\nHost: h\r\n  A: b\r\n\r\n", {"error 400"}},
      {"nul_in_value", raw("GET / HTTP/1.1\r\nHost: h\r\nA: b\0c\r\n\r\n"), {"error 400"}},
      {"control_char_in_value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n", {"error 400"}},
      {"del_in_value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\x7f\r\n\r\n", {"error 400"}},

      // --- pipelining ---
      {"pipelined_three",
       "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
       "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n",
       {"head GET /1 HTTP/1.1", "h host=[h]", "complete", "head POST /2 HTTP/1.1 cl=3", "h host=[h]", "h content-length=[3]", "body [abc]",
        "complete", "head POST /3 HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [xy]", "complete"}},
      {"pipelined_with_empty_line_between", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /1 HTTP/1.1", "h host=[h]", "complete", "head GET /2 HTTP/1.1", "h host=[h]", "complete"}},
      {"pipelined_then_head_one_over_limit", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /limit HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /1 HTTP/1.1", "h host=[h]", "complete", "error 431"}, Limits{.max_head_bytes = 31}},
      {"pipelined_then_body_over_limit",
       "GET /1 HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nZ: z\r\nContent-Length: 9\r\n\r\n123456789",
       {"head GET /1 HTTP/1.1", "h host=[h]", "h x=[y]", "complete", "error 413"}, Limits{.max_body_bytes = 4}},
      {"pipelined_after_close_is_refused", "GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /1 HTTP/1.1 close", "h host=[h]", "h connection=[close]", "complete", "error 400"}},

      // --- expect, upgrade, connect ---
      {"expect_continue", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
       {"head POST / HTTP/1.1 cl=2 expect", "h host=[h]", "h expect=[100-Continue]", "h content-length=[2]", "body [ok]",
        "complete"}},
      {"expect_other", "GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h expect=[something]", "complete"}},
      {"upgrade_websocket", "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       {"head GET /ws HTTP/1.1 upgrade", "h host=[h]", "h connection=[Upgrade]", "h upgrade=[websocket]", "complete"}},
      {"upgrade_with_body", "POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc",
       {"head POST / HTTP/1.1 cl=3 upgrade", "h host=[h]", "h connection=[upgrade]", "h upgrade=[h2c]", "h content-length=[3]",
        "body [abc]", "complete"}},
      {"upgrade_header_without_connection", "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h upgrade=[websocket]", "complete"}},

      // --- CONNECT: not a proxy, refused before anything after the method ---
      {"connect", "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n", {"error 501"}},
      // Served as HTTP, llhttp would skip this body and hand out GET /smuggled.
      {"connect_with_body", "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\nContent-Length: 40\r\n\r\n"
       "GET /smuggled HTTP/1.1\r\nHost: h.example\r\n\r\n", {"error 501"}},
      {"connect_with_malformed_rest", "CONNECT \x01\x02\r\n\r\n", {"error 501"}},

      // --- request targets (RFC 9112 3.2) ---
      {"asterisk_without_options", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"asterisk_then_more", "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"asterisk_with_query", "OPTIONS *?x HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"fragment_in_target", "GET /p#frag HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"fragment_after_query", "GET /p?q#frag HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"origin_form_double_slash_is_a_path", "GET //h.example/p HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET //h.example/p HTTP/1.1", "h host=[h]", "complete"}},
      {"absolute_form_authority_replaces_host",
       "GET http://a.example:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\nX: y\r\n\r\n",
       {"head GET http://a.example:8080/p?q=1 HTTP/1.1 path=/p?q=1", "h host=[a.example:8080]", "h x=[y]", "complete"}},
      {"absolute_form_without_path", "GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n",
       {"head GET http://a.example HTTP/1.1 path=/", "h host=[a.example]", "complete"}},
      {"absolute_form_query_without_path", "GET http://a.example?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n",
       {"head GET http://a.example?x=1 HTTP/1.1 path=/?x=1", "h host=[a.example]", "complete"}},
      {"absolute_form_https_any_case", "GET HTTPS://A.example/ HTTP/1.1\r\nHost: a\r\n\r\n",
       {"head GET HTTPS://A.example/ HTTP/1.1 path=/", "h host=[A.example]", "complete"}},
      {"absolute_form_ipv6", "GET http://[::1]:8000/p HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head GET http://[::1]:8000/p HTTP/1.1 path=/p", "h host=[[::1]:8000]", "complete"}},
      // RFC 9110 7.2: an empty Host is what a client sends for a target
      // without an authority; with absolute-form the target decides anyway.
      {"absolute_form_empty_host", "GET http://a.example/p HTTP/1.1\r\nHost:\r\n\r\n",
       {"head GET http://a.example/p HTTP/1.1 path=/p", "h host=[a.example]", "complete"}},
      {"absolute_form_http10_adds_host", "GET http://a.example/p HTTP/1.0\r\nX: y\r\n\r\n",
       {"head GET http://a.example/p HTTP/1.0 path=/p close", "h x=[y]", "h host=[a.example]", "complete"}},
      {"absolute_form_http11_still_needs_host", "GET http://a.example/p HTTP/1.1\r\n\r\n", {"error 400"}},
      {"absolute_form_two_hosts", "GET http://a.example/p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {"error 400"}},
      {"absolute_form_userinfo", "GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", {"error 400"}},
      {"absolute_form_empty_authority", "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", {"error 400"}},
      {"absolute_form_other_scheme", "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", {"error 400"}},
      {"absolute_form_bad_port", "GET http://a.example:8x/ HTTP/1.1\r\nHost: a.example\r\n\r\n", {"error 400"}},

      // --- Host (RFC 9112 3.2): one, valid, required in HTTP/1.1 ---
      {"no_host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", {"error 400"}},
      {"no_host_http10", "GET / HTTP/1.0\r\nX: y\r\n\r\n", {"head GET / HTTP/1.0 close", "h x=[y]", "complete"}},
      {"two_hosts_same_value", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", {"error 400"}},
      {"two_hosts_any_case", "GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n", {"error 400"}},
      {"host_invalid_http10", "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", {"error 400"}},
      {"two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", {"error 400"}},
      {"host_empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", {"error 400"}},
      {"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", {"error 400"}},
      {"host_with_path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", {"error 400"}},
      {"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", {"error 400"}},
      {"host_port_not_digits", "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", {"error 400"}},
      {"host_two_ports", "GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", {"error 400"}},
      {"host_only_port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", {"error 400"}},
      {"host_bad_pct", "GET / HTTP/1.1\r\nHost: a%4g\r\n\r\n", {"error 400"}},
      {"host_ipv6_unbracketed", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", {"error 400"}},
      {"host_ipv6_unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", {"error 400"}},
      {"host_ipv6_nine_groups", "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", {"error 400"}},
      {"host_ipv6_two_gaps", "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", {"error 400"}},
      {"host_ipv6_bad_ipv4", "GET / HTTP/1.1\r\nHost: [::ffff:1.2.3.256]\r\n\r\n", {"error 400"}},
      {"host_ipv6_text_after", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", {"error 400"}},
      {"host_ipv6_zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", {"error 400"}},
      {"host_name_port", "GET / HTTP/1.1\r\nHost: my_host.example:8000\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[my_host.example:8000]", "complete"}},
      {"host_ipv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[127.0.0.1:80]", "complete"}},
      {"host_ipv6", "GET / HTTP/1.1\r\nHost: [2001:db8::ffff:1.2.3.4]:443\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[[2001:db8::ffff:1.2.3.4]:443]", "complete"}},
      {"host_ipv6_full", "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8]\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[[1:2:3:4:5:6:7:8]]", "complete"}},
      {"host_ipvfuture", "GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[[v1.fe80::a+en1]]", "complete"}},
      // The grammar's own edges: port = *DIGIT, reg-name takes pct-encoded
      // and sub-delims characters.
      {"host_empty_port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", {"head GET / HTTP/1.1", "h host=[a:]", "complete"}},
      {"host_pct_and_sub_delims", "GET / HTTP/1.1\r\nHost: a%41!$&'()*+,;=b\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[a%41!$&'()*+,;=b]", "complete"}},
      // A framing field in trailers is refused (llhttp), never read as framing.
      {"content_length_in_trailers",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 99\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [a]", "error 400"}},
      {"host_in_trailers_is_not_a_second_host",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nHost: evil\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [a]", "complete"}},

      // --- request line (414) and field (431) limits ---
      {"request_line_at_limit", "GET /abc HTTP/1.1\r\nHost: h\r\n\r\n",  // line: 17 bytes
       {"head GET /abc HTTP/1.1", "h host=[h]", "complete"}, Limits{.max_request_line = 17}},
      {"request_line_over_limit", "GET /abcd HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"}, Limits{.max_request_line = 17}},
      {"request_line_spaces_count", "GET  /abc HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"}, Limits{.max_request_line = 17}},
      {"request_line_version_counts", "GET /abc HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"}, Limits{.max_request_line = 16}},
      {"request_line_without_leading_empty_lines", "\r\n\r\nGET /abc HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /abc HTTP/1.1", "h host=[h]", "complete"}, Limits{.max_request_line = 17}},
      {"request_line_long_target", "GET /" + S("t") * 2000 + " HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"},
       Limits{.max_request_line = 1024}},
      // Past both limits: the one crossed first speaks, however the bytes came.
      {"request_line_limit_crossed_first", "GET /" + S("t") * 2000 + " HTTP/1.1\r\nHost: h\r\n\r\n", {"error 414"},
       Limits{.max_head_bytes = 1024, .max_request_line = 512}},
      {"head_limit_crossed_first", "\r\n\r\nGET /" + S("t") * 2000 + " HTTP/1.1\r\nHost: h\r\n\r\n", {"error 431"},
       Limits{.max_head_bytes = 512, .max_request_line = 1024}},
      {"request_line_limit_is_not_the_fields", "GET / HTTP/1.1\r\nHost: h\r\nX: " + S("v") * 100 + "\r\n\r\n",
       {"head GET / HTTP/1.1", "h host=[h]", "h x=[" + S("v") * 100 + "]", "complete"}, Limits{.max_request_line = 15}},
      {"pipelined_then_request_line_over_limit", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /abcdefgh HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /a HTTP/1.1", "h host=[h]", "complete", "error 414"}, Limits{.max_request_line = 17}},
      {"field_at_limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Abc:   123456\r\n\r\n",  // "X-Abc" + "123456"
       {"head GET / HTTP/1.1", "h host=[h]", "h x-abc=[123456]", "complete"}, Limits{.max_field_bytes = 11}},
      {"field_over_limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Abc: 1234567\r\n\r\n", {"error 431"},
       Limits{.max_field_bytes = 11}},
      {"field_long_name", "GET / HTTP/1.1\r\nHost: h\r\nX-" + S("n") * 20 + ": 1\r\n\r\n", {"error 431"},
       Limits{.max_field_bytes = 11}},
      {"field_trailing_whitespace_counts", "GET / HTTP/1.1\r\nHost: h\r\nX-Abc: 12345 \t\r\n\r\n", {"error 431"},
       Limits{.max_field_bytes = 11}},
      {"field_limit_applies_to_trailers",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: " + S("x") * 40 + "\r\n\r\n",
       {"head POST / HTTP/1.1 chunked", "h host=[h]", "h transfer-encoding=[chunked]", "body [a]", "error 431"},
       Limits{.max_field_bytes = 30}},
      {"field_limit_is_not_the_request_line", "GET /" + S("t") * 100 + " HTTP/1.1\r\nHost: h\r\n\r\n",
       {"head GET /" + S("t") * 100 + " HTTP/1.1", "h host=[h]", "complete"}, Limits{.max_field_bytes = 11}},
  };
  return all;
}

// Behind every case: a request that must come out whole once the case is done.
// (Small enough to fit every case's limits.)
const std::string NEXT = "GET /n HTTP/1.1\r\nHost: n\r\n\r\n";
const Trace NEXT_TRACE = {"head GET /n HTTP/1.1", "h host=[n]", "complete"};

class ParserCase : public ::testing::TestWithParam<Case> {};

TEST_P(ParserCase, Whole) {
  const Case& c = GetParam();
  EXPECT_EQ(feed(whole(c.input), c.limits).trace, c.expected);
}

TEST_P(ParserCase, ByteByByte) {
  const Case& c = GetParam();
  EXPECT_EQ(feed(bytewise(c.input), c.limits).trace, c.expected);
}

TEST_P(ParserCase, SplitAtEveryPoint) {
  const Case& c = GetParam();
  for (size_t i = 1; i < c.input.size(); ++i) {
    Feed f = feed({c.input.substr(0, i), c.input.substr(i)}, c.limits);
    ASSERT_EQ(f.trace, c.expected) << "split at " << i;
  }
}

TEST_P(ParserCase, WithPipelinedRequestBehind) {
  const Case& c = GetParam();
  Trace expected = c.expected;
  bool ends_complete = expected.back() == "complete";
  if (ends_complete) {
    // The last head decides whether the connection may carry another request.
    std::string last_head;
    for (const std::string& line : expected) {
      if (line.starts_with("head ")) last_head = line;
    }
    if (last_head.find(" close") != std::string::npos) {
      expected.push_back("error 400");
    } else {
      expected.insert(expected.end(), NEXT_TRACE.begin(), NEXT_TRACE.end());
    }
  }
  for (const auto& pieces : {whole(c.input + NEXT), bytewise(c.input + NEXT)}) {
    Feed f = feed(pieces, c.limits);
    EXPECT_EQ(f.trace, expected);
    if (ends_complete && pieces.size() == 1) {
      // The case's own bytes are consumed, and not one byte of the next.
      size_t completes = std::count(c.expected.begin(), c.expected.end(), "complete");
      ASSERT_GE(f.rest_after_complete.size(), completes);
      EXPECT_EQ(f.rest_after_complete[completes - 1], NEXT);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, ParserCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace subcorn::http::test
