#include "core/vma.h"

#include <cassert>

namespace rmaplab {

Vma* VmaTree::Find(Vpn addr) const {
  auto it = map_.upper_bound(addr);
  if (it == map_.begin()) return nullptr;
  --it;
  return it->second->vm_end > addr ? it->second : nullptr;
}

Vma* VmaTree::FindFrom(Vpn addr) const {
  if (Vma* v = Find(addr)) return v;
  auto it = map_.upper_bound(addr);
  return it == map_.end() ? nullptr : it->second;
}

Vma* VmaTree::FindIntersection(Vpn start, Vpn end) const {
  Vma* v = FindFrom(start);
  return (v && v->vm_start < end) ? v : nullptr;
}

Vma* VmaTree::Prev(const Vma* vma) const {
  auto it = map_.find(vma->vm_start);
  assert(it != map_.end() && it->second == vma);
  if (it == map_.begin()) return nullptr;
  return std::prev(it)->second;
}

Vma* VmaTree::Next(const Vma* vma) const {
  auto it = map_.find(vma->vm_start);
  assert(it != map_.end() && it->second == vma);
  ++it;
  return it == map_.end() ? nullptr : it->second;
}

Vma* VmaTree::PrevOf(Vpn addr) const {
  auto it = map_.lower_bound(addr);
  if (it == map_.begin()) return nullptr;
  return std::prev(it)->second;
}

void VmaTree::Insert(Vma* vma) {
  [[maybe_unused]] auto [it, inserted] = map_.emplace(vma->vm_start, vma);
  assert(inserted);
}

void VmaTree::Append(Vma* vma) {
  assert(map_.empty() || std::prev(map_.end())->second->vm_end <= vma->vm_start);
  map_.emplace_hint(map_.end(), vma->vm_start, vma);
}

void VmaTree::Erase(Vma* vma) {
  auto it = map_.find(vma->vm_start);
  assert(it != map_.end() && it->second == vma);
  map_.erase(it);
}

void VmaTree::Rekey(Vma* vma, Vpn old_start) {
  if (old_start == vma->vm_start) return;
  auto it = map_.find(old_start);
  assert(it != map_.end() && it->second == vma);
  map_.erase(it);
  Insert(vma);
}

}  // namespace rmaplab
