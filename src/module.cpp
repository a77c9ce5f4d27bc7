// subcorn._native: the extension's entry point. Multi-phase init, one module
// state per interpreter (it is imported by the main interpreter, which calls
// serve(), and by every shard's sub-interpreter, which calls _shard_serve()).
// The only file that sees every layer below it. C++ exceptions never cross
// into CPython: every entry point catches them.
#include <Python.h>

#include <exception>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/exporter.h"
#include "py/engine_capsule.h"
#include "py/gil.h"
#include "py/module_state.h"
#include "py/ref.h"
#include "http/access_log_format.h"
#include "server/server.h"
#include "server/shard.h"
#include "supervise/acceptor.h"

namespace {

using subcorn::py::ModuleState;
using subcorn::server::Server;
using subcorn::server::Settings;
using subcorn::server::Shard;

ModuleState* state_of(PyObject* module) {
  return static_cast<ModuleState*>(PyModule_GetState(module));
}

// ---- reading the settings dict ------------------------------------------------

// Every key the engine reads must be in the dict: config.py's
// engine_settings() passes each setting, so a missing one is a name that
// drifted apart, said at once (KeyError) rather than served with the C++
// initialiser, which would be a second default. None means "not set".
PyObject* required(PyObject* d, const char* key) {
  PyObject* v = PyDict_GetItemString(d, key);
  if (!v) PyErr_Format(PyExc_KeyError, "the engine's settings lack %s", key);
  return v;
}

bool get_string(PyObject* d, const char* key, std::string* out) {
  PyObject* v = required(d, key);
  if (!v) return false;
  if (v == Py_None) return true;
  const char* s = PyUnicode_AsUTF8(v);
  if (!s) return false;
  *out = s;
  return true;
}

template <typename T>
bool get_number(PyObject* d, const char* key, T* out) {
  PyObject* v = required(d, key);
  if (!v) return false;
  if (v == Py_None) return true;
  double x = PyFloat_AsDouble(v);
  if (x == -1.0 && PyErr_Occurred()) return false;
  *out = static_cast<T>(x);
  return true;
}

bool get_bool(PyObject* d, const char* key, bool* out) {
  PyObject* v = required(d, key);
  if (!v) return false;
  if (v == Py_None) return true;
  int b = PyObject_IsTrue(v);
  if (b < 0) return false;
  *out = b != 0;
  return true;
}

bool get_bytes(PyObject* d, const char* key, std::string* out) {
  PyObject* v = PyDict_GetItemString(d, key);
  if (!v || v == Py_None) return true;
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(v, &data, &size) < 0) return false;
  out->assign(data, static_cast<size_t>(size));
  return true;
}

// --static: a list of (URL prefix, DIR) pairs of str.
bool get_static_mounts(PyObject* d, std::vector<std::pair<std::string, std::string>>* out) {
  PyObject* v = PyDict_GetItemString(d, "static");
  if (!v || v == Py_None) return true;
  subcorn::py::Ref items = subcorn::py::Ref::steal(PySequence_Fast(v, "static must be a list of pairs"));
  if (!items) return false;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(items.get()); ++i) {
    PyObject* prefix = nullptr;
    PyObject* dir = nullptr;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(items.get(), i), "UU", &prefix, &dir)) return false;
    const char* prefix_text = PyUnicode_AsUTF8(prefix);
    const char* dir_text = prefix_text ? PyUnicode_AsUTF8(dir) : nullptr;
    if (!dir_text) return false;
    out->emplace_back(prefix_text, dir_text);
  }
  return true;
}

// listen_fds: the sockets the supervisor bound, a list of ints.
bool get_fd_list(PyObject* d, const char* key, std::vector<int>* out) {
  PyObject* v = required(d, key);
  if (!v) return false;
  if (v == Py_None) return true;
  if (!PyList_Check(v)) {
    PyErr_Format(PyExc_TypeError, "%s must be a list of file descriptors", key);
    return false;
  }
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); ++i) {
    int fd = PyLong_AsInt(PyList_GET_ITEM(v, i));
    if (fd == -1 && PyErr_Occurred()) return false;
    out->push_back(fd);
  }
  return true;
}

