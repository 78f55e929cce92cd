// A recorded workload (docs/trace-format.md): what the processes of one command did to
// their memory, in time order, with the layout execve gave each new program and the
// kernel's own anon_vma / anon_vma_chain allocations as the fidelity reference.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rmaplab::trace {

inline constexpr int kTraceVersion = 2;  // reads 1 and 2

enum class EventKind : uint8_t {
  kSyscall,  // a memory system call, with its arguments and result
  kFork,     // a new task (fork, vfork or clone) with its clone flags
  kExec,     // a task executed a program; `layout` indexes Trace::layouts
  kExit,     // a task exited (group_dead: the whole process)
  kFault,    // a page fault on a user address (user mode or kernel mode)
  kKmem,     // an anon_vma / anon_vma_chain allocation or free by the kernel
};

// System calls by their x86_64 numbers.
enum Sysno : int {
  kSysClose = 3, kSysMmap = 9, kSysMprotect = 10, kSysMunmap = 11, kSysBrk = 12, kSysMremap = 25,
  kSysMadvise = 28, kSysShmget = 29, kSysShmat = 30, kSysShmdt = 67,
};

struct Event {
  uint64_t ts = 0;   // ns, trace clock "mono"
  int32_t pid = 0;   // the task (thread id)
  EventKind kind = EventKind::kSyscall;
  // kSyscall
  int32_t nr = 0;
  int64_t args[6] = {};
  int64_t ret = 0;
  // kFork
  int32_t child = 0;
  uint64_t clone_flags = 0;
  // kExec
  uint32_t layout = 0;
  // kExit
  bool group_dead = false;
  // kFault
  uint64_t addr = 0;
  bool write = false;
  bool user = true;
  // kKmem
  bool alloc = false;
  bool anon_vma = false;  // else anon_vma_chain
};

// One VMA of a program right after execve (from /proc/PID/maps and smaps).
struct LayoutVma {
  uint64_t start = 0, end = 0;  // addresses
  std::string perms;            // "rw-p"
  uint64_t offset = 0;          // bytes
  int32_t file = -1;            // Trace::files index, or -1
  std::string name;             // "[stack]", "[heap]", "[vdso]", ...
  bool faulted = false;         // it has an anon_vma (smaps Anonymous > 0)
};

struct LayoutPage {
  uint64_t addr = 0;
  char type = 'a';  // 'a' anon, 'f' file, 'z' zero page
};

struct ExecLayout {
  int32_t pid = 0;
  uint64_t ts = 0;
  std::string program;
  uint64_t start_brk = 0, brk = 0;
  std::vector<LayoutVma> vmas;
  std::vector<LayoutPage> pages;
};

struct TraceFile {
  std::string path;
  uint64_t size_pages = 0;
};

struct Trace {
  // Provenance.
  std::vector<std::string> command;
  std::string kernel, date, thp;
  bool zero_page = true;  // did the recording kernel map the zero page on read faults?
  uint64_t page_size = 4096;
  int32_t root_pid = 0;
  std::map<std::string, int64_t> event_counts;  // by kind
  std::map<int, int64_t> lost_per_cpu;          // events the ring buffers lost
  bool faithful() const {
    for (auto& [cpu, n] : lost_per_cpu)
      if (n) return false;
    return true;
  }

  std::vector<TraceFile> files;
  std::vector<ExecLayout> layouts;
  std::vector<Event> events;  // in time order
};

const char* EventKindName(EventKind k);

// Writes the trace (zstd-compressed text). Returns false with *error on failure.
bool WriteTrace(const Trace& t, const std::string& path, std::string* error);
// Reads a trace; nullopt with *error on failure (never crashes on bad input).
std::optional<Trace> ReadTrace(const std::string& path, std::string* error);
// The same from the file's bytes; `path` names it in messages. Refuses a trace whose text
// would exceed max_text bytes (a decompression bomb).
std::optional<Trace> ParseTrace(const std::string& compressed, const std::string& path,
                                std::string* error, uint64_t max_text = 4ULL << 30);

}  // namespace rmaplab::trace
