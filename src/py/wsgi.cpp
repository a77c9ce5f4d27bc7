#include "py/wsgi.h"

#include "py/wsgi_input.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace subcorn::py {
namespace {

// ---- start_response / write: one StartResponse object per request ----------

struct StartResponseObject {
  PyObject_HEAD
  Exchange* ex;        // null once the request is over
  PyObject* status;    // str, e.g. "200 OK", until the headers are sent
  PyObject* headers;   // list of (name, value) str pairs
  bool headers_sent;
};

StartResponseObject* as_sr(PyObject* o) { return reinterpret_cast<StartResponseObject*>(o); }

// Latin-1 text of a str (PEP 3333: "native strings" hold bytes as latin-1).
bool latin1(PyObject* s, std::string& out, const char* what) {
  if (!PyUnicode_Check(s)) {
    PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(s)->tp_name);
    return false;
  }
  Ref b = Ref::steal(PyUnicode_AsLatin1String(s));
  if (!b) return false;
  out.assign(PyBytes_AS_STRING(b.get()), PyBytes_GET_SIZE(b.get()));
  return true;
}

// Hands status and headers to the exchange, before the first body bytes.
bool send_headers(StartResponseObject* sr) {
  if (sr->headers_sent) return true;
  if (!sr->status) {
    PyErr_SetString(PyExc_AssertionError, "write() before start_response()");
    return false;
  }
  std::string status;
  if (!latin1(sr->status, status, "status")) return false;
  int code = 0;
  size_t i = 0;
  for (; i < status.size() && i < 3 && status[i] >= '0' && status[i] <= '9'; ++i)
    code = code * 10 + (status[i] - '0');
  if (i != 3 || (status.size() > 3 && status[3] != ' ')) {
    PyErr_Format(PyExc_ValueError, "invalid WSGI status %R", sr->status);
    return false;
  }
  if (const char* err = sr->ex->start_response(code)) {
    PyErr_SetString(PyExc_RuntimeError, err);
    return false;
  }
  Py_ssize_t n = PyList_GET_SIZE(sr->headers);
  std::string name, value;
  for (Py_ssize_t k = 0; k < n; ++k) {
    PyObject* pair = PyList_GET_ITEM(sr->headers, k);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_SetString(PyExc_TypeError, "each header must be a (name, value) tuple");
      return false;
    }
    if (!latin1(PyTuple_GET_ITEM(pair, 0), name, "header name") ||
        !latin1(PyTuple_GET_ITEM(pair, 1), value, "header value"))
      return false;
    if (const char* err = sr->ex->add_header(name, value)) {
      PyErr_SetString(PyExc_ValueError, err);
      return false;
    }
  }
  sr->headers_sent = true;
  return true;
}

// What became of a chunk: taken (Done), taken but the client reads slowly
// (Blocked: on the shard thread, stop producing until the output drains),
// the client is gone (Gone: stop), or an error is set (Failed).
enum class ChunkSent { Done, Blocked, Gone, Failed };

ChunkSent send_chunk(StartResponseObject* sr, std::string_view data, bool more) {
  if (!sr->ex) return ChunkSent::Gone;
  if (!send_headers(sr)) return ChunkSent::Failed;
  const char* err = nullptr;
  Exchange::Sent sent = sr->ex->send_body(data, more, &err);
  if (err) {
    PyErr_SetString(PyExc_RuntimeError, err);
    return ChunkSent::Failed;
  }
  switch (sent) {
    case Exchange::Sent::Blocked: return ChunkSent::Blocked;
    case Exchange::Sent::Gone: return ChunkSent::Gone;
    default: return ChunkSent::Done;
  }
}

// write() cannot be paused (the app expects it to return when the data is
// out): on the shard thread it may buffer at most this much for a client that
// does not read, then it raises. A worker thread waits for the client instead.
constexpr size_t WRITE_BUFFER_LIMIT = 1024 * 1024;