// The TLS settings (config.py has checked them: cert_reqs is none, optional
// or required). ALPN is the Server's to choose.
bool read_tls(PyObject* d, subcorn::io::TlsConfig* tls) {
  using subcorn::io::ClientCertPolicy;
  std::string cert_reqs;
  if (!(get_string(d, "ssl_certfile", &tls->certfile) &&
        get_string(d, "ssl_keyfile", &tls->keyfile) &&
        get_string(d, "ssl_keyfile_password", &tls->keyfile_password) &&
        get_string(d, "ssl_ca_certs", &tls->ca_certs) &&
        get_string(d, "ssl_cert_reqs", &cert_reqs) &&
        get_string(d, "ssl_ciphers", &tls->ciphers) &&
        get_string(d, "ssl_min_version", &tls->min_version)))
    return false;
  tls->cert_reqs = cert_reqs == "required"   ? ClientCertPolicy::Required
                   : cert_reqs == "optional" ? ClientCertPolicy::Optional
                                             : ClientCertPolicy::None;
  return true;
}

// --forwarded-allow-ips (config.py has checked it with Python's ipaddress;
// this is the engine's own reading of the same list).
bool read_forwarded_allow_ips(PyObject* d, subcorn::http::AddressSet* out) {
  std::string list, error;
  if (!get_string(d, "forwarded_allow_ips", &list)) return false;
  std::optional<subcorn::http::AddressSet> set = subcorn::http::AddressSet::parse(list, &error);
  if (!set) {
    PyErr_Format(PyExc_ValueError, "--forwarded-allow-ips: %s", error.c_str());
    return false;
  }
  *out = std::move(*set);
  return true;
}

// --header, --server-header, --date-header: the fields every response gets
// (http/response_defaults.h checks them). "headers" is a list of (name, value).
bool read_response_defaults(PyObject* d, subcorn::http::ResponseDefaults* out, std::string* error) {
  bool date = true, server = true;
  if (!get_bool(d, "date_header", &date) || !get_bool(d, "server_header", &server)) return false;
  std::vector<subcorn::http::HeaderField> fields;
  PyObject* list = PyDict_GetItemString(d, "headers");
  if (list && list != Py_None) {
    PyObject* seq = PySequence_Fast(list, "headers must be a list of (name, value)");
    if (!seq) return false;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
      const char* name = nullptr;
      const char* value = nullptr;
      if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss", &name, &value)) {
        Py_DECREF(seq);
        return false;
      }
      fields.push_back({name, value});
    }
    Py_DECREF(seq);
  }
  *error = out->configure(date, server, fields);
  return true;
}

bool read_response_defaults(PyObject* d, subcorn::http::ResponseDefaults* out) {
  std::string error;
  if (!read_response_defaults(d, out, &error)) return false;
  if (error.empty()) return true;
  PyErr_SetString(PyExc_ValueError, error.c_str());
  return false;
}

PyObject* check_response_headers(PyObject*, PyObject* settings_dict) {
  if (!PyDict_Check(settings_dict)) {
    PyErr_SetString(PyExc_TypeError, "check_response_headers() takes a dict of settings");
    return nullptr;
  }
  subcorn::http::ResponseDefaults defaults;
  std::string error;
  if (!read_response_defaults(settings_dict, &defaults, &error)) return nullptr;
  if (error.empty()) Py_RETURN_NONE;
  return PyUnicode_FromStringAndSize(error.data(), static_cast<Py_ssize_t>(error.size()));
}

