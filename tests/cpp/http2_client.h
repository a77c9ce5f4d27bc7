// Drives an Http2Session with a real nghttp2 CLIENT session, the way a
// connection does: the client's bytes go in through receive() (whole, one
// byte at a time, or in random pieces), the session's output comes back
// through produce() and into the client. What the session tells its handler
// is recorded as a trace of short strings; what the client receives is kept
// per stream. Also raw frames and HPACK blocks, for the attacks a real client
// would not send.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "http/http2_session.h"

namespace subcorn::http::test {

using Fields = std::vector<std::pair<std::string, std::string>>;

// How the client's bytes are cut before receive().
enum class Split { Whole, Bytewise, Random };

// The handler: one trace line per call.
//   "request 1 GET /p end"   (end: end_stream) and then one "h 1 name=value"
//                            line per header, and "authority 1 X",
//                            "protocol 1 X" when not empty, "cl 1 N" when >= 0
//   "body 1 [data]"           consecutive bodies of a stream merged
//   "end 1"                   h2_body_end
//   "reset 1 8"               h2_stream_reset with its code
//   "closed 1"
// h2_output_drained is counted, not traced (how often depends on the cuts).
class Recorder : public Http2Handler {
 public:
  std::vector<std::string> trace;
  std::map<int32_t, int> drained;
  std::map<int32_t, std::string> bodies;  // every request body byte, per stream
  // Called after a request is recorded: the test may answer from inside.
  std::function<void(int32_t, const RequestHead&, bool)> on_request;
  std::function<void(int32_t)> on_drained;
  std::function<void(int32_t)> on_end;
  Http2Session* session = nullptr;
  bool auto_consume = true;  // consume() each body chunk as it comes

  void h2_request(int32_t id, const RequestHead& head, bool end_stream) override;
  void h2_body(int32_t id, std::string_view data) override;
  void h2_body_end(int32_t id) override;
  void h2_stream_reset(int32_t id, uint32_t error_code) override;
  void h2_stream_closed(int32_t id) override;
  void h2_output_drained(int32_t id) override;

  bool has(const std::string& line) const;
};

// What the client received on one stream.
struct Response {
  std::vector<int> interim;  // 1xx statuses
  Fields interim_fields;     // of the last 1xx
  int status = 0;
  Fields headers;
  std::string body;
  Fields trailers;
  int data_frames = 0;
  bool closed = false;
  uint32_t close_code = 0;  // on_stream_close's error code
  bool reset_received = false;
  uint32_t reset_code = 0;
  enum class Block { Interim, Final, Trailers };
  Block block = Block::Trailers;  // which block the next fields belong to
  std::string header(const std::string& name) const;  // "" when absent
};

class Client {
 public:
  // `settings`: the client's SETTINGS (default: none, nghttp2's defaults).
  explicit Client(std::vector<nghttp2_settings_entry> settings = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A request; `body` (if given) is sent as DATA, END_STREAM after it.
  // Without a body the HEADERS end the stream unless `open` is set.
  int32_t request(const Fields& headers, const std::string* body = nullptr, bool open = false);
  static Fields get(const std::string& path, const std::string& method = "GET");

  std::string output();           // everything the client wants to send now
  void input(std::string_view bytes);  // what the server sent
  nghttp2_session* raw() { return session_; }

  std::map<int32_t, Response> responses;
  bool goaway = false;
  uint32_t goaway_code = 0;
  int32_t goaway_last_stream = -1;
  int goaways = 0;
  int ping_acks = 0;
  int settings_received = 0;
  std::map<int32_t, std::string> request_bodies;  // kept alive for the data provider
  std::map<int32_t, size_t> request_sent;
  bool failed = false;  // nghttp2 refused the server's bytes (a protocol error)

 private:
  nghttp2_session* session_ = nullptr;
};

// A frame the server sent, as a client would see its header (and, for
// GOAWAY and RST_STREAM, the error code; for GOAWAY the last stream id).
struct SentFrame {
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream = 0;
  uint32_t length = 0;
  uint32_t error_code = 0;
  int32_t last_stream = 0;
};
// Splits whole frames; a frame cut short is a test failure.
std::vector<SentFrame> parse_frames(std::string_view bytes);

// A server session and a client joined by pumps.
struct Link {
  explicit Link(const Http2Settings& settings = {}, const Limits& limits = {},
                std::vector<nghttp2_settings_entry> client_settings = {}, Split split = Split::Whole,
                unsigned seed = 1);
  Recorder recorder;
  Http2Session server;
  Client client;
  Split split;
  std::mt19937 random;
  bool server_refused = false;  // receive() returned false
  size_t produce_budget = 64 * 1024;
  std::vector<SentFrame> sent;  // every frame server_output() produced
  // The GOAWAY frames among them.
  std::vector<SentFrame> goaways() const;

  // Client -> server (cut by `split`) and back, until nothing moves.
  void pump(int rounds = 1000);
  // Bytes straight to the server (cut by `split`).
  void send_raw(std::string_view bytes);
  // Everything the server wants to send, into the client.
  std::string server_output();
};

// Raw frames (RFC 9113 4.1) and HPACK blocks for hand-made clients.
std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload);
std::string settings_frame(const std::vector<std::pair<uint16_t, uint32_t>>& entries, bool ack = false);
class Hpack {
 public:
  Hpack();
  ~Hpack();
  Hpack(const Hpack&) = delete;
  Hpack& operator=(const Hpack&) = delete;
  std::string encode(const Fields& fields);

 private:
  nghttp2_hd_deflater* deflater_ = nullptr;
};

}  // namespace subcorn::http::test
