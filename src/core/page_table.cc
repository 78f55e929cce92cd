#include "core/page_table.h"

namespace rmaplab {

uint32_t PageTable::Raw(Vpn vpn) const {
  const Leaf* leaf = FindLeaf(vpn >> kShift);
  return leaf ? leaf->pte[vpn & (kEntries - 1)] : kNoPfn;
}

void PageTable::SetDirty(Vpn vpn, bool dirty) {
  Leaf* leaf = FindLeaf(vpn >> kShift);
  if (!leaf) return;
  uint32_t& slot = leaf->pte[vpn & (kEntries - 1)];
  if (slot == kNoPfn) return;
  slot = dirty ? (slot | kDirty) : (slot & ~kDirty);
}

Pfn PageTable::Set(Vpn vpn, Pfn pfn, bool dirty) {
  const uint64_t key = vpn >> kShift;
  Leaf* found = FindLeaf(key);
  if (!found) {
    if (pfn == kNoPfn) return kNoPfn;
    found = leaves_.emplace(key, std::make_unique<Leaf>()).first->second.get();
    cached_key_ = key;
    cached_leaf_ = found;
  }
  Leaf& leaf = *found;
  uint32_t& slot = leaf.pte[vpn & (kEntries - 1)];
  Pfn old = slot & ~kDirty;
  slot = (pfn == kNoPfn) ? kNoPfn : (dirty ? pfn | kDirty : pfn);
  if (log_ && old != pfn) log_->push_back({owner_, vpn, old, pfn});
  if (old == kNoPfn && pfn != kNoPfn) {
    ++leaf.present;
    ++present_;
  } else if (old != kNoPfn && pfn == kNoPfn) {
    --present_;
    if (--leaf.present == 0) {  // free_pgtables, eagerly
      leaves_.erase(key);
      cached_key_ = ~0ULL;
      cached_leaf_ = nullptr;
    }
  }
  return old;
}

std::vector<std::pair<Vpn, Pfn>> PageTable::Collect(Vpn start, Vpn end) const {
  std::vector<std::pair<Vpn, Pfn>> out;
  ForEach(start, end, [&](Vpn v, Pfn p) { out.emplace_back(v, p); });
  return out;
}

}  // namespace rmaplab
