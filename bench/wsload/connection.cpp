#include "connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsload {

namespace {

constexpr size_t POOL_SIZE = 64;
constexpr uint64_t POOL_SEED = 20261201;
// Broadcast: sender id and sequence number lead each message, little-endian.
constexpr size_t BROADCAST_HEADER = 8;

size_t echo_index(uint32_t id, uint64_t count) { return id * 7 + count; }
size_t broadcast_index(uint32_t sender, uint64_t seq) { return sender * 31 + seq; }

void put_u32(char* at, uint32_t value) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(value >> (8 * i));
}

uint32_t get_u32(const char* at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  }
  return value;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Run::Run(const Options& opts)
    : options(opts), pool(opts.kind, opts.size, POOL_SIZE, POOL_SEED), scratch(256 * 1024) {}

const std::vector<std::string>& Run::wire_payloads(const Negotiated& negotiated) {
  int bits = negotiated.deflate ? negotiated.client_window_bits : 0;  // 0: sent as they are
  auto found = compressed_.find(bits);
  if (found != compressed_.end()) return found->second;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < pool.count(); ++i) {
    payloads.push_back(bits ? compress_alone(pool.at(i), bits) : pool.at(i));
  }
  return compressed_.emplace(bits, std::move(payloads)).first->second;
}

Connection::Connection(Run& run, uint32_t id) : run_(run), id_(id) {}

Connection::~Connection() { close_socket(); }

std::string Connection::open() {
  const Options& options = run_.options;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(options.port);
  if (int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return std::string("resolving ") + options.host + ": " + gai_strerror(rc);
  }
  fd_ = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    freeaddrinfo(found);
    return errno_text("socket");
  }
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(options.connect_timeout);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int rc = connect(fd_, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0) return errno_text("connect");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::string key = make_key((uint64_t{id_} << 32) ^ POOL_SEED);
  std::string request = upgrade_request(options.host, options.port, options.path, key, options.deflate);
  for (size_t done = 0; done < request.size();) {
    ssize_t n = write(fd_, request.data() + done, request.size() - done);
    if (n < 0) return errno_text("sending the upgrade");
    done += static_cast<size_t>(n);
  }
  while (true) {
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0) return errno_text("reading the upgrade's answer");
    if (n == 0) {
      return in_.empty() ? "closed without answering the upgrade" : "closed in the answer's head";
    }
    in_.append(buf, static_cast<size_t>(n));
    Reply reply = parse_reply(in_, key, options.deflate);
    if (!reply.error.empty()) return reply.error;
    if (reply.head_size == 0) {
      if (in_.size() > 16384) return "an answer head larger than 16 KiB";
      continue;
    }
    in_.erase(0, reply.head_size);  // a frame may follow the head at once
    negotiated_ = reply.negotiated;
    break;
  }
  if (negotiated_.deflate) inflater_ = std::make_unique<Inflater>();
  wire_ = &run_.wire_payloads(negotiated_);
  next_from_.assign(options.mode == Mode::Broadcast ? options.connections : 0, 0);
  return "";
}

void Connection::join_loop() {
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = id_;
  epoll_ctl(run_.epoll_fd, EPOLL_CTL_ADD, fd_, &event);
  if (!in_.empty()) {
    std::string buffered = std::move(in_);
    in_.clear();
    size_t used = 0;
    parse_input(buffered, used);
    if (state_ != State::Closed) in_.assign(buffered, used);
  }
}

size_t Connection::max_payload() const {
  // Compressed data can outgrow its input by a little; nothing larger is sent.
  return run_.options.size + 1024;
}