bool read_settings(PyObject* d, Settings* s) {
  if (!PyDict_Check(d)) {
    PyErr_SetString(PyExc_TypeError, "serve() takes a dict of settings");
    return false;
  }
  return get_string(d, "app", &s->app) && get_fd_list(d, "listen_fds", &s->listen_fds) &&
         get_number(d, "workers", &s->workers) &&
         get_number(d, "threads", &s->threads) &&
         get_bool(d, "main_interpreter", &s->main_interpreter) &&
         get_number(d, "ready_fd", &s->ready_fd) && get_number(d, "handoff_fd", &s->handoff_fd) &&
         get_number(d, "max_requests", &s->max_requests) &&
         get_number(d, "max_requests_jitter", &s->max_requests_jitter) &&
         get_number(d, "backlog", &s->backlog) &&
         get_number(d, "limit_concurrency", &s->limit_concurrency) &&
         get_number(d, "limit_max_connections", &s->limit_max_connections) &&
         get_number(d, "limit_request_line", &s->limit_request_line) &&
         get_number(d, "limit_request_fields", &s->limit_request_fields) &&
         get_number(d, "limit_request_field_size", &s->limit_request_field_size) &&
         get_number(d, "limit_request_body", &s->limit_request_body) &&
         get_number(d, "timeout_request_body", &s->timeout_request_body) &&
         get_number(d, "timeout_request", &s->timeout_request) &&
         get_number(d, "timeout_after_disconnect", &s->timeout_after_disconnect) &&
         get_number(d, "timeout_keep_alive", &s->timeout_keep_alive) &&
         get_number(d, "timeout_request_header", &s->timeout_request_header) &&
         get_number(d, "timeout_graceful_shutdown", &s->timeout_graceful_shutdown) &&
         get_bool(d, "ws", &s->websocket) && get_number(d, "ws_max_size", &s->ws_max_size) &&
         get_number(d, "ws_max_queue", &s->ws_max_queue) &&
         get_number(d, "ws_ping_interval", &s->ws_ping_interval) &&
         get_number(d, "ws_ping_timeout", &s->ws_ping_timeout) &&
         get_bool(d, "ws_per_message_deflate", &s->ws_per_message_deflate) &&
         get_bool(d, "http1", &s->http1) && get_bool(d, "http2", &s->http2) &&
         get_number(d, "http2_max_concurrent_streams", &s->http2_max_concurrent_streams) &&
         get_number(d, "http2_initial_window_size", &s->http2_initial_window_size) &&
         get_number(d, "http2_max_header_list_size", &s->http2_max_header_list_size) &&
         get_number(d, "http2_keep_alive_interval", &s->http2_keep_alive_interval) &&
         get_bool(d, "access_log", &s->access_log) &&
         get_string(d, "access_log_format", &s->access_log_format) &&
         get_string(d, "access_log_file", &s->access_log_file) &&
         get_bool(d, "log_json", &s->log_json) && get_number(d, "worker_base", &s->worker_base) && get_bool(d, "log_info", &s->log_info) &&
         get_number(d, "metrics_fd", &s->metrics_fd) &&
         get_number(d, "metrics_slot", &s->metrics_slot) &&
         get_string(d, "shard_config", &s->shard_config) && read_tls(d, &s->tls) &&
         get_bytes(d, "ssl_ticket_keys", &s->tls_ticket_keys) &&
         get_number(d, "ssl_handshake_timeout", &s->ssl_handshake_timeout) &&
         get_bool(d, "ssl_reload", &s->ssl_reload) &&
         get_bool(d, "proxy_headers", &s->proxy_headers) &&
         get_bool(d, "proxy_protocol", &s->proxy_protocol) &&
         get_static_mounts(d, &s->static_mounts) &&
         get_number(d, "static_max_age", &s->static_max_age) &&
         read_forwarded_allow_ips(d, &s->forwarded_allow_ips) &&
         read_response_defaults(d, &s->response_defaults);
}

// ---- check_access_log_format(): compiled as serve() will, before anything starts ----

PyObject* check_access_log_format(PyObject*, PyObject* format) {
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(format, &size);
  if (!text) return nullptr;
  std::string error;
  if (subcorn::http::AccessLogFormat::compile(std::string_view(text, static_cast<size_t>(size)),
                                              subcorn::http::AccessLogFormat::Output::Text, 0,
                                              &error))
    Py_RETURN_NONE;
  return PyUnicode_FromStringAndSize(error.data(), static_cast<Py_ssize_t>(error.size()));
}

// ---- check_tls(): the certificate, key and CA files, before anything starts -------

PyObject* check_tls(PyObject*, PyObject* settings_dict) {
  if (!PyDict_Check(settings_dict)) {
    PyErr_SetString(PyExc_TypeError, "check_tls() takes a dict of settings");
    return nullptr;
  }
  subcorn::io::TlsConfig tls;
  if (!read_tls(settings_dict, &tls)) return nullptr;
  if (!tls.enabled()) Py_RETURN_NONE;
  std::string error;
  if (subcorn::io::TlsContext::load(tls, &error)) Py_RETURN_NONE;
  return PyUnicode_FromStringAndSize(error.data(), static_cast<Py_ssize_t>(error.size()));
}

// ---- main interpreter: serve() --------------------------------------------------------

