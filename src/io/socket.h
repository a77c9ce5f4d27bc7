// Listening sockets and accepted connections. Errors are values: a message a
// user can read ("could not bind to 127.0.0.1:8000: Address already in use").
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "io/unique_fd.h"

namespace subcorn::io {

// A listening socket, and what kind it is (for the log line that says where
// the server serves; a connection reads its own addresses from its socket).
struct Listener {
  UniqueFd fd;
  bool unix_socket = false;
  std::string host;  // numeric address, or the socket path for a unix socket
  int port = 0;      // the bound port (resolved when 0 was asked for)
};

// Binds and listens (the metrics port). On failure returns false and sets `error`.
bool listen_tcp(const std::string& host, int port, int backlog, Listener* out, std::string* error);
// Adopts an already bound (and possibly listening) socket: each one the
// supervisor bound or took from systemd, or --fd.
bool adopt_listener(int fd, int backlog, Listener* out, std::string* error);

struct Peer {
  std::string host;  // numeric; empty for a unix socket
  int port = 0;
};

// accept(2) errors that belong to the one connection being accepted (it was
// reset, or the network failed under it): the next one may be fine. Any
// other (EMFILE, ENFILE, ENOBUFS, ENOMEM) would come back at once.
bool is_connection_error(int err);

// Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY).
// Returns the fd, or -errno (-EAGAIN when none is waiting).
int accept_connection(int listen_fd, bool unix_socket);

// Answers a connection the server will not serve with `response` (a few
// hundred bytes: written without waiting, they fit in any socket buffer) and
// closes it. What the client already sent is read and dropped first: closing
// with unread input would answer with a reset instead of the response.
void refuse_connection(UniqueFd fd, std::string_view response);

// Receives connections another process accepted (SCM_RIGHTS over a unix
// socket; send_fd sent them): stores their fds in `fds`. Returns the number received, 0 at end
// of file, or -errno (-EAGAIN when none is waiting). A message whose
// connections could not be given a descriptor here (this process is at its
// open-file limit) loses them: the kernel closes them. Their number goes to
// `*lost` and the result is -EMFILE when none arrived.
int receive_fds(int channel, int* fds, int max_fds, int* lost);
// Its counterpart, in the supervisor: hands `fd` to the process at the other
// end of `channel`, one message per connection. 0, or -errno (-EAGAIN when
// the channel is full; -EPIPE when nobody reads it any more). The fd is a
// connection io::accept_connection made nonblocking and TCP_NODELAY: both
// belong to the socket, so the receiver gets it that way.
int send_fd(int channel, int fd);
// The receiver's word back on the same channel: `count` connections it was
// handed have ended ("closed N"; without waiting). 0, or -errno (-EAGAIN
// when the channel is full: report them again later).
int send_closed_report(int channel, long count);
// How many ended connections a message on the channel reports (0 when it is
// not a report).
long closed_report_count(std::string_view message);

// A unix-domain socket, and its path ("" when unnamed).
bool is_unix_socket(int fd);
std::string unix_socket_path(int fd);

// The numeric address of either end of a connected socket.
Peer peer_address(int fd);
Peer local_address(int fd);

}  // namespace subcorn::io
