// VMA structs, split and merge: mm/vma.c (6.18, with the 6.18.y copied_from fix).
#include <cassert>

#include "core/kernel.h"

namespace rmaplab {

Vma* Kernel::vm_area_alloc(Mm& mm) {
  Vma* v = new Vma();
  v->vm_mm = &mm;
  v->id = m_.next_vma_id_++;
  ++stats().vma_alloc;
  if (m_.logging_) m_.live_vmas_.insert(v);
  return v;
}

Vma* Kernel::vm_area_dup(const Vma& orig) {
  Vma* v = new Vma(orig);
  v->rmap = nullptr;  // the chain list is initialised empty (INIT_LIST_HEAD)
  v->id = m_.next_vma_id_++;
  ++stats().vma_alloc;
  if (m_.logging_) m_.live_vmas_.insert(v);
  return v;
}

void Kernel::vm_area_free(Vma* vma) {
  scheme_.vm_area_free(*vma);
  ++stats().vma_free;
  if (m_.logging_) m_.live_vmas_.erase(vma);
  delete vma;
}

void Kernel::vma_set_range(Vma& vma, Vpn start, Vpn end, Pgoff pgoff) {
  Vpn old_start = vma.vm_start;
  ++stats().vma_updates;
  scheme_.vma_pre_update(vma);
  vma.vm_start = start;
  vma.vm_end = end;
  vma.vm_pgoff = pgoff;
  scheme_.vma_post_update(vma);
  vma.vm_mm->vmas.Rekey(&vma, old_start);
}

void Kernel::remove_vma(Vma* vma) {
  scheme_.unlink_anon_vmas(*vma);
  vm_area_free(vma);
}

// Models dup_anon_vma().
int Kernel::dup_anon_vma(Vma& dst, Vma& src) {
  if (src.anon_vma && !dst.anon_vma) {
    dst.anon_vma = src.anon_vma;
    int err = scheme_.anon_vma_clone(dst, src);
    if (err) {
      dst.anon_vma = nullptr;
      return err;
    }
  }
  return 0;
}

// Models __split_vma() (and split_vma() when `checked`).
Vma* Kernel::split_vma(Vma& vma, Vpn addr, bool new_below, bool checked, int* err) {
  assert(addr > vma.vm_start && addr < vma.vm_end);
  Mm& mm = *vma.vm_mm;
  if (checked && mm.map_count() >= kMaxMapCount) {
    *err = -ENOMEM;
    return nullptr;
  }
  Vma* nv = vm_area_dup(vma);
  if (new_below) {
    nv->vm_end = addr;
  } else {
    nv->vm_start = addr;
    nv->vm_pgoff += addr - vma.vm_start;
  }
  int e = scheme_.anon_vma_clone(*nv, vma);
  if (e) {
    vm_area_free(nv);
    *err = e;
    return nullptr;
  }
  if (new_below)
    vma_set_range(vma, addr, vma.vm_end, vma.vm_pgoff + (addr - nv->vm_start));
  else
    vma_set_range(vma, vma.vm_start, addr, vma.vm_pgoff);
  mm.vmas.Insert(nv);
  *err = 0;
  return nv;
}

// Models is_mergeable_vma(): flags (but VM_IGNORE_MERGE), file; policies, userfaultfd
// contexts and anon names are always equal in the model.
bool Kernel::is_mergeable_vma(const VmaMergeStruct& vmg, bool merge_next) const {
  const Vma* tgt = merge_next ? vmg.next : vmg.prev;
  if ((tgt->vm_flags ^ vmg.vm_flags) & ~VM_IGNORE_MERGE) return false;
  if (tgt->vm_file != vmg.file) return false;
  return true;
}

// Models can_vma_merge_left() + can_vma_merge_after().
bool Kernel::can_vma_merge_left(const VmaMergeStruct& vmg) const {
  const Vma* prev = vmg.prev;
  if (!prev || prev->vm_end != vmg.start) return false;
  if (!is_mergeable_vma(vmg, false)) return false;
  if (!scheme_.is_mergeable_anon_vma(*prev, vmg.anon_vma, vmg.middle, vmg.copied_from))
    return false;
  return prev->vm_pgoff + prev->pages() == vmg.pgoff;
}

// Models can_vma_merge_right() + can_vma_merge_before().
bool Kernel::can_vma_merge_right(const VmaMergeStruct& vmg, bool can_merge_left) const {
  const Vma* next = vmg.next;
  if (!next || vmg.end != next->vm_start) return false;
  if (!is_mergeable_vma(vmg, true)) return false;
  if (!scheme_.is_mergeable_anon_vma(*next, vmg.anon_vma, vmg.middle, vmg.copied_from))
    return false;
  if (next->vm_pgoff != vmg.pgoff + (vmg.end - vmg.start)) return false;
  if (!can_merge_left) return true;
  // prev and next must also be compatible with each other.
  return scheme_.anon_vmas_compatible(*vmg.prev, *next);
}

// Models vma_merge_new_range(). The model has no vm_ops->close, so every VMA may be
// removed by a merge (can_merge_remove_vma() is always true).
Vma* Kernel::vma_merge_new_range(VmaMergeStruct& vmg) {
  vmg.state = VmaMergeStruct::State::kNoMerge;
  if ((vmg.vm_flags & VM_SPECIAL) || (!vmg.prev && !vmg.next)) return nullptr;
  bool can_merge_left = can_vma_merge_left(vmg);
  bool can_merge_right = !vmg.just_expand && can_vma_merge_right(vmg, can_merge_left);
  if (can_merge_right) {
    vmg.end = vmg.next->vm_end;
    vmg.target = vmg.next;
  }
  if (can_merge_left) {
    vmg.start = vmg.prev->vm_start;
    vmg.target = vmg.prev;
    vmg.pgoff = vmg.prev->vm_pgoff;
  }
  if (!vmg.target) return nullptr;
  int err = vma_expand(vmg);
  if (err) {
    vmg.state = VmaMergeStruct::State::kError;
    vmg.error = err;
    return nullptr;
  }
  vmg.state = VmaMergeStruct::State::kSuccess;
  return vmg.target;
}

// Models vma_expand(): grow vmg.target to [vmg.start, vmg.end), removing next if the
// range covers it entirely.
int Kernel::vma_expand(VmaMergeStruct& vmg) {
  Vma* target = vmg.target;
  Vma* next = vmg.next;
  bool remove_next = false;
  if (next && target != next && vmg.end == next->vm_end) {
    remove_next = true;
    if (int err = dup_anon_vma(*target, *next)) return err;
  }
  if (vmg.copied_from) {
    if (int err = dup_anon_vma(*target, const_cast<Vma&>(*vmg.copied_from))) return err;
  }
  if (remove_next) {
    next->vm_mm->vmas.Erase(next);
  }
  vma_set_range(*target, vmg.start, vmg.end, vmg.pgoff);
  if (remove_next) remove_vma(next);  // vma_complete(): anon_vma_merge() + free
  return 0;
}

// Models vma_merge_existing_range(): [start,end) of vmg.middle gets vmg.vm_flags; merge
// it with prev and/or next if possible.
Vma* Kernel::vma_merge_existing_range(VmaMergeStruct& vmg) {
  Vma* middle = vmg.middle;
  Vma* prev = vmg.prev;
  Vpn start = vmg.start, end = vmg.end;
  bool left_side = start == middle->vm_start;
  bool right_side = end == middle->vm_end;
  vmg.state = VmaMergeStruct::State::kNoMerge;
  if ((vmg.vm_flags & VM_SPECIAL) || (!left_side && !right_side)) return nullptr;

  bool merge_left = left_side && can_vma_merge_left(vmg);
  bool merge_right = false;
  Vma* next = nullptr;
  if (right_side) {
    next = vmg.next = middle->vm_mm->vmas.Next(middle);
    merge_right = can_vma_merge_right(vmg, merge_left);
  }
  if (!merge_left && !merge_right) return nullptr;
  bool merge_both = merge_left && merge_right;
  vmg.remove_middle = left_side && right_side;
  vmg.remove_next = merge_both;

  int err = 0;
  Vma* target;
  Mm& mm = *middle->vm_mm;
  if (merge_both) {
    //  |<-------------------->|
    //  |-------********-------|
    //    prev   middle   next
    //   extend  delete  delete
    target = prev;
    err = dup_anon_vma(*prev, next->anon_vma ? *next : *middle);
    if (err) goto abort;
    mm.vmas.Erase(middle);
    mm.vmas.Erase(next);
    vma_set_range(*prev, prev->vm_start, next->vm_end, prev->vm_pgoff);
    remove_vma(middle);
    remove_vma(next);
  } else if (merge_left) {
    //  |<------------>|      OR
    //  |<----------------->|
    //  |-------*************
    //    prev     middle
    //   extend shrink/delete
    target = prev;
    err = dup_anon_vma(*prev, *middle);
    if (err) goto abort;
    if (vmg.remove_middle) {
      mm.vmas.Erase(middle);
      vma_set_range(*prev, prev->vm_start, end, prev->vm_pgoff);
      remove_vma(middle);
    } else {
      vma_set_range(*middle, end, middle->vm_end, middle->vm_pgoff + (end - middle->vm_start));
      vma_set_range(*prev, prev->vm_start, end, prev->vm_pgoff);
    }
  } else {
    //      |<------------->| OR
    //  |<----------------->|
    //  *************-------|
    //       middle     next
    //  shrink/delete extend
    target = next;
    err = dup_anon_vma(*next, *middle);
    if (err) goto abort;
    uint64_t pglen = end - start;
    if (vmg.remove_middle) {
      mm.vmas.Erase(middle);
      vma_set_range(*next, start, next->vm_end, next->vm_pgoff - pglen);
      remove_vma(middle);
    } else {
      vma_set_range(*middle, middle->vm_start, start, middle->vm_pgoff);
      vma_set_range(*next, start, next->vm_end, next->vm_pgoff - pglen);
    }
  }
  vmg.target = target;
  vmg.state = VmaMergeStruct::State::kSuccess;
  return target;

abort:
  vmg.state = VmaMergeStruct::State::kError;
  vmg.error = err;
  return nullptr;
}

// Models vma_modify().
Vma* Kernel::vma_modify(VmaMergeStruct& vmg, int* err) {
  Vma* vma = vmg.middle;
  Vpn start = vmg.start, end = vmg.end;
  *err = 0;
  if (Vma* merged = vma_merge_existing_range(vmg)) return merged;
  if (vmg.state == VmaMergeStruct::State::kError) {
    *err = vmg.error;
    return nullptr;
  }
  if (vma->vm_start < start) {
    if (!split_vma(*vma, start, /*new_below=*/true, /*checked=*/true, err)) return nullptr;
  }
  if (vma->vm_end > end) {
    if (!split_vma(*vma, end, /*new_below=*/false, /*checked=*/true, err)) return nullptr;
  }
  return vma;
}

// Models vma_modify_flags().
Vma* Kernel::vma_modify_flags(Vma* prev, Vma& vma, Vpn start, Vpn end, VmFlags new_flags,
                              int* err) {
  VmaMergeStruct vmg;
  vmg.mm = vma.vm_mm;
  vmg.prev = prev;
  vmg.middle = &vma;
  vmg.start = start;
  vmg.end = end;
  vmg.pgoff = vma.vm_pgoff + (start - vma.vm_start);
  vmg.vm_flags = new_flags;
  vmg.file = vma.vm_file;
  vmg.anon_vma = vma.anon_vma;
  return vma_modify(vmg, err);
}

}  // namespace rmaplab
