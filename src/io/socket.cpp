#include "io/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace subcorn::io {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string describe(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Peer address_of(const sockaddr_storage& ss) {
  Peer p;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    p.host = buf;
    p.port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    p.host = buf;
    p.port = ntohs(in6->sin6_port);
  }
  return p;
}

}  // namespace

bool listen_tcp(const std::string& host, int port, int backlog, Listener* out, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    *error = "could not resolve host '" + host + "': " + gai_strerror(rc);
    return false;
  }
  int last_err = 0;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) { last_err = errno; continue; }
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), backlog) != 0) {
      last_err = errno;
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    Peer bound = address_of(ss);
    *out = Listener{std::move(fd), false, bound.host, bound.port};
    freeaddrinfo(res);
    return true;
  }
  freeaddrinfo(res);
  *error = "could not bind to " + describe(host, port) + ": " + errno_text(last_err);
  return false;
}

bool adopt_listener(int fd, int backlog, Listener* out, std::string* error) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
    *error = "file descriptor " + std::to_string(fd) + " is not a stream socket";
    return false;
  }
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (listen(fd, backlog) != 0) {
    *error = "file descriptor " + std::to_string(fd) + " cannot listen: " + errno_text(errno);
    return false;
  }
  sockaddr_storage ss{};
  len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    *out = Listener{UniqueFd(fd), true, un->sun_path, 0};
  } else {
    Peer bound = address_of(ss);
    *out = Listener{UniqueFd(fd), false, bound.host, bound.port};
  }
  return true;
}

bool is_connection_error(int err) {
  switch (err) {
    case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENOPROTOOPT:
    case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

int accept_connection(int listen_fd, bool unix_socket) {
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -errno;
  if (!unix_socket) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

void refuse_connection(UniqueFd fd, std::string_view response) {
  (void)!send(fd.get(), response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  shutdown(fd.get(), SHUT_WR);
  char unread[4096];
  for (int i = 0; i < 16 && recv(fd.get(), unread, sizeof unread, MSG_DONTWAIT) > 0; ++i) {
  }
}

int receive_fds(int channel, int* fds, int max_fds, int* lost) {
  *lost = 0;
  char data[64];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  if (n == 0) return 0;
  int count = 0;
  // The sender puts one connection in each message.
  if (msg.msg_flags & MSG_CTRUNC) *lost = 1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int* received = reinterpret_cast<const int*>(CMSG_DATA(c));
    // Already nonblocking and TCP_NODELAY (send_fd).
    for (size_t i = 0; i < k; ++i) {
      int fd = received[i];
      if (count < max_fds) {
        fds[count++] = fd;
      } else {
        close(fd);
      }
    }
  }
  if (count > 0) return count;
  return *lost > 0 ? -EMFILE : -EAGAIN;
}

int send_fd(int channel, int fd) {
  char tag = 'c';  // one byte: a message with no data is not sent with its fds
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(channel, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int send_closed_report(int channel, long count) {
  char line[32];
  int length = std::snprintf(line, sizeof line, "closed %ld\n", count);
  ssize_t sent = send(channel, line, static_cast<size_t>(length), MSG_DONTWAIT | MSG_NOSIGNAL);
  return sent == length ? 0 : sent < 0 ? -errno : -EAGAIN;
}

long closed_report_count(std::string_view message) {
  constexpr std::string_view tag = "closed";
  if (!message.starts_with(tag) || message.size() < tag.size() + 2 || message[tag.size()] != ' ')
    return 0;
  message.remove_prefix(tag.size() + 1);
  long count = 0;
  auto [end, error] = std::from_chars(message.data(), message.data() + message.size(), count);
  return error == std::errc() && count > 0 ? count : 0;
}

bool is_unix_socket(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_UNIX;
}

std::string unix_socket_path(int fd) {
  sockaddr_un un{};
  socklen_t len = sizeof un;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&un), &len) != 0 || un.sun_family != AF_UNIX)
    return {};
  return un.sun_path;
}

Peer peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return address_of(ss);
}

Peer local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return address_of(ss);
}

}  // namespace subcorn::io
