// mremap: mm/mremap.c (6.17/6.18 vma_remap_struct rewrite, incl. multi-VMA moves) and
// copy_vma()/vma_merge_copied_range() from mm/vma.c.
//
// Differs: a move without MREMAP_FIXED (the kernel picks a free address with
// get_unmapped_area()) is not modelled: the scenario language cannot express it, and
// the model reports -ENOMEM, as the kernel does when no room is found.
#include <algorithm>
#include <cassert>

#include "core/kernel.h"

namespace rmaplab {

// Models copy_vma(): merge the destination with its neighbours if possible, else a new
// VMA sharing the source's anon_vma and chain. An unfaulted anonymous source gets the
// destination's address as pgoff.
Vma* Kernel::copy_vma(Vma*& vma, Vpn addr, uint64_t len, Pgoff pgoff, bool* need_rmap_locks,
                      int* err) {
  Mm& mm = *vma->vm_mm;
  Vpn vma_start = vma->vm_start;
  if (vma->is_anonymous() && !vma->anon_vma) pgoff = addr;
  VmaMergeStruct vmg;
  vmg.mm = &mm;
  vmg.prev = mm.vmas.PrevOf(addr);
  if (Vma* v = mm.vmas.FindFrom(addr); v && v->vm_start < addr + len) {
    *err = -ENOMEM;  // "should never get here": the destination was unmapped
    return nullptr;
  }
  vmg.next = mm.vmas.FindFrom(addr);
  vmg.start = addr;
  vmg.end = addr + len;
  vmg.pgoff = pgoff;
  vmg.vm_flags = vma->vm_flags;
  vmg.file = vma->vm_file;
  vmg.anon_vma = vma->anon_vma;
  vmg.copied_from = vma;  // vma_merge_copied_range()
  Vma* new_vma = vma_merge_new_range(vmg);
  if (new_vma) {
    // An unfaulted source may have merged with its own destination.
    if (vma_start >= new_vma->vm_start && vma_start < new_vma->vm_end) vma = new_vma;
    *need_rmap_locks = new_vma->vm_pgoff <= vma->vm_pgoff;
    return new_vma;
  }
  if (vmg.state == VmaMergeStruct::State::kError) {
    *err = vmg.error;
    return nullptr;
  }
  new_vma = vm_area_dup(*vma);
  new_vma->vm_start = addr;
  new_vma->vm_end = addr + len;
  new_vma->vm_pgoff = pgoff;
  if (int e = scheme_.anon_vma_clone(*new_vma, *vma)) {
    vm_area_free(new_vma);
    *err = e;
    return nullptr;
  }
  mm.vmas.Insert(new_vma);
  *need_rmap_locks = false;
  return new_vma;
}

// Models move_vma(): copy_vma_and_data() (copy_vma + move_page_tables), then either
// dontunmap_complete() or unmap_source_vma().
int Kernel::move_vma(Mm& mm, Vma* vma, Vpn old_addr, uint64_t len_old, Vpn new_addr,
                     uint64_t new_len, bool dontunmap, Vma** new_vma_out) {
  *new_vma_out = nullptr;
  // prep_move_vma(): stay 4 maps below the limit.
  if (mm.map_count() >= kMaxMapCount - 3) return -ENOMEM;
  Pgoff new_pgoff = vma->vm_pgoff + (old_addr - vma->vm_start);
  bool need_rmap_locks = false;
  int err = 0;
  Vma* new_vma = copy_vma(vma, new_addr, new_len, new_pgoff, &need_rmap_locks, &err);
  if (!new_vma) return err;
  // move_page_tables(): PTEs move; folios keep their mapping and index.
  for (auto [addr, pfn] : mm.pt.Collect(old_addr, old_addr + len_old)) {
    Vpn to = new_addr + (addr - old_addr);
    bool dirty = mm.pt.Dirty(addr);
    mm.pt.Set(addr, kNoPfn);
    mm.pt.Set(to, pfn, dirty);
    if (pfn != kZeroPfn) {
      Folio& f = folios().Get(pfn);
      if (f.kind == FolioKind::kAnon) scheme_.pte_moved(f, *vma, addr, *new_vma, to);
    }
  }
  if (dontunmap) {
    // dontunmap_complete() (6.18, after the Oct 2025 accounting fix): the source stays,
    // empty, without VM_LOCKED* (VM_ACCOUNT is kept); moved whole, it loses its anon_vma.
    Vpn old_start = vma->vm_start, old_end = vma->vm_end;
    vma->vm_flags &= ~VM_LOCKED_MASK;
    if (new_vma != vma && old_addr == old_start && old_addr + len_old == old_end)
      scheme_.unlink_anon_vmas(*vma);
  } else if (len_old > 0) {
    // unmap_source_vma(): VM_ACCOUNT is cleared for the unmap and restored on the
    // pieces of the source that remain.
    bool accountable = vma->vm_flags & VM_ACCOUNT;
    Vpn vm_start = vma->vm_start, vm_end = vma->vm_end;
    if (accountable) vma->vm_flags &= ~VM_ACCOUNT;
    int uerr = do_munmap(mm, old_addr, len_old);
    if (!uerr && accountable) {
      if (vm_start < old_addr) {
        if (Vma* p = mm.vmas.PrevOf(old_addr)) p->vm_flags |= VM_ACCOUNT;
      }
      if (vm_end > old_addr + len_old) {
        if (Vma* n = mm.vmas.FindFrom(old_addr + len_old)) n->vm_flags |= VM_ACCOUNT;
      }
    }
  }
  *new_vma_out = new_vma;
  return 0;
}

// Models check_prep_vma(): the checks on the VMA at addr before anything changes.
int Kernel::mremap_check_prep_vma(Vma* vma, Vpn addr, uint64_t old_len, uint64_t new_len,
                                  int flags) {
  if (!vma) return -EFAULT;
  bool implies_new_addr = flags & (Model::kMremapFixed | Model::kMremapDontunmap);
  if (new_len <= old_len && !implies_new_addr) return 0;  // plain shrink / no-op
  if (!old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE))) return -EINVAL;
  if ((flags & Model::kMremapDontunmap) && (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP)))
    return -EINVAL;
  uint64_t checked_len = new_len < old_len ? new_len : old_len;
  if (checked_len > vma->vm_end - addr) return -EFAULT;  // no remap across VMAs
  if (new_len <= old_len) return 0;
  if (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  return 0;
}

