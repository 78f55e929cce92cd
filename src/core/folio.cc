#include "core/folio.h"

#include <cassert>

namespace rmaplab {

FolioPool::FolioPool() { folios_.resize(2); }

Pfn FolioPool::Alloc(FolioKind kind) {
  Pfn pfn;
  if (!free_.empty()) {
    pfn = free_.back();
    free_.pop_back();
  } else {
    pfn = static_cast<Pfn>(folios_.size());
    folios_.emplace_back();
  }
  Folio& f = folios_[pfn];
  f = Folio{};
  f.pfn = pfn;
  f.kind = kind;
  f.serial = ++serial_;
  ++live_;
  return pfn;
}

void FolioPool::Free(Pfn pfn) {
  assert(pfn >= 2 && folios_[pfn].kind != FolioKind::kFree);
  folios_[pfn] = Folio{};
  free_.push_back(pfn);
  --live_;
}

}  // namespace rmaplab