PyObject* sr_write(PyObject* self, PyObject* data) {
  StartResponseObject* sr = as_sr(self);
  Py_buffer view;
  if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return nullptr;
  bool ok = true;
  if (view.len > 0 && sr->ex &&
      sr->ex->output_buffered() + static_cast<size_t>(view.len) > WRITE_BUFFER_LIMIT) {
    PyErr_Format(PyExc_RuntimeError,
                 "write() would buffer more than %zu bytes for a client that is not reading; "
                 "return an iterable (or run with --threads) to stream a large response",
                 WRITE_BUFFER_LIMIT);
    ok = false;
  } else if (view.len > 0) {
    ok = send_chunk(sr, {static_cast<const char*>(view.buf), size_t(view.len)}, true) !=
         ChunkSent::Failed;
  }
  PyBuffer_Release(&view);
  if (!ok) return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef write_def = {"write", sr_write, METH_O, "WSGI write(data)"};

PyObject* sr_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  StartResponseObject* sr = as_sr(self);
  static const char* keywords[] = {"status", "headers", "exc_info", nullptr};
  PyObject *status, *headers, *exc_info = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO|O:start_response",
                                   const_cast<char**>(keywords), &status, &headers, &exc_info))
    return nullptr;
  if (exc_info != Py_None) {
    // PEP 3333: after the headers went out, an error can only be re-raised.
    if (sr->headers_sent) {
      if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) < 2) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return nullptr;
      }
      PyErr_SetRaisedException(Py_NewRef(PyTuple_GET_ITEM(exc_info, 1)));
      return nullptr;
    }
  } else if (sr->status) {
    PyErr_SetString(PyExc_AssertionError, "start_response() called twice without exc_info");
    return nullptr;
  }
  Ref list = Ref::steal(PySequence_List(headers));
  if (!list) return nullptr;
  Py_XSETREF(sr->status, Py_NewRef(status));
  Py_XSETREF(sr->headers, list.release());
  return PyCFunction_New(&write_def, self);
}

void sr_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  Py_XDECREF(as_sr(self)->status);
  Py_XDECREF(as_sr(self)->headers);
  PyObject_Free(self);
  Py_DECREF(tp);
}

PyType_Slot sr_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(sr_dealloc)},
    {Py_tp_call, reinterpret_cast<void*>(sr_call)},
    {0, nullptr},
};

PyType_Spec sr_spec = {"subcorn._native.StartResponse", sizeof(StartResponseObject), 0,
                       Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
                           Py_TPFLAGS_DISALLOW_INSTANTIATION,
                       sr_slots};

// ---- the environ ---------------------------------------------------------------------

bool set_str(PyObject* d, const char* key, std::string_view value) {
  Ref v = Ref::steal(PyUnicode_DecodeLatin1(value.data(), value.size(), nullptr));
  return v && PyDict_SetItemString(d, key, v.get()) == 0;
}

bool set_obj(PyObject* d, const char* key, PyObject* value) {
  return value && PyDict_SetItemString(d, key, value) == 0;
}

