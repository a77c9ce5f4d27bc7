#include "http2_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace subcorn::http::test {

// --- Recorder ---

void Recorder::h2_request(int32_t id, const RequestHead& head, bool end_stream) {
  std::string line = "request " + std::to_string(id) + " " + std::string(head.method) + " " +
                     std::string(head.target) + (end_stream ? " end" : "");
  trace.push_back(line);
  EXPECT_EQ(head.target, head.path);
  EXPECT_EQ(head.version_major, 2);
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.chunked);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_FALSE(head.upgrade);
  if (!head.authority.empty()) trace.push_back("authority " + std::to_string(id) + " " + std::string(head.authority));
  if (!head.protocol.empty()) trace.push_back("protocol " + std::to_string(id) + " " + std::string(head.protocol));
  if (head.content_length >= 0) trace.push_back("cl " + std::to_string(id) + " " + std::to_string(head.content_length));
  for (const Header& h : head.headers) {
    trace.push_back("h " + std::to_string(id) + " " + std::string(h.name) + "=" + std::string(h.value));
  }
  if (on_request) on_request(id, head, end_stream);
}

void Recorder::h2_body(int32_t id, std::string_view data) {
  EXPECT_FALSE(data.empty());
  std::string prefix = "body " + std::to_string(id) + " ";
  if (!trace.empty() && trace.back().rfind(prefix, 0) == 0) {
    trace.back().append(data);
  } else {
    trace.push_back(prefix + std::string(data));
  }
  bodies[id].append(data);
  if (auto_consume && session) session->consume(id, data.size());
}

void Recorder::h2_body_end(int32_t id) {
  trace.push_back("end " + std::to_string(id));
  if (on_end) on_end(id);
}

void Recorder::h2_stream_reset(int32_t id, uint32_t error_code) {
  trace.push_back("reset " + std::to_string(id) + " " + std::to_string(error_code));
}

void Recorder::h2_stream_closed(int32_t id) { trace.push_back("closed " + std::to_string(id)); }

void Recorder::h2_output_drained(int32_t id) {
  ++drained[id];
  if (on_drained) on_drained(id);
}

bool Recorder::has(const std::string& line) const {
  return std::find(trace.begin(), trace.end(), line) != trace.end();
}

std::string Response::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

// --- Client ---

namespace {

Client& client_of(void* user_data) { return *static_cast<Client*>(user_data); }

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Client& c = client_of(user_data);
  Response& r = c.responses[frame->hd.stream_id];
  std::string n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int status = std::stoi(v);
    if (status < 200) {
      r.interim.push_back(status);
      r.interim_fields.clear();
      r.block = Response::Block::Interim;
    } else {
      r.status = status;
      r.block = Response::Block::Final;
    }
    return 0;
  }
  switch (r.block) {
    case Response::Block::Interim: r.interim_fields.emplace_back(n, v); break;
    case Response::Block::Final: r.headers.emplace_back(n, v); break;
    case Response::Block::Trailers: r.trailers.emplace_back(n, v); break;
  }
  return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  Client& c = client_of(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_GOAWAY:
      c.goaway = true;
      ++c.goaways;
      c.goaway_code = frame->goaway.error_code;
      c.goaway_last_stream = frame->goaway.last_stream_id;
      break;
    case NGHTTP2_PING:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) ++c.ping_acks;
      break;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) ++c.settings_received;
      break;
    case NGHTTP2_RST_STREAM: {
      Response& r = c.responses[frame->hd.stream_id];
      r.reset_received = true;
      r.reset_code = frame->rst_stream.error_code;
      break;
    }
    case NGHTTP2_HEADERS:
      // A HEADERS block after the final head is trailers.
      if (c.responses[frame->hd.stream_id].status != 0) {
        c.responses[frame->hd.stream_id].block = Response::Block::Trailers;
      }
      break;
    default:
      break;
  }
  return 0;
}

int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user_data) {
  client_of(user_data).responses[id].body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int on_frame_recv_data_count(nghttp2_session* s, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_DATA) client_of(user_data).responses[frame->hd.stream_id].data_frames++;
  return on_frame_recv(s, frame, user_data);
}

int on_close(nghttp2_session*, int32_t id, uint32_t code, void* user_data) {
  Response& r = client_of(user_data).responses[id];
  r.closed = true;
  r.close_code = code;
  return 0;
}

nghttp2_ssize read_request_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source*, void* user_data) {
  Client& c = client_of(user_data);
  const std::string& body = c.request_bodies[id];
  size_t& sent = c.request_sent[id];
  size_t n = std::min(length, body.size() - sent);
  std::memcpy(buf, body.data() + sent, n);
  sent += n;
  if (sent == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<nghttp2_ssize>(n);
}

}  // namespace

Client::Client(std::vector<nghttp2_settings_entry> settings) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv_data_count);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Tests send more than the server allows on purpose.
  nghttp2_option_set_peer_max_concurrent_streams(option, 1u << 30);
  nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
}

Client::~Client() { nghttp2_session_del(session_); }

Fields Client::get(const std::string& path, const std::string& method) {
  return {{":method", method}, {":scheme", "http"}, {":authority", "example.com"}, {":path", path}};
}

int32_t Client::request(const Fields& headers, const std::string* body, bool open) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [n, v] : headers) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  }
  if (body) {
    nghttp2_data_provider2 provider;
    provider.source.ptr = nullptr;
    provider.read_callback = read_request_body;
    int32_t id = nghttp2_session_get_next_stream_id(session_);
    request_bodies[id] = *body;
    int32_t got = nghttp2_submit_request2(session_, nullptr, nva.data(), nva.size(), &provider, this);
    EXPECT_EQ(got, id);
    return got;
  }
  if (open) {
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, -1, nullptr, nva.data(), nva.size(), this);
  }
  return nghttp2_submit_request2(session_, nullptr, nva.data(), nva.size(), nullptr, this);
}

