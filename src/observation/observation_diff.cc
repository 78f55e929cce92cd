// FirstDifference: the spec's equality rule ("The observation", last paragraph).
//
// Compared: format; scenario by base name only; the number of observation points and
// then each point pairwise (label, line, processes pairwise in order, kernel counts);
// errors as an ordered list. Not compared: source, walks, kernel counts under names only
// one side reports, and kernel counts at all when either side has no `kernel`.
//
// "First" is in script order: error entries are compared interleaved with the points,
// each entry at or before a point's line (side A's) being compared before that point, so
// that a refused statement is reported before the observations it went on to change.
//
// Messages name the observation point (1-based index, label, line), the process, the
// address (hex, arena pages), the field and both sides' values, using the given names.

#include <climits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "observation/kernel_order.h"
#include "rmaplab/observation.h"

namespace rmaplab {
namespace {

using Result = std::optional<std::string>;

// How many VMAs a VMA-count message lists per side before eliding the rest.
constexpr size_t kMaxListedVmas = 16;

struct Names {
  const std::string& a;
  const std::string& b;
};

// "<subject> differs: A has <va>, B has <vb>".
template <typename T>
std::string Differs(const std::string& subject, const T& va, const T& vb, const Names& n) {
  return fmt::format("{} differs: {} has {}, {} has {}", subject, n.a, va, n.b, vb);
}

std::string Hex(uint64_t v) { return fmt::format("{:#x}", v); }

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Label(const std::optional<std::string>& label) {
  return label ? "'" + *label + "'" : "no label";
}

// "observation #2 'child-copied' (line 9)" or "observation #1 (unlabelled, line 8)".
std::string PointName(const ObsPoint& p, size_t index) {
  if (p.label) return fmt::format("observation #{} '{}' (line {})", index + 1, *p.label, p.line);
  return fmt::format("observation #{} (unlabelled, line {})", index + 1, p.line);
}

std::string DescribeVma(const ObsVma& v) {
  return fmt::format("{}-{} {} {}{}", Hex(v.start), Hex(v.end), v.prot, v.shared ? "shared " : "",
                     v.backing);
}

std::string DescribeVmas(const std::vector<ObsVma>& vmas) {
  std::string out = "[";
  for (size_t i = 0; i < vmas.size() && i < kMaxListedVmas; ++i) {
    if (i) out += ", ";
    out += DescribeVma(vmas[i]);
  }
  if (vmas.size() > kMaxListedVmas) {
    out += fmt::format(", ... ({} more)", vmas.size() - kMaxListedVmas);
  }
  return out + "]";
}

std::string DescribePage(const ObsPage& p) {
  return fmt::format("frame {}, {}, mapcount {}, {}", p.frame, p.type, p.mapcount,
                     p.exclusive ? "exclusive" : "not exclusive");
}

std::string DescribeError(const ObsError& e) {
  std::string out = fmt::format("line {} {}", e.line, e.op);
  if (!e.errno_name.empty()) out += " " + e.errno_name;
  if (!e.signal_name.empty()) out += " " + e.signal_name;
  return out;
}

std::string ProcessNames(const std::vector<ObsProcess>& processes) {
  std::string out = "[";
  for (size_t i = 0; i < processes.size(); ++i) out += (i ? ", " : "") + processes[i].name;
  return out + "]";
}

std::string PointNames(const std::vector<ObsPoint>& points) {
  std::string out = "[";
  for (size_t i = 0; i < points.size(); ++i) {
    out += (i ? ", " : "") + (points[i].label ? *points[i].label : "(unlabelled)");
  }
  return out + "]";
}

Result DiffVmas(const ObsProcess& pa, const ObsProcess& pb, const std::string& where,
                const Names& n) {
  if (pa.vmas.size() != pb.vmas.size()) {
    return fmt::format("{}: VMA count differs: {} has {} {}, {} has {} {}", where, n.a,
                       pa.vmas.size(), DescribeVmas(pa.vmas), n.b, pb.vmas.size(),
                       DescribeVmas(pb.vmas));
  }
  for (size_t i = 0; i < pa.vmas.size(); ++i) {
    const ObsVma& va = pa.vmas[i];
    const ObsVma& vb = pb.vmas[i];
    if (va == vb) continue;
    std::string subject = fmt::format("{}, VMA #{} {}: ", where, i + 1, DescribeVma(va));
    if (va.start != vb.start) return Differs(subject + "start", Hex(va.start), Hex(vb.start), n);
    if (va.end != vb.end) return Differs(subject + "end", Hex(va.end), Hex(vb.end), n);
    if (va.prot != vb.prot) return Differs(subject + "prot", va.prot, vb.prot, n);
    if (va.shared != vb.shared) return Differs(subject + "shared", va.shared, vb.shared, n);
    return Differs(subject + "backing", va.backing, vb.backing, n);
  }
  return std::nullopt;
}

Result DiffPages(const ObsProcess& pa, const ObsProcess& pb, const std::string& where,
                 const Names& n) {
  // Presence first: the lowest address present on one side only.
  std::set<uint64_t> addrs_a, addrs_b;
  for (const ObsPage& p : pa.pages) addrs_a.insert(p.addr);
  for (const ObsPage& p : pb.pages) addrs_b.insert(p.addr);
  auto ia = addrs_a.begin();
  auto ib = addrs_b.begin();
  while (ia != addrs_a.end() || ib != addrs_b.end()) {
    bool only_a = ib == addrs_b.end() || (ia != addrs_a.end() && *ia < *ib);
    bool only_b = ia == addrs_a.end() || (ib != addrs_b.end() && *ib < *ia);
    if (only_a || only_b) {
      uint64_t addr = only_a ? *ia : *ib;
      const ObsProcess& side = only_a ? pa : pb;
      const ObsPage* page = nullptr;
      for (const ObsPage& p : side.pages) {
        if (p.addr == addr) page = &p;
      }
      return fmt::format("{}, page {}: present in {} only ({}); {} has {} pages, {} has {}", where,
                         Hex(addr), only_a ? n.a : n.b, DescribePage(*page), n.a, pa.pages.size(),
                         n.b, pb.pages.size());
    }
    ++ia;
    ++ib;
  }
  // Same address sets. Lists out of order or with duplicate addresses are compared as
  // they stand.
  if (pa.pages.size() != pb.pages.size()) {
    return Differs(where + ": page count (duplicate addresses)", pa.pages.size(), pb.pages.size(),
                   n);
  }
  for (size_t i = 0; i < pa.pages.size(); ++i) {
    const ObsPage& a = pa.pages[i];
    const ObsPage& b = pb.pages[i];
    if (a.addr != b.addr) {
      return Differs(fmt::format("{}: page #{} address (order)", where, i + 1), Hex(a.addr),
                     Hex(b.addr), n);
    }
    std::string subject = fmt::format("{}, page {}: ", where, Hex(a.addr));
    if (a.frame != b.frame) return Differs(subject + "frame", a.frame, b.frame, n);
    if (a.type != b.type) return Differs(subject + "type", a.type, b.type, n);
    if (a.mapcount != b.mapcount) return Differs(subject + "mapcount", a.mapcount, b.mapcount, n);
    if (a.exclusive != b.exclusive) {
      return Differs(subject + "exclusive", a.exclusive, b.exclusive, n);
    }
  }
  return std::nullopt;
}

Result DiffProcesses(const ObsPoint& a, const ObsPoint& b, const std::string& point,
                     const Names& n) {
  if (a.processes.size() != b.processes.size()) {
    return fmt::format("{}: process count differs: {} has {} {}, {} has {} {}", point, n.a,
                       a.processes.size(), ProcessNames(a.processes), n.b, b.processes.size(),
                       ProcessNames(b.processes));
  }
  for (size_t i = 0; i < a.processes.size(); ++i) {
    const ObsProcess& pa = a.processes[i];
    const ObsProcess& pb = b.processes[i];
    if (pa.name != pb.name) {
      return Differs(fmt::format("{}, process #{}: name", point, i + 1), pa.name, pb.name, n);
    }
    std::string where = fmt::format("{}, process {}", point, pa.name);
    if (pa.alive != pb.alive) return Differs(where + ": alive", pa.alive, pb.alive, n);
    if (Result d = DiffVmas(pa, pb, where, n)) return d;
    if (Result d = DiffPages(pa, pb, where, n)) return d;
  }
  return std::nullopt;
}

Result DiffKernel(const ObsPoint& a, const ObsPoint& b, const std::string& point, const Names& n) {
  if (!a.kernel || !b.kernel) return std::nullopt;
  for (const std::string& name : observation_internal::KernelNamesInOrder(*a.kernel)) {
    auto other = b.kernel->find(name);
    if (other == b.kernel->end()) continue;
    const ObsCount& ca = a.kernel->at(name);
    const ObsCount& cb = other->second;
    std::string subject = fmt::format("{}, kernel {}.", point, name);
    if (ca.alloc != cb.alloc) return Differs(subject + "alloc", ca.alloc, cb.alloc, n);
    if (ca.free != cb.free) return Differs(subject + "free", ca.free, cb.free, n);
  }
  return std::nullopt;
}

Result DiffPoint(const ObsPoint& a, const ObsPoint& b, size_t index, const Names& n) {
  std::string point = PointName(a, index);
  if (a.label != b.label) return Differs(point + ": label", Label(a.label), Label(b.label), n);
  if (a.line != b.line) return Differs(point + ": line", a.line, b.line, n);
  if (Result d = DiffProcesses(a, b, point, n)) return d;
  return DiffKernel(a, b, point, n);
}

// Compares error entries from *next on while either side's entry lies at or before
// `line`, advancing *next.
Result DiffErrorsUpTo(const std::vector<ObsError>& a, const std::vector<ObsError>& b, int line,
                      size_t* next, const Names& n) {
  for (size_t& i = *next;
       (i < a.size() && a[i].line <= line) || (i < b.size() && b[i].line <= line); ++i) {
    std::string counts;
    if (a.size() != b.size()) {
      counts = fmt::format("{} has {} entries, {} has {}", n.a, a.size(), n.b, b.size());
    }
    if (i >= a.size() || i >= b.size()) {
      bool missing_in_a = i >= a.size();
      return fmt::format("errors: {}; first missing in {}: {}", counts, missing_in_a ? n.a : n.b,
                         DescribeError(missing_in_a ? b[i] : a[i]));
    }
    if (a[i] != b[i]) {
      std::string message = Differs(fmt::format("errors: entry {}", i + 1), DescribeError(a[i]),
                                    DescribeError(b[i]), n);
      return counts.empty() ? message : message + " (" + counts + ")";
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FirstDifference(const Observation& a, const Observation& b,
                                           const std::string& name_a, const std::string& name_b) {
  const Names n{name_a, name_b};
  if (a.format != b.format) return Differs("format", a.format, b.format, n);
  if (BaseName(a.scenario) != BaseName(b.scenario)) {
    return Differs("scenario", BaseName(a.scenario), BaseName(b.scenario), n);
  }
  if (a.observations.size() != b.observations.size()) {
    return fmt::format("observation count differs: {} has {} {}, {} has {} {}", n.a,
                       a.observations.size(), PointNames(a.observations), n.b,
                       b.observations.size(), PointNames(b.observations));
  }
  size_t next_error = 0;
  for (size_t i = 0; i < a.observations.size(); ++i) {
    const ObsPoint& pa = a.observations[i];
    if (Result d = DiffErrorsUpTo(a.errors, b.errors, pa.line, &next_error, n)) return d;
    if (Result d = DiffPoint(pa, b.observations[i], i, n)) return d;
  }
  return DiffErrorsUpTo(a.errors, b.errors, INT_MAX, &next_error, n);
}

}  // namespace rmaplab
