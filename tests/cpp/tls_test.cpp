// io::TlsContext (loading, one-line errors, ticket keys) and io::TlsChannel
// over a socketpair, with an OpenSSL client on the other end: the handshake,
// ALPN, reads and writes through a full socket, writev, send_file, garbage
// and close_notify. Certificates are made here with OpenSSL.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "io/file_stamps.h"
#include "io/tls.h"

namespace subcorn::io {
namespace {

namespace fs = std::filesystem;

// ---- certificates for the tests -----------------------------------------------

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~KeyAndCert() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

void make_self_signed(KeyAndCert* out, const char* common_name) {
  out->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(out->key, nullptr);
  out->cert = X509_new();
  X509_set_version(out->cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out->cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(out->cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(out->cert), 3600);
  X509_NAME* name = X509_get_subject_name(out->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(out->cert, name);
  X509_set_pubkey(out->cert, out->key);
  ASSERT_GT(X509_sign(out->cert, out->key, EVP_sha256()), 0);
}

class TlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/subcorn-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    make_self_signed(&server_, "server.test");
    make_self_signed(&other_, "other.test");
    cert_ = write_pem("cert.pem", [&](FILE* f) { return PEM_write_X509(f, server_.cert); });
    key_ = write_pem("key.pem", [&](FILE* f) {
      return PEM_write_PrivateKey(f, server_.key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    other_key_ = write_pem("other-key.pem", [&](FILE* f) {
      return PEM_write_PrivateKey(f, other_.key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    encrypted_key_ = write_pem("encrypted-key.pem", [&](FILE* f) {
      return PEM_write_PKCS8PrivateKey(f, server_.key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                       const_cast<char*>("s3cret"));
    });
    garbage_ = dir_ + "/garbage.pem";
    std::ofstream(garbage_) << "not a certificate\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  template <typename Write>
  std::string write_pem(const char* name, Write write) {
    std::string path = dir_ + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(write(f), 1);
    std::fclose(f);
    return path;
  }

  TlsConfig config() const {
    TlsConfig c;
    c.certfile = cert_;
    c.keyfile = key_;
    c.alpn = {"http/1.1"};
    return c;
  }

  std::string load_error(const TlsConfig& c) {
    std::string error;
    TlsContext context = TlsContext::load(c, &error);
    EXPECT_FALSE(context);
    return error;
  }

  std::string dir_, cert_, key_, other_key_, encrypted_key_, garbage_;
  KeyAndCert server_, other_;
};

// ---- TlsContext -------------------------------------------------------------------

TEST_F(TlsFiles, LoadsAndHasTicketKeys) {
  std::string error;
  TlsContext context = TlsContext::load(config(), &error);
  ASSERT_TRUE(context) << error;
  std::string keys = context.ticket_keys();
  EXPECT_EQ(keys.size(), TlsContext::TICKET_KEYS_SIZE);

  TlsContext other = TlsContext::load(config(), &error);
  ASSERT_TRUE(other);
  EXPECT_NE(other.ticket_keys(), keys);  // each context makes its own
  ASSERT_TRUE(other.set_ticket_keys(keys));
  EXPECT_EQ(other.ticket_keys(), keys);
  EXPECT_FALSE(other.set_ticket_keys("short"));
}

TEST_F(TlsFiles, KeyInTheCertificateFile) {
  std::string both = dir_ + "/both.pem";
  std::ofstream(both) << std::ifstream(cert_).rdbuf() << std::ifstream(key_).rdbuf();
  TlsConfig c = config();
  c.certfile = both;
  c.keyfile.clear();
  std::string error;
  EXPECT_TRUE(TlsContext::load(c, &error)) << error;
}

TEST_F(TlsFiles, OneLineErrors) {
  TlsConfig c = config();
  c.certfile = dir_ + "/missing.pem";
  EXPECT_EQ(load_error(c), "--ssl-certfile: cannot read " + dir_ + "/missing.pem: No such file or directory");

  c = config();
  c.certfile = garbage_;
  EXPECT_EQ(load_error(c), "--ssl-certfile: no PEM certificate in " + garbage_);

  c = config();
  c.keyfile = garbage_;
  EXPECT_EQ(load_error(c), "--ssl-keyfile: no PEM private key in " + garbage_);

  c = config();
  c.keyfile = other_key_;
  EXPECT_EQ(load_error(c), "--ssl-keyfile: " + other_key_ + " does not match the certificate in " + cert_);

  c = config();
  c.keyfile = encrypted_key_;
  EXPECT_EQ(load_error(c), "--ssl-keyfile-password: " + encrypted_key_ + " is encrypted; give its password");
  c.keyfile_password = "wrong";
  EXPECT_EQ(load_error(c), "--ssl-keyfile-password: wrong password for " + encrypted_key_);
  c.keyfile_password = "s3cret";
  std::string error;
  EXPECT_TRUE(TlsContext::load(c, &error)) << error;

  c = config();
  c.ca_certs = garbage_;
  EXPECT_EQ(load_error(c), "--ssl-ca-certs: no PEM certificate in " + garbage_);

  c = config();
  c.ciphers = "NOT-A-CIPHER";
  EXPECT_EQ(load_error(c), "--ssl-ciphers: no TLS 1.2 cipher that OpenSSL knows in \"NOT-A-CIPHER\"");

  c = config();
  c.min_version = "TLSv1.1";
  EXPECT_EQ(load_error(c), "--ssl-min-version: TLSv1.2 or TLSv1.3, not TLSv1.1");
}

TEST_F(TlsFiles, FileStampsSeeEachChangeOnce) {
  FileStamps stamps({cert_, key_, ""});
  EXPECT_FALSE(stamps.changed());
  std::string fresh = dir_ + "/fresh.pem";
  std::ofstream(fresh) << std::ifstream(cert_).rdbuf();
  fs::rename(fresh, cert_);  // replaced by a rename: a new inode
  EXPECT_TRUE(stamps.changed());
  EXPECT_FALSE(stamps.changed());
  fs::remove(key_);
  EXPECT_TRUE(stamps.changed());
  EXPECT_FALSE(stamps.changed());
}

// ---- TlsChannel over a socketpair ---------------------------------------------------

// The client end: a plain OpenSSL client on a non-blocking socket.
class Client {
 public:
  Client(int fd, const char* alpn_wire = nullptr, unsigned alpn_size = 0)
      : ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd);
    SSL_set_connect_state(ssl_);
    if (alpn_wire)
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn_wire), alpn_size);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  SSL* ssl() { return ssl_; }
  // 1 done, 0 waiting, -1 failed
  int step() {
    int r = SSL_do_handshake(ssl_);
    if (r == 1) return 1;
    int e = SSL_get_error(ssl_, r);
    ERR_clear_error();
    return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
  }
  // Everything readable now, appended to `into`; false once the peer closed.
  bool drain(std::string* into) {
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        into->append(buf, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_;
};

class Channel : public TlsFiles {
 protected:
  void SetUp() override {
    TlsFiles::SetUp();
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server_fd_ = fds[0];
    client_fd_ = fds[1];
  }
  void TearDown() override {
    ::close(server_fd_);
    ::close(client_fd_);
    TlsFiles::TearDown();
  }

  TlsContext context(std::vector<std::string> alpn = {"http/1.1"}) {
    TlsConfig c = config();
    c.alpn = std::move(alpn);
    std::string error;
    TlsContext ctx = TlsContext::load(c, &error);
    EXPECT_TRUE(ctx) << error;
    return ctx;
  }

  // Alternates the two ends until both are done (or one fails).
  TlsChannel::State handshake(TlsChannel& server, Client& client) {
    for (int round = 0; round < 50; ++round) {
      int c = client.step();
      TlsChannel::State s = server.handshake();
      if (s == TlsChannel::State::Failed || c < 0) return TlsChannel::State::Failed;
      if (s == TlsChannel::State::Open && c == 1) return s;
    }
    return server.state();
  }

  int server_fd_ = -1, client_fd_ = -1;
};

std::string bytes_pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 % 253);
  return s;
}

TEST_F(Channel, HandshakeAlpnAndSessionInfo) {
  TlsChannel server(context({"h2", "http/1.1"}), server_fd_);
  // The client prefers http/1.1; the server's order wins.
  static const char offer[] = "\x08http/1.1\x02h2";
  Client client(client_fd_, offer, sizeof offer - 1);
  EXPECT_EQ(server.state(), TlsChannel::State::Handshaking);
  ASSERT_EQ(handshake(server, client), TlsChannel::State::Open);
  EXPECT_EQ(server.alpn(), "h2");
  TlsSessionInfo info = server.session_info();
  EXPECT_EQ(info.version, 0x0304);
  EXPECT_EQ(info.cipher_suite, SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(client.ssl())));
  EXPECT_EQ(info.server_cert.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_TRUE(info.client_cert_chain.empty());
  EXPECT_FALSE(server.resumed());
  EXPECT_FALSE(server.kernel_sends());  // no kernel TLS on a unix socket
}

TEST_F(Channel, NoCommonAlpnProtocolFailsTheHandshake) {
  TlsChannel server(context({"http/1.1"}), server_fd_);
  static const char offer[] = "\x02h2";
  Client client(client_fd_, offer, sizeof offer - 1);
  EXPECT_EQ(handshake(server, client), TlsChannel::State::Failed);
}

TEST_F(Channel, ReadsAndWritesThroughAFullSocket) {
  TlsChannel server(context(), server_fd_);
  Client client(client_fd_);
  ASSERT_EQ(handshake(server, client), TlsChannel::State::Open);

  // Client to server: more than one read buffer's worth.
  std::string upload = bytes_pattern(300 * 1024);
  std::string received;
  size_t sent = 0;
  char buffer[64 * 1024];
  while (received.size() < upload.size()) {
    if (sent < upload.size()) {
      int n = SSL_write(client.ssl(), upload.data() + sent, static_cast<int>(upload.size() - sent));
      if (n > 0) sent += static_cast<size_t>(n);
      ERR_clear_error();
    }
    long n = server.read(buffer, sizeof buffer);
    ASSERT_NE(n, TlsChannel::GONE);
    if (n > 0) received.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(received, upload);
  EXPECT_EQ(server.read(buffer, sizeof buffer), TlsChannel::WOULD_BLOCK);
  EXPECT_FALSE(server.wants_write());

  // Server to client: the socket fills, the server is told to wait for
  // EPOLLOUT, and a retry from the same place goes on.
  std::string download = bytes_pattern(2 * 1024 * 1024 + 5);
  std::string got;
  size_t pos = 0;
  bool blocked = false;
  while (pos < download.size()) {
    long n = server.write(download.data() + pos, download.size() - pos);
    ASSERT_NE(n, TlsChannel::GONE);
    if (n == TlsChannel::WOULD_BLOCK) {
      blocked = true;
      EXPECT_TRUE(server.wants_write());
      ASSERT_TRUE(client.drain(&got));
    } else {
      pos += static_cast<size_t>(n);
    }
  }
  while (got.size() < download.size()) ASSERT_TRUE(client.drain(&got));
  EXPECT_TRUE(blocked);
  EXPECT_EQ(got, download);
}

TEST_F(Channel, WritevAndSendFile) {
  TlsChannel server(context(), server_fd_);
  Client client(client_fd_);
  ASSERT_EQ(handshake(server, client), TlsChannel::State::Open);

  std::string head = "HTTP/1.1 200 OK\r\n\r\n", body = bytes_pattern(1000);
  iovec parts[2] = {{head.data(), head.size()}, {body.data(), body.size()}};
  EXPECT_EQ(server.writev(parts, 2), static_cast<long>(head.size() + body.size()));

  std::string content = bytes_pattern(700 * 1024 + 3);
  std::string path = dir_ + "/payload.bin";
  std::ofstream(path, std::ios::binary) << content;
  int file = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(file, 0);
  int64_t offset = 100;  // from the middle of the file
  size_t left = content.size() - 100;
  std::string got;
  while (left > 0) {
    long n = server.send_file(file, &offset, left);
    ASSERT_NE(n, TlsChannel::GONE);
    if (n == TlsChannel::WOULD_BLOCK) {
      ASSERT_TRUE(client.drain(&got));
    } else {
      left -= static_cast<size_t>(n);
    }
  }
  EXPECT_EQ(offset, static_cast<int64_t>(content.size()));
  // Past the end of the file: the framing promised bytes that are not there.
  EXPECT_EQ(server.send_file(file, &offset, 10), TlsChannel::GONE);
  ::close(file);
  while (got.size() < head.size() + body.size() + content.size() - 100)
    ASSERT_TRUE(client.drain(&got));
  EXPECT_EQ(got, head + body + content.substr(100));
}

TEST_F(Channel, CloseNotifyEndsTheClientsRead) {
  TlsChannel server(context(), server_fd_);
  Client client(client_fd_);
  ASSERT_EQ(handshake(server, client), TlsChannel::State::Open);
  server.shutdown();
  EXPECT_EQ(server.state(), TlsChannel::State::Closing);
  EXPECT_EQ(server.write("x", 1), TlsChannel::GONE);
  char buffer[16];
  int n = SSL_read(client.ssl(), buffer, sizeof buffer);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(client.ssl(), n), SSL_ERROR_ZERO_RETURN);
  ERR_clear_error();
  // And the client's close_notify ends the server's reads.
  SSL_shutdown(client.ssl());
  EXPECT_EQ(server.read(buffer, sizeof buffer), TlsChannel::GONE);
}

TEST_F(Channel, GarbageGetsAnAlert) {
  TlsChannel server(context(), server_fd_);
  // Application data before any handshake: fed whole, then byte by byte.
  const std::string garbage("\x17\x03\x03\x00\x05hello", 10);
  ASSERT_EQ(::write(client_fd_, garbage.data(), garbage.size()), 10);
  EXPECT_EQ(server.handshake(), TlsChannel::State::Failed);
  char answer[64];
  ssize_t n = ::read(client_fd_, answer, sizeof answer);
  ASSERT_GE(n, 7);
  EXPECT_EQ(answer[0], 0x15);  // alert
  EXPECT_EQ(answer[5], 0x02);  // fatal
  char buffer[16];
  EXPECT_EQ(server.read(buffer, sizeof buffer), TlsChannel::GONE);
  EXPECT_EQ(server.write("x", 1), TlsChannel::GONE);
}

TEST_F(Channel, GarbageByteByByte) {
  TlsChannel server(context(), server_fd_);
  const std::string garbage("\x16\x03\x01\x00\x04\xde\xad\xbe\xef", 9);
  TlsChannel::State state = TlsChannel::State::Handshaking;
  for (size_t i = 0; i < garbage.size() && state == TlsChannel::State::Handshaking; ++i) {
    ASSERT_EQ(::write(client_fd_, garbage.data() + i, 1), 1);
    state = server.handshake();
    if (i + 1 < 5) {  // a record header is 5 bytes: nothing to judge before it
      EXPECT_EQ(state, TlsChannel::State::Handshaking);
    }
  }
  EXPECT_EQ(state, TlsChannel::State::Failed);
}

TEST_F(Channel, PeerClosingMidHandshakeFails) {
  TlsChannel server(context(), server_fd_);
  EXPECT_EQ(server.handshake(), TlsChannel::State::Handshaking);
  EXPECT_FALSE(server.wants_write());
  ::shutdown(client_fd_, SHUT_WR);
  EXPECT_EQ(server.handshake(), TlsChannel::State::Failed);
}

TEST(TlsChannelWithoutContext, IsFailed) {
  TlsChannel channel(TlsContext(), -1);
  EXPECT_FALSE(channel.ok());
  EXPECT_EQ(channel.handshake(), TlsChannel::State::Failed);
}

}  // namespace
}  // namespace subcorn::io
