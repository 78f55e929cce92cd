// mprotect: mm/mprotect.c do_mprotect_pkey(), mprotect_fixup().
#include <algorithm>

#include "core/kernel.h"

namespace rmaplab {

// Models mprotect_fixup(): VM_ACCOUNT rules, then vma_modify_flags() and the new flags.
// Differs: PTE protections are not stored (page_table.h), so change_protection() has
// nothing to do.
int Kernel::mprotect_fixup(Vma& vma, Vma** pprev, Vpn start, Vpn end, VmFlags newflags) {
  VmFlags oldflags = vma.vm_flags;
  if (newflags == oldflags) {
    *pprev = &vma;
    return 0;
  }
  if (newflags & VM_WRITE) {
    if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE)))
      newflags |= VM_ACCOUNT;  // a private mapping becomes writable: charge it
  } else if ((oldflags & VM_ACCOUNT) && vma.is_anonymous() && !vma.anon_vma) {
    newflags &= ~VM_ACCOUNT;  // unfaulted anonymous memory: the charge is returned
  }
  int err = 0;
  Vma* res = vma_modify_flags(*pprev, vma, start, end, newflags, &err);
  if (!res) return err;
  *pprev = res;
  res->vm_flags = newflags;
  return 0;
}

// Models do_mprotect_pkey() without pkeys: a leading hole is -ENOMEM before anything is
// done; a later hole stops the walk with -ENOMEM, keeping what was already changed.
int Kernel::do_mprotect(Mm& mm, Vpn start, uint64_t len, VmFlags prot_bits) {
  if (len == 0) return 0;
  Vpn end = start + len;
  Vma* vma = mm.vmas.FindIntersection(start, end);
  if (!vma) return -ENOMEM;
  if (vma->vm_start > start) return -ENOMEM;
  Vma* prev = start > vma->vm_start ? vma : mm.vmas.Prev(vma);
  Vpn nstart = start, tmp = vma->vm_start;
  int error = 0;
  while (vma && vma->vm_start < end) {
    if (vma->vm_start != tmp) {
      error = -ENOMEM;
      break;
    }
    VmFlags newflags = prot_bits | (vma->vm_flags & ~VM_ACCESS_FLAGS);
    // newflags >> 4 puts VM_MAY* in place of VM_*.
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
      error = -EACCES;
      break;
    }
    tmp = std::min(vma->vm_end, end);
    error = mprotect_fixup(*vma, &prev, nstart, tmp, newflags);
    if (error) break;
    tmp = prev->vm_end;  // vma_iter_end(): the end of the (possibly merged) VMA
    nstart = tmp;
    vma = mm.vmas.FindFrom(tmp);
  }
  if (!error && tmp < end) error = -ENOMEM;
  return error;
}

}  // namespace rmaplab
