// TLS over a connection's socket, with OpenSSL 3: the server's context (its
// certificate, key, client-certificate policy, ALPN, session tickets) and one
// connection's channel (handshake, read, write, sendfile, close_notify).
//
// The context is loaded once per process and shared by every shard thread
// (an SSL_CTX is safe to share once it is set up), so a session ticket one
// shard issued resumes on any other. A reload builds a new context and hands
// it the old one's ticket keys: tickets issued before the reload still resume.
// A connection keeps the context it began with, so replacing the context
// never disturbs an established connection.
//
// The channel works on a non-blocking socket. Its results are the
// transport's (io/transport.h): > 0 bytes moved, WOULD_BLOCK, GONE. When
// OpenSSL must write to go on (a handshake flight, a reply to a key update),
// wants_write() says so and the caller waits for EPOLLOUT before it calls
// again; otherwise WOULD_BLOCK means "wait for EPOLLIN".
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace subcorn::io {

// --ssl-cert-reqs: whether a client must show a certificate (checked
// against --ssl-ca-certs). Optional checks one when it comes.
enum class ClientCertPolicy { None, Optional, Required };

struct TlsConfig {
  std::string certfile;          // PEM: the certificate, then its chain
  std::string keyfile;           // PEM; empty: the key is in certfile
  std::string keyfile_password;  // for an encrypted key
  std::string ca_certs;          // PEM: the CAs that client certificates must chain to
  ClientCertPolicy cert_reqs = ClientCertPolicy::None;
  std::string ciphers;              // TLS 1.2 cipher list; empty: OpenSSL's (TLS 1.3 suites are always OpenSSL's)
  std::string min_version = "TLSv1.2";  // or "TLSv1.3"
  std::vector<std::string> alpn;    // protocols offered, in the server's order of preference

  bool enabled() const noexcept { return !certfile.empty(); }
};

// A shared, reference-counted handle to a ready SSL_CTX (and what its
// callbacks read). Copies are cheap and refer to the same context.
class TlsContext {
 public:
  // Session ticket keys: a 16-byte name, a 32-byte HMAC key, a 32-byte AES key.
  static constexpr size_t TICKET_KEYS_SIZE = 80;

  TlsContext() = default;

  // The context for `config`, or an empty one and `*error`: one readable
  // line naming the flag and the file ("--ssl-keyfile: key.pem does not
  // match the certificate in cert.pem").
  static TlsContext load(const TlsConfig& config, std::string* error);

  explicit operator bool() const noexcept { return static_cast<bool>(state_); }
  SSL_CTX* get() const noexcept;

  // Session tickets: what this context encrypts them with, and taking
  // another's (a reload, or the supervisor's keys shared by worker processes).
  std::string ticket_keys() const;
  bool set_ticket_keys(std::string_view keys);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Who the peer is and how the connection is protected, as the ASGI `tls`
// extension reports it. Read once, when the handshake ends.
struct TlsSessionInfo {
  int version = 0;          // 0x0303 for TLS 1.2, 0x0304 for TLS 1.3
  int cipher_suite = 0;     // the IANA number, e.g. 0x1301
  std::string server_cert;  // PEM
  std::vector<std::string> client_cert_chain;  // PEM, the client's own first; empty without one
  std::string client_cert_name;   // RFC 4514 subject of the first; empty without one
  std::string client_cert_error;  // why it failed verification; empty when it passed
};

class TlsChannel {
 public:
  static constexpr long WOULD_BLOCK = 0;
  static constexpr long GONE = -1;

  // Handshaking: under way (wants_write() says on which readiness it goes
  // on). Open: application data flows. Closing: close_notify sent, no more
  // writes. Failed: a handshake or record error (OpenSSL sent its alert);
  // only closing the socket is left.
  enum class State { Handshaking, Open, Closing, Failed };

  // A server-side channel on `fd` (not owned: the transport owns the socket).
  // Check ok(): false when OpenSSL could not make the SSL object.
  TlsChannel(const TlsContext& context, int fd);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  bool ok() const noexcept { return static_cast<bool>(ssl_); }
  State state() const noexcept { return state_; }
  bool wants_write() const noexcept { return wants_write_; }

  // Moves the handshake on as far as the socket allows; returns the state
  // (Open once it is done).
  State handshake();

  long read(char* buffer, size_t size);
  long write(const char* data, size_t size);
  // Several buffers as one write: copied together (up to a bound) so that
  // they go out in as few records as they fit in.
  long writev(const iovec* parts, int count);
  // Up to `count` bytes of `file` from `*offset`, advancing it: with kernel
  // TLS, SSL_sendfile (the file never enters user space); otherwise read
  // into a buffer and written as records.
  long send_file(int file, int64_t* offset, size_t count);
  // Sends close_notify (once; best effort on a non-blocking socket).
  void shutdown();

  // The kernel encrypts what this connection sends (kernel TLS took the key).
  bool kernel_sends() const noexcept;

  // After the handshake.
  std::string_view alpn() const noexcept;
  TlsSessionInfo session_info() const;
  // Whether the session was resumed from a ticket or the session cache.
  bool resumed() const noexcept;

 private:
  struct FreeSsl {
    void operator()(SSL* ssl) const noexcept;
  };
  // What an OpenSSL call's failure means for the caller.
  long blocked_or_gone(int result);
  template <typename Step>
  long repeat(size_t size, Step step);

  TlsContext context_;  // keeps the context (and its ALPN list) alive
  std::unique_ptr<SSL, FreeSsl> ssl_;
  State state_ = State::Handshaking;
  bool wants_write_ = false;
  // send_file without kernel TLS: file bytes read but not yet taken by
  // SSL_write (a blocked write is retried with the same bytes).
  std::string file_chunk_;
  size_t file_chunk_taken_ = 0;
  // writev: the buffers copied together.
  std::string gathered_;
};

}  // namespace subcorn::io
