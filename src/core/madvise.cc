// madvise: mm/madvise.c madvise_walk_vmas(), madvise_vma_behavior().
#include <algorithm>

#include "core/kernel.h"

namespace rmaplab {

// Models madvise_vma_behavior() for one VMA piece [start,end).
int Kernel::madvise_vma(Vma& vma, Vma** pprev, Vpn start, Vpn end, MadviseBehavior b) {
  Mm& mm = *vma.vm_mm;
  VmFlags new_flags = vma.vm_flags;
  switch (b) {
    case MadviseBehavior::kDontneed:
    case MadviseBehavior::kFree: {
      *pprev = &vma;
      if (vma.vm_flags & (VM_LOCKED | VM_PFNMAP)) return -EINVAL;
      if (b == MadviseBehavior::kDontneed) {
        zap_range(vma, start, end);
        return 0;
      }
      if (!vma.is_anonymous()) return -EINVAL;
      // madvise_free_pte_range(): a folio that is PG_dirty is handled only when this is
      // its only mapping; the caller's PTE is cleaned and the folio becomes lazyfree.
      for (auto [addr, pfn] : mm.pt.Collect(start, end)) {
        if (pfn == kZeroPfn) continue;
        Folio& f = folios().Get(pfn);
        if (f.kind != FolioKind::kAnon) continue;
        if (f.dirty) {
          if (f.mapcount != 1) continue;
          f.dirty = false;
        }
        mm.pt.SetDirty(addr, false);
        f.lazyfree = true;
      }
      return 0;
    }
    case MadviseBehavior::kCold:
    case MadviseBehavior::kPageout: {
      *pprev = &vma;
      if (vma.vm_flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB)) return -EINVAL;
      if (b == MadviseBehavior::kCold) return 0;  // only LRU ageing: nothing observable
      // madvise_cold_or_pageout_pte_range() + reclaim_pages() without swap, for folios
      // mapped once: swap-backed anon stays; a lazyfree anon folio is discarded unless
      // its PTE or the folio is dirty (then it is swap-backed again); a file or shmem
      // folio is unmapped, and dropped from the page cache if clean.
      for (auto [addr, pfn] : mm.pt.Collect(start, end)) {
        if (pfn == kZeroPfn) continue;
        Folio& f = folios().Get(pfn);
        if (f.mapcount != 1) continue;
        bool pte_dirty = mm.pt.Dirty(addr);
        if (f.kind == FolioKind::kAnon) {
          if (!f.lazyfree) continue;
          if (pte_dirty || f.dirty) {
            f.dirty = true;
            f.lazyfree = false;
            continue;
          }
          remove_rmap(vma, addr, pfn);
          continue;
        }
        if (pte_dirty) f.dirty = true;
        remove_rmap(vma, addr, pfn);
        if (!f.dirty) {  // clean page-cache page: reclaimed
          f.file->page_cache[f.index] = kNoPfn;
          folios().Free(pfn);
          ++stats().folio_free;
        }
      }
      return 0;
    }
    case MadviseBehavior::kDontfork:
      new_flags |= VM_DONTCOPY;
      break;
    case MadviseBehavior::kDofork:
      if (vma.vm_flags & VM_IO) return -EINVAL;
      new_flags &= ~VM_DONTCOPY;
      break;
    case MadviseBehavior::kWipeonfork:
      if (vma.vm_file || (vma.vm_flags & VM_SHARED)) return -EINVAL;
      new_flags |= VM_WIPEONFORK;
      break;
    case MadviseBehavior::kKeeponfork:
      new_flags &= ~VM_WIPEONFORK;
      break;
    case MadviseBehavior::kHugepage:
      new_flags &= ~VM_NOHUGEPAGE;
      new_flags |= VM_HUGEPAGE;
      break;
    case MadviseBehavior::kNohugepage:
      new_flags &= ~VM_HUGEPAGE;
      new_flags |= VM_NOHUGEPAGE;
      break;
    case MadviseBehavior::kNormal:
      new_flags &= ~(VM_RAND_READ | VM_SEQ_READ);
      break;
    case MadviseBehavior::kRandom:
      new_flags = (new_flags & ~VM_SEQ_READ) | VM_RAND_READ;
      break;
    case MadviseBehavior::kSequential:
      new_flags = (new_flags & ~VM_RAND_READ) | VM_SEQ_READ;
      break;
    case MadviseBehavior::kWillneed:
      *pprev = &vma;  // readahead of file pages: nothing the rmap model sees
      return 0;
    case MadviseBehavior::kDontdump:
      new_flags |= VM_DONTDUMP;
      break;
    case MadviseBehavior::kDodump:
      if (!(vma.vm_flags & VM_SPECIAL)) new_flags &= ~VM_DONTDUMP;  // VM_SPECIAL: EINVAL
      else return -EINVAL;
      break;
  }
  // madvise_update_vma().
  if (new_flags == vma.vm_flags) {
    *pprev = &vma;
    return 0;
  }
  int err = 0;
  Vma* res = vma_modify_flags(*pprev, vma, start, end, new_flags, &err);
  if (!res) return err == -ENOMEM ? -EAGAIN : err;  // madvise_vma_behavior()
  *pprev = res;
  res->vm_flags = new_flags;
  return 0;
}

// Models do_madvise() + madvise_walk_vmas(): holes are skipped and reported as -ENOMEM
// at the end; an error from one VMA stops the walk (earlier work stays).
int Kernel::do_madvise(Mm& mm, Vpn start, uint64_t len, MadviseBehavior behavior) {
  if (len == 0) return 0;
  Vpn end = start + len;
  int unmapped_error = 0;
  Vma* vma = mm.vmas.FindFrom(start);
  Vma* prev = vma ? mm.vmas.Prev(vma) : nullptr;
  if (vma && start > vma->vm_start) prev = vma;
  for (;;) {
    if (!vma) return -ENOMEM;
    if (start < vma->vm_start) {
      unmapped_error = -ENOMEM;
      start = vma->vm_start;
      if (start >= end) break;
    }
    Vpn tmp = std::min(vma->vm_end, end);
    if (int err = madvise_vma(*vma, &prev, start, tmp, behavior)) return err;
    start = tmp;
    if (prev && start < prev->vm_end) start = prev->vm_end;
    if (start >= end) break;
    vma = mm.vmas.FindFrom(prev ? prev->vm_end : start);
  }
  return unmapped_error;
}

}  // namespace rmaplab
