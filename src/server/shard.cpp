#include "server/shard.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "io/clock.h"
#include "io/engine_lock.h"
#include "py/asgi_scope.h"
#include "py/http_cycle.h"
#include "py/interpreter.h"
#include "py/wsgi.h"
#include "server/connection.h"
#include "server/server.h"

namespace subcorn::server {
namespace {

constexpr uint64_t TOKEN_WAKE = 1;
constexpr uint64_t TOKEN_TIMER = 2;
constexpr int MAX_EVENTS = 256;
// Epoll passes in one wake-up when each pass adopted new connections (on_poll).
constexpr int MAX_POLL_PASSES = 3;
// After this many connections closed, the next tick gives freed heap memory
// back to the system: the allocator keeps it otherwise, and a burst of
// connections would leave the process at its peak for good.
constexpr int CLOSES_BEFORE_TRIM = 256;

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// The asyncio reader callback: self is a capsule holding the Shard.
PyObject* shard_poll(PyObject* capsule, PyObject*) {
  auto* shard = static_cast<Shard*>(PyCapsule_GetPointer(capsule, "subcorn.shard"));
  if (!shard) return nullptr;
  shard->on_poll();
  if (PyErr_Occurred()) return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef poll_def = {"_poll", shard_poll, METH_NOARGS, "process the shard's ready sockets"};

// The parser's limits from the --limit-request-* flags, where 0 means no
// limit (the 64 KiB head limit stays, whatever they say).
http::Limits parser_limits(const Settings& s) {
  auto size_limit = [](long value) { return value > 0 ? static_cast<size_t>(value) : http::Limits::NO_LIMIT; };
  http::Limits limits;
  limits.max_request_line = size_limit(s.limit_request_line);
  limits.max_headers = size_limit(s.limit_request_fields);
  limits.max_field_bytes = size_limit(s.limit_request_field_size);
  limits.max_body_bytes = s.limit_request_body > 0 ? static_cast<int64_t>(s.limit_request_body) : -1;
  return limits;
}

}  // namespace

double monotonic_seconds() { return static_cast<double>(io::monotonic_ns()) * 1e-9; }

Shard::Shard(Server& server, int index, int slot) : server_(server), index_(index), slot_(slot) {
  max_requests_ = server.jittered_max_requests();
  limits_ = parser_limits(server.settings());
  wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  timer_fd_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec every_second{{1, 0}, {1, 0}};
  timerfd_settime(timer_fd_.get(), 0, &every_second, nullptr);
  poller_.add(wake_fd_.get(), EPOLLIN, TOKEN_WAKE);
  poller_.add(timer_fd_.get(), EPOLLIN, TOKEN_TIMER);
}

Shard::~Shard() { join(); }

const Settings& Shard::settings() const noexcept { return server_.settings(); }
const StaticFiles& Shard::static_files() const noexcept { return server_.static_files(); }
io::TlsContext Shard::tls_context() const { return server_.tls_context(); }
bool Shard::access_log_enabled() const noexcept { return server_.settings().access_log; }
const http::AccessLogFormat& Shard::access_format() const noexcept { return server_.access_format(); }

// ---- the acceptor's side ---------------------------------------------------------

void Shard::start() { thread_ = std::thread([this] { thread_main(); }); }

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::hand_over(int fd) {
  bool was_empty;
  {
    io::EngineLock lock(mutex_);
    was_empty = inbox_.empty() && arrivals_.empty();
    inbox_.emplace_back(fd);
  }
  connections_.fetch_add(1, std::memory_order_relaxed);
  if (was_empty) wake();
}

void Shard::hand_over(IdleConnection&& moved) {
  bool was_empty;
  {
    io::EngineLock lock(mutex_);
    was_empty = inbox_.empty() && arrivals_.empty();
    arrivals_.push_back(std::move(moved));
  }
  connections_.fetch_add(1, std::memory_order_relaxed);
  if (was_empty) wake();
}

void Shard::give_away(int count) {
  give_away_.store(count);
  wake();
}

void Shard::wake() {
  uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof one);
}

double Shard::cpu_seconds() const {
  if (finished_.load()) return -1;
  // The thread's own CPU clock, read from another thread: the shard pays
  // nothing for being measured. The --threads workers' clocks are read the
  // same way (WorkerThreads::cpu_seconds), a running request included.
  clockid_t clock;
  timespec t{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0 ||
      clock_gettime(clock, &t) != 0)
    return -1;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9 +
         workers_.cpu_seconds();
}

void Shard::request_stop(bool replaced, bool move_idle) {
  if (replaced) replaced_.store(true);
  if (move_idle) move_idle_on_stop_.store(true);
  stop_requested_.store(true);
  wake();
}

std::string Shard::failure() const {
  io::EngineLock lock(mutex_);
  return failure_;
}

void Shard::fail(std::string message) {
  {
    io::EngineLock lock(mutex_);
    if (failure_.empty()) failure_ = std::move(message);
  }
  set_state(State::Failed);
}

void Shard::set_state(State s) {
  state_.store(s);
  server_.notify();
}

// ---- the shard thread --------------------------------------------------------------

void Shard::thread_main() {
  py::SubInterpreter interp;
  std::string error;
  if (settings().main_interpreter) {
    interp.attach_main();
  } else if (!interp.create(&error)) {
    fail(error);
    server_.shard_finished();
    return;
  }
  bool no_threads_left = true;
  {
    py::Ref module = py::Ref::steal(PyImport_ImportModule("subcorn._shard"));
    py::Ref result;
    if (module) {
      result = py::Ref::steal(PyObject_CallMethod(
          module.get(), "run", "Ksi", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(this)),
          settings().shard_config.c_str(), index_));
    }
    if (!result) {
      fail("worker " + std::to_string(index_) + " crashed:\n" + py::format_current_exception());
    } else {
      no_threads_left = PyObject_IsTrue(result.get()) == 1;
    }
    // Every Python object of this interpreter goes before the interpreter.
    table_.clear();
    graveyard_.clear();
    abandoned_.clear();
    scope_template_.reset();
    ws_scope_template_.reset();
    app_ = py::AppContext{};
  }
  // Ending an interpreter waits for its non-daemon threads and may crash in a
  // daemon thread that is running bytecode: with threads left, leave it alive
  // and let the process exit around it (DESIGN.md section 8).
  interpreter_left_alive_ = !no_threads_left;
  meter_.release();  // this shard counts no more: its totals go to its worker's
  interp.finish(no_threads_left);
  finished_.store(true);
  server_.shard_finished();
}