PyObject* serve(PyObject* module, PyObject* settings_dict) {
  if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
    PyErr_SetString(PyExc_RuntimeError, "serve() runs in the main interpreter only");
    return nullptr;
  }
  Settings settings;
  if (!read_settings(settings_dict, &settings)) return nullptr;
  try {
    auto server = std::make_unique<Server>(std::move(settings));
    std::string error;
    if (!server->bind(&error)) return Py_BuildValue("(isO)", 1, error.c_str(), Py_False);
    subcorn::server::RunResult result;
    {
      subcorn::py::GilReleased no_gil;
      result = server->run();
      server.reset();
    }
    return Py_BuildValue("(isO)", result.exit_code, result.error.c_str(),
                         result.interpreters_left ? Py_True : Py_False);
  } catch (const std::exception& e) {
    PyErr_Format(state_of(module)->startup_error, "internal error: %s", e.what());
    return nullptr;
  }
}

// ---- the supervisor: the metrics port (metrics/exporter.h) -----------------------------

// The exporter, owned by a capsule the supervisor holds; metrics_stop()
// ends it before the capsule goes.
constexpr subcorn::py::EngineCapsule<subcorn::metrics::Exporter> EXPORTER{
    "subcorn.metrics_exporter", "the metrics exporter was stopped"};

PyObject* metrics_start(PyObject*, PyObject* args) {
  const char* host;
  int port, slots;
  if (!PyArg_ParseTuple(args, "sii", &host, &port, &slots)) return nullptr;
  std::string error;
  std::unique_ptr<subcorn::metrics::Exporter> exporter;
  try {
    exporter = subcorn::metrics::Exporter::start(host, port, slots, &error);
  } catch (const std::exception& e) {
    error = std::string("--metrics: ") + e.what();
  }
  if (!exporter) return PyUnicode_FromStringAndSize(error.data(), static_cast<Py_ssize_t>(error.size()));
  int fd = exporter->table_fd(), bound = exporter->port();
  PyObject* capsule = EXPORTER.wrap(std::move(exporter));
  if (!capsule) return nullptr;
  return Py_BuildValue("(Nii)", capsule, fd, bound);
}

PyObject* metrics_stop(PyObject*, PyObject* capsule) {
  if (!EXPORTER.stop(capsule)) return nullptr;
  Py_RETURN_NONE;
}

PyObject* metrics_event(PyObject*, PyObject* args) {
  PyObject* capsule;
  const char* what;
  int value;
  if (!PyArg_ParseTuple(args, "Osi", &capsule, &what, &value)) return nullptr;
  subcorn::metrics::Exporter* e = EXPORTER.get(capsule);
  if (!e) return nullptr;
  std::string_view event = what;
  auto slot_ok = [&] { return value >= 0 && value < e->table().slot_count(); };
  if (event == "ready" || event == "not_ready") {
    e->set_ready(event == "ready");
  } else if (event == "process_gone") {
    e->process_gone(value);
  } else if (event == "rejection") {
    e->table().count_rejection(value);
  } else if ((event == "restart" || event == "recycle") && slot_ok()) {
    auto& slot = e->table().slot(value);
    (event == "restart" ? slot.restarts : slot.recycles).fetch_add(1, std::memory_order_relaxed);
  } else {
    PyErr_Format(PyExc_ValueError, "unknown metrics event %s %d", what, value);
    return nullptr;
  }
  Py_RETURN_NONE;
}

// ---- the supervisor: the acceptor of processes mode (supervise/acceptor.h) -------------

// Owned by a capsule the supervisor holds, as the exporter is; acceptor_stop()
// ends its thread before the capsule goes.
constexpr subcorn::py::EngineCapsule<subcorn::supervise::Acceptor> ACCEPTOR{
    "subcorn.acceptor", "the acceptor was stopped"};

// A list of ints from Python.
bool read_int_list(PyObject* list, std::vector<int>* out) {
  PyObject* seq = PySequence_Fast(list, "expected a list of ints");
  if (!seq) return false;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  for (Py_ssize_t i = 0; i < n; ++i) {
    long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
    if (v == -1 && PyErr_Occurred()) {
      Py_DECREF(seq);
      return false;
    }
    out->push_back(static_cast<int>(v));
  }
  Py_DECREF(seq);
  return true;
}

