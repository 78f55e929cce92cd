// Basic vocabulary of the model core: page numbers, VMA flags, errno values.
//
// The model works in virtual page numbers (vpn = address >> PAGE_SHIFT). A scenario's
// arena page N is vpn (kArenaBase >> 12) + N; traces use real addresses.
#pragma once

#include <cerrno>
#include <cstdint>

namespace rmaplab {

using Vpn = uint64_t;    // virtual page number
using Pgoff = uint64_t;  // page offset (file offset in pages, or vpn for private anon)
using Pfn = uint32_t;    // model frame number; 0 = none, 1 = the shared zero page

inline constexpr Pfn kNoPfn = 0;
inline constexpr Pfn kZeroPfn = 1;

// vm_flags bits. Values follow include/linux/mm.h (x86_64) so that dumps read naturally;
// only bits that influence the model are listed.
using VmFlags = uint64_t;
inline constexpr VmFlags VM_READ = 0x1;
inline constexpr VmFlags VM_WRITE = 0x2;
inline constexpr VmFlags VM_EXEC = 0x4;
inline constexpr VmFlags VM_SHARED = 0x8;
inline constexpr VmFlags VM_MAYREAD = 0x10;
inline constexpr VmFlags VM_MAYWRITE = 0x20;
inline constexpr VmFlags VM_MAYEXEC = 0x40;
inline constexpr VmFlags VM_MAYSHARE = 0x80;
inline constexpr VmFlags VM_GROWSDOWN = 0x100;
inline constexpr VmFlags VM_PFNMAP = 0x400;
inline constexpr VmFlags VM_LOCKED = 0x2000;
inline constexpr VmFlags VM_IO = 0x4000;
inline constexpr VmFlags VM_SEQ_READ = 0x8000;
inline constexpr VmFlags VM_RAND_READ = 0x10000;
inline constexpr VmFlags VM_DONTCOPY = 0x20000;
inline constexpr VmFlags VM_DONTEXPAND = 0x40000;
inline constexpr VmFlags VM_LOCKONFAULT = 0x80000;
inline constexpr VmFlags VM_ACCOUNT = 0x100000;
inline constexpr VmFlags VM_NORESERVE = 0x200000;
inline constexpr VmFlags VM_HUGETLB = 0x400000;
inline constexpr VmFlags VM_WIPEONFORK = 0x2000000;
inline constexpr VmFlags VM_DONTDUMP = 0x4000000;
inline constexpr VmFlags VM_SOFTDIRTY = 0x8000000;
inline constexpr VmFlags VM_MIXEDMAP = 0x10000000;
inline constexpr VmFlags VM_HUGEPAGE = 0x20000000;
inline constexpr VmFlags VM_NOHUGEPAGE = 0x40000000;
inline constexpr VmFlags VM_MERGEABLE = 0x80000000;

inline constexpr VmFlags VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
inline constexpr VmFlags VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;
inline constexpr VmFlags VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
// Bits ignored when comparing flags for a merge (VM_IGNORE_MERGE in 6.18).
inline constexpr VmFlags VM_IGNORE_MERGE = VM_SOFTDIRTY;

// sysctl vm.max_map_count default.
inline constexpr int kMaxMapCount = 65530;

// Kernel results are 0 or a negative errno, as in the kernel.
inline const char* ErrnoName(int err) {
  switch (err < 0 ? -err : err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "EUNKNOWN";
  }
}

// Outcome of a user access (read or write of one byte).
enum class Touch { kOk, kSigsegv, kSigbus };

}  // namespace rmaplab
