// Replaying a recorded trace in the model, under one scheme (docs/trace-format.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "rmap/oracle.h"
#include "rmap/scheme.h"
#include "trace/trace.h"

namespace rmaplab::trace {

struct ReplayOptions {
  std::string scheme = "linux";
  bool reclaim_at_end = true;      // walk every anon folio once at the end
  int64_t reclaim_every = 0;       // ... and every N events (0: never)
  int64_t reclaim_points = 16;     // ... and at this many evenly spaced points of the trace
  std::function<void(size_t done, size_t total)> progress;  // called now and then
  bool by_task = false;            // attribute allocations to tasks (ReplayResult::tasks)
  // Narrates one task's events with the model's and the kernel's allocations.
  int32_t explain_pid = 0;
  std::function<void(const std::string& line)> explain;
};

// One task's share of the allocations, recorded (the kernel's kmem events in its context)
// and predicted (the model's, while replaying its events): where a divergence comes from.
struct TaskFidelity {
  std::string programs;  // the programs it executed, "sh > gcc > cc1"
  int64_t recorded_av = 0, predicted_av = 0, recorded_avc = 0, predicted_avc = 0;
};

struct ReplayResult {
  std::string scheme;
  int64_t events = 0, syscalls = 0, faults = 0, forks = 0, execs = 0, exits = 0;
  int64_t max_vmas = 0;            // the most VMAs alive at once, all processes
  int64_t live_bytes = 0, peak_bytes = 0;
  std::map<std::string, ObjectStats> objects;
  std::map<std::string, int64_t> counters;
  OracleReport reclaim;            // the reclaim-style walks
  // What the replay could not reproduce, by reason (never silently ignored).
  std::map<std::string, int64_t> unmodelled;
  std::map<std::string, std::string> examples;  // the first occurrence of some reasons
  // Fidelity (meaningful for `linux`): the kernel's recorded allocations vs the model's.
  int64_t recorded_av_allocs = 0, recorded_avc_allocs = 0;
  int64_t predicted_av_allocs = 0, predicted_avc_allocs = 0;
  std::map<int32_t, TaskFidelity> tasks;  // with ReplayOptions::by_task
};

ReplayResult Replay(const Trace& trace, const ReplayOptions& options);

}  // namespace rmaplab::trace