PyObject* Shard::serve(PyObject* module, PyObject* app, PyObject* loop, PyObject* state,
                       PyObject* log_exception, PyObject* root_path, bool wsgi) {
  app_.st = static_cast<py::ModuleState*>(PyModule_GetState(module));
  app_.app = py::Ref::borrow(app);
  app_.loop = py::Ref::borrow(loop);
  app_.state = py::Ref::borrow(state);
  app_.log_exception = py::Ref::borrow(log_exception);
  app_.worker = worker_id();
  app_.root_path = py::Ref::borrow(root_path);
  py::Ref asyncio = py::Ref::steal(PyImport_ImportModule("asyncio"));
  if (!asyncio) return nullptr;
  app_.task_type = py::Ref::steal(PyObject_GetAttrString(asyncio.get(), "Task"));
  app_.create_future = py::Ref::steal(PyObject_GetAttrString(loop, "create_future"));
  if (!app_.task_type || !app_.create_future) return nullptr;
  app_.wsgi = wsgi;
  if (wsgi) {
    py::Ref wsgi_module = py::Ref::steal(PyImport_ImportModule("subcorn._wsgi"));
    if (!wsgi_module) return nullptr;
    app_.file_wrapper = py::Ref::steal(PyObject_GetAttrString(wsgi_module.get(), "FileWrapper"));
    app_.get_running_loop = py::Ref::steal(PyObject_GetAttrString(asyncio.get(), "_get_running_loop"));
    app_.set_running_loop = py::Ref::steal(PyObject_GetAttrString(asyncio.get(), "_set_running_loop"));
    if (!app_.file_wrapper || !app_.get_running_loop || !app_.set_running_loop)
      return nullptr;
    scope_template_ = py::make_wsgi_environ_template(app_, settings().threads > 1);
    if (settings().threads > 1) workers_.start(settings().threads);
  } else {
    scope_template_ = py::make_scope_template(app_);
    if (settings().websocket) {
      ws_scope_template_ = py::make_ws_scope_template(app_);
      if (!ws_scope_template_) return nullptr;
    }
  }
  if (!scope_template_) return nullptr;

  py::Ref capsule = py::Ref::steal(PyCapsule_New(this, "subcorn.shard", nullptr));
  py::Ref reader = capsule ? py::Ref::steal(PyCFunction_New(&poll_def, capsule.get())) : py::Ref();
  py::Ref epfd = py::Ref::steal(PyLong_FromLong(poller_.fd()));
  if (!reader || !epfd) return nullptr;
  py::Ref added = py::Ref::steal(
      PyObject_CallMethod(loop, "add_reader", "OO", epfd.get(), reader.get()));
  if (!added) return nullptr;

  now_ = monotonic_seconds();
  start_metering();
  set_state(State::Ready);
  py::Ref ran = py::Ref::steal(PyObject_CallMethod(loop, "run_forever", nullptr));
  py::Ref removed = py::Ref::steal(PyObject_CallMethod(loop, "remove_reader", "O", epfd.get()));
  if (!removed) PyErr_Clear();
  workers_.stop();  // lets the requests they run finish
  // Whatever is left after the grace period is closed now.
  std::vector<Connection*> left;
  for (auto& c : table_) left.push_back(c.get());
  for (Connection* c : left) c->abort();
  cancel_abandoned();
  flush_access_log();
  graveyard_.clear();
  if (!ran) return nullptr;
  Py_RETURN_NONE;
}

