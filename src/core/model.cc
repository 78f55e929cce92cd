#include "core/model.h"

#include <fmt/format.h>

#include <map>

#include "core/kernel.h"
#include "rmap/scheme.h"

namespace rmaplab {

Model::Model(Scheme* scheme) : scheme_(scheme) { scheme_->Attach(this); }

Model::~Model() {
  // Tear down live processes so that the scheme sees every object freed.
  for (auto& mm : mms_)
    if (mm->alive) Exit(*mm);
}

Mm* Model::NewMm(const std::string& name) {
  auto mm = std::make_unique<Mm>();
  mm->id = mms_.size();
  mm->name = name;
  if (logging_) mm->pt.set_log(&pte_log_, mm.get());
  mms_.push_back(std::move(mm));
  scheme_->mm_created(*mms_.back());
  return mms_.back().get();
}

void Model::EnableChangeLog() {
  if (logging_) return;
  logging_ = true;
  for (auto& mm : mms_) {
    mm->pt.set_log(&pte_log_, mm.get());
    for (const auto& [start, v] : mm->vmas) live_vmas_.insert(v);
  }
}

Mm* Model::Fork(Mm& parent, const std::string& child_name) {
  return Kernel(*this).dup_mm(parent, child_name);
}

void Model::Exit(Mm& mm) { Kernel(*this).exit_mmap(mm); }

File* Model::NewFile(const std::string& name, uint64_t pages) {
  auto f = std::make_unique<File>();
  f->name = name;
  f->size_pages = pages;
  f->id = files_.size();
  Kernel k(*this);
  for (Pgoff i = 0; i < pages; ++i) folios_.Get(k.filemap_get_page(*f, i)).dirty = true;
  files_.push_back(std::move(f));
  return files_.back().get();
}

int Model::Mmap(Mm& mm, const MmapArgs& args) { return Kernel(*this).do_mmap(mm, args); }

int Model::Munmap(Mm& mm, Vpn addr, uint64_t len) {
  return Kernel(*this).do_munmap(mm, addr, len);
}

int Model::Mprotect(Mm& mm, Vpn addr, uint64_t len, bool r, bool w, bool x) {
  VmFlags prot = (r ? VM_READ : 0) | (w ? VM_WRITE : 0) | (x ? VM_EXEC : 0);
  return Kernel(*this).do_mprotect(mm, addr, len, prot);
}

int Model::Mremap(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags,
                  Vpn new_addr) {
  return Kernel(*this).do_mremap(mm, addr, old_len, new_len, flags, new_addr);
}

int Model::Madvise(Mm& mm, Vpn addr, uint64_t len, MadviseBehavior behavior) {
  return Kernel(*this).do_madvise(mm, addr, len, behavior);
}

// Models the brk() syscall given the kernel's page-aligned old and new ends.
int Model::Brk(Mm& mm, Vpn old_brk, Vpn new_brk) {
  Kernel k(*this);
  if (new_brk == old_brk) return 0;
  if (new_brk < old_brk) {  // shrinking: munmap the tail
    int err = k.do_munmap(mm, new_brk, old_brk - new_brk);
    if (!err) mm.brk = new_brk;
    return err;
  }
  if (mm.vmas.FindIntersection(old_brk, new_brk)) return -ENOMEM;
  Vma* brkvma = mm.vmas.PrevOf(old_brk);  // vma_prev_limit(start_brk)
  if (brkvma && brkvma->vm_end <= mm.start_brk) brkvma = nullptr;
  int err = k.do_brk_flags(mm, brkvma, old_brk, new_brk - old_brk);
  if (!err) mm.brk = new_brk;
  return err;
}

Vma* Model::InstallVma(Mm& mm, Vpn start, Vpn end, VmFlags flags, File* file, Pgoff pgoff) {
  Kernel k(*this);
  if (mm.vmas.FindIntersection(start, end)) return nullptr;
  Vma* v = k.vm_area_alloc(mm);
  v->vm_start = start;
  v->vm_end = end;
  v->vm_flags = flags;
  v->vm_file = file;
  v->vm_pgoff = pgoff;
  mm.vmas.Insert(v);
  return v;
}

File* Model::FileByName(const std::string& name, uint64_t pages) {
  for (auto& f : files_)
    if (f->name == name && !f->shmem_anon) {
      if (f->size_pages < pages) {  // learnt later that it is longer
        Kernel k(*this);
        f->size_pages = pages;
        for (Pgoff i = 0; i < pages; ++i)
          if (i >= f->page_cache.size() || f->page_cache[i] == kNoPfn)
            folios_.Get(k.filemap_get_page(*f, i)).dirty = true;
      }
      return f.get();
    }
  return NewFile(name, pages);
}

Touch Model::Access(Mm& mm, Vpn addr, bool write) {
  return Kernel(*this).user_access(mm, addr, write);
}

Vma* Model::vma_prev(const Vma& vma) const { return vma.vm_mm->vmas.Prev(&vma); }
Vma* Model::vma_next(const Vma& vma) const { return vma.vm_mm->vmas.Next(&vma); }

bool Model::PteMapsFolio(const Mm& mm, Vpn addr, const Folio& folio) const {
  Vma* vma = mm.vmas.Find(addr);
  if (!vma) return false;
  Pfn pfn = mm.pt.Get(addr);
  return pfn != kNoPfn && pfn >= folio.pfn && pfn < folio.pfn + folio.nr_pages;
}

CoreBytes Model::MemoryBytes() const {
  CoreBytes b;
  b.folios = folios_.bytes();
  for (const auto& mm : mms_) {
    b.page_tables += mm->pt.bytes();
    b.vmas += mm->vmas.size() * (sizeof(Vma) + PageTable::kMapNodeBytes);
    b.mms += sizeof(Mm) + mm->name.capacity();
  }
  return b;
}

std::vector<std::string> Model::CheckInvariants() const {
  std::vector<std::string> bad;
  std::map<Pfn, int64_t> census;
  for (const auto& mm : mms_) {
    Vpn last_end = 0;
    bool first = true;
    for (const auto& [key, v] : mm->vmas) {
      if (key != v->vm_start)
        bad.push_back(fmt::format("mm {}: VMA #{} keyed at {:#x} but starts at {:#x}",
                                  mm->name, v->id, key, v->vm_start));
      if (v->vm_start >= v->vm_end)
        bad.push_back(fmt::format("mm {}: empty VMA #{} [{:#x},{:#x})", mm->name, v->id,
                                  v->vm_start, v->vm_end));
      if (!first && v->vm_start < last_end)
        bad.push_back(fmt::format("mm {}: VMA #{} at {:#x} overlaps its predecessor",
                                  mm->name, v->id, v->vm_start));
      if (v->vm_mm != mm.get())
        bad.push_back(fmt::format("mm {}: VMA #{} has the wrong vm_mm", mm->name, v->id));
      first = false;
      last_end = v->vm_end;
    }
    if (!mm->alive && (mm->vmas.size() || mm->pt.present()))
      bad.push_back(fmt::format("mm {}: exited but still has VMAs or PTEs", mm->name));
    uint64_t seen = 0;
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn pfn) {
      ++seen;
      Vma* v = mm->vmas.Find(addr);
      if (!v) {
        bad.push_back(fmt::format("mm {}: PTE at {:#x} outside every VMA", mm->name, addr));
        return;
      }
      if (pfn == kZeroPfn) return;
      ++census[pfn];
      const Folio& f = folios_.Get(pfn);
      if (f.kind == FolioKind::kFree)
        bad.push_back(fmt::format("mm {}: PTE at {:#x} maps a free frame", mm->name, addr));
      if (f.kind == FolioKind::kAnon && !v->anon_vma)
        bad.push_back(fmt::format("mm {}: anon page at {:#x} in VMA #{} without anon_vma",
                                  mm->name, addr, v->id));
    });
    if (seen != mm->pt.present())
      bad.push_back(fmt::format("mm {}: page table counts {} present PTEs, found {}",
                                mm->name, mm->pt.present(), seen));
  }
  folios_.ForEachLive([&](const Folio& f) {
    int64_t n = census.count(f.pfn) ? census[f.pfn] : 0;
    if (n != f.mapcount)
      bad.push_back(fmt::format("folio {}: mapcount {} but {} PTEs map it", f.pfn,
                                f.mapcount, n));
    if (f.kind == FolioKind::kAnon && (f.mapcount < 1 || !f.mapping))
      bad.push_back(fmt::format("anon folio {}: mapcount {}, mapping {}", f.pfn, f.mapcount,
                                f.mapping ? "set" : "null"));
    if (f.kind == FolioKind::kFile &&
        (!f.file || f.index >= f.file->page_cache.size() || f.file->page_cache[f.index] != f.pfn))
      bad.push_back(fmt::format("file folio {} is not in its page cache", f.pfn));
  });
  return bad;
}

}  // namespace rmaplab
