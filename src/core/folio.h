// struct folio (order-0 for now) and the frame pool; struct file with its page cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/types.h"

namespace rmaplab {

struct AnonVmaBase;
struct File;

enum class FolioKind : uint8_t { kFree, kAnon, kFile };

// Models struct folio for a small (order-0) folio, in 24 bytes: a model of data-centre
// size keeps one per resident page (docs/performance.md). As in the kernel, `mapping`
// is the anon rmap object of an anon folio and the file of a file folio (one word);
// `nr_pages` is a constant so that large folios can come without changing the interface.
struct Folio {
  static constexpr uint32_t nr_pages = 1;
  static constexpr Pgoff kMaxIndex = (Pgoff{1} << 59) - 1;  // pgoff_t of a 2^63-byte file

  Pfn pfn : 31 = kNoPfn;
  bool anon_exclusive : 1 = false;  // PageAnonExclusive
  int32_t mapcount = 0;  // PTEs mapping it (folio_mapcount; kpagecount natively)
  union {
    AnonVmaBase* mapping = nullptr;  // anon: the scheme object (kernel: anon_vma | 1)
    File* file;                      // file/shmem page: its file (kernel: address_space)
  };
  Pgoff index : 59 = 0;  // anon: linear_page_index where first mapped; file: page index
  FolioKind kind : 3 = FolioKind::kFree;
  bool lazyfree : 1 = false;  // anon: MADV_FREE'd (the kernel's !PG_swapbacked)
  bool dirty : 1 = false;     // PG_dirty (file: written; anon: set by reclaim)
};
static_assert(sizeof(Folio) == 24, "the per-page budget of docs/performance.md");

// A file, or the shmem object behind a MAP_SHARED|MAP_ANONYMOUS mapping.
struct File {
  std::string name;
  uint64_t size_pages = 0;
  bool shmem_anon = false;         // created by shmem_zero_setup for a shared anon mmap
  std::vector<Pfn> page_cache;     // index -> pfn (kNoPfn: not cached / hole)
  uint64_t id = 0;
};

// All frames. Pfn 0 is "none", pfn 1 the zero page; folios start at 2. Frames live in
// fixed chunks (like the kernel's memmap sections): a reference stays valid while others
// are allocated, and growth never copies or doubles the pool. A chunk is 4096 frames
// (96 KiB): small enough that a model of a small scenario does not pay for initialising
// a large first chunk (a 1.5 MiB one was half the model's time on a fuzzer input), large enough
// that the chunk table stays negligible (8 bytes per 4096 pages).
class FolioPool {
 public:
  static constexpr unsigned kChunkShift = 12;
  static constexpr Pfn kChunk = Pfn{1} << kChunkShift;
  static constexpr Pfn kMaxPfn = (Pfn{1} << 31) - 1;  // PTEs keep the dirty bit on top

  FolioPool();
  Folio& Get(Pfn pfn) { return chunks_[pfn >> kChunkShift][pfn & (kChunk - 1)]; }
  const Folio& Get(Pfn pfn) const { return chunks_[pfn >> kChunkShift][pfn & (kChunk - 1)]; }
  Pfn Alloc(FolioKind kind);
  void Free(Pfn pfn);
  uint64_t live() const { return live_; }
  Pfn end() const { return end_; }  // frames [0, end()) have ever been handed out
  // Bytes the pool holds (frames and free list), for docs/performance.md's budget.
  uint64_t bytes() const {
    return chunks_.size() * (kChunk * sizeof(Folio)) + free_.capacity() * sizeof(Pfn) +
           chunks_.capacity() * sizeof(chunks_[0]);
  }
  // Visits every live folio in pfn order.
  template <typename Fn> void ForEachLive(Fn&& fn) const {
    for (Pfn i = 2; i < end_; ++i) {
      const Folio& f = Get(i);
      if (f.kind != FolioKind::kFree) fn(f);
    }
  }

 private:
  std::vector<std::unique_ptr<Folio[]>> chunks_;
  std::vector<Pfn> free_;
  Pfn end_ = 2;  // frames [0, end_) have been handed out once
  uint64_t live_ = 0;
};

}  // namespace rmaplab
