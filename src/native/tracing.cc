#include "native/tracing.h"

#include <fmt/format.h>
#include <mntent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

// libtracefs' header is C; it needs C linkage and -fpermissive (CMakeLists.txt) in C++.
extern "C" {
#include <event-parse.h>
#include <tracefs.h>
}

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>

#include "native/cleanup.h"

namespace rmaplab::native {
namespace {

// The rmap functions that allocate or free anon_vma / anon_vma_chain objects (6.18).
constexpr const char* kAllocFilter =
    "call_site.function == __anon_vma_prepare || call_site.function == anon_vma_clone || "
    "call_site.function == anon_vma_fork";
constexpr const char* kFreeFilter =
    "call_site.function == unlink_anon_vmas || call_site.function == __put_anon_vma || "
    "call_site.function == anon_vma_clone || call_site.function == __anon_vma_prepare || "
    "call_site.function == anon_vma_fork";

int OnEvent(struct tep_event* event, struct tep_record* record, int cpu, void* ctx) {
  auto* c = static_cast<KmemCounts*>(ctx);
  bool alloc = strcmp(event->name, "kmem_cache_alloc") == 0;
  if (!alloc && strcmp(event->name, "kmem_cache_free") != 0) return 0;
  int len = 0;
  const char* name =
      static_cast<const char*>(tep_get_field_raw(nullptr, event, "name", record, &len, 0));
  bool is_av = name && len >= 8 && strncmp(name, "anon_vma", len) == 0 &&
               (len == 8 || name[8] == '\0');
  ++c->events;
  if (is_av)
    ++(alloc ? c->anon_vma_alloc : c->anon_vma_free);
  else
    ++(alloc ? c->avc_alloc : c->avc_free);
  return 0;
}

}  // namespace

std::string TracingDir(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root: kernel object counts need tracefs (run as root)";
    return {};
  }
  // The mount table, not tracefs_tracing_dir_is_mounted(): libtracefs 1.6 hands back a
  // strdup'd path through a const char** that nothing frees (LeakSanitizer found it).
  // getmntent_r, not getmntent: conform's jobs call this at once, and getmntent's one static
  // buffer raced (LeakSanitizer again: glibc's scanf pushback buffer leaked).
  if (FILE* mounts = setmntent("/proc/self/mounts", "r")) {
    std::string found;
    mntent entry;
    char buf[4096];
    while (mntent* m = getmntent_r(mounts, &entry, buf, sizeof buf))
      if (strcmp(m->mnt_type, "tracefs") == 0) {
        found = m->mnt_dir;
        break;
      }
    endmntent(mounts);
    if (!found.empty()) return found;
  }
  mkdir("/sys/kernel/tracing", 0755);
  if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0 && errno != EBUSY) {
    *why = fmt::format("cannot mount tracefs at /sys/kernel/tracing: {}", strerror(errno));
    return {};
  }
  return "/sys/kernel/tracing";
}

namespace {
bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !out->empty();
}
}  // namespace

tep_handle* LoadEventFormats(const std::string& dir, const std::vector<std::string>& events,
                             std::string* why) {
  tep_handle* tep = tep_alloc();
  if (!tep) {
    *why = "tep_alloc failed";
    return nullptr;
  }
  std::string text;
  if (!ReadWholeFile(dir + "/events/header_page", &text) ||
      tep_parse_header_page(tep, text.data(), text.size(), sizeof(long)) != 0) {
    *why = fmt::format("cannot read or parse {}/events/header_page", dir);
    tep_free(tep);
    return nullptr;
  }
  for (const std::string& e : events) {
    std::string system = e.substr(0, e.find('/'));
    if (!ReadWholeFile(fmt::format("{}/events/{}/format", dir, e), &text) ||
        tep_parse_event(tep, text.data(), text.size(), system.c_str()) != 0) {
      *why = fmt::format("cannot read or parse the format of trace event {} in {}", e, dir);
      tep_free(tep);
      return nullptr;
    }
  }
  // As tracefs_local_events_system() leaves it: one buffer per CPU, the kernel's long.
  tep_set_cpus(tep, static_cast<int>(sysconf(_SC_NPROCESSORS_CONF)));
  tep_set_long_size(tep, tep_get_header_page_size(tep));
  return tep;
}

