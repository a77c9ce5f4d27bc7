// Transport: the byte pipe under a protocol session. It owns the connection's
// socket and moves bytes: read, write (one buffer or several), sendfile, shut
// down. The protocol sessions above it (http/, ws/) never see a socket, and
// the connection (server/) never calls recv() or send() itself, so TLS goes in
// here, below every protocol, without them knowing.
//
// Plain TCP or unix socket, or TLS over either (io/tls.h). The calls are
// inline and not virtual: each is one branch on the TLS channel, a pointer
// that is null for plain connections, then the plain path as it always was.
//
// Results: > 0 bytes moved; WOULD_BLOCK when the socket is not ready;
// GONE when the peer closed or reset (or any other error: the connection is
// over either way). EINTR is retried here, so no caller ever sees it.
#pragma once

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "io/tls.h"
#include "io/unique_fd.h"

namespace subcorn::io {

class Transport {
 public:
  static constexpr long WOULD_BLOCK = 0;
  static constexpr long GONE = -1;

  Transport() = default;
  explicit Transport(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  int fd() const noexcept { return fd_.get(); }
  bool open() const noexcept { return static_cast<bool>(fd_); }

  // TLS from the first byte: the handshake comes before anything else.
  void start_tls(const TlsContext& context) { tls_ = std::make_unique<TlsChannel>(context, fd_.get()); }
  // Null for a plain connection.
  TlsChannel* tls() const noexcept { return tls_.get(); }
  bool handshaking() const noexcept {
    return tls_ && tls_->state() == TlsChannel::State::Handshaking;
  }
  // Moves the TLS handshake on (see TlsChannel::handshake).
  TlsChannel::State handshake() { return tls_->handshake(); }
  // TLS must write before it can go on (a handshake flight, a blocked
  // record): wait for EPOLLOUT, then call again. Never for plain sockets.
  bool wants_write() const noexcept { return tls_ && tls_->wants_write(); }
  // The protocol ALPN chose; "" for plain connections or without ALPN.
  std::string_view alpn() const noexcept { return tls_ ? tls_->alpn() : std::string_view(); }

  long read(char* buffer, size_t size) noexcept {
    if (tls_) return tls_->read(buffer, size);
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buffer, size, 0);
      if (n > 0) return n;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WOULD_BLOCK;
      return GONE;  // 0 is the peer's end of file
    }
  }

  // Copies what has arrived without taking it (MSG_PEEK), so that a PROXY
  // protocol header can be read to its last byte and not one byte further:
  // what follows may be TLS, which OpenSSL reads from the socket itself.
  // Plain sockets only (before TLS starts).
  long peek(char* buffer, size_t size) noexcept {
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buffer, size, MSG_PEEK);
      if (n > 0) return n;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WOULD_BLOCK;
      return GONE;
    }
  }

  long write(const char* data, size_t size) noexcept {
    if (tls_) return tls_->write(data, size);
    for (;;) {
      ssize_t n = ::send(fd_.get(), data, size, MSG_NOSIGNAL);
      if (n > 0) return n;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WOULD_BLOCK;
      return GONE;
    }
  }

  long writev(const iovec* parts, int count) noexcept {
    if (tls_) return tls_->writev(parts, count);
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(parts);
    message.msg_iovlen = static_cast<size_t>(count);
    for (;;) {
      ssize_t n = ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL);
      if (n > 0) return n;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WOULD_BLOCK;
      return GONE;
    }
  }

  // Sends up to `count` bytes of `file` from `*offset`, advancing it. A file
  // that ended early (it shrank) counts as GONE: the response's framing
  // promised those bytes.
  long send_file(int file, int64_t* offset, size_t count) noexcept {
    if (tls_) return tls_->send_file(file, offset, count);
    for (;;) {
      off_t position = static_cast<off_t>(*offset);
      ssize_t n = ::sendfile(fd_.get(), file, &position, count);
      if (n > 0) {
        *offset = position;
        return n;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WOULD_BLOCK;
      return GONE;
    }
  }

  // No more output (the peer reads what was sent, then end of file); input
  // still arrives, for a lingering close. TLS says close_notify first.
  void shutdown_write() noexcept {
    if (tls_) tls_->shutdown();
    ::shutdown(fd_.get(), SHUT_WR);
  }

  // TLS: close_notify (when the connection is still open), so that the peer
  // can tell the end of a close-delimited response from a cut.
  void close() noexcept {
    if (tls_) {
      tls_->shutdown();
      tls_.reset();
    }
    fd_.reset();
  }

 private:
  UniqueFd fd_;
  std::unique_ptr<TlsChannel> tls_;
};

}  // namespace subcorn::io