void Connection::send_next() {
  const Options& options = run_.options;
  if (state_ != State::Open || !run_.measuring) return;
  if (options.messages && sent_count_ >= options.messages) return;
  uint32_t mask = static_cast<uint32_t>(run_.masks.next());
  if (options.mode == Mode::Echo) {
    outstanding_ = echo_index(id_, sent_count_) % wire_->size();
    Opcode opcode = options.kind == Kind::Text ? Opcode::Text : Opcode::Binary;
    append_client_frame(out_, opcode, negotiated_.deflate, (*wire_)[outstanding_], mask);
  } else {
    uint64_t seq = sent_count_ + 1;
    message_ = run_.pool.at(broadcast_index(id_, seq));
    put_u32(message_.data(), id_);
    put_u32(message_.data() + 4, static_cast<uint32_t>(seq));
    append_client_frame(out_, Opcode::Binary, false, message_, mask);
  }
  ++sent_count_;
  ++run_.results.sent;
  waiting_ = true;
  sent_at_ns_ = run_.now_ns;
}

void Connection::on_readable() {
  if (state_ == State::Closed) return;
  ssize_t n = read(fd_, run_.scratch.data(), run_.scratch.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    lose(errno_text("read"));
    return;
  }
  if (n == 0) {
    if (state_ == State::Closing) {
      close_socket();  // it closed without its close frame: done all the same
    } else {
      lose("the server closed the connection without a close frame");
    }
    return;
  }
  std::string_view data(run_.scratch.data(), static_cast<size_t>(n));
  size_t used = 0;
  if (in_.empty()) {
    // The common case: whole frames in one read, parsed where they landed.
    parse_input(data, used);
    if (state_ != State::Closed && used < data.size()) in_.assign(data.substr(used));
  } else {
    in_.append(data);
    parse_input(in_, used);
    if (state_ != State::Closed) in_.erase(0, used);
  }
  flush();
}

void Connection::parse_input(std::string_view data, size_t& used) {
  while (state_ != State::Closed) {
    Frame frame;
    Decoded decoded = decode_server_frame(data.substr(used), max_payload(), frame);
    if (decoded.status == DecodeStatus::NeedMore) return;
    if (decoded.status == DecodeStatus::Error) {
      lose(std::string("protocol error: ") + decoded.error);
      return;
    }
    used += decoded.size;
    on_frame(frame);
  }
}

void Connection::on_frame(const Frame& frame) {
  switch (frame.opcode) {
    case Opcode::Ping:
      append_client_frame(out_, Opcode::Pong, false, frame.payload,
                          static_cast<uint32_t>(run_.masks.next()));
      return;
    case Opcode::Pong:
      return;
    case Opcode::Close:
      if (state_ == State::Closing) {
        close_socket();  // the answer to ours: the closing handshake is complete
      } else {
        const auto* payload = reinterpret_cast<const unsigned char*>(frame.payload.data());
        uint16_t code = frame.payload.size() >= 2 ? static_cast<uint16_t>(payload[0] << 8 | payload[1])
                                                  : 1005;  // no status code in the frame
        lose("the server closed the connection with code " + std::to_string(code));
      }
      return;
    case Opcode::Text:
    case Opcode::Binary:
      if (assembling_) {
        lose("protocol error: a new message inside a fragmented one");
        return;
      }
      if (frame.fin) {
        on_message(frame.opcode, frame.rsv1, frame.payload);
        return;
      }
      assembling_ = true;
      message_opcode_ = frame.opcode;
      message_compressed_ = frame.rsv1;
      fragments_.assign(frame.payload);
      return;
    case Opcode::Continuation:
      if (!assembling_) {
        lose("protocol error: a continuation frame outside a message");
        return;
      }
      fragments_.append(frame.payload);
      if (fragments_.size() > max_payload()) {
        lose("a message larger than any sent");
        return;
      }
      if (frame.fin) {
        assembling_ = false;
        on_message(message_opcode_, message_compressed_, fragments_);
      }
      return;
  }
}