std::string Client::output() {
  std::string out;
  for (;;) {
    const uint8_t* data = nullptr;
    nghttp2_ssize n = nghttp2_session_mem_send2(session_, &data);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return out;
}

void Client::input(std::string_view bytes) {
  if (bytes.empty() || failed) return;
  nghttp2_ssize n =
      nghttp2_session_mem_recv2(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (n < 0) failed = true;
}

// --- Link ---

Link::Link(const Http2Settings& settings, const Limits& limits, std::vector<nghttp2_settings_entry> client_settings,
           Split s, unsigned seed)
    : server(settings, limits, recorder), client(std::move(client_settings)), split(s), random(seed) {
  recorder.session = &server;
}

void Link::send_raw(std::string_view bytes) {
  auto feed = [this](std::string_view piece) {
    if (server_refused) return;
    if (!server.receive(piece)) server_refused = true;
  };
  switch (split) {
    case Split::Whole:
      if (!bytes.empty()) feed(bytes);
      break;
    case Split::Bytewise:
      for (size_t i = 0; i < bytes.size(); ++i) feed(bytes.substr(i, 1));
      break;
    case Split::Random:
      while (!bytes.empty()) {
        size_t n = std::uniform_int_distribution<size_t>(1, std::min<size_t>(bytes.size(), 700))(random);
        feed(bytes.substr(0, n));
        bytes.remove_prefix(n);
      }
      break;
  }
}

std::string Link::server_output() {
  std::string out;
  for (int i = 0; i < 100000 && server.wants_output(); ++i) {
    size_t before = out.size();
    server.produce(out, produce_budget);
    if (out.size() == before) break;
  }
  for (const SentFrame& f : parse_frames(out)) sent.push_back(f);
  return out;
}

std::vector<SentFrame> parse_frames(std::string_view bytes) {
  std::vector<SentFrame> frames;
  auto u8 = [&bytes](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
  auto u32 = [&u8](size_t i) { return (u8(i) << 24) | (u8(i + 1) << 16) | (u8(i + 2) << 8) | u8(i + 3); };
  while (!bytes.empty()) {
    if (bytes.size() < 9) {
      ADD_FAILURE() << "a frame header cut short";
      break;
    }
    SentFrame f;
    f.length = (u8(0) << 16) | (u8(1) << 8) | u8(2);
    f.type = static_cast<uint8_t>(u8(3));
    f.flags = static_cast<uint8_t>(u8(4));
    f.stream = static_cast<int32_t>(u32(5) & 0x7fffffff);
    if (bytes.size() < 9 + f.length) {
      ADD_FAILURE() << "a frame cut short";
      break;
    }
    if (f.type == NGHTTP2_GOAWAY && f.length >= 8) {
      f.last_stream = static_cast<int32_t>(u32(9) & 0x7fffffff);
      f.error_code = u32(13);
    }
    if (f.type == NGHTTP2_RST_STREAM && f.length == 4) f.error_code = u32(9);
    frames.push_back(f);
    bytes.remove_prefix(9 + f.length);
  }
  return frames;
}

std::vector<SentFrame> Link::goaways() const {
  std::vector<SentFrame> out;
  for (const SentFrame& f : sent) {
    if (f.type == NGHTTP2_GOAWAY) out.push_back(f);
  }
  return out;
}

void Link::pump(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::string up = client.output();
    send_raw(up);
    std::string down = server_output();
    client.input(down);
    if (up.empty() && down.empty()) return;
  }
  ADD_FAILURE() << "the link never went quiet";
}

// --- raw frames ---

std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string f;
  size_t n = payload.size();
  f.push_back(static_cast<char>((n >> 16) & 0xff));
  f.push_back(static_cast<char>((n >> 8) & 0xff));
  f.push_back(static_cast<char>(n & 0xff));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  uint32_t id = static_cast<uint32_t>(stream);
  f.push_back(static_cast<char>((id >> 24) & 0x7f));
  f.push_back(static_cast<char>((id >> 16) & 0xff));
  f.push_back(static_cast<char>((id >> 8) & 0xff));
  f.push_back(static_cast<char>(id & 0xff));
  f.append(payload);
  return f;
}

std::string settings_frame(const std::vector<std::pair<uint16_t, uint32_t>>& entries, bool ack) {
  std::string payload;
  for (auto [id, value] : entries) {
    payload.push_back(static_cast<char>(id >> 8));
    payload.push_back(static_cast<char>(id & 0xff));
    for (int shift = 24; shift >= 0; shift -= 8) payload.push_back(static_cast<char>((value >> shift) & 0xff));
  }
  return frame(NGHTTP2_SETTINGS, ack ? NGHTTP2_FLAG_ACK : 0, 0, payload);
}

Hpack::Hpack() { nghttp2_hd_deflate_new(&deflater_, 4096); }
Hpack::~Hpack() { nghttp2_hd_deflate_del(deflater_); }

std::string Hpack::encode(const Fields& fields) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [n, v] : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  }
  std::string out(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()), '\0');
  nghttp2_ssize n = nghttp2_hd_deflate_hd2(deflater_, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                           nva.data(), nva.size());
  EXPECT_GE(n, 0);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

}  // namespace subcorn::http::test
