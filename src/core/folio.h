// struct folio (order-0 for now) and the frame pool; struct file with its page cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace rmaplab {

struct AnonVmaBase;
struct File;

enum class FolioKind : uint8_t { kFree, kAnon, kFile };

// Models struct folio for a small (order-0) folio. `nr_pages` is kept so that large
// folios can be added without changing the interface.
struct Folio {
  Pfn pfn = kNoPfn;
  FolioKind kind = FolioKind::kFree;
  uint32_t nr_pages = 1;
  int32_t mapcount = 0;         // PTEs mapping it (folio_mapcount; kpagecount natively)
  bool anon_exclusive = false;  // PageAnonExclusive
  bool lazyfree = false;        // anon: MADV_FREE'd (the kernel's !PG_swapbacked)
  bool dirty = false;           // PG_dirty (file: written; anon: set by reclaim)
  AnonVmaBase* mapping = nullptr;  // anon: the scheme object (kernel: anon_vma | 1)
  Pgoff index = 0;              // anon: linear_page_index where first mapped; file: page index
  File* file = nullptr;         // file/shmem page: its file
  uint64_t serial = 0;          // allocation serial number, for stable ordering
};

// A file, or the shmem object behind a MAP_SHARED|MAP_ANONYMOUS mapping.
struct File {
  std::string name;
  uint64_t size_pages = 0;
  bool shmem_anon = false;         // created by shmem_zero_setup for a shared anon mmap
  std::vector<Pfn> page_cache;     // index -> pfn (kNoPfn: not cached / hole)
  uint64_t id = 0;
};

// All frames. Pfn 0 is "none", pfn 1 the zero page; folios start at 2.
class FolioPool {
 public:
  FolioPool();
  Folio& Get(Pfn pfn) { return folios_[pfn]; }
  const Folio& Get(Pfn pfn) const { return folios_[pfn]; }
  Pfn Alloc(FolioKind kind);
  void Free(Pfn pfn);
  uint64_t live() const { return live_; }
  // Visits every live folio in pfn order.
  template <typename Fn> void ForEachLive(Fn&& fn) const {
    for (size_t i = 2; i < folios_.size(); ++i)
      if (folios_[i].kind != FolioKind::kFree) fn(folios_[i]);
  }

 private:
  std::vector<Folio> folios_;
  std::vector<Pfn> free_;
  uint64_t live_ = 0;
  uint64_t serial_ = 0;
};

}  // namespace rmaplab