// "HTTP_" + the name uppercased with '-' as '_'. Names with '_' are dropped
// (as gunicorn does): "X_Forwarded" and "X-Forwarded" would collide, which
// lets a client spoof a header a proxy set.
bool cgi_name(std::string_view name, std::string& out) {
  out.assign("HTTP_");
  for (char c : name) {
    if (c == '_') return false;
    out.push_back(c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
  }
  return true;
}

Ref build_environ(AppContext& ctx, PyObject* tmpl, Exchange* ex, const http::RequestHead& head,
                  long long content_length, const ConnectionInfo& conn, Ref* input_out) {
  Ref env = Ref::steal(PyDict_Copy(tmpl));
  if (!env) return {};
  PyObject* d = env.get();

  auto [raw_path, query] = split_path_and_query(head);
  std::string path = percent_decode(raw_path);
  // SCRIPT_NAME is the mount point; PATH_INFO what lies below it.
  std::string script_name;
  if (PyUnicode_GET_LENGTH(ctx.root_path.get()) > 0) {
    const char* root = PyUnicode_AsUTF8(ctx.root_path.get());
    if (!root) return {};
    script_name = root;
    if (path.compare(0, script_name.size(), script_name) == 0 &&
        (path.size() == script_name.size() || path[script_name.size()] == '/'))
      path.erase(0, script_name.size());
  }
  if (!set_str(d, "REQUEST_METHOD", head.method) || !set_str(d, "SCRIPT_NAME", script_name) ||
      !set_str(d, "PATH_INFO", path) || !set_str(d, "QUERY_STRING", query) ||
      !set_str(d, "SERVER_PROTOCOL", head.version_major == 2   ? "HTTP/2"
                                           : head.version_minor == 0 ? "HTTP/1.0"
                                                                     : "HTTP/1.1") ||
      !set_str(d, "RAW_URI", head.target) ||
      (conn.secure && !set_str(d, "wsgi.url_scheme", "https")))
    return {};

  std::string key;
  for (const http::Header& h : head.headers) {
    if (h.name == "content-type") {
      if (!set_str(d, "CONTENT_TYPE", h.value)) return {};
      continue;
    }
    if (h.name == "content-length") continue;  // set below, once
    if (!cgi_name(h.name, key)) continue;
    Ref value = Ref::steal(PyUnicode_DecodeLatin1(h.value.data(), h.value.size(), nullptr));
    if (!value) return {};
    PyObject* old = PyDict_GetItemString(d, key.c_str());
    if (old && PyUnicode_Check(old) && key != "HTTP_CONTENT_TYPE") {
      // Repeated headers are joined, as RFC 9110 allows for lists.
      Ref sep = Ref::steal(PyUnicode_FromString(","));
      Ref joined = Ref::steal(PyUnicode_Concat(old, sep.get()));
      if (!joined) return {};
      value = Ref::steal(PyUnicode_Concat(joined.get(), value.get()));
      if (!value) return {};
    }
    if (PyDict_SetItemString(d, key.c_str(), value.get()) < 0) return {};
  }
  // A trusted proxy's forwarded host is the Host the app sees.
  if (!conn.host.empty() && !set_str(d, "HTTP_HOST", conn.host)) return {};
  // The declared length, or that of a chunked body read whole before the call.
  if (content_length >= 0 && !set_str(d, "CONTENT_LENGTH", std::to_string(content_length)))
    return {};

  // Addresses: ("host", port) tuples from the connection.
  PyObject* server = conn.server.get();
  PyObject* client = conn.client.get();
  if (server && PyTuple_Check(server)) {
    if (!set_obj(d, "SERVER_NAME", PyTuple_GET_ITEM(server, 0))) return {};
    Ref port = Ref::steal(PyObject_Str(PyTuple_GET_ITEM(server, 1)));
    if (!set_obj(d, "SERVER_PORT", port.get())) return {};
  }
  if (client && PyTuple_Check(client)) {
    if (!set_obj(d, "REMOTE_ADDR", PyTuple_GET_ITEM(client, 0))) return {};
    Ref port = Ref::steal(PyObject_Str(PyTuple_GET_ITEM(client, 1)));
    if (!set_obj(d, "REMOTE_PORT", port.get())) return {};
  }

  *input_out = Ref::steal(wsgi_input_new(ctx.st, ex));
  if (!set_obj(d, "wsgi.input", input_out->get())) return {};
  return env;
}

// Sends a FileWrapper's file with sendfile() when it is a regular file.
// Returns 1 when sent, 0 when the caller should iterate instead, -1 on error.
int try_send_file(AppContext& ctx, StartResponseObject* sr, PyObject* result) {
  if (!PyObject_TypeCheck(result, reinterpret_cast<PyTypeObject*>(ctx.file_wrapper.get())))
    return 0;
  Ref filelike = Ref::steal(PyObject_GetAttrString(result, "filelike"));
  Ref fileno = filelike ? Ref::steal(PyObject_CallMethod(filelike.get(), "fileno", nullptr)) : Ref();
  if (!fileno) {
    PyErr_Clear();
    return 0;
  }
  int fd = PyLong_AsInt(fileno.get());
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    PyErr_Clear();
    return 0;
  }
  // Start where the file object stands (an app may have seeked).
  Ref pos = Ref::steal(PyObject_CallMethod(filelike.get(), "tell", nullptr));
  long long offset = pos ? PyLong_AsLongLong(pos.get()) : 0;
  if (offset < 0 || PyErr_Occurred()) {
    PyErr_Clear();
    offset = 0;
  }
  if (!send_headers(sr)) return -1;
  io::UniqueFd copy(::dup(fd));
  if (!copy) return 0;
  const char* err = nullptr;
  sr->ex->send_file(std::move(copy), offset, static_cast<long long>(st.st_size) - offset, false,
                   &err);
  if (err) {
    PyErr_SetString(PyExc_RuntimeError, err);
    return -1;
  }
  return 1;
}

}  // namespace

