#include "io/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace subcorn::io {

struct TlsContext::State {
  SSL_CTX* ctx = nullptr;
  std::string alpn_wire;  // the offered protocols, each prefixed by its length (RFC 7301)
  ~State() { SSL_CTX_free(ctx); }
};

SSL_CTX* TlsContext::get() const noexcept { return state_ ? state_->ctx : nullptr; }

namespace {

// How many plaintext bytes one TLS record carries at most: the unit the
// file fallback reads in, so one read becomes one record.
constexpr size_t RECORD_SIZE = 16 * 1024;
// writev: at most this much is copied together per call.
constexpr size_t GATHER_LIMIT = 64 * 1024;

int clamp_int(size_t n) { return static_cast<int>(std::min<size_t>(n, INT_MAX)); }

// The key's password, and whether OpenSSL asked for one (the key is encrypted).
struct PasswordPrompt {
  const std::string* password;
  bool asked = false;
};

int give_password(char* buffer, int size, int, void* data) {
  auto* prompt = static_cast<PasswordPrompt*>(data);
  prompt->asked = true;
  int n = static_cast<int>(std::min<size_t>(prompt->password->size(), static_cast<size_t>(size)));
  std::memcpy(buffer, prompt->password->data(), static_cast<size_t>(n));
  return n;
}

// The server's order of preference decides (RFC 7301 lets it); a client that
// offers nothing we speak gets the no_application_protocol alert.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                unsigned int offered_size, void* data) {
  const std::string& ours = *static_cast<const std::string*>(data);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_size, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), offered,
                            offered_size) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// "cannot read PATH: reason" when the file cannot be opened, so that a
// missing file is told apart from one that holds no PEM.
bool readable(const std::string& flag, const std::string& path, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *error = flag + ": cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

bool load_key(SSL_CTX* ctx, const TlsConfig& config, std::string* error) {
  bool own_file = !config.keyfile.empty();
  const std::string& path = own_file ? config.keyfile : config.certfile;
  const std::string flag = own_file ? "--ssl-keyfile" : "--ssl-certfile";
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (!bio) {
    *error = flag + ": cannot read " + path;
    return false;
  }
  PasswordPrompt prompt{&config.keyfile_password};
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, give_password, &prompt);
  BIO_free(bio);
  if (!key) {
    if (prompt.asked && config.keyfile_password.empty())
      *error = "--ssl-keyfile-password: " + path + " is encrypted; give its password";
    else if (prompt.asked)
      *error = "--ssl-keyfile-password: wrong password for " + path;
    else
      *error = flag + ": no PEM private key in " + path;
    return false;
  }
  bool matches = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!matches) {
    *error = flag + ": " + path + " does not match the certificate in " + config.certfile;
    return false;
  }
  return true;
}

bool load_client_cas(SSL_CTX* ctx, const TlsConfig& config, std::string* error) {
  if (SSL_CTX_load_verify_locations(ctx, config.ca_certs.c_str(), nullptr) != 1) {
    *error = "--ssl-ca-certs: no PEM certificate in " + config.ca_certs;
    return false;
  }
  // The CA names a client is told to pick its certificate by.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_certs.c_str()))
    SSL_CTX_set_client_CA_list(ctx, names);
  return true;
}

int verify_mode(ClientCertPolicy policy) {
  switch (policy) {
    case ClientCertPolicy::None: return SSL_VERIFY_NONE;
    case ClientCertPolicy::Optional: return SSL_VERIFY_PEER;
    case ClientCertPolicy::Required: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_NONE;
}

bool build_alpn(const std::vector<std::string>& protocols, std::string* wire, std::string* error) {
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      *error = "ALPN protocol names are 1 to 255 bytes: \"" + p + "\"";
      return false;
    }
    wire->push_back(static_cast<char>(p.size()));
    wire->append(p);
  }
  return true;
}

// What `write` puts into a memory BIO, as text ("" when it fails).
template <typename Write>
std::string bio_text(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  std::string text;
  if (write(bio)) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) text.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return text;
}

std::string pem_of(X509* cert) {
  return bio_text([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert) == 1; });
}

std::string rfc4514_name(X509* cert) {
  return bio_text([cert](BIO* bio) {
    return X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0;
  });
}

}  // namespace

