// The trace file: zstd-compressed text, one record per line (docs/trace-format.md).
#include <fmt/format.h>
#include <zstd.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <sstream>

#include "rmaplab/observation.h"
#include "trace/trace.h"

namespace rmaplab::trace {
const char* EventKindName(EventKind k) {
  switch (k) {
    case EventKind::kSyscall: return "syscall";
    case EventKind::kFork: return "fork";
    case EventKind::kExec: return "exec";
    case EventKind::kExit: return "exit";
    case EventKind::kFault: return "fault";
    case EventKind::kKmem: return "kmem";
  }
  return "?";
}

namespace {

std::string Escape(const std::string& s) {
  std::string o;
  for (char c : s) o += (c == '\n' || c == '\r') ? ' ' : c;
  return o;
}

}  // namespace

bool WriteTrace(const Trace& t, const std::string& path, std::string* error) {
  std::string out;
  out.reserve(64 + t.events.size() * 40);
  out += fmt::format("rmaplab-trace {}\n", kTraceVersion);
  out += "command";
  for (const auto& a : t.command) out += " " + fmt::format("{:?}", a);
  out += "\n";
  out += fmt::format("kernel {}\ndate {}\nthp {}\npage_size {}\nroot_pid {}\n", Escape(t.kernel),
                     Escape(t.date), Escape(t.thp), t.page_size, t.root_pid);
  out += fmt::format("zero_page {}\n", t.zero_page ? 1 : 0);
  for (const auto& [cpu, n] : t.lost_per_cpu) out += fmt::format("lost {} {}\n", cpu, n);
  for (const auto& [kind, n] : t.event_counts) out += fmt::format("count {} {}\n", kind, n);
  for (size_t i = 0; i < t.files.size(); ++i)
    out += fmt::format("file {} {} {}\n", i, t.files[i].size_pages, Escape(t.files[i].path));
  for (size_t i = 0; i < t.layouts.size(); ++i) {
    const ExecLayout& l = t.layouts[i];
    out += fmt::format("layout {} {} {} {:x} {:x} {}\n", i, l.pid, l.ts, l.start_brk, l.brk,
                       Escape(l.program));
    for (const auto& v : l.vmas)
      out += fmt::format("v {:x} {:x} {} {:x} {} {} {}\n", v.start, v.end, v.perms, v.offset,
                         v.file, v.faulted ? 1 : 0, v.name.empty() ? "-" : Escape(v.name));
    for (const auto& p : l.pages) out += fmt::format("p {:x} {}\n", p.addr, p.type);
  }
  out += "events\n";
  // Version 2: an event's time is microseconds since the previous event's (deltas compress).
  int64_t prev_us = 0;
  for (const Event& e0 : t.events) {
    Event e = e0;
    int64_t us = std::max(prev_us, static_cast<int64_t>(e0.ts / 1000));  // never backwards
    e.ts = static_cast<uint64_t>(us - prev_us);
    prev_us = us;
    switch (e.kind) {
      case EventKind::kSyscall:
        out += fmt::format("s {} {} {} {} {} {} {} {} {} {}\n", e.ts, e.pid, e.nr, e.args[0],
                           e.args[1], e.args[2], e.args[3], e.args[4], e.args[5], e.ret);
        break;
      case EventKind::kFork:
        out += fmt::format("f {} {} {} {:x}\n", e.ts, e.pid, e.child, e.clone_flags);
        break;
      case EventKind::kExec:
        out += fmt::format("x {} {} {}\n", e.ts, e.pid, e.layout);
        break;
      case EventKind::kExit:
        out += fmt::format("e {} {} {}\n", e.ts, e.pid, e.group_dead ? 1 : 0);
        break;
      case EventKind::kFault:
        out += fmt::format("t {} {} {} {:x} {}\n", e.ts, e.pid, e.user ? 'u' : 'k', e.addr,
                           e.write ? 1 : 0);
        break;
      case EventKind::kKmem:
        out += fmt::format("k {} {} {} {}\n", e.ts, e.pid, e.alloc ? 'a' : 'f',
                           e.anon_vma ? 'v' : 'c');
        break;
    }
  }
  out += "end\n";
  size_t bound = ZSTD_compressBound(out.size());
  std::string z(bound, '\0');
  size_t n = ZSTD_compress(z.data(), bound, out.data(), out.size(), 6);
  if (ZSTD_isError(n)) {
    *error = fmt::format("zstd: {}", ZSTD_getErrorName(n));
    return false;
  }
  z.resize(n);
  return WriteFileAtomic(path, z, error);
}

std::optional<Trace> ReadTrace(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return std::nullopt;
  }
  std::string z((std::istreambuf_iterator<char>(in)), {});
  return ParseTrace(z, path, error);
}

