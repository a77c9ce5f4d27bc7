// An event that can happen thousands of times a second (an accept refused
// for want of file descriptors, a connection turned away by
// --limit-max-connections), told in the log at most once per interval with
// how many happened since the last line: the first one at once, the rest
// when the interval is up. A line per event is what turned one busy second
// into gigabytes of log.
#pragma once

#include <limits>

namespace subcorn::server {

class ThrottledReport {
 public:
  explicit ThrottledReport(double interval_seconds = 1.0) : interval_(interval_seconds) {}

  void count(long events = 1) { pending_ += events; }

  // The events to report at `now`, or 0 when no line is due yet (none
  // happened, or the last line is less than an interval old).
  long take_due(double now) {
    if (pending_ == 0 || now < last_report_ + interval_) return 0;
    long events = pending_;
    pending_ = 0;
    last_report_ = now;
    return events;
  }

  // When the next line falls due; infinity when nothing waits to be told.
  double next_due() const {
    return pending_ == 0 ? std::numeric_limits<double>::infinity() : last_report_ + interval_;
  }

 private:
  double interval_;
  long pending_ = 0;
  double last_report_ = -std::numeric_limits<double>::infinity();
};

}  // namespace subcorn::server