// Models mremap_to(): unmap the destination (FIXED), shrink the source if asked, move.
int Kernel::mremap_to(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags,
                      Vpn new_addr) {
  if (flags & Model::kMremapFixed) {
    if (int err = do_munmap(mm, new_addr, new_len)) return err;
  } else if (mm.vmas.FindIntersection(new_addr, new_addr + new_len)) {
    return -ENOMEM;  // a DONTUNMAP hint that is taken: see the file comment
  }
  Vma* vma = mm.vmas.Find(addr);
  if (!vma) return -EFAULT;
  if (new_len < old_len) {  // shrink_vma(), then move what is left
    if (int err = do_munmap(mm, addr + new_len, old_len - new_len)) return err;
    vma = mm.vmas.Find(addr);
    if (!vma) return -EFAULT;
    old_len = new_len;
  }
  Vma* out = nullptr;
  return move_vma(mm, vma, addr, old_len, new_addr, new_len,
                  flags & Model::kMremapDontunmap, &out);
}

// Models remap_move() (MREMAP_FIXED and old_len == new_len, 6.17+): every VMA piece in
// [addr, addr+len) moves on its own, keeping its distance to the previous one; the range
// may not start in a hole. Pieces already moved stay moved if a later one fails.
int Kernel::remap_move(Mm& mm, Vpn addr, uint64_t len_all, int flags, Vpn new_addr) {
  Vpn start = addr, end = addr + len_all;
  bool seen_vma = false;
  Vpn target_addr = new_addr, last_end = 0, pos = start;
  // The VMA iterator resumes after the last VMA it returned (mas_pause) and looks only
  // inside [pos, end): a source merged with its destination beyond `end` is not revisited.
  while (pos < end) {
    Vma* vma = mm.vmas.FindFrom(pos);
    if (!vma || vma->vm_start >= end) break;
    if (!seen_vma && start < vma->vm_start) return -EFAULT;
    Vpn piece = std::max(vma->vm_start, start);
    uint64_t len = std::min(end, vma->vm_end) - piece;
    uint64_t offset = seen_vma ? vma->vm_start - last_end : 0;
    last_end = vma->vm_end;
    Vpn dest = target_addr + offset;
    if (int err = mremap_check_prep_vma(vma, piece, len, len, flags)) return err;
    if (int err = mremap_to(mm, piece, len, len, flags, dest)) return err;
    seen_vma = true;
    target_addr = dest + len;
    pos = last_end;  // the VMA iterator moves past the whole source VMA (DONTUNMAP keeps it)
  }
  return seen_vma ? 0 : -EFAULT;
}

