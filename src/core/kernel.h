// The model's kernel internals (core only; schemes and executors use model.h).
//
// class Kernel groups the functions of mm/vma.c, mm/mmap.c, mm/memory.c, mm/mremap.c,
// mm/mprotect.c and mm/madvise.c that the model implements. Names follow the kernel so
// that each piece can be read side by side with its original; each says in one comment
// line which function it models and where it deliberately differs.
#pragma once

#include <vector>

#include "core/model.h"
#include "rmap/scheme.h"

namespace rmaplab {

// Models struct vma_merge_struct: inputs first, then internal state, then the outcome.
struct VmaMergeStruct {
  Mm* mm = nullptr;
  Vma* prev = nullptr;
  Vma* middle = nullptr;  // the existing VMA being modified (null for a new range)
  Vma* next = nullptr;
  Vpn start = 0, end = 0;
  Pgoff pgoff = 0;
  VmFlags vm_flags = 0;
  File* file = nullptr;
  AnonVmaBase* anon_vma = nullptr;
  const Vma* copied_from = nullptr;  // mremap copy source (vma_merge_copied_range)
  bool just_expand = false;          // brk-style: never merge with next
  // ---- internal ----
  Vma* target = nullptr;
  bool remove_middle = false, remove_next = false;
  bool adjust_middle_start = false, adjust_next_start = false;
  // ---- outcome ----
  enum class State { kNoMerge, kSuccess, kError } state = State::kNoMerge;
  int error = 0;
};

class Kernel {
 public:
  explicit Kernel(Model& model) : m_(model), scheme_(*model.scheme_) {}

  // ---- VMA structs (kernel/fork.c, mm/vma.c) -----------------------------------------
  Vma* vm_area_alloc(Mm& mm);
  Vma* vm_area_dup(const Vma& orig);       // copies everything incl. anon_vma pointer
  void vm_area_free(Vma* vma);             // scheme hook + delete
  // vma_set_range() with the anon_vma interval tree pre/post updates and re-keying.
  void vma_set_range(Vma& vma, Vpn start, Vpn end, Pgoff pgoff);
  // Removes a detached VMA: unlink_anon_vmas() (if linked) then vm_area_free().
  void remove_vma(Vma* vma);
  // dup_anon_vma(): give dst src's anon_vma (and chain) if dst has none.
  int dup_anon_vma(Vma& dst, Vma& src);
  // __split_vma(): split at addr; new_below: the new struct is the lower part.
  // Returns the new VMA or null with *err set. `checked` models split_vma()'s
  // max_map_count check.
  Vma* split_vma(Vma& vma, Vpn addr, bool new_below, bool checked, int* err);

  // ---- merging (mm/vma.c) ------------------------------------------------------------
  bool is_mergeable_vma(const VmaMergeStruct& vmg, bool merge_next) const;
  bool can_vma_merge_left(const VmaMergeStruct& vmg) const;
  bool can_vma_merge_right(const VmaMergeStruct& vmg, bool can_merge_left) const;
  Vma* vma_merge_new_range(VmaMergeStruct& vmg);
  Vma* vma_merge_existing_range(VmaMergeStruct& vmg);
  int vma_expand(VmaMergeStruct& vmg);
  // vma_modify(): merge, else split so that the returned VMA spans exactly [start,end).
  Vma* vma_modify(VmaMergeStruct& vmg, int* err);
  // vma_modify_flags(): vma_modify() for a flags change of [start,end) of vma.
  Vma* vma_modify_flags(Vma* prev, Vma& vma, Vpn start, Vpn end, VmFlags new_flags, int* err);

  // ---- pages (mm/memory.c, mm/rmap.c) ------------------------------------------------
  // zap_page_range_single(): unmap every PTE of [start,end) inside vma.
  void zap_range(Vma& vma, Vpn start, Vpn end);
  // Drops one PTE mapping of pfn at (vma, addr) (folio_remove_rmap_pte + put).
  void remove_rmap(Vma& vma, Vpn addr, Pfn pfn);
  // Maps pfn at (vma, addr) for a file/shmem or existing anon folio (mapcount++).
  void add_rmap(Vma& vma, Vpn addr, Pfn pfn);
  // handle_mm_fault() for one user access.
  Touch handle_mm_fault(Mm& mm, Vpn addr, bool write);
  // A user load or store: handle_mm_fault() if needed, then the store dirties the PTE.
  Touch user_access(Mm& mm, Vpn addr, bool write);
  // The page-cache page of file at index (allocating a shmem page for a hole).
  Pfn filemap_get_page(File& file, Pgoff index);
  // do_fault_around() + filemap_map_pages() for a read fault at addr.
  void do_fault_around(Vma& vma, Vpn addr);
  // populate_vma_page_range() over [start,end) (MAP_POPULATE).
  void mm_populate(Mm& mm, Vpn start, Vpn end);

  // ---- munmap (mm/vma.c) -------------------------------------------------------------
  // vms_gather_munmap_vmas(): split at the ends and detach every VMA in [start,end).
  // Returns 0 or -errno; on success *detached holds the detached VMAs in order.
  int gather_munmap_vmas(Mm& mm, Vpn start, Vpn end, std::vector<Vma*>* detached);
  // vms_complete_munmap_vmas(): zap their pages, unlink and free them.
  void complete_munmap_vmas(Mm& mm, std::vector<Vma*>& detached, Vpn start, Vpn end);
  // do_vmi_munmap().
  int do_munmap(Mm& mm, Vpn start, uint64_t len);
  // do_brk_flags(): grow the heap by [addr, addr+len) after brkvma.
  int do_brk_flags(Mm& mm, Vma* brkvma, Vpn addr, uint64_t len);
  // expand_downwards(): a VM_GROWSDOWN VMA grows down to addr.
  bool expand_downwards(Vma& vma, Vpn addr);

  // ---- syscalls ----------------------------------------------------------------------
  int do_mmap(Mm& mm, const MmapArgs& a);
  int do_mprotect(Mm& mm, Vpn start, uint64_t len, VmFlags prot_bits);
  int mprotect_fixup(Vma& vma, Vma** pprev, Vpn start, Vpn end, VmFlags newflags);
  int do_madvise(Mm& mm, Vpn start, uint64_t len, MadviseBehavior behavior);
  int do_mremap(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags, Vpn new_addr);
  Mm* dup_mm(Mm& parent, const std::string& name);
  void exit_mmap(Mm& mm);

  Model& model() { return m_; }
  Scheme& scheme() { return scheme_; }
  FolioPool& folios() { return m_.folios_; }
  CoreStats& stats() { return m_.stats_; }

 private:
  // mremap pieces (mremap.cc)
  int mremap_check_prep_vma(Vma* vma, Vpn addr, uint64_t old_len, uint64_t new_len, int flags);
  int mremap_to(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags, Vpn new_addr);
  int remap_move(Mm& mm, Vpn addr, uint64_t len, int flags, Vpn new_addr);
  int move_vma(Mm& mm, Vma* vma, Vpn old_addr, uint64_t old_len, Vpn new_addr,
               uint64_t new_len, bool dontunmap, Vma** new_vma_out);
  Vma* copy_vma(Vma*& vma, Vpn addr, uint64_t len, Pgoff pgoff, bool* need_rmap_locks,
                int* err);
  int madvise_vma(Vma& vma, Vma** pprev, Vpn start, Vpn end, MadviseBehavior behavior);

  Model& m_;
  Scheme& scheme_;
};

}  // namespace rmaplab
