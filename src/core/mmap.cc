// mmap and munmap: mm/mmap.c do_mmap(), mm/vma.c __mmap_region(), do_vmi_munmap().
#include <cassert>
#include <memory>

#include "core/kernel.h"

namespace rmaplab {

// Models vms_gather_munmap_vmas(): split the first and last VMA at the range ends (the
// piece outside the range is the new struct) and detach every VMA inside [start,end).
int Kernel::gather_munmap_vmas(Mm& mm, Vpn start, Vpn end, std::vector<Vma*>* detached) {
  Vma* vma = mm.vmas.FindIntersection(start, end);
  if (!vma) return 0;
  int err = 0;
  if (start > vma->vm_start) {
    // Splitting into three would exceed the limit: -ENOMEM (the unchecked split below).
    if (end < vma->vm_end && mm.map_count() >= kMaxMapCount) return -ENOMEM;
    if (!split_vma(*vma, start, /*new_below=*/true, /*checked=*/false, &err)) return err;
  }
  while (vma && vma->vm_start < end) {
    if (vma->vm_end > end) {
      if (!split_vma(*vma, end, /*new_below=*/false, /*checked=*/false, &err)) return err;
    }
    detached->push_back(vma);
    vma = mm.vmas.Next(vma);
  }
  for (Vma* v : *detached) mm.vmas.Erase(v);
  return 0;
}

// Models vms_complete_munmap_vmas(): unmap_vmas() then free_pgtables()/remove_vma().
void Kernel::complete_munmap_vmas(Mm& mm, std::vector<Vma*>& detached, Vpn start, Vpn end) {
  for (Vma* v : detached) zap_range(*v, v->vm_start, v->vm_end);
  for (Vma* v : detached) remove_vma(v);
  detached.clear();
}

// Models do_vmi_munmap(): page-aligned by construction in the model.
int Kernel::do_munmap(Mm& mm, Vpn start, uint64_t len) {
  if (len == 0) return -EINVAL;
  std::vector<Vma*> detached;
  int err = gather_munmap_vmas(mm, start, start + len, &detached);
  if (err) return err;
  complete_munmap_vmas(mm, detached, start, start + len);
  return 0;
}

// Models do_brk_flags(): expand-only merge with the heap VMA, else a new VMA.
int Kernel::do_brk_flags(Mm& mm, Vma* brkvma, Vpn addr, uint64_t len) {
  VmFlags flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
  if (brkvma && brkvma->vm_end == addr) {
    VmaMergeStruct vmg;
    vmg.mm = &mm;
    vmg.prev = brkvma;
    vmg.start = addr;
    vmg.end = addr + len;
    vmg.pgoff = addr;
    vmg.vm_flags = flags;
    vmg.just_expand = true;
    if (vma_merge_new_range(vmg)) return 0;
    if (vmg.state == VmaMergeStruct::State::kError) return vmg.error;
  }
  Vma* v = vm_area_alloc(mm);
  v->vm_start = addr;
  v->vm_end = addr + len;
  v->vm_pgoff = addr;
  v->vm_flags = flags;
  mm.vmas.Insert(v);
  return 0;
}

// Models do_mmap() + __mmap_region() for the scenario language's mmap forms.
// Differs: no address-space or commit limits (vm_enough_memory / may_expand_vm never
// refuse); the file is always opened read-write.
int Kernel::do_mmap(Mm& mm, const MmapArgs& a) {
  if (a.len == 0) return -EINVAL;
  if (a.file && a.pgoff + a.len < a.pgoff) return -EOVERFLOW;
  if (mm.map_count() > kMaxMapCount) return -ENOMEM;
  Vpn start = a.addr, end = a.addr + a.len;
  if (!a.fixed && mm.vmas.FindIntersection(start, end)) return -EEXIST;

  VmFlags flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (a.read) flags |= VM_READ;
  if (a.write) flags |= VM_WRITE;
  if (a.exec) flags |= VM_EXEC;
  Pgoff pgoff = a.pgoff;
  if (a.shared) flags |= VM_SHARED | VM_MAYSHARE;
  if (!a.file) pgoff = a.shared ? 0 : start;  // private anon: pgoff = virtual page
  if (a.noreserve) flags |= VM_NORESERVE;
  if (a.stack) flags |= VM_NOHUGEPAGE;
  if (a.growsdown) flags |= VM_GROWSDOWN;
  if (a.locked) flags |= VM_LOCKED;
  // accountable_mapping(): private writable without MAP_NORESERVE.
  if ((flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE) flags |= VM_ACCOUNT;

  // MAP_FIXED: unmap what is there first (the pieces outside stay as neighbours).
  std::vector<Vma*> detached;
  if (int err = gather_munmap_vmas(mm, start, end, &detached)) return err;
  complete_munmap_vmas(mm, detached, start, end);

  Vma* prev = mm.vmas.PrevOf(start);
  Vma* next = mm.vmas.FindFrom(start);
  Vma* vma = nullptr;
  // A shared anonymous mapping gets its shmem file only after the merge attempt
  // (shmem_zero_setup()), so vmg.file is null and it can never merge.
  File* file = a.file;
  if (prev || next) {
    VmaMergeStruct vmg;
    vmg.mm = &mm;
    vmg.prev = prev;
    vmg.next = next;
    vmg.start = start;
    vmg.end = end;
    vmg.pgoff = pgoff;
    vmg.vm_flags = flags;
    vmg.file = file;
    vma = vma_merge_new_range(vmg);
    if (!vma && vmg.state == VmaMergeStruct::State::kError) return vmg.error;
  }
  if (!vma) {
    vma = vm_area_alloc(mm);
    vma->vm_start = start;
    vma->vm_end = end;
    vma->vm_pgoff = pgoff;
    vma->vm_flags = flags;
    vma->vm_file = file;
    if (a.shared && !a.file) {
      auto shm = std::make_unique<File>();  // shmem_zero_setup()
      shm->name = "";
      shm->shmem_anon = true;
      shm->size_pages = a.len;
      shm->page_cache.assign(a.len, kNoPfn);
      shm->id = m_.files_.size();
      vma->vm_file = shm.get();
      m_.files_.push_back(std::move(shm));
    }
    mm.vmas.Insert(vma);
  }
  if (a.populate || a.locked) mm_populate(mm, start, end);
  return 0;
}

}  // namespace rmaplab
