// Reading a process's arena from /proc: VMAs (/proc/PID/maps), present pages
// (/proc/PID/pagemap, PAGEMAP_SCAN), mapcounts (/proc/kpagecount) and page kinds
// (/proc/kpageflags). Needs root (PFNs are hidden from others).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rmaplab::native {

struct RawVma {
  uint64_t start = 0, end = 0;  // virtual addresses
  std::string perms;            // "rw-p"
  uint64_t offset = 0;          // bytes
  uint64_t inode = 0;
  std::string path;             // "", "/dev/zero (deleted)", "/memfd:F (deleted)", ...
};

struct RawPage {
  uint64_t vaddr = 0;
  uint64_t pfn = 0;
  bool file = false;       // pagemap bit 61 (file page or shared anon)
  bool exclusive = false;  // pagemap bit 56
  bool zero = false;       // kpageflags KPF_ZERO_PAGE
  int64_t mapcount = 0;    // kpagecount
};

// VMAs of pid intersecting [lo, hi). Returns false with *error on failure.
bool ReadMaps(pid_t pid, uint64_t lo, uint64_t hi, std::vector<RawVma>* out, std::string* error);
// Present pages of pid in [lo, hi), ascending.
bool ReadPages(pid_t pid, uint64_t lo, uint64_t hi, std::vector<RawPage>* out, std::string* error);

// Does this kernel map the shared zero page on a read fault of private anonymous
// memory? Probed once (a private page is read, then its Rss in /proc/self/smaps is
// looked at: the zero page is not counted) and cached. Some kernels are booted without
// one (this project's CI machine: pvm_no_zero_page=1). See docs/zero-page.md.
bool KernelHasZeroPage();

}  // namespace rmaplab::native
