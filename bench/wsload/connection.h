// One client connection of the load generator: its socket, its buffers and
// its place in the closed loop. See client.h for what the modes check.
//
// States: Open (messages flow), Closing (our close frame sent, waiting for
// the server's), Closed (the socket is closed; nothing more happens).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client.h"
#include "deflate.h"
#include "frames.h"
#include "handshake.h"
#include "rng.h"

namespace wsload {

// What every connection of a run shares.
struct Run {
  explicit Run(const Options& opts);

  // The payloads as they go on the wire for a client window (compressed
  // ones are made once per window size that a server asks for).
  const std::vector<std::string>& wire_payloads(const Negotiated& negotiated);

  const Options& options;
  Pool pool;
  bool measuring = false;  // false before the start and once the window ends
  uint64_t now_ns = 0;     // the loop's clock, read once per batch of events
  Results results;
  Rng masks{0x6d61736b};
  std::vector<char> scratch;  // the one receive buffer: each read lands here first
  int epoll_fd = -1;
  size_t finished = 0;  // connections that sent and got back all of --messages

 private:
  std::map<int, std::vector<std::string>> compressed_;  // by client window bits
};

class Connection {
 public:
  enum class State { Open, Closing, Closed };

  Connection(Run& run, uint32_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects and upgrades, blocking; an empty string when it worked.
  std::string open();
  // Switches to non-blocking and joins the epoll set (event data = id).
  void join_loop();

  void send_next();
  void on_readable();
  void flush();
  void start_close();
  void force_close();

  State state() const { return state_; }
  const Negotiated& negotiated() const { return negotiated_; }

 private:
  void parse_input(std::string_view data, size_t& used);
  void on_frame(const Frame& frame);
  void on_message(Opcode opcode, bool compressed, std::string_view payload);
  void on_echo(Opcode opcode, std::string_view message);
  void on_broadcast(std::string_view message);
  void own_message_returned();
  void lose(std::string reason);
  void close_socket();
  void want_write(bool yes);
  size_t max_payload() const;

  Run& run_;
  const uint32_t id_;
  int fd_ = -1;
  State state_ = State::Open;
  Negotiated negotiated_;
  const std::vector<std::string>* wire_ = nullptr;  // pool payloads as sent
  std::unique_ptr<Inflater> inflater_;
  std::string inflated_;  // the last decompressed message (reused buffer)

  std::string in_;   // received bytes not yet parsed
  std::string out_;  // bytes to send
  size_t out_sent_ = 0;
  bool writing_ = false;  // EPOLLOUT registered

  // A message arriving in fragments.
  bool assembling_ = false;
  Opcode message_opcode_ = Opcode::Binary;
  bool message_compressed_ = false;
  std::string fragments_;

  // The closed loop.
  uint64_t sent_count_ = 0;  // own messages sent (the broadcast sequence number)
  bool waiting_ = false;     // one of our messages is on its way back
  size_t outstanding_ = 0;   // echo: its pool index
  uint64_t sent_at_ns_ = 0;
  std::string message_;      // broadcast: the message being built
  std::vector<uint64_t> next_from_;  // broadcast: the next sequence number per sender (0: none seen)
};

}  // namespace wsload
