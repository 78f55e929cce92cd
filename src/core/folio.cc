#include "core/folio.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace rmaplab {

FolioPool::FolioPool() { chunks_.emplace_back(new Folio[kChunk]); }

Pfn FolioPool::Alloc(FolioKind kind) {
  Pfn pfn;
  if (!free_.empty()) {
    pfn = free_.back();
    free_.pop_back();
  } else {
    if (end_ == kMaxPfn) {  // 2^31 frames: 8 TiB of 4 KiB pages
      std::fprintf(stderr, "rmaplab: the model ran out of page frames\n");
      std::abort();
    }
    pfn = end_++;
    if ((pfn >> kChunkShift) == chunks_.size()) chunks_.emplace_back(new Folio[kChunk]);
  }
  Folio& f = Get(pfn);
  f = Folio{};
  f.pfn = pfn;
  f.kind = kind;
  ++live_;
  return pfn;
}

void FolioPool::Free(Pfn pfn) {
  assert(pfn >= 2 && Get(pfn).kind != FolioKind::kFree);
  Get(pfn) = Folio{};
  free_.push_back(pfn);
  --live_;
}

}  // namespace rmaplab