TlsContext TlsContext::load(const TlsConfig& config, std::string* error) {
  if (!readable("--ssl-certfile", config.certfile, error) ||
      (!config.keyfile.empty() && !readable("--ssl-keyfile", config.keyfile, error)) ||
      (!config.ca_certs.empty() && !readable("--ssl-ca-certs", config.ca_certs, error)))
    return {};
  int min_version;
  if (config.min_version == "TLSv1.2") {
    min_version = TLS1_2_VERSION;
  } else if (config.min_version == "TLSv1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    *error = "--ssl-min-version: TLSv1.2 or TLSv1.3, not " + config.min_version;
    return {};
  }
  auto state = std::make_shared<State>();
  if (!build_alpn(config.alpn, &state->alpn_wire, error)) return {};
  ERR_clear_error();
  state->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* ctx = state->ctx;
  if (!ctx) {
    *error = "cannot create a TLS context (out of memory?)";
    return {};
  }
  SSL_CTX_set_min_proto_version(ctx, min_version);
  // Renegotiation is a denial-of-service lever and HTTP/2 forbids it; kernel
  // TLS is used where the kernel offers it (sendfile without a copy).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_ENABLE_KTLS);
  // A blocked write is retried from wherever the caller's buffer now is;
  // writes return after each record; an idle connection gives its record
  // buffers back (about 34 KB).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // Read ahead: one read() takes every record the socket holds, rather than
  // a 5-byte record header and then its body (two system calls a record,
  // measured: a third of the server's CPU over HTTPS went to the kernel).
  SSL_CTX_set_read_ahead(ctx, 1);
  if (!config.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, config.ciphers.c_str()) != 1) {
    *error = "--ssl-ciphers: no TLS 1.2 cipher that OpenSSL knows in \"" + config.ciphers + "\"";
    return {};
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, config.certfile.c_str()) != 1) {
    *error = "--ssl-certfile: no PEM certificate in " + config.certfile;
    return {};
  }
  if (!load_key(ctx, config, error)) return {};
  if (!config.ca_certs.empty() && !load_client_cas(ctx, config, error)) return {};
  SSL_CTX_set_verify(ctx, verify_mode(config.cert_reqs), nullptr);
  // Sessions resume from tickets (stateless, so any shard can take them);
  // a session id context is what OpenSSL wants before it resumes a session
  // whose client showed a certificate.
  static constexpr unsigned char SESSION_CONTEXT[] = "subcorn";
  SSL_CTX_set_session_id_context(ctx, SESSION_CONTEXT, sizeof SESSION_CONTEXT - 1);
  if (!state->alpn_wire.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &state->alpn_wire);
  ERR_clear_error();
  TlsContext context;
  context.state_ = std::move(state);
  return context;
}

std::string TlsContext::ticket_keys() const {
  std::string keys(TICKET_KEYS_SIZE, '\0');
  if (!state_ || SSL_CTX_get_tlsext_ticket_keys(state_->ctx, keys.data(),
                                                static_cast<long>(keys.size())) != 1)
    return {};
  return keys;
}

bool TlsContext::set_ticket_keys(std::string_view keys) {
  if (!state_ || keys.size() != TICKET_KEYS_SIZE) return false;
  std::string copy(keys);
  return SSL_CTX_set_tlsext_ticket_keys(state_->ctx, copy.data(), static_cast<long>(copy.size())) == 1;
}

// ---- one connection -------------------------------------------------------------

void TlsChannel::FreeSsl::operator()(SSL* ssl) const noexcept { SSL_free(ssl); }

TlsChannel::TlsChannel(const TlsContext& context, int fd) : context_(context) {
  if (context_) ssl_.reset(SSL_new(context_.get()));
  if (!ssl_ || SSL_set_fd(ssl_.get(), fd) != 1) {
    ssl_.reset();
    state_ = State::Failed;
    ERR_clear_error();
    return;
  }
  SSL_set_accept_state(ssl_.get());
}

TlsChannel::~TlsChannel() = default;

long TlsChannel::blocked_or_gone(int result) {
  switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ:
      wants_write_ = false;
      return WOULD_BLOCK;
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = true;
      return WOULD_BLOCK;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      wants_write_ = false;
      return GONE;
    default:  // a reset, an end of file without close_notify, a bad record
      wants_write_ = false;
      state_ = State::Failed;
      ERR_clear_error();
      return GONE;
  }
}

TlsChannel::State TlsChannel::handshake() {
  if (state_ != State::Handshaking) return state_;
  ERR_clear_error();
  int result = SSL_do_handshake(ssl_.get());
  if (result == 1) {
    state_ = State::Open;
    wants_write_ = false;
    return state_;
  }
  // A close_notify before the handshake ended is as final as an error.
  if (blocked_or_gone(result) == GONE) state_ = State::Failed;
  return state_;
}

// Calls `step(done)` (an SSL_read or SSL_write of what is left after `done`
// bytes) until `size` bytes are through or OpenSSL must wait; returns the
// bytes moved, or what the wait or failure means when there were none.
template <typename Step>
long TlsChannel::repeat(size_t size, Step step) {
  ERR_clear_error();
  size_t total = 0;
  while (total < size) {
    int n = step(total);
    if (n <= 0) {
      long blocked = blocked_or_gone(n);
      return total > 0 ? static_cast<long>(total) : blocked;
    }
    total += static_cast<size_t>(n);
  }
  wants_write_ = false;
  return static_cast<long>(total);
}

