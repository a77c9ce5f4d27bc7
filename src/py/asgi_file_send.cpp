#include "py/asgi_file_send.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "io/file_open.h"
#include "py/asgi_response.h"
#include "py/ref.h"

namespace subcorn::py {
namespace {

constexpr const char* START = "http.response.start";
constexpr const char* PATHSEND = "http.response.pathsend";
constexpr const char* ZEROCOPYSEND = "http.response.zerocopysend";

// message[key] as a non-negative integer; `*given` false when absent or None.
bool optional_size(PyObject* message, PyObject* key, const char* what, long long* out, bool* given) {
  Ref value = Ref::borrow(PyDict_GetItemWithError(message, key));
  *given = value && value.get() != Py_None;
  if (!*given) return !PyErr_Occurred();
  if (!PyLong_Check(value.get())) {
    PyErr_Format(PyExc_TypeError, "%s: '%s' must be an int, not %.100s", ZEROCOPYSEND, what,
                 Py_TYPE(value.get())->tp_name);
    return false;
  }
  *out = PyLong_AsLongLong(value.get());
  if (*out == -1 && PyErr_Occurred()) return false;
  if (*out < 0) {
    PyErr_Format(PyExc_ValueError, "%s: '%s' must not be negative", ZEROCOPYSEND, what);
    return false;
  }
  return true;
}

}  // namespace

bool send_pathsend(ModuleState* st, Exchange* ex, PyObject* message, Exchange::Sent* sent) {
  if (!body_message_allowed(ex, START, PATHSEND)) return false;
  // Strong references: converting them may run the app's code, which could
  // change the message.
  Ref path = Ref::borrow(PyDict_GetItemWithError(message, st->s_path));
  if (!path) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'path'");
    return false;
  }
  // A str as the spec says, or any os.PathLike, in the file system's encoding.
  PyObject* encoded_bytes = nullptr;
  if (!PyUnicode_FSConverter(path.get(), &encoded_bytes)) return false;
  Ref encoded = Ref::steal(encoded_bytes);
  std::string file_path(PyBytes_AS_STRING(encoded.get()), static_cast<size_t>(PyBytes_GET_SIZE(encoded.get())));
  if (!file_path.starts_with('/')) {
    PyErr_Format(PyExc_ValueError, "%s: the path must be absolute, not %R", PATHSEND, path.get());
    return false;
  }
  io::OpenedFile file;
  if (io::open_regular(file_path, &file) != io::OpenStatus::Opened) {
    if (errno == EISDIR || errno == EINVAL)
      PyErr_Format(PyExc_ValueError, "%s: not a regular file: %R", PATHSEND, path.get());
    else
      PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path.get());
    return false;
  }
  const char* err = nullptr;
  *sent = ex->send_file(std::move(file.fd), 0, file.size, false, &err);
  return !refused(err);
}

bool send_zerocopysend(ModuleState* st, Exchange* ex, PyObject* message, Exchange::Sent* sent) {
  if (!body_message_allowed(ex, START, ZEROCOPYSEND)) return false;
  Ref file = Ref::borrow(PyDict_GetItemWithError(message, st->s_file));
  if (!file) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'file'");
    return false;
  }
  int fd = PyObject_AsFileDescriptor(file.get());  // an int, or the object's fileno()
  if (fd < 0) return false;
  struct stat info{};
  if (::fstat(fd, &info) != 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    PyErr_Format(PyExc_ValueError, "%s: the file must be a regular file", ZEROCOPYSEND);
    return false;
  }
  long long offset = 0;
  long long count = 0;
  bool offset_given = false;
  bool count_given = false;
  if (!optional_size(message, st->s_offset, "offset", &offset, &offset_given) ||
      !optional_size(message, st->s_count, "count", &count, &count_given))
    return false;
  Ref more_obj = Ref::borrow(PyDict_GetItemWithError(message, st->s_more_body));
  if (!more_obj && PyErr_Occurred()) return false;
  int more = more_obj ? PyObject_IsTrue(more_obj.get()) : 0;
  if (more < 0) return false;
  if (!offset_given) {
    off_t position = ::lseek(fd, 0, SEEK_CUR);
    if (position < 0) {
      PyErr_SetFromErrno(PyExc_OSError);
      return false;
    }
    offset = static_cast<long long>(position);
  }
  // Never past the end: the framing would promise bytes the file lacks.
  long long available = offset < info.st_size ? static_cast<long long>(info.st_size) - offset : 0;
  if (!count_given || count > available) count = available;
  io::UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) {
    PyErr_SetFromErrno(PyExc_OSError);
    return false;
  }
  // os.sendfile(offset=None) semantics: the file's position moves past
  // what is sent (the duplicate shares it, and uses offsets of its own).
  if (!offset_given && ::lseek(fd, static_cast<off_t>(offset + count), SEEK_SET) < 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    return false;
  }
  const char* err = nullptr;
  *sent = ex->send_file(std::move(copy), offset, count, more != 0, &err);
  return !refused(err);
}

}  // namespace subcorn::py