void Shard::on_poll() {
  int64_t began = io::monotonic_ns();
  poll_began_ns_.store(began, std::memory_order_relaxed);
  now_ = static_cast<double>(began) * 1e-9;
  epoll_event events[MAX_EVENTS];
  // New connections were adopted: their request has usually arrived with
  // them, so it is read in this same wake-up (one more epoll_wait) rather
  // than in another turn of the asyncio loop. (A few passes at most: the
  // app's tasks wait for this callback to return.)
  bool adopted = true;
  for (int pass = 0; adopted && pass < MAX_POLL_PASSES; ++pass) {
    adopted = false;
    int n = poller_.wait(events, MAX_EVENTS, 0);
    // A stop is seen before any connection's events: once the server has
    // asked (and told its supervisor that it drains), no request read from
    // now on starts on a kept-alive connection here. Checked after each
    // wait, not once before the first: a pass may take long (an app runs in
    // it, the thread loses its CPU), and the events of the next one can
    // hold a request sent after the stop, ahead of the wake-up that says
    // so (epoll keeps a level-triggered descriptor it reported queued in
    // the order it was reported, not in the order it became ready).
    if (stop_requested_.load() && !draining_) begin_drain();
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == TOKEN_WAKE) {
        uint64_t count;
        (void)::read(wake_fd_.get(), &count, sizeof count);
        adopted = adopt_handed_over();
        if (int count = give_away_.exchange(0); count > 0 && !draining_)
          move_idle_out(count, balance::MOVE_COOLDOWN);
        if (stop_requested_.load() && !draining_) begin_drain();
      } else if (token == TOKEN_TIMER) {
        uint64_t count;
        (void)::read(timer_fd_.get(), &count, sizeof count);
        meter_tick(count);
        tick();
      } else {
        auto* conn = reinterpret_cast<Connection*>(token);
        if (!conn->closed()) conn->on_events(events[i].events);
      }
    }
  }
  flush_access_log();
  server_.report_closed();
  // A connection a worker thread still answers on is freed once it is done.
  std::erase_if(graveyard_, [](const std::unique_ptr<Connection>& c) { return !c->busy(); });
  // The loop stops once every connection is closed and every task whose
  // client left has ended (it may still act on its disconnect: record it,
  // clean up), or when the grace period is over; what is left is cancelled.
  if (draining_ && table_.empty() && !loop_stopped_ &&
      (!abandoned_running() || now_ > drain_deadline_)) {
    loop_stopped_ = true;
    py::Ref r = py::Ref::steal(PyObject_CallMethodNoArgs(app_.loop.get(), app_.st->s_stop));
    if (!r) PyErr_WriteUnraisable(app_.loop.get());
  }
  poll_began_ns_.store(0, std::memory_order_relaxed);
}

bool Shard::adopt_handed_over() {
  std::vector<io::UniqueFd> fds;
  std::vector<IdleConnection> moved;
  {
    io::EngineLock lock(mutex_);
    fds.swap(inbox_);
    moved.swap(arrivals_);
  }
  if (fds.empty() && moved.empty()) return false;
  for (io::UniqueFd& fd : fds) {
    auto conn = std::make_unique<Connection>(*this, std::move(fd));
    conn->slot = table_.size();
    table_.push_back(std::move(conn));
    if (draining_) table_.back()->drain();
  }
  for (IdleConnection& idle : moved) {
    auto owned = std::make_unique<Connection>(*this, std::move(idle));
    Connection* conn = owned.get();
    conn->slot = table_.size();
    table_.push_back(std::move(owned));
    if (draining_) conn->drain();
    conn->resume_after_move();
  }
  return true;
}