void Connection::on_message(Opcode opcode, bool compressed, std::string_view payload) {
  if (compressed) {
    if (!inflater_) {
      lose("protocol error: a compressed message without permessage-deflate");
      return;
    }
    size_t size = 0;
    if (!inflater_->inflate_message(payload, run_.options.size, inflated_, size)) {
      // Its window is now out of step with the server's: the connection is done.
      lose("a compressed message that does not inflate to one that was sent");
      return;
    }
    payload = std::string_view(inflated_.data(), size);
  }
  if (run_.options.mode == Mode::Echo) {
    on_echo(opcode, payload);
  } else {
    on_broadcast(payload);
  }
}

void Connection::on_echo(Opcode opcode, std::string_view message) {
  if (!waiting_) {
    ++run_.results.errors;  // an answer to nothing we sent
    return;
  }
  Opcode sent = run_.options.kind == Kind::Text ? Opcode::Text : Opcode::Binary;
  if (opcode == sent && message == run_.pool.at(outstanding_)) {
    if (run_.measuring) ++run_.results.messages;
  } else {
    ++run_.results.errors;
  }
  own_message_returned();
}

void Connection::on_broadcast(std::string_view message) {
  if (message.size() != run_.options.size || message.size() < BROADCAST_HEADER) {
    ++run_.results.errors;
    return;
  }
  uint32_t sender = get_u32(message.data());
  uint64_t seq = get_u32(message.data() + 4);
  if (sender >= next_from_.size() || seq == 0 ||
      message.substr(BROADCAST_HEADER) !=
          std::string_view(run_.pool.at(broadcast_index(sender, seq))).substr(BROADCAST_HEADER)) {
    ++run_.results.errors;
    return;
  }
  // In order and without gaps once this sender's first message was seen
  // (a message sent before the server counted this connection may miss it).
  uint64_t& expected = next_from_[sender];
  if (expected != 0 && seq != expected) ++run_.results.errors;
  expected = seq + 1;
  if (run_.measuring) ++run_.results.messages;
  if (sender == id_ && waiting_ && seq == sent_count_) own_message_returned();
}

void Connection::own_message_returned() {
  waiting_ = false;
  if (run_.measuring) {
    run_.results.latencies_us.push_back(static_cast<uint32_t>((run_.now_ns - sent_at_ns_) / 1000));
  }
  if (run_.options.messages && sent_count_ == run_.options.messages) ++run_.finished;
  send_next();
}

void Connection::flush() {
  while (state_ != State::Closed && out_sent_ < out_.size()) {
    ssize_t n = write(fd_, out_.data() + out_sent_, out_.size() - out_sent_);
    if (n < 0) {
      if (errno == EAGAIN) {
        want_write(true);
        return;
      }
      if (errno == EINTR) continue;
      lose(errno_text("write"));
      return;
    }
    out_sent_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_sent_ = 0;
  want_write(false);
}

void Connection::want_write(bool yes) {
  if (yes == writing_ || state_ == State::Closed) return;
  writing_ = yes;
  epoll_event event{};
  event.events = yes ? EPOLLIN | EPOLLOUT : EPOLLIN;
  event.data.u32 = id_;
  epoll_ctl(run_.epoll_fd, EPOLL_CTL_MOD, fd_, &event);
}

void Connection::start_close() {
  if (state_ != State::Open) return;
  // 1000, normal closure.
  append_client_frame(out_, Opcode::Close, false, std::string_view("\x03\xe8", 2),
                      static_cast<uint32_t>(run_.masks.next()));
  state_ = State::Closing;
  flush();
}

void Connection::lose(std::string reason) {
  if (state_ == State::Closed) return;
  if (state_ == State::Open && run_.measuring) {
    ++run_.results.errors;
    ++run_.results.lost;
    if (run_.results.lost_reason.empty()) run_.results.lost_reason = std::move(reason);
  }
  close_socket();
}

void Connection::force_close() { close_socket(); }

void Connection::close_socket() {
  if (fd_ >= 0) close(fd_);  // also leaves the epoll set
  fd_ = -1;
  state_ = State::Closed;
}

}  // namespace wsload