// Models do_mremap(): check_mremap_params(), then remap_move() for a move-only request,
// else check_prep_vma() + mremap_to() / mremap_at() (no-op, shrink, grow in place).
int Kernel::do_mremap(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags,
                      Vpn new_addr) {
  constexpr int kKnown = Model::kMremapMaymove | Model::kMremapFixed | Model::kMremapDontunmap;
  if (flags & ~kKnown) return -EINVAL;
  if (new_len == 0) return -EINVAL;
  bool implies_new_addr = flags & (Model::kMremapFixed | Model::kMremapDontunmap);
  if (implies_new_addr) {
    if (!(flags & Model::kMremapMaymove)) return -EINVAL;
    if ((flags & Model::kMremapDontunmap) && old_len != new_len) return -EINVAL;
    if (new_addr < addr + old_len && addr < new_addr + new_len) return -EINVAL;  // overlap
    if (mm.map_count() + 2 >= kMaxMapCount - 3) return -ENOMEM;
  }
  if ((flags & Model::kMremapFixed) && old_len == new_len)
    return remap_move(mm, addr, old_len, flags, new_addr);

  Vma* vma = mm.vmas.Find(addr);
  if (int err = mremap_check_prep_vma(vma, addr, old_len, new_len, flags)) return err;
  if (implies_new_addr) return mremap_to(mm, addr, old_len, new_len, flags, new_addr);

  // mremap_at().
  if (old_len == new_len) return 0;  // MREMAP_NO_RESIZE
  if (new_len < old_len)             // MREMAP_SHRINK: plain munmap of the tail
    return do_munmap(mm, addr + new_len, old_len - new_len);
  // MREMAP_EXPAND: in place iff the range ends at vm_end and the space after is free.
  uint64_t delta = new_len - old_len;
  if (vma->vm_end - addr == old_len &&
      !mm.vmas.FindIntersection(vma->vm_end, vma->vm_end + delta)) {
    // vma_merge_extend(): a new-range merge with prev = the VMA itself.
    VmaMergeStruct vmg;
    vmg.mm = &mm;
    vmg.prev = vma;
    vmg.next = mm.vmas.FindFrom(vma->vm_end);
    vmg.start = vma->vm_end;
    vmg.end = vma->vm_end + delta;
    vmg.pgoff = vma->linear_page_index(vma->vm_end);
    vmg.vm_flags = vma->vm_flags;
    vmg.file = vma->vm_file;
    vmg.anon_vma = vma->anon_vma;
    if (!vma_merge_new_range(vmg)) return vmg.error ? vmg.error : -ENOMEM;
    return 0;
  }
  // Without MREMAP_MAYMOVE it cannot grow elsewhere; with it the kernel would pick an
  // address (not modelled, see the file comment).
  return -ENOMEM;
}

}  // namespace rmaplab
