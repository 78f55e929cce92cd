// fork and exit: mm/mmap.c dup_mmap(), mm/memory.c copy_page_range(), exit_mmap().
#include "core/kernel.h"

namespace rmaplab {

// Models dup_mmap(): VMAs in address order; VM_DONTCOPY skipped; VM_WIPEONFORK copied
// without anon_vma or pages; otherwise anon_vma_fork() and, if the parent VMA has an
// anon_vma, copy_page_range() (vma_needs_copy()). Differs: no DMA-pinned pages, so
// no page is copied eagerly.
Mm* Kernel::dup_mm(Mm& parent, const std::string& name) {
  Mm* child = m_.NewMm(name);
  child->parent = &parent;
  child->start_brk = parent.start_brk;  // dup_mm() copies the whole mm_struct
  child->brk = parent.brk;
  scheme_.mm_forked(parent, *child);
  for (auto& [start, mpnt] : parent.vmas) {
    if (mpnt->vm_flags & VM_DONTCOPY) continue;
    Vma* tmp = vm_area_dup(*mpnt);
    tmp->vm_mm = child;
    if (tmp->vm_flags & VM_WIPEONFORK) {
      tmp->anon_vma = nullptr;
    } else if (scheme_.anon_vma_fork(*tmp, *mpnt)) {
      // Out of memory is never injected in the model.
      tmp->anon_vma = nullptr;
    }
    tmp->vm_flags &= ~VM_LOCKED_MASK;
    child->vmas.Append(tmp);  // parent.vmas is walked in address order
    if (tmp->vm_flags & VM_WIPEONFORK) continue;
    if (!mpnt->anon_vma) continue;  // vma_needs_copy(): faults will fill it
    // copy_present_ptes(): anon pages become shared (PageAnonExclusive cleared).
    for (auto [addr, pfn] : parent.pt.Collect(mpnt->vm_start, mpnt->vm_end)) {
      if (pfn != kZeroPfn) {
        Folio& f = folios().Get(pfn);
        if (f.kind == FolioKind::kAnon) f.anon_exclusive = false;
      }
      add_rmap(*tmp, addr, pfn);
      // copy_present_pte(): a private mapping's child PTE keeps the dirty bit.
      if (!(mpnt->vm_flags & VM_SHARED) && parent.pt.Dirty(addr)) child->pt.SetDirty(addr, true);
    }
  }
  return child;
}

// Models exit_mmap(): unmap_vmas() over every VMA, then free_pgtables() (which calls
// unlink_anon_vmas() in address order) and remove_vma().
void Kernel::exit_mmap(Mm& mm) {
  std::vector<Vma*> all;
  for (auto& [start, v] : mm.vmas) all.push_back(v);
  for (Vma* v : all) zap_range(*v, v->vm_start, v->vm_end);
  for (Vma* v : all) scheme_.unlink_anon_vmas(*v);
  mm.vmas.Clear();
  for (Vma* v : all) vm_area_free(v);
  mm.alive = false;
  scheme_.mm_exited(mm);
}

}  // namespace rmaplab