int register_wsgi_types(PyObject* module, ModuleState* st) {
  st->start_response_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &sr_spec, nullptr));
  return st->start_response_type ? 0 : -1;
}

Ref make_wsgi_environ_template(AppContext& ctx, bool multithread) {
  Ref env = Ref::steal(PyDict_New());
  Ref sys = Ref::steal(PyImport_ImportModule("sys"));
  Ref errors = sys ? Ref::steal(PyObject_GetAttrString(sys.get(), "stderr")) : Ref();
  Ref version = Ref::steal(Py_BuildValue("(ii)", 1, 0));
  if (!env || !errors || !version) return {};
  PyObject* d = env.get();
  if (!set_obj(d, "wsgi.version", version.get()) || !set_str(d, "wsgi.url_scheme", "http") ||
      !set_obj(d, "wsgi.errors", errors.get()) ||
      !set_obj(d, "wsgi.multithread", multithread ? Py_True : Py_False) ||
      // Every interpreter has its own copy of the app, as a process would.
      !set_obj(d, "wsgi.multiprocess", Py_True) || !set_obj(d, "wsgi.run_once", Py_False) ||
      !set_obj(d, "wsgi.input_terminated", Py_True) ||
      !set_obj(d, "wsgi.file_wrapper", ctx.file_wrapper.get()) ||
      !set_str(d, "SCRIPT_NAME", "") || !set_str(d, "SERVER_SOFTWARE", "subcorn"))
    return {};
  return env;
}

namespace {

// A WSGI app called on the shard thread runs while that thread's asyncio loop
// is running; Django (and asgiref) then refuse every database call as "async
// context". For the length of the call, the thread has no running loop.
class HiddenRunningLoop {
 public:
  explicit HiddenRunningLoop(AppContext& ctx) : ctx_(ctx) {
    Ref loop = Ref::steal(PyObject_CallNoArgs(ctx.get_running_loop.get()));
    if (loop && loop.get() != Py_None) {
      previous_ = std::move(loop);
      set(Py_None);
    }
    PyErr_Clear();
  }
  ~HiddenRunningLoop() {
    if (previous_) set(previous_.get());
  }

 private:
  void set(PyObject* loop) {
    Ref r = Ref::steal(PyObject_CallOneArg(ctx_.set_running_loop.get(), loop));
    if (!r) PyErr_Clear();
  }
  AppContext& ctx_;
  Ref previous_;
};

}  // namespace

// One request's app call and the response it writes: kept between steps
// when the response iterable is paused for a slow client.
class WsgiCall {
 public:
  WsgiCall(AppContext& ctx, Exchange* ex) : ctx_(ctx), ex_(ex) {}

  // Calls the app and writes until done (nullptr) or paused (the call).
  static WsgiCallPtr start(AppContext& ctx, PyObject* environ_template, Exchange* ex,
                           const http::RequestHead& head, long long content_length,
                           const ConnectionInfo& conn);
  // Goes on writing a paused response.
  static WsgiCallPtr resume(WsgiCallPtr call);

 private:
  enum class Progress { Done, Paused };
  StartResponseObject* sr() const { return reinterpret_cast<StartResponseObject*>(sr_.get()); }
  Progress write_some();
  void finish();

  AppContext& ctx_;
  Exchange* ex_;
  Ref sr_;        // the StartResponse object (start_response, write)
  Ref input_;     // wsgi.input, detached at the end
  Ref result_;    // what the app returned; closed at the end (PEP 3333)
  Ref iterator_;  // over result_
  Ref pending_;   // a chunk produced but not sent: sent once the next is known
  bool failed_ = false;
};

void WsgiCallDeleter::operator()(WsgiCall* call) const { delete call; }