std::optional<Trace> ParseTrace(const std::string& z, const std::string& path, std::string* error,
                                uint64_t max_text) {
  // Streaming decompression: the content size need not be known.
  std::string text;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_inBuffer ib{z.data(), z.size(), 0};
  std::string chunk(1 << 16, '\0');
  size_t ret = 1;
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    ret = ZSTD_decompressStream(dctx, &ob, &ib);
    if (ZSTD_isError(ret)) {
      ZSTD_freeDCtx(dctx);
      *error = fmt::format("{}: not a zstd stream ({})", path, ZSTD_getErrorName(ret));
      return std::nullopt;
    }
    text.append(chunk.data(), ob.pos);
    if (text.size() > max_text) {
      ZSTD_freeDCtx(dctx);
      *error = fmt::format("{}: trace larger than {} MiB uncompressed", path, max_text >> 20);
      return std::nullopt;
    }
  }
  ZSTD_freeDCtx(dctx);
  if (ret != 0) {
    *error = path + ": truncated zstd stream";
    return std::nullopt;
  }

  Trace t;
  std::istringstream ls(text);
  std::string line;
  int lineno = 0;
  auto fail = [&](const std::string& why) {
    *error = fmt::format("{}: line {}: {}", path, lineno, why);
    return std::nullopt;
  };
  int version = 0;
  if (!std::getline(ls, line) || line.rfind("rmaplab-trace ", 0) != 0 ||
      !(std::istringstream(line.substr(14)) >> version) || version < 1 || version > kTraceVersion) {
    lineno = 1;
    return fail(fmt::format("not an rmaplab trace of version 1 to {} (first line: '{}')",
                            kTraceVersion, line.substr(0, 40)));
  }
  uint64_t prev_us = 0;
  ++lineno;
  bool in_events = false, ended = false;
  ExecLayout* layout = nullptr;
  while (std::getline(ls, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream f(line);
    std::string tag;
    f >> tag;
    auto rest = [&] {
      std::string r;
      std::getline(f, r);
      return r.empty() ? r : r.substr(1);
    };
    if (!in_events) {
      if (tag == "command") {
        std::string r = rest();
        // Quoted strings as written by fmt's {:?}.
        size_t i = 0;
        while (i < r.size()) {
          if (r[i] != '"') { ++i; continue; }
          std::string a;
          for (++i; i < r.size() && r[i] != '"'; ++i) {
            if (r[i] == '\\' && i + 1 < r.size()) {
              char c = r[++i];
              a += c == 'n' ? '\n' : c == 't' ? '\t' : c;
            } else {
              a += r[i];
            }
          }
          ++i;
          t.command.push_back(a);
        }
      } else if (tag == "kernel") { t.kernel = rest();
      } else if (tag == "date") { t.date = rest();
      } else if (tag == "thp") { t.thp = rest();
      } else if (tag == "zero_page") { int z = 1; f >> z; t.zero_page = z != 0;
      } else if (tag == "page_size") { f >> t.page_size;
      } else if (tag == "root_pid") { f >> t.root_pid;
      } else if (tag == "lost") { int cpu; int64_t n; f >> cpu >> n; t.lost_per_cpu[cpu] = n;
      } else if (tag == "count") { std::string k; int64_t n; f >> k >> n; t.event_counts[k] = n;
      } else if (tag == "file") {
        size_t id; TraceFile tf; f >> id >> tf.size_pages;
        tf.path = rest();
        if (!f || id != t.files.size()) return fail("bad file record");
        t.files.push_back(tf);
      } else if (tag == "layout") {
        size_t id; ExecLayout l;
        f >> id >> l.pid >> l.ts >> std::hex >> l.start_brk >> l.brk >> std::dec;
        l.program = rest();
        if (!f || id != t.layouts.size()) return fail("bad layout record");
        t.layouts.push_back(l);
        layout = &t.layouts.back();
      } else if (tag == "v") {
        LayoutVma v; int faulted;
        f >> std::hex >> v.start >> v.end >> std::dec >> v.perms >> std::hex >> v.offset >>
            std::dec >> v.file >> faulted >> v.name;
        if (!f || !layout || v.start >= v.end || v.file >= static_cast<int>(t.files.size()))
          return fail("bad layout VMA");
        v.faulted = faulted;
        if (v.name == "-") v.name.clear();
        layout->vmas.push_back(v);
      } else if (tag == "p") {
        LayoutPage p; f >> std::hex >> p.addr >> std::dec >> p.type;
        if (!f || !layout) return fail("bad layout page");
        layout->pages.push_back(p);
      } else if (tag == "events") {
        in_events = true;
      } else {
        return fail("unknown record '" + tag + "'");
      }
      continue;
    }
    if (tag == "end") { ended = true; break; }
    Event e;
    f >> e.ts >> e.pid;
    if (version >= 2) {  // microseconds since the previous event
      prev_us += e.ts;
      e.ts = prev_us * 1000;
    }
    if (tag == "s") {
      e.kind = EventKind::kSyscall;
      f >> e.nr;
      for (auto& a : e.args) f >> a;
      f >> e.ret;
    } else if (tag == "f") {
      e.kind = EventKind::kFork;
      f >> e.child >> std::hex >> e.clone_flags >> std::dec;
    } else if (tag == "x") {
      e.kind = EventKind::kExec;
      f >> e.layout;
      if (e.layout >= t.layouts.size()) return fail("exec of an unknown layout");
    } else if (tag == "e") {
      e.kind = EventKind::kExit;
      int g; f >> g; e.group_dead = g;
    } else if (tag == "t") {
      e.kind = EventKind::kFault;
      char u; int w; f >> u >> std::hex >> e.addr >> std::dec >> w;
      e.user = u == 'u'; e.write = w;
    } else if (tag == "k") {
      e.kind = EventKind::kKmem;
      char a, k; f >> a >> k;
      e.alloc = a == 'a'; e.anon_vma = k == 'v';
    } else {
      return fail("unknown event '" + tag + "'");
    }
    if (!f) return fail("malformed event");
    t.events.push_back(e);
  }
  if (!ended) return fail("the trace ends early (no 'end' record)");
  return t;
}

}  // namespace rmaplab::trace