void Shard::move_idle_out(int count, double cooldown) {
  std::vector<IdleConnection> leaving;
  for (size_t i = 0; i < table_.size() && static_cast<int>(leaving.size()) < count;) {
    Connection* conn = table_[i].get();
    if (conn->closed() || !conn->movable(now_, cooldown)) {
      ++i;
      continue;
    }
    leaving.push_back(conn->move_out());
    forget(conn);  // the last entry takes slot i: look at it next
    connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!leaving.empty()) server_.place_idle(std::move(leaving), this);
}

void Shard::forget(Connection* conn) {
  size_t slot = conn->slot;
  graveyard_.push_back(std::move(table_[slot]));
  if (slot + 1 != table_.size()) {
    table_[slot] = std::move(table_.back());
    table_[slot]->slot = slot;
  }
  table_.pop_back();
}

void Shard::connection_closed(Connection* conn) {
  size_t slot = conn->slot;
  if (slot >= table_.size() || table_[slot].get() != conn) return;
  forget(conn);
  connections_.fetch_sub(1, std::memory_order_relaxed);
  ++closed_since_trim_;
  server_.connection_closed();
  // Inside a wake-up the report waits for its end (on_poll), with every
  // other connection that ends in it; outside (an app's task finished the
  // response) it goes now.
  if (poll_began_ns_.load(std::memory_order_relaxed) == 0) server_.report_closed();
}

void Shard::watch_abandoned(py::Ref cycle) {
  abandoned_.push_back({std::move(cycle), now_ + settings().timeout_after_disconnect});
}

void Shard::check_abandoned() {
  abandoned_running();
  for (Abandoned& a : abandoned_) {
    if (a.cancelled || now_ < a.cancel_at) continue;
    a.cancelled = true;
    py::cycle_cancel(a.cycle.get());
  }
}

// Shutdown: whatever still runs is cancelled; the shard's Python side awaits
// the cancelled tasks (a task nobody holds would be destroyed while pending).
bool Shard::abandoned_running() {
  std::erase_if(abandoned_, [](const Abandoned& a) { return !py::cycle_running(a.cycle.get()); });
  return !abandoned_.empty();
}

void Shard::cancel_abandoned() {
  for (Abandoned& a : abandoned_)
    if (py::cycle_running(a.cycle.get())) py::cycle_cancel(a.cycle.get());
  abandoned_.clear();
}

void Shard::begin_drain() {
  // Recycled while the process serves on: idle connections go on elsewhere.
  if (move_idle_on_stop_.load()) {
    move_idle_out(INT_MAX, 0);
    // Only now that they are in the server's hands (Server::rebalance
    // counts them as arriving until then).
    move_idle_on_stop_.store(false);
  }
  draining_ = true;
  drain_deadline_ = now_ + settings().timeout_graceful_shutdown;
  std::vector<Connection*> all;
  for (auto& c : table_) all.push_back(c.get());
  for (Connection* c : all) c->drain();
}

void Shard::tick() {
  std::vector<Connection*> all;
  for (auto& c : table_) all.push_back(c.get());
  check_abandoned();
  report_protocol_errors();
  if (closed_since_trim_ >= CLOSES_BEFORE_TRIM) {
    closed_since_trim_ = 0;
    malloc_trim(0);
  }
  bool out_of_time = draining_ && now_ > drain_deadline_;
  if (out_of_time && !all.empty())
    log_error("Graceful shutdown timed out: cancelling the requests still running.");
  for (Connection* c : all) {
    if (c->closed()) continue;
    if (out_of_time) c->abort();
    else c->on_tick(now_);
  }
}

void Shard::count_request() {
  // Worker processes are recycled whole by the supervisor; a sub-interpreter
  // is replaced by a fresh one in this process.
  if (settings().main_interpreter || max_requests_ <= 0) {
    server_.count_request();
    return;
  }
  if (requests_.fetch_add(1) + 1 >= max_requests_ && !retire_requested_.exchange(true))
    server_.notify();
}

RequestSlot Shard::admit_request(bool http_request) {
  count_request();
  long limit = settings().limit_concurrency;
  if (limit > 0 && server_.in_flight.fetch_add(1) >= limit) {
    server_.in_flight.fetch_sub(1);
    return RequestSlot();
  }
  if (http_request && meter_.get()) meter_.get()->change(metrics::gauge::IN_FLIGHT, 1);
  running_.fetch_add(1, std::memory_order_relaxed);
  return RequestSlot(this, http_request);
}

