#include "core/page_table.h"

namespace rmaplab {

uint32_t PageTable::Raw(Vpn vpn) const {
  auto it = leaves_.find(vpn >> kShift);
  if (it == leaves_.end()) return kNoPfn;
  return it->second->pte[vpn & (kEntries - 1)];
}

void PageTable::SetDirty(Vpn vpn, bool dirty) {
  auto it = leaves_.find(vpn >> kShift);
  if (it == leaves_.end()) return;
  uint32_t& slot = it->second->pte[vpn & (kEntries - 1)];
  if (slot == kNoPfn) return;
  slot = dirty ? (slot | kDirty) : (slot & ~kDirty);
}

Pfn PageTable::Set(Vpn vpn, Pfn pfn, bool dirty) {
  auto it = leaves_.find(vpn >> kShift);
  if (it == leaves_.end()) {
    if (pfn == kNoPfn) return kNoPfn;
    it = leaves_.emplace(vpn >> kShift, std::make_unique<Leaf>()).first;
  }
  Leaf& leaf = *it->second;
  uint32_t& slot = leaf.pte[vpn & (kEntries - 1)];
  Pfn old = slot & ~kDirty;
  slot = (pfn == kNoPfn) ? kNoPfn : (dirty ? pfn | kDirty : pfn);
  if (old == kNoPfn && pfn != kNoPfn) {
    ++leaf.present;
    ++present_;
  } else if (old != kNoPfn && pfn == kNoPfn) {
    --present_;
    if (--leaf.present == 0) leaves_.erase(it);  // free_pgtables, eagerly
  }
  return old;
}

std::vector<std::pair<Vpn, Pfn>> PageTable::Collect(Vpn start, Vpn end) const {
  std::vector<std::pair<Vpn, Pfn>> out;
  ForEach(start, end, [&](Vpn v, Pfn p) { out.emplace_back(v, p); });
  return out;
}

}  // namespace rmaplab