PyObject* acceptor_start(PyObject*, PyObject* args) {
  PyObject* fds;
  const char* refusal;
  Py_ssize_t refusal_size;
  long limit;
  if (!PyArg_ParseTuple(args, "Oy#l", &fds, &refusal, &refusal_size, &limit)) return nullptr;
  subcorn::supervise::AcceptorOptions options;
  if (!read_int_list(fds, &options.listen_fds)) return nullptr;
  options.refusal.assign(refusal, static_cast<size_t>(refusal_size));
  options.limit_max_connections = limit;
  std::string error;
  std::unique_ptr<subcorn::supervise::Acceptor> acceptor;
  try {
    acceptor = subcorn::supervise::Acceptor::start(std::move(options), &error);
  } catch (const std::exception& e) {
    error = std::string("cannot start the acceptor: ") + e.what();
  }
  if (!acceptor) return PyUnicode_FromStringAndSize(error.data(), static_cast<Py_ssize_t>(error.size()));
  return ACCEPTOR.wrap(std::move(acceptor));
}

PyObject* acceptor_stop(PyObject*, PyObject* capsule) {
  if (!ACCEPTOR.stop(capsule)) return nullptr;
  Py_RETURN_NONE;
}

PyObject* acceptor_add_worker(PyObject*, PyObject* args) {
  PyObject* capsule;
  int id, fd;
  if (!PyArg_ParseTuple(args, "Oii", &capsule, &id, &fd)) return nullptr;
  subcorn::supervise::Acceptor* a = ACCEPTOR.get(capsule);
  if (!a) return nullptr;
  a->add_worker(id, subcorn::io::UniqueFd(fd));
  Py_RETURN_NONE;
}

PyObject* acceptor_set_targets(PyObject*, PyObject* args) {
  PyObject *capsule, *ids;
  if (!PyArg_ParseTuple(args, "OO", &capsule, &ids)) return nullptr;
  subcorn::supervise::Acceptor* a = ACCEPTOR.get(capsule);
  std::vector<int> targets;
  if (!a || !read_int_list(ids, &targets)) return nullptr;
  {
    subcorn::py::GilReleased no_gil;  // waits for a hand-over in progress
    a->set_targets(targets);
  }
  Py_RETURN_NONE;
}

PyObject* acceptor_report(PyObject*, PyObject* capsule) {
  subcorn::supervise::Acceptor* a = ACCEPTOR.get(capsule);
  if (!a) return nullptr;
  subcorn::supervise::AcceptorReport r = a->take_report();
  return Py_BuildValue("{s:l,s:l,s:l,s:i,s:l}", "over_limit", r.over_limit, "unplaced", r.unplaced,
                       "deferred", r.deferred, "deferred_errno", r.deferred_errno,
                       "handed_over", r.handed_over);
}

PyObject* acceptor_attention_fd(PyObject*, PyObject* capsule) {
  subcorn::supervise::Acceptor* a = ACCEPTOR.get(capsule);
  if (!a) return nullptr;
  return PyLong_FromLong(a->attention_fd());
}

// ---- shard interpreters: the _shard_* functions ----------------------------------------

Shard* shard_from(PyObject* handle) {
  unsigned long long p = PyLong_AsUnsignedLongLong(handle);
  if (p == static_cast<unsigned long long>(-1) && PyErr_Occurred()) return nullptr;
  return reinterpret_cast<Shard*>(static_cast<uintptr_t>(p));
}

PyObject* shard_serve(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 7) {
    PyErr_SetString(PyExc_TypeError,
                    "_shard_serve(handle, app, loop, state, log_exception, root_path, interface)");
    return nullptr;
  }
  Shard* shard = shard_from(args[0]);
  if (!shard) return nullptr;
  const char* interface = PyUnicode_AsUTF8(args[6]);
  if (!interface) return nullptr;
  try {
    return shard->serve(module, args[1], args[2], args[3], args[4], args[5],
                        std::string_view(interface) == "wsgi");
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError, "internal error in the shard: %s", e.what());
    return nullptr;
  }
}

PyObject* shard_failed(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "_shard_failed(handle, message)");
    return nullptr;
  }
  Shard* shard = shard_from(args[0]);
  const char* message = shard ? PyUnicode_AsUTF8(args[1]) : nullptr;
  if (!message) return nullptr;
  shard->fail(message);
  Py_RETURN_NONE;
}