void Shard::release_request_slot(bool http_request) {
  running_.fetch_sub(1, std::memory_order_relaxed);
  if (settings().limit_concurrency > 0) server_.in_flight.fetch_sub(1);
  if (http_request && meter_.get()) meter_.get()->change(metrics::gauge::IN_FLIGHT, -1);
}

void RequestSlot::release() noexcept {
  if (Shard* shard = std::exchange(shard_, nullptr)) shard->release_request_slot(http_request_);
}

// --metrics: a block in the supervisor's table, from the moment this shard
// serves until its thread ends. Its tick is re-armed on whole seconds from
// now, so that how late each one runs is known exactly.
void Shard::start_metering() {
  metrics::Table* table = server_.metrics_table();
  if (!table) return;
  meter_ = metrics::BlockLease(table->claim(settings().metrics_slot + slot_, getpid(), gettid()));
  if (!meter_.get()) {
    log_error("--metrics: the metrics table is full; this worker's requests are not counted.");
    return;
  }
  tick_due_ = now_ + 1.0;
  timespec first{};
  first.tv_sec = static_cast<time_t>(tick_due_);
  first.tv_nsec = static_cast<long>((tick_due_ - static_cast<double>(first.tv_sec)) * 1e9);
  itimerspec every_second{{1, 0}, first};
  timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &every_second, nullptr);
  meter_.get()->set(metrics::gauge::TICK_DUE_NS, static_cast<int64_t>(tick_due_ * 1e9));
}

// The loop's lag: how long after its due time the oldest tick of this
// wake-up ran (several are read at once when the loop was held up).
void Shard::meter_tick(uint64_t expirations) {
  metrics::ShardBlock* m = meter_.get();
  if (!m) return;
  double lag = now_ - tick_due_;
  tick_due_ += static_cast<double>(expirations);
  m->set(metrics::gauge::TICK_LAG_NS, static_cast<int64_t>(std::max(lag, 0.0) * 1e9));
  m->set(metrics::gauge::TICK_DUE_NS, static_cast<int64_t>(tick_due_ * 1e9));
}

void Shard::flush_access_log() {
  if (access_log_.empty()) return;
  write_all(server_.access_log_fd(), access_log_);
  access_log_.clear();
}

int Shard::worker_id() const noexcept { return settings().worker_base + index_; }

void Shard::log_error(std::string_view message, const http::RequestHead* head,
                      std::string_view client) {
  LogContext context;
  context.worker = worker_id();
  if (head) {
    context.method = head->method;
    context.path = head->target;
    context.client = client;
  }
  write_all(STDERR_FILENO, engine_log_line(settings().log_json, LogLevel::Error, message, context));
}

void Shard::warn(const std::string& message) {
  LogContext context;
  context.worker = worker_id();
  write_all(STDERR_FILENO, engine_log_line(settings().log_json, LogLevel::Warning, message, context));
}

void Shard::log_protocol_error(int status, std::string_view reason, std::string_view client) {
  protocol_errors_.count();
  if (protocol_errors_.take_due(now_) == 0) return;  // counted for the next summary
  status = http::error_status(status);
  std::string message = "Invalid HTTP request received from " + std::string(client) + ": " +
                        std::to_string(status) + " " + std::string(http::reason_phrase(status));
  if (!reason.empty()) message.append(" (").append(reason).append(")");
  warn(message);
}

void Shard::log_proxy_refusal(std::string_view why, std::string_view client) {
  proxy_refusals_.count();
  if (proxy_refusals_.take_due(now_) == 0) return;  // counted for the next summary
  warn("Closed a connection from " + std::string(client) + " without an answer (--proxy-protocol): " +
       std::string(why));
}

void Shard::report_protocol_errors() {
  std::string every = " (told one by one at most once every " +
                      std::to_string(static_cast<int>(PROTOCOL_ERROR_INTERVAL)) + " s)";
  if (long more = protocol_errors_.take_due(now_))
    warn(std::to_string(more) + " more invalid HTTP request" + (more == 1 ? "" : "s") +
         " received" + every);
  if (long more = proxy_refusals_.take_due(now_))
    warn(std::to_string(more) + " more connection" + (more == 1 ? "" : "s") +
         " closed for their PROXY protocol header" + every);
}

}  // namespace subcorn::server
