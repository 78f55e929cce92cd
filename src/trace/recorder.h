// rmaplab record: run a command and record what it and its descendants do to their
// memory (docs/trace-format.md). Linux only; needs root (tracefs, pagemap PFNs).
#pragma once

#include <string>
#include <vector>

#include "trace/trace.h"

namespace rmaplab::trace {

struct RecordOptions {
  std::vector<std::string> command;
  size_t buffer_kb_per_cpu = 32768;
  bool verbose = false;
};

struct RecordResult {
  bool ok = false;
  std::string error;
  int exit_status = 0;  // the command's (128 + signal if killed)
  Trace trace;
};

RecordResult Record(const RecordOptions& options);

}  // namespace rmaplab::trace