// Writes the response, one chunk behind, so that the last chunk is known to
// be last (a body that comes as one chunk gets a Content-Length). Stops
// producing when the exchange says the client reads slowly (only the shard
// thread is told so; a worker thread waits inside send_body instead).
WsgiCall::Progress WsgiCall::write_some() {
  for (;;) {
    Ref chunk = Ref::steal(PyIter_Next(iterator_.get()));
    if (!chunk) {
      if (PyErr_Occurred()) failed_ = true;
      break;
    }
    if (!PyBytes_Check(chunk.get())) {
      PyErr_Format(PyExc_TypeError, "WSGI response items must be bytes, not %.100s",
                   Py_TYPE(chunk.get())->tp_name);
      failed_ = true;
      return Progress::Done;
    }
    if (PyBytes_GET_SIZE(chunk.get()) == 0) continue;
    Ref previous = std::exchange(pending_, std::move(chunk));
    if (!previous) continue;
    switch (send_chunk(sr(), {PyBytes_AS_STRING(previous.get()),
                              size_t(PyBytes_GET_SIZE(previous.get()))}, true)) {
      case ChunkSent::Done: continue;
      case ChunkSent::Blocked: return Progress::Paused;
      case ChunkSent::Gone: return Progress::Done;  // nothing more is produced for nobody
      case ChunkSent::Failed: failed_ = true; return Progress::Done;
    }
  }
  if (failed_) return Progress::Done;
  std::string_view last;
  if (pending_) last = {PyBytes_AS_STRING(pending_.get()), size_t(PyBytes_GET_SIZE(pending_.get()))};
  if (send_chunk(sr(), last, false) == ChunkSent::Failed) failed_ = true;
  return Progress::Done;
}

void WsgiCall::finish() {
  if (failed_) log_app_exception(ctx_, "Exception in WSGI application", nullptr, ex_);
  if (result_ && PyObject_HasAttrWithError(result_.get(), ctx_.st->s_close) == 1) {
    // PEP 3333: close() is called whatever happened.
    Ref r = Ref::steal(PyObject_CallMethodNoArgs(result_.get(), ctx_.st->s_close));
    if (!r) {
      log_app_exception(ctx_, "Exception closing the WSGI response", nullptr, ex_);
      failed_ = true;
    }
  }
  PyErr_Clear();
  if (sr_) sr()->ex = nullptr;
  if (input_) wsgi_input_detach(input_.get());
  ex_->app_finished(failed_);
}

WsgiCallPtr WsgiCall::start(AppContext& ctx, PyObject* environ_template, Exchange* ex,
                            const http::RequestHead& head, long long content_length,
                            const ConnectionInfo& conn) {
  HiddenRunningLoop no_loop(ctx);
  WsgiCallPtr call(new WsgiCall(ctx, ex));
  auto* sr = PyObject_New(StartResponseObject, ctx.st->start_response_type);
  if (!sr) {
    log_app_exception(ctx, "Could not start the request");
    ex->app_finished(true);
    return {};
  }
  sr->ex = ex;
  sr->status = nullptr;
  sr->headers = nullptr;
  sr->headers_sent = false;
  call->sr_ = Ref::steal(reinterpret_cast<PyObject*>(sr));

  Ref environ = build_environ(ctx, environ_template, ex, head, content_length, conn, &call->input_);
  if (environ) {
    PyObject* args[] = {environ.get(), call->sr_.get()};
    call->result_ = Ref::steal(PyObject_Vectorcall(ctx.app.get(), args, 2, nullptr));
  }
  if (!call->result_) {
    call->failed_ = true;
    call->finish();
    return {};
  }
  int sent = try_send_file(ctx, sr, call->result_.get());
  if (sent != 0) {
    call->failed_ = sent < 0;
    call->finish();
    return {};
  }
  call->iterator_ = Ref::steal(PyObject_GetIter(call->result_.get()));
  if (!call->iterator_) {
    call->failed_ = true;
    call->finish();
    return {};
  }
  if (call->write_some() == Progress::Paused) return call;
  call->finish();
  return {};
}

WsgiCallPtr WsgiCall::resume(WsgiCallPtr call) {
  HiddenRunningLoop no_loop(call->ctx_);
  if (call->write_some() == Progress::Paused) return call;
  call->finish();
  return {};
}

WsgiCallPtr run_wsgi(AppContext& ctx, PyObject* environ_template, Exchange* ex,
                     const http::RequestHead& head, long long content_length,
                     const ConnectionInfo& conn) {
  return WsgiCall::start(ctx, environ_template, ex, head, content_length, conn);
}

WsgiCallPtr resume_wsgi(WsgiCallPtr call) { return WsgiCall::resume(std::move(call)); }

}  // namespace subcorn::py
