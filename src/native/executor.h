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
  uint64_t memory_limit = 8ULL << 30;  // resident memory of the run (memory cgroup)
  std::string proc_path;          // rmaplab-proc; default: beside /proc/self/exe
  bool trace = true;              // count kernel objects (needs root + tracefs)
  // Fault injection for the executor's own tests: at the statement on this line, the
  // acting process crashes (SIGSEGV outside a touch) / hangs.
  int inject_crash_line = 0;
  int inject_hang_line = 0;
  bool verbose = false;  // report pids, the tracing instance and the cgroup on stderr
};

enum class NativeStatus { kOk, kFailed, kTimeout };

struct NativeResult {
  NativeStatus status = NativeStatus::kFailed;
  Observation observation;
  std::string error;      // why it failed
  std::string no_kernel;  // why the kernel counts are absent (empty if present)
  std::string notes;      // other caveats (e.g. no memory cgroup: RLIMIT_AS only)
};

// Whether native runs are possible here (root, /proc/kpagecount, PAGEMAP_SCAN); if not,
// the reason.
bool NativeAvailable(std::string* why);

NativeResult RunNative(const Scenario& scenario, const NativeOptions& options);

}  // namespace rmaplab::native
