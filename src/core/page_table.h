// A sparse page table: vpn -> pfn, in 512-entry leaf tables like x86_64 PTE pages.
//
// A PTE holds a frame number (kNoPfn = none, kZeroPfn = the zero page) and the dirty
// bit (the hardware sets it on a store; MADV_FREE clears it; reclaim reads it). Write
// protection is not stored: the fault path derives COW/reuse from the folio's state,
// which gives the same outcome as the kernel's write-protected PTEs (docs/model.md).
// Frame numbers are below 2^31: the top bit of an entry is the dirty bit.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/types.h"

namespace rmaplab {

// One change of a PTE's frame (kNoPfn: none), for the incremental oracle.
struct PteChange {
  const void* owner;  // the Mm whose page table changed
  Vpn vpn;
  Pfn old_pfn, new_pfn;
};

class PageTable {
 public:
  static constexpr unsigned kShift = 9;
  static constexpr uint64_t kEntries = 1u << kShift;

  static constexpr uint32_t kDirty = 1u << 31;

  Pfn Get(Vpn vpn) const { return Raw(vpn) & ~kDirty; }
  bool Dirty(Vpn vpn) const { return Raw(vpn) & kDirty; }
  // Sets the PTE (clean unless `dirty`); setting kNoPfn clears it. Returns the old pfn.
  Pfn Set(Vpn vpn, Pfn pfn, bool dirty = false);
  // pte_mkdirty / pte_mkclean of a present PTE.
  void SetDirty(Vpn vpn, bool dirty);
  uint64_t present() const { return present_; }
  // Bytes the table holds: its leaves and their index nodes (std::map node estimate).
  uint64_t bytes() const { return leaves_.size() * (sizeof(Leaf) + kMapNodeBytes); }
  static constexpr uint64_t kMapNodeBytes = 48;  // rb-tree node header + key + pointer
  // From now on, append every change of a PTE's frame to *log (nullptr: stop).
  void set_log(std::vector<PteChange>* log, const void* owner) {
    log_ = log;
    owner_ = owner;
  }
  // The present PTEs in [start, end), ascending.
  std::vector<std::pair<Vpn, Pfn>> Collect(Vpn start, Vpn end) const;

  // Calls fn(vpn, pfn) for every present PTE in [start, end) in ascending order.
  // fn must not modify the table (collect first: Collect()).
  template <typename Fn>
  void ForEach(Vpn start, Vpn end, Fn&& fn) const;

 private:
  struct Leaf {
    std::array<uint32_t, kEntries> pte{};
    uint32_t present = 0;
  };
  uint32_t Raw(Vpn vpn) const;
  // The leaf of vpn, or nullptr. Accesses come in runs within one leaf (like a TLB,
  // the last leaf found is remembered; it is forgotten when a leaf is freed).
  Leaf* FindLeaf(uint64_t key) const {
    if (key == cached_key_) return cached_leaf_;
    auto it = leaves_.find(key);
    if (it == leaves_.end()) return nullptr;
    cached_key_ = key;
    cached_leaf_ = it->second.get();
    return cached_leaf_;
  }
  std::map<uint64_t, std::unique_ptr<Leaf>> leaves_;
  uint64_t present_ = 0;
  std::vector<PteChange>* log_ = nullptr;
  const void* owner_ = nullptr;
  mutable uint64_t cached_key_ = ~0ULL;
  mutable Leaf* cached_leaf_ = nullptr;
};

template <typename Fn>
void PageTable::ForEach(Vpn start, Vpn end, Fn&& fn) const {
  if (start >= end) return;
  for (auto it = leaves_.lower_bound(start >> kShift);
       it != leaves_.end() && (it->first << kShift) < end; ++it) {
    const Leaf& leaf = *it->second;
    Vpn base = it->first << kShift;
    uint64_t from = start > base ? start - base : 0;
    uint64_t to = end - base < kEntries ? end - base : kEntries;
    for (uint64_t i = from; i < to; ++i)
      if (leaf.pte[i] != kNoPfn) fn(base + i, leaf.pte[i] & ~kDirty);
  }
}

}  // namespace rmaplab
