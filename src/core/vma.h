// struct vm_area_struct and the per-mm ordered VMA set (the maple tree's role).
//
// Invariants (checked by Mm::CheckInvariants):
//  1. VMAs are sorted by vm_start, non-empty (vm_start < vm_end) and non-overlapping.
//  2. The tree's key of every VMA equals its vm_start.
//  3. vm_mm of every VMA is the mm whose tree holds it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/types.h"

namespace rmaplab {

struct Mm;
struct File;
struct AnonVmaBase;      // the scheme's anon_vma-like object (rmap/scheme.h)
struct SchemeVmaState;   // the scheme's per-VMA state (e.g. the anon_vma_chain list)

// Models struct vm_area_struct. Only what the anonymous rmap model needs.
struct Vma {
  Vpn vm_start = 0;  // first page
  Vpn vm_end = 0;    // one past the last page
  Pgoff vm_pgoff = 0;
  VmFlags vm_flags = 0;
  File* vm_file = nullptr;            // nullptr for private anonymous memory
  Mm* vm_mm = nullptr;
  AnonVmaBase* anon_vma = nullptr;    // "faulted" iff non-null (kernel: vma->anon_vma)
  SchemeVmaState* rmap = nullptr;     // owned by the scheme
  uint64_t id = 0;                    // unique, for stable debugging output

  uint64_t pages() const { return vm_end - vm_start; }
  // Models vma_is_anonymous(): no vm_ops, i.e. private anonymous memory.
  bool is_anonymous() const { return vm_file == nullptr; }
  // linear_page_index(vma, addr).
  Pgoff linear_page_index(Vpn addr) const { return vm_pgoff + (addr - vm_start); }
  bool contains(Vpn addr) const { return addr >= vm_start && addr < vm_end; }
};

// The ordered VMA set of one mm. Keyed by vm_start; O(log n) lookups.
class VmaTree {
 public:
  using Map = std::map<Vpn, Vma*>;

  // The VMA containing addr, or nullptr (find_vma_intersection(addr, addr+1)).
  Vma* Find(Vpn addr) const;
  // The first VMA with vm_end > addr (kernel find_vma()), or nullptr.
  Vma* FindFrom(Vpn addr) const;
  // The first VMA intersecting [start, end), or nullptr.
  Vma* FindIntersection(Vpn start, Vpn end) const;
  Vma* Prev(const Vma* vma) const;  // the VMA before vma (any gap), or nullptr
  Vma* Next(const Vma* vma) const;  // the VMA after vma (any gap), or nullptr
  // The VMA ending at or before addr with the highest vm_start (vma_prev from a gap).
  Vma* PrevOf(Vpn addr) const;

  void Insert(Vma* vma);
  // Insert of a VMA above every VMA in the tree, in amortised O(1) (dup_mmap()'s
  // in-order copy; the kernel bulk-copies the maple tree, __mt_dup(), in O(n)).
  void Append(Vma* vma);
  void Erase(Vma* vma);
  // Removes every VMA in O(n) (exit_mmap()'s __mt_destroy()); the VMAs are the caller's.
  void Clear() { map_.clear(); }
  // Re-keys vma after its vm_start changed from old_start.
  void Rekey(Vma* vma, Vpn old_start);

  size_t size() const { return map_.size(); }
  const Map& map() const { return map_; }
  Map::const_iterator begin() const { return map_.begin(); }
  Map::const_iterator end() const { return map_.end(); }

 private:
  Map map_;
};

}  // namespace rmaplab
