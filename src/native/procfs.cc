#include "native/procfs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rmaplab::native {
namespace {

// PAGEMAP_SCAN (Linux 6.7+, include/uapi/linux/fs.h), declared here for older headers.
struct PageRegion {
  uint64_t start, end, categories;
};
struct PmScanArg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
constexpr uint64_t kPageIsPresent = 1 << 3;
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t kPmPresent = 1ULL << 63, kPmFile = 1ULL << 61, kPmExclusive = 1ULL << 56;
constexpr uint64_t kPfnMask = (1ULL << 55) - 1;
constexpr int kKpfZeroPage = 24;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) close(fd_); }
  int get() const { return fd_; }
 private:
  int fd_;
};

bool PreadU64(int fd, uint64_t index, uint64_t* v) {
  return pread(fd, v, 8, static_cast<off_t>(index * 8)) == 8;
}

// Present page ranges in [lo, hi), by PAGEMAP_SCAN; falls back to a pagemap read of
// every page of the given VMAs' ranges when the ioctl is missing.
bool PresentRanges(int pm, uint64_t lo, uint64_t hi, std::vector<std::pair<uint64_t, uint64_t>>* out,
                   std::string* error) {
  std::vector<PageRegion> vec(4096);
  uint64_t start = lo;
  while (start < hi) {
    PmScanArg arg{};
    arg.size = sizeof arg;
    arg.start = start;
    arg.end = hi;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.category_mask = kPageIsPresent;
    arg.return_mask = kPageIsPresent;
    long n = ioctl(pm, kPagemapScan, &arg);
    if (n < 0) {
      *error = fmt::format("PAGEMAP_SCAN: {}", strerror(errno));
      return false;
    }
    for (long i = 0; i < n; ++i) out->emplace_back(vec[i].start, vec[i].end);
    if (arg.walk_end <= start) break;
    start = arg.walk_end;
  }
  return true;
}

}  // namespace

bool ReadMaps(pid_t pid, uint64_t lo, uint64_t hi, std::vector<RawVma>* out, std::string* error) {
  std::ifstream in(fmt::format("/proc/{}/maps", pid));
  if (!in) {
    *error = fmt::format("cannot read /proc/{}/maps", pid);
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    RawVma v;
    std::istringstream ls(line);
    std::string range, dev;
    ls >> range >> v.perms >> std::hex >> v.offset >> dev >> std::dec >> v.inode;
    size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    v.start = std::stoull(range.substr(0, dash), nullptr, 16);
    v.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    std::getline(ls, v.path);
    size_t p = v.path.find_first_not_of(' ');
    v.path = p == std::string::npos ? "" : v.path.substr(p);
    if (v.end <= lo || v.start >= hi) continue;
    out->push_back(std::move(v));
  }
  return true;
}

bool ReadPages(pid_t pid, uint64_t lo, uint64_t hi, std::vector<RawPage>* out, std::string* error) {
  Fd pm(open(fmt::format("/proc/{}/pagemap", pid).c_str(), O_RDONLY | O_CLOEXEC));
  Fd kcount(open("/proc/kpagecount", O_RDONLY | O_CLOEXEC));
  Fd kflags(open("/proc/kpageflags", O_RDONLY | O_CLOEXEC));
  if (pm.get() < 0 || kcount.get() < 0 || kflags.get() < 0) {
    *error = fmt::format("cannot open pagemap/kpagecount/kpageflags: {}", strerror(errno));
    return false;
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  if (!PresentRanges(pm.get(), lo, hi, &ranges, error)) return false;
  for (auto [s, e] : ranges) {
    for (uint64_t va = s; va < e; va += 4096) {
      uint64_t ent = 0;
      if (!PreadU64(pm.get(), va / 4096, &ent)) {
        *error = fmt::format("pagemap read at {:#x} failed", va);
        return false;
      }
      if (!(ent & kPmPresent)) continue;
      RawPage pg;
      pg.vaddr = va;
      pg.pfn = ent & kPfnMask;
      pg.file = ent & kPmFile;
      pg.exclusive = ent & kPmExclusive;
      if (pg.pfn == 0) {
        *error = "pagemap shows no PFNs (needs CAP_SYS_ADMIN)";
        return false;
      }
      uint64_t count = 0, flags = 0;
      if (!PreadU64(kcount.get(), pg.pfn, &count) || !PreadU64(kflags.get(), pg.pfn, &flags)) {
        *error = fmt::format("kpagecount/kpageflags read for pfn {:#x} failed", pg.pfn);
        return false;
      }
      pg.mapcount = static_cast<int64_t>(count);
      pg.zero = flags & (1ULL << kKpfZeroPage);
      out->push_back(pg);
    }
  }
  return true;
}

namespace {

// Rss (kB) of the mapping starting at vaddr in /proc/self/smaps; -1 if not found.
int64_t SelfRssKb(uint64_t vaddr) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in = false;
  while (std::getline(f, line)) {
    uint64_t lo = 0, hi = 0;
    if (sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {  // a mapping's header line
      in = lo == vaddr;
      continue;
    }
    if (in && line.rfind("Rss:", 0) == 0) return std::stoll(line.substr(4));
  }
  return -1;
}

// One read fault on a fresh private anon page: does it map the zero page? With PFNs
// (CAP_SYS_ADMIN) /proc/kpageflags says (KPF_ZERO_PAGE); pagemap's PM_FILE does not, as
// vm_normal_page() gives no page for the zero page. Without, the Rss of the page's own
// VMA: the page is the middle of three with another protection, so its VMA merges with
// no neighbour that has resident pages; the zero page is not counted in Rss.
bool ProbeZeroPage() {
  constexpr uint64_t kKpfZeroPage = 1ULL << 24, kPfnMask = (1ULL << 55) - 1;
  long page = sysconf(_SC_PAGESIZE);
  char* p = static_cast<char*>(
      mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return true;
  char* mid = p + page;
  mprotect(mid, page, PROT_READ);
  (void)*static_cast<volatile const char*>(mid);  // the read fault
  uint64_t va = reinterpret_cast<uint64_t>(mid);
  bool has;
  uint64_t ent = 0, flags = 0;
  Fd pm(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  Fd kf(open("/proc/kpageflags", O_RDONLY | O_CLOEXEC));
  if (pm.get() >= 0 && kf.get() >= 0 && PreadU64(pm.get(), va / page, &ent) &&
      (ent & kPmPresent) && (ent & kPfnMask) && PreadU64(kf.get(), ent & kPfnMask, &flags))
    has = flags & kKpfZeroPage;
  else
    has = SelfRssKb(va) <= 0;
  munmap(p, 3 * page);
  return has;
}

}  // namespace

bool KernelHasZeroPage() {
  static const bool has = ProbeZeroPage();
  return has;
}

}  // namespace rmaplab::native
