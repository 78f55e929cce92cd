#include "core/page_table.h"

namespace rmaplab {

Pfn PageTable::Get(Vpn vpn) const {
  auto it = leaves_.find(vpn >> kShift);
  if (it == leaves_.end()) return kNoPfn;
  return it->second->pte[vpn & (kEntries - 1)];
}

Pfn PageTable::Set(Vpn vpn, Pfn pfn) {
  auto it = leaves_.find(vpn >> kShift);
  if (it == leaves_.end()) {
    if (pfn == kNoPfn) return kNoPfn;
    it = leaves_.emplace(vpn >> kShift, std::make_unique<Leaf>()).first;
  }
  Leaf& leaf = *it->second;
  Pfn& slot = leaf.pte[vpn & (kEntries - 1)];
  Pfn old = slot;
  slot = pfn;
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