std::recursive_mutex& LibtracefsMutex() {
  static std::recursive_mutex m;
  return m;
}

std::unique_ptr<KmemTracer> KmemTracer::Start(const std::vector<pid_t>& pids, std::string* why) {
  std::string dir = TracingDir(why);
  if (dir.empty()) return nullptr;
  std::lock_guard lock(LibtracefsMutex());
  std::unique_ptr<KmemTracer> t(new KmemTracer());
  static std::atomic<int> counter{0};
  std::string name = fmt::format("rmaplab-{}-{}", getpid(), counter++);
  t->instance_ = tracefs_instance_create(name.c_str());
  if (!t->instance_) {
    *why = fmt::format("cannot create tracing instance {}: {}", name, strerror(errno));
    return nullptr;
  }
  char* idir = tracefs_instance_get_dir(t->instance_);
  t->dir_ = idir ? idir : "";
  free(idir);
  t->cleanup_slot_ = RegisterTracingInstance(t->dir_.c_str());
  t->tep_ = LoadEventFormats(dir, {"kmem/kmem_cache_alloc", "kmem/kmem_cache_free"}, why);
  if (!t->tep_) return nullptr;  // the destructor removes the instance
  std::string pidlist;
  for (pid_t p : pids) pidlist += fmt::format("{} ", p);
  bool ok = tracefs_instance_set_buffer_size(t->instance_, 8192, -1) == 0 &&
            tracefs_event_file_write(t->instance_, "kmem", "kmem_cache_alloc", "filter",
                                     kAllocFilter) > 0 &&
            tracefs_event_file_write(t->instance_, "kmem", "kmem_cache_free", "filter",
                                     kFreeFilter) > 0 &&
            tracefs_option_enable(t->instance_, TRACEFS_OPTION_EVENT_FORK) == 0 &&
            tracefs_instance_file_write(t->instance_, "set_event_pid", pidlist.c_str()) > 0 &&
            tracefs_event_enable(t->instance_, "kmem", "kmem_cache_alloc") == 0 &&
            tracefs_event_enable(t->instance_, "kmem", "kmem_cache_free") == 0 &&
            tracefs_trace_on(t->instance_) == 0;
  if (!ok) {
    *why = fmt::format("cannot set up the kmem trace events in {}: {}", t->dir_,
                       strerror(errno));
    return nullptr;  // the destructor removes the instance
  }
  return t;
}

KmemTracer::~KmemTracer() {
  std::lock_guard lock(LibtracefsMutex());
  if (instance_) {
    tracefs_trace_off(instance_);
    tracefs_event_disable(instance_, nullptr, nullptr);
    tracefs_instance_file_write(instance_, "set_event_pid", "");
    tracefs_instance_destroy(instance_);
    tracefs_instance_free(instance_);
    UnregisterTracingInstance(cleanup_slot_);
  }
  if (tep_) tep_free(tep_);
}

KmemCounts KmemTracer::Read() {
  std::lock_guard lock(LibtracefsMutex());
  tracefs_iterate_raw_events(tep_, instance_, nullptr, 0, OnEvent, &counts_);
  return counts_;
}

int64_t KmemTracer::Lost() {
  int64_t lost = 0;
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  for (long cpu = 0; cpu < ncpu; ++cpu) {
    std::ifstream in(fmt::format("{}/per_cpu/cpu{}/stats", dir_, cpu));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("overrun:", 0) == 0) lost += std::stoll(line.substr(8));
      if (line.rfind("dropped events:", 0) == 0) lost += std::stoll(line.substr(15));
    }
  }
  return lost;
}

}  // namespace rmaplab::native