PyObject* shard_stop_requested(PyObject*, PyObject* handle) {
  Shard* shard = shard_from(handle);
  if (!shard) return nullptr;
  return PyBool_FromLong(shard->stop_requested());
}

PyMethodDef methods[] = {
    {"serve", serve, METH_O,
     "serve(settings: dict) -> (exit_code, error, interpreters_left)\n\n"
     "Listens on the inherited listen_fds, starts the shards and serves until SIGINT/SIGTERM."},
    {"check_access_log_format", check_access_log_format, METH_O,
     "check_access_log_format(format: str) -> str | None\n\n"
     "Compiles an --access-log-format: the one-line error, or None when it is usable."},
    {"check_response_headers", check_response_headers, METH_O,
     "check_response_headers(settings: dict) -> str | None\n\n"
     "Checks --header, --server-header and --date-header as serve() will: the one-line "
     "error, or None when they are usable."},
    {"check_tls", check_tls, METH_O,
     "check_tls(settings: dict) -> str | None\n\n"
     "Loads the TLS certificate, key and CA files as serve() would: the one-line error, "
     "or None when they are usable (or TLS is off)."},
    {"metrics_start", metrics_start, METH_VARARGS,
     "metrics_start(host, port, workers) -> (exporter, table_fd, port) | str\n\n"
     "The supervisor's metrics port: binds it, creates the table the workers count in "
     "(its fd is passed to them) and starts the thread that answers; the error otherwise."},
    {"metrics_stop", metrics_stop, METH_O, "metrics_stop(exporter): closes the metrics port."},
    {"metrics_event", metrics_event, METH_VARARGS,
     "metrics_event(exporter, what, value): 'ready'/'not_ready' (value ignored), "
     "'process_gone' (a pid), 'rejection' (a status), 'restart'/'recycle' (a worker)."},
    {"acceptor_start", acceptor_start, METH_VARARGS,
     "acceptor_start(listen_fds, refusal: bytes, limit_max_connections) -> acceptor | str\n\n"
     "Processes mode: starts the thread that accepts on the listening sockets (listening "
     "already) and hands each connection to a target worker; the error otherwise."},
    {"acceptor_stop", acceptor_stop, METH_O, "acceptor_stop(acceptor): ends its thread."},
    {"acceptor_add_worker", acceptor_add_worker, METH_VARARGS,
     "acceptor_add_worker(acceptor, id, fd): takes a worker's hand-over channel (the fd is "
     "the acceptor's from now on); read for its 'closed' reports until the worker closes it."},
    {"acceptor_set_targets", acceptor_set_targets, METH_VARARGS,
     "acceptor_set_targets(acceptor, ids): the workers that get new connections from now on."},
    {"acceptor_report", acceptor_report, METH_O,
     "acceptor_report(acceptor) -> dict: refusals and deferrals since the last call."},
    {"acceptor_attention_fd", acceptor_attention_fd, METH_O,
     "acceptor_attention_fd(acceptor) -> the fd that is readable when a report has news."},
    {"_shard_serve", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shard_serve)),
     METH_FASTCALL, "Serve this shard's connections (inside a shard's interpreter)."},
    {"_shard_failed", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shard_failed)),
     METH_FASTCALL, "Report that this shard cannot start."},
    {"_shard_stop_requested", shard_stop_requested, METH_O, "True once shutdown began."},
    {nullptr, nullptr, 0, nullptr},
};

int exec_module(PyObject* module) {
  return subcorn::py::module_state_init(module, state_of(module));
}

int traverse_module(PyObject* module, visitproc visit, void* arg) {
  ModuleState* st = state_of(module);
  return st ? subcorn::py::module_state_traverse(st, visit, arg) : 0;
}

int clear_module(PyObject* module) {
  ModuleState* st = state_of(module);
  if (st) subcorn::py::module_state_clear(st);
  return 0;
}

void free_module(void* module) { clear_module(static_cast<PyObject*>(module)); }

PyModuleDef_Slot slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(exec_module)},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "subcorn._native",
    "subcorn's C++ engine.",
    sizeof(ModuleState),
    methods,
    slots,
    traverse_module,
    clear_module,
    free_module,
};

}  // namespace

PyMODINIT_FUNC PyInit__native(void) { return PyModuleDef_Init(&module_def); }
