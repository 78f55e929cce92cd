// Counting the kernel's anon_vma and anon_vma_chain allocations and frees made by the
// scenario's processes, from the kmem:kmem_cache_alloc / kmem_cache_free trace events
// of a private tracefs instance (libtracefs), pid-filtered with event-fork so that
// forked children are followed.
//
// Only events whose call site is an rmap function are recorded (the anon_vma_chain
// slab cache may be merged with other 64-byte caches). An event is an anon_vma when its
// cache is named "anon_vma" (that cache is never merged: it has a constructor and is
// SLAB_TYPESAFE_BY_RCU), else an anon_vma_chain.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct tracefs_instance;
struct tep_handle;

namespace rmaplab::native {

struct KmemCounts {
  int64_t anon_vma_alloc = 0, anon_vma_free = 0;
  int64_t avc_alloc = 0, avc_free = 0;
  int64_t events = 0;
};

class KmemTracer {
 public:
  // Starts tracing the given pids (and their future children). On failure returns
  // nullptr and the reason (not root, no tracefs, ...).
  static std::unique_ptr<KmemTracer> Start(const std::vector<pid_t>& pids, std::string* why);
  ~KmemTracer();  // switches tracing off and removes the instance

  // Reads every event recorded so far and returns the cumulative counts.
  KmemCounts Read();
  // Events the ring buffer lost (per-CPU overruns), cumulative.
  int64_t Lost();
  const std::string& dir() const { return dir_; }

 private:
  KmemTracer() = default;
  struct tracefs_instance* instance_ = nullptr;
  struct tep_handle* tep_ = nullptr;
  KmemCounts counts_;
  std::string dir_;
  int cleanup_slot_ = -1;
};

// Where tracefs is mounted, mounting it at /sys/kernel/tracing if needed; empty if
// impossible (with the reason).
std::string TracingDir(std::string* why);

// libtracefs (1.6) fills static caches such as the tracing directory lazily and without a
// lock: two threads opening instances at once (`conform -j 2`) both strdup the path and
// one copy leaks (LeakSanitizer found it). Every libtracefs call is made under this lock
// (recursive: a failed KmemTracer::Start runs the destructor while holding it).
std::recursive_mutex& LibtracefsMutex();

// A tep handle that knows the header page and the formats of just the given events
// ("system/event"), read from the tracefs at `dir`. Stands in for
// tracefs_local_events_system(), which also parses all of /proc/kallsyms (0.73 s of a
// ~1 s native scenario run on this machine) for symbol names nothing here prints.
// nullptr on failure, with the reason. Free with tep_free().
struct tep_handle* LoadEventFormats(const std::string& dir, const std::vector<std::string>& events,
                                    std::string* why);

}  // namespace rmaplab::native
