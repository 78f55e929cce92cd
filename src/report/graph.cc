#include "report/graph.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/folio.h"
#include "core/mm.h"
#include "core/model.h"
#include "rmap/scheme.h"
#include "rmaplab/scenario.h"

namespace rmaplab {
namespace {

std::string Esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') { o += "\\n"; continue; }
    o += c;
  }
  return o;
}

std::string ProtText(VmFlags f) {
  std::string s = "---";
  if (f & VM_READ) s[0] = 'r';
  if (f & VM_WRITE) s[1] = 'w';
  if (f & VM_EXEC) s[2] = 'x';
  return s + ((f & VM_MAYSHARE) ? 's' : 'p');
}

}  // namespace

std::string GraphDot(const Model& model, const GraphOptions& o) {
  const Scheme& scheme = model.scheme();
  const Vpn base = o.arena_only ? kArenaBase / kPageSize : 0;
  std::ostringstream out;
  out << "digraph rmap {\n"
      << "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, nodesep=0.25, ranksep=0.9"
      << (o.title.empty() ? "" : ", labelloc=t, label=\"" + Esc(o.title) + "\"") << "];\n"
      << "  node [fontname=\"Helvetica\", fontsize=10];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  // Processes: one cluster each, its VMAs in address order.
  std::set<std::string> vma_nodes;
  int cluster = 0;
  for (const auto& mmp : model.mms()) {
    const Mm& mm = *mmp;
    out << fmt::format("  subgraph cluster_{} {{\n    label=\"{}{}\"; style=rounded; color=\"#888888\";\n",
                       cluster++, Esc(mm.name), mm.alive ? "" : " (exited)");
    std::string prev;
    for (const auto& [start, v] : mm.vmas) {
      if (o.arena_only && (v->vm_start < base || v->vm_start >= base + kArenaPages)) continue;
      std::string id = fmt::format("vma_{}", v->id);
      std::string backing = !v->vm_file ? "anon"
                            : v->vm_file->shmem_anon ? "shmem"
                                                     : fmt::format("{}@{}", v->vm_file->name, v->vm_pgoff);
      std::string state = scheme.DescribeVma(*v);
      out << fmt::format("    {} [shape=box, style=\"rounded,filled\", fillcolor=\"{}\", "
                         "label=\"VMA #{}\\n[{}, {}) {}\\n{}{}\"];\n",
                         id, v->anon_vma ? "#dbe9f6" : "#f2f2f2", v->id, v->vm_start - base,
                         v->vm_end - base, ProtText(v->vm_flags), Esc(backing),
                         state.empty() ? "" : "\\n" + Esc(state));
      if (!prev.empty()) out << fmt::format("    {} -> {} [style=invis];\n", prev, id);
      prev = id;
      vma_nodes.insert(id);
    }
    if (prev.empty()) out << fmt::format("    empty_{} [shape=plaintext, label=\"no VMAs\"];\n", cluster);
    out << "  }\n";
  }
  // The scheme's objects and links.
  SchemeGraph g;
  scheme.DescribeGraph(&g);
  for (const auto& n : g.nodes)
    out << fmt::format("  \"{}\" [shape={}, style=filled, fillcolor=\"{}\", label=\"{}\"];\n",
                       Esc(n.id), n.shape.empty() ? "ellipse" : n.shape,
                       n.color.empty() ? "#fde9c9" : n.color, Esc(n.label));
  auto endpoint = [&](const std::string& id) {
    // VMAs are named "vma:<id>" by schemes; other endpoints are scheme nodes.
    if (id.rfind("vma:", 0) == 0) return "vma_" + id.substr(4);
    return "\"" + Esc(id) + "\"";
  };
  for (const auto& e : g.edges) {
    std::string from = endpoint(e.from), to = endpoint(e.to);
    if ((e.from.rfind("vma:", 0) == 0 && !vma_nodes.count(from)) ||
        (e.to.rfind("vma:", 0) == 0 && !vma_nodes.count(to)))
      continue;  // a VMA outside the picture
    out << fmt::format("  {} -> {} [label=\"{}\", style={}{}];\n", from, to, Esc(e.label),
                       e.style.empty() ? "solid" : e.style,
                       e.color.empty() ? "" : ", color=\"" + e.color + "\"");
  }
  // Anon folios: each mapped page of each process points to its folio; the folio to its
  // mapping (the scheme's object).
  if (o.folios) {
    std::set<Pfn> drawn;
    for (const auto& mmp : model.mms()) {
      for (const auto& [start, v] : mmp->vmas) {
        if (!vma_nodes.count(fmt::format("vma_{}", v->id))) continue;
        for (auto [addr, pfn] : mmp->pt.Collect(v->vm_start, v->vm_end)) {
          if (pfn == kZeroPfn) continue;
          const Folio& f = model.folios().Get(pfn);
          if (f.kind != FolioKind::kAnon) continue;
          std::string fid = fmt::format("folio_{}", pfn);
          if (drawn.insert(pfn).second) {
            out << fmt::format("  {} [shape=note, style=filled, fillcolor=\"#e8f5e0\", "
                               "label=\"folio {}\\nindex {}  mapcount {}\"];\n",
                               fid, pfn, f.index, f.mapcount);
            std::string m = scheme.FolioMappingNode(f);
            if (!m.empty())
              out << fmt::format("  {} -> \"{}\" [style=dotted, label=\"mapping\"];\n", fid, Esc(m));
          }
          out << fmt::format("  vma_{} -> {} [style=dotted, arrowhead=none, color=\"#7aa36a\", "
                             "label=\"{}\"];\n",
                             v->id, fid, addr - base);
        }
      }
    }
  }
  out << "}\n";
  return out.str();
}

std::optional<std::string> RenderSvg(const std::string& dot, std::string* error) {
  char in[] = "/tmp/rmaplab-graph-XXXXXX";
  int fd = mkstemp(in);
  if (fd < 0) {
    *error = "cannot create a temporary file";
    return std::nullopt;
  }
  if (write(fd, dot.data(), dot.size()) != static_cast<ssize_t>(dot.size())) {
    close(fd);
    unlink(in);
    *error = "cannot write a temporary file";
    return std::nullopt;
  }
  close(fd);
  std::string cmd = fmt::format("dot -Tsvg '{}' 2>&1", in);
  FILE* p = popen(cmd.c_str(), "r");
  std::string svg;
  if (p) {
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) svg.append(buf, n);
  }
  int st = p ? pclose(p) : -1;
  unlink(in);
  if (!p || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || svg.find("<svg") == std::string::npos) {
    *error = WIFEXITED(st) && WEXITSTATUS(st) == 127
                 ? "Graphviz `dot` is not installed (apt-get install graphviz)"
                 : "dot failed: " + svg.substr(0, 200);
    return std::nullopt;
  }
  return svg;
}

}  // namespace rmaplab
