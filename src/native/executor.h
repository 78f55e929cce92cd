// The native executor: runs a scenario with real processes on the running kernel and
// observes them through /proc, producing the same observation document as the model.
//
// One rmaplab-proc process per scenario process (native/proc/rmaplab_proc.cc); `fork`
// is a real fork; statements reach the right process over its own pipe. See
// docs/native.md for what it can and cannot observe.
#pragma once

#include <string>

#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"

namespace rmaplab::native {

struct NativeOptions {
  double timeout_seconds = 60;    // wall clock for the whole scenario
  double step_timeout_seconds = 20;  // for one statement
  uint64_t address_space_limit = (1ULL << 40) + (4ULL << 30);  // RLIMIT_AS: arena + 4 GiB
  std::string proc_path;          // rmaplab-proc; default: beside /proc/self/exe
  bool trace = true;              // count kernel objects (needs root + tracefs)
};

enum class NativeStatus { kOk, kFailed, kTimeout };

struct NativeResult {
  NativeStatus status = NativeStatus::kFailed;
  Observation observation;
  std::string error;      // why it failed
  std::string no_kernel;  // why the kernel counts are absent (empty if present)
};

// Whether native runs are possible here (root, /proc/kpagecount, PAGEMAP_SCAN); if not,
// the reason.
bool NativeAvailable(std::string* why);

NativeResult RunNative(const Scenario& scenario, const NativeOptions& options);

}  // namespace rmaplab::native
