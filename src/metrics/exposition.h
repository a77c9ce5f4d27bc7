// A Snapshot as Prometheus's text exposition format, version 0.0.4 (what
// every Prometheus server and prometheus_client's parser read). Sans-IO.
#pragma once

#include <string>

#include "metrics/collector.h"

namespace subcorn::metrics {

inline constexpr const char* EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

std::string render(const Snapshot& snapshot);

}  // namespace subcorn::metrics
