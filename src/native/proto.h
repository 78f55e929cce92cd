// The wire protocol between the native executor and its scenario processes
// (rmaplab-proc). Plain fixed-size structs over pipes; both sides are built from this
// header. No includes beyond <stdint.h>: rmaplab-proc is freestanding.
#pragma once

#include <stdint.h>

namespace rmaplab::native {

// File descriptors inside a scenario process. Process i reads commands from
// kCmdFdBase + 2i and writes replies to kCmdFdBase + 2i + 1; scenario file j is at
// kFileFdBase + j.
inline constexpr int kFileFdBase = 500;
inline constexpr int kCmdFdBase = 600;
inline constexpr int kMaxProcs = 180;

// Each process runs on a MAP_SHARED stack (no anon_vma, so the process has no
// anonymous-rmap object outside the arena) at kStackBase + i * kStackStride.
inline constexpr uint64_t kStackBase = 0x500000000000ULL;
inline constexpr uint64_t kStackSize = 256 * 1024;
inline constexpr uint64_t kStackStride = 1024 * 1024;

enum Op : uint32_t {
  kOpReady = 1,   // reply only: the process is set up (extra = pid)
  kOpMmap,        // a: addr, len, prot, flags, fd (-1: anon), offset
  kOpMunmap,      // a: addr, len
  kOpMprotect,    // a: addr, len, prot
  kOpMremap,      // a: addr, old_len, new_len, flags, new_addr
  kOpMadvise,     // a: addr, len, advice
  kOpTouch,       // a: addr, pages, write  -> result: pages touched, extra: signal (0: none)
  kOpFork,        // a: child index          -> result: child pid or -errno
  kOpExit,        // no reply: the process exits
  kOpCrash,       // testing: the process dies of SIGSEGV outside a touch
  kOpSleep,       // testing: a: seconds (a hang)
};

struct Command {
  uint32_t op;
  uint32_t pad;
  int64_t a[6];
};

struct Reply {
  uint32_t op;
  uint32_t pad;
  int64_t result;  // syscall result: >= 0, or -errno
  int64_t extra;
};

}  // namespace rmaplab::native