long TlsChannel::read(char* buffer, size_t size) {
  if (state_ != State::Open && state_ != State::Closing) return GONE;
  // Until the buffer is full or OpenSSL holds nothing more: what it read
  // ahead and kept would not wake epoll, while what is still in the socket
  // does (level-triggered), so a read() that could only say EAGAIN is
  // never made.
  ERR_clear_error();
  size_t total = 0;
  while (total < size) {
    int n = SSL_read(ssl_.get(), buffer + total, clamp_int(size - total));
    if (n <= 0) {
      long blocked = blocked_or_gone(n);
      return total > 0 ? static_cast<long>(total) : blocked;
    }
    total += static_cast<size_t>(n);
    if (SSL_pending(ssl_.get()) == 0 && SSL_has_pending(ssl_.get()) == 0) break;
  }
  wants_write_ = false;
  return static_cast<long>(total);
}

long TlsChannel::write(const char* data, size_t size) {
  if (state_ != State::Open) return GONE;
  // One record per SSL_write (partial writes): on to the next until the
  // socket is full. A record that did not go out whole stays in OpenSSL and
  // is finished by the next call, which starts with the same bytes.
  return repeat(size, [&](size_t done) {
    return SSL_write(ssl_.get(), data + done, clamp_int(size - done));
  });
}

long TlsChannel::writev(const iovec* parts, int count) {
  gathered_.clear();
  for (int i = 0; i < count && gathered_.size() < GATHER_LIMIT; ++i) {
    size_t take = std::min(parts[i].iov_len, GATHER_LIMIT - gathered_.size());
    gathered_.append(static_cast<const char*>(parts[i].iov_base), take);
  }
  long n = write(gathered_.data(), gathered_.size());
  if (gathered_.capacity() > GATHER_LIMIT) std::string().swap(gathered_);
  return n;
}

bool TlsChannel::kernel_sends() const noexcept {
  return ssl_ && BIO_get_ktls_send(SSL_get_wbio(ssl_.get()));
}

long TlsChannel::send_file(int file, int64_t* offset, size_t count) {
  if (state_ != State::Open) return GONE;
  ERR_clear_error();
  if (kernel_sends()) {
    ossl_ssize_t n = SSL_sendfile(ssl_.get(), file, static_cast<off_t>(*offset), count, 0);
    if (n > 0) {
      *offset += n;
      wants_write_ = false;
      return static_cast<long>(n);
    }
    return blocked_or_gone(static_cast<int>(n));
  }
  // No kernel TLS: the file is read a record at a time and encrypted here.
  // A chunk that SSL_write did not take stays for the next call, which
  // comes with the same offset.
  size_t total = 0;
  while (total < count) {
    if (file_chunk_.empty()) {
      size_t want = std::min(count - total, RECORD_SIZE);
      file_chunk_.resize(want);
      ssize_t got;
      do {
        got = ::pread(file, file_chunk_.data(), want, static_cast<off_t>(*offset));
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {  // the file shrank, or cannot be read: the framing promised those bytes
        file_chunk_.clear();
        return total > 0 ? static_cast<long>(total) : GONE;
      }
      file_chunk_.resize(static_cast<size_t>(got));
    }
    int n = SSL_write(ssl_.get(), file_chunk_.data(), clamp_int(file_chunk_.size()));
    if (n <= 0) {
      long blocked = blocked_or_gone(n);
      return total > 0 ? static_cast<long>(total) : blocked;
    }
    file_chunk_.erase(0, static_cast<size_t>(n));
    *offset += n;
    total += static_cast<size_t>(n);
  }
  std::string().swap(file_chunk_);
  wants_write_ = false;
  return static_cast<long>(total);
}

void TlsChannel::shutdown() {
  if (state_ != State::Open) return;
  state_ = State::Closing;
  ERR_clear_error();
  // Sends close_notify; not waiting for the peer's (the socket closes next).
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string_view TlsChannel::alpn() const noexcept {
  if (!ssl_) return {};
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &size);
  return data ? std::string_view(reinterpret_cast<const char*>(data), size) : std::string_view();
}

bool TlsChannel::resumed() const noexcept { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

TlsSessionInfo TlsChannel::session_info() const {
  TlsSessionInfo info;
  if (!ssl_) return info;
  SSL* ssl = ssl_.get();
  info.version = SSL_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
    info.cipher_suite = SSL_CIPHER_get_protocol_id(cipher);
  if (X509* own = SSL_get_certificate(ssl)) info.server_cert = pem_of(own);
  // The server side's peer chain leaves the client's own certificate out.
  if (X509* client = SSL_get0_peer_certificate(ssl)) {
    info.client_cert_chain.push_back(pem_of(client));
    info.client_cert_name = rfc4514_name(client);
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        X509* cert = sk_X509_value(chain, i);
        if (X509_cmp(cert, client) != 0) info.client_cert_chain.push_back(pem_of(cert));
      }
    }
    long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) info.client_cert_error = X509_verify_cert_error_string(verdict);
  }
  ERR_clear_error();
  return info;
}

}  // namespace subcorn::io
