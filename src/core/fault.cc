// Page faults and page mapping: mm/memory.c (handle_mm_fault, do_anonymous_page,
// do_read_fault/do_fault_around, do_cow_fault, do_shared_fault, do_wp_page,
// wp_page_copy), mm/rmap.c mapcount bookkeeping, mm/gup.c population.
#include <algorithm>
#include <cassert>

#include "core/kernel.h"

namespace rmaplab {

void Kernel::add_rmap(Vma& vma, Vpn addr, Pfn pfn) {
  Mm& mm = *vma.vm_mm;
  Pfn old = mm.pt.Set(addr, pfn);
  assert(old == kNoPfn);
  (void)old;
  if (pfn == kZeroPfn) return;
  Folio& f = folios().Get(pfn);
  ++f.mapcount;
  if (f.kind == FolioKind::kAnon) scheme_.pte_mapped(f, vma, addr);
}

void Kernel::remove_rmap(Vma& vma, Vpn addr, Pfn pfn) {
  vma.vm_mm->pt.Set(addr, kNoPfn);
  if (pfn == kZeroPfn) return;
  Folio& f = folios().Get(pfn);
  assert(f.mapcount > 0);
  --f.mapcount;
  if (f.kind == FolioKind::kAnon) {
    scheme_.pte_unmapped(f, vma, addr);
    if (f.mapcount == 0) {  // last reference: the folio is freed
      scheme_.folio_freed(f);
      folios().Free(pfn);
      ++stats().folio_free;
    }
  }
  // File and shmem folios stay in their page cache.
}

void Kernel::zap_range(Vma& vma, Vpn start, Vpn end) {
  for (auto [addr, pfn] : vma.vm_mm->pt.Collect(std::max(start, vma.vm_start),
                                                std::min(end, vma.vm_end)))
    remove_rmap(vma, addr, pfn);
}

// The page of `file` at `index`: scenario files are fully cached; a shmem hole gets a
// new page (shmem_get_folio(SGP_CACHE)).
Pfn Kernel::filemap_get_page(File& file, Pgoff index) {
  assert(index < file.size_pages);
  if (file.page_cache.size() < file.size_pages) file.page_cache.resize(file.size_pages, kNoPfn);
  Pfn& slot = file.page_cache[index];
  if (slot == kNoPfn) {
    slot = folios().Alloc(FolioKind::kFile);
    Folio& f = folios().Get(slot);
    f.file = &file;
    f.index = index;
    ++stats().folio_alloc;
  }
  return slot;
}

// Models do_fault_around() + filemap_map_pages(): map the cached pages of the
// fault_around_bytes (64 KiB = 16 pages) window around addr, aligned in the page table,
// clipped to the VMA, the PMD and the end of the file. Existing PTEs are skipped.
void Kernel::do_fault_around(Vma& vma, Vpn addr) {
  constexpr uint64_t kFaultAroundPages = 16;
  constexpr uint64_t kPtrsPerPte = 512;
  uint64_t pte_off = addr % kPtrsPerPte;
  uint64_t vma_off = addr - vma.vm_start;
  uint64_t from_pte = std::max(pte_off / kFaultAroundPages * kFaultAroundPages,
                               pte_off - std::min(pte_off, vma_off));
  uint64_t to_pte = std::min({from_pte + kFaultAroundPages, kPtrsPerPte,
                              pte_off + vma.pages() - vma_off});
  File& file = *vma.vm_file;
  Mm& mm = *vma.vm_mm;
  for (uint64_t p = from_pte; p < to_pte; ++p) {
    Vpn va = addr - pte_off + p;
    Pgoff index = vma.linear_page_index(va);
    if (index >= file.size_pages) break;  // beyond EOF
    if (index >= file.page_cache.size() || file.page_cache[index] == kNoPfn) continue;
    if (mm.pt.Get(va) != kNoPfn) continue;
    add_rmap(vma, va, file.page_cache[index]);
  }
}

// One user access: the fault if the PTE does not allow it, then the access itself (a
// store sets the PTE's dirty bit, as the MMU does).
Touch Kernel::user_access(Mm& mm, Vpn addr, bool write) {
  Touch t = handle_mm_fault(mm, addr, write);
  if (t == Touch::kOk && write) mm.pt.SetDirty(addr, true);
  return t;
}

// Models handle_mm_fault() for one byte access (x86: any of r/w/x allows a read).
Touch Kernel::handle_mm_fault(Mm& mm, Vpn addr, bool write) {
  Vma* vma = mm.vmas.Find(addr);
  if (!vma) {  // lock_mm_and_find_vma(): a stack below its VMA grows down
    Vma* next = mm.vmas.FindFrom(addr);
    if (!next || !(next->vm_flags & VM_GROWSDOWN) || !expand_downwards(*next, addr))
      return Touch::kSigsegv;
    vma = next;
  }
  if (write ? !(vma->vm_flags & VM_WRITE) : !(vma->vm_flags & VM_ACCESS_FLAGS))
    return Touch::kSigsegv;
  Pfn pte = mm.pt.Get(addr);
  bool shared = vma->vm_flags & VM_SHARED;

  if (pte == kNoPfn) {
    ++stats().faults;
    if (vma->is_anonymous()) {
      // do_anonymous_page(): a read maps the shared zero page unless the zero page is
      // unavailable (mm_forbids_zeropage()); then, like a write, it gets a new folio,
      // whose PTE is made dirty when the VMA is writable (pte_mkwrite(pte_mkdirty())).
      if (!write && m_.zero_page_) {
        add_rmap(*vma, addr, kZeroPfn);
        ++stats().zero_maps;
        return Touch::kOk;
      }
      if (!vma->anon_vma && scheme_.anon_vma_prepare(*vma)) return Touch::kSigsegv;
      Pfn pfn = folios().Alloc(FolioKind::kAnon);
      ++stats().folio_alloc;
      Folio& f = folios().Get(pfn);
      f.anon_exclusive = true;
      scheme_.folio_add_new_anon_rmap(f, *vma, addr);
      add_rmap(*vma, addr, pfn);
      if (!write && (vma->vm_flags & VM_WRITE)) mm.pt.SetDirty(addr, true);
      return Touch::kOk;
    }
    File& file = *vma->vm_file;
    Pgoff index = vma->linear_page_index(addr);
    if (!write) {  // do_read_fault(): fault-around first, then the page itself
      do_fault_around(*vma, addr);
      if (mm.pt.Get(addr) != kNoPfn) return Touch::kOk;
      if (index >= file.size_pages) return Touch::kSigbus;
      add_rmap(*vma, addr, filemap_get_page(file, index));
      return Touch::kOk;
    }
    if (shared) {  // do_shared_fault(): the page is dirtied (fault_dirty_shared_page)
      if (index >= file.size_pages) return Touch::kSigbus;
      Pfn pfn = filemap_get_page(file, index);
      folios().Get(pfn).dirty = true;
      add_rmap(*vma, addr, pfn);
      return Touch::kOk;
    }
    // do_cow_fault(): the anon_vma is prepared before the file page is looked up, so a
    // write beyond the end of the file leaves the VMA faulted (and raises SIGBUS).
    if (!vma->anon_vma && scheme_.anon_vma_prepare(*vma)) return Touch::kSigsegv;
    if (index >= file.size_pages) return Touch::kSigbus;
    filemap_get_page(file, index);
    Pfn pfn = folios().Alloc(FolioKind::kAnon);
    ++stats().folio_alloc;
    ++stats().cow_copies;
    Folio& f = folios().Get(pfn);
    f.anon_exclusive = true;
    scheme_.folio_add_new_anon_rmap(f, *vma, addr);
    add_rmap(*vma, addr, pfn);
    return Touch::kOk;
  }

  if (!write) return Touch::kOk;  // present: a read needs nothing
  if (shared) {                   // wp_page_shared(): no copy
    if (pte != kZeroPfn) folios().Get(pte).dirty = true;
    return Touch::kOk;
  }
  if (pte != kZeroPfn) {
    Folio& old = folios().Get(pte);
    if (old.kind == FolioKind::kAnon) {
      if (old.anon_exclusive) return Touch::kOk;  // already exclusively ours: reuse
      // wp_can_reuse_anon_folio(): the only reference is ours.
      if (old.mapcount == 1) {
        scheme_.folio_move_anon_rmap(old, *vma);
        if (m_.logging_) m_.folio_log_.push_back(old.pfn);
        old.anon_exclusive = true;
        ++stats().cow_reuses;
        return Touch::kOk;
      }
    }
  }
  // wp_page_copy(): a new exclusive anon folio replaces the zero page, a shared anon
  // folio or a page-cache page.
  ++stats().faults;
  if (!vma->anon_vma && scheme_.anon_vma_prepare(*vma)) return Touch::kSigsegv;
  remove_rmap(*vma, addr, pte);
  Pfn pfn = folios().Alloc(FolioKind::kAnon);
  ++stats().folio_alloc;
  ++stats().cow_copies;
  Folio& f = folios().Get(pfn);
  f.anon_exclusive = true;
  scheme_.folio_add_new_anon_rmap(f, *vma, addr);
  add_rmap(*vma, addr, pfn);
  return Touch::kOk;
}

// Models expand_downwards(): the anon_vma is prepared first; the stack may not exceed
// RLIMIT_STACK (8 MiB) nor come within stack_guard_gap (256 pages) of the VMA below.
bool Kernel::expand_downwards(Vma& vma, Vpn addr) {
  constexpr uint64_t kStackLimitPages = (8u << 20) / 4096, kGuardGap = 256;
  if (vma.vm_end - addr > kStackLimitPages) return false;
  Vma* prev = vma.vm_mm->vmas.Prev(&vma);
  if (prev && addr < prev->vm_end + kGuardGap) return false;
  if (!vma.anon_vma && scheme_.anon_vma_prepare(vma)) return false;
  vma_set_range(vma, addr, vma.vm_end, vma.vm_pgoff - (vma.vm_start - addr));
  return true;
}

// Models __mm_populate() / populate_vma_page_range(): private writable VMAs are
// populated with write faults, everything else with read faults; inaccessible VMAs
// stop the population (errors are ignored by mmap).
void Kernel::mm_populate(Mm& mm, Vpn start, Vpn end) {
  Vpn addr = start;
  while (addr < end) {
    Vma* vma = mm.vmas.FindFrom(addr);
    if (!vma || vma->vm_start >= end) return;
    if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
      addr = vma->vm_end;
      continue;
    }
    if (!(vma->vm_flags & VM_ACCESS_FLAGS)) return;
    addr = std::max(addr, vma->vm_start);
    bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
    Vpn stop = std::min(end, vma->vm_end);
    for (; addr < stop; ++addr) {
      Pfn pte = mm.pt.Get(addr);
      // GUP only faults when the PTE does not already allow the access.
      if (pte != kNoPfn) {
        if (!write) continue;
        if (pte != kZeroPfn) {
          const Folio& f = folios().Get(pte);
          if (f.kind == FolioKind::kAnon && f.anon_exclusive) continue;
        }
      }
      if (user_access(mm, addr, write) != Touch::kOk) return;
    }
  }
}

}  // namespace rmaplab
