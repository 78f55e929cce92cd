// ObservationToJson: a hand-written emitter so that the layout is stable and easy to
// diff by eye (one VMA, page, error or walk per line), in the same layout as the
// native executor's reference documents (../shared/scenarios/*.native.json).
//
// Key order: format, scenario, source, observations, errors, walks (only when present).
// The output is valid JSON (strings are escaped; invalid UTF-8 is replaced by U+FFFD)
// and ends with a newline.

#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "observation/kernel_order.h"
#include "rmaplab/observation.h"

namespace rmaplab {
namespace {

// Appends `s` as a JSON string literal.
void AppendString(std::string* out, const std::string& s) {
  bool ascii =
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii) {
    // Rare: let nlohmann deal with UTF-8 validation.
    *out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(*out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string Quoted(const std::string& s) {
  std::string out;
  AppendString(&out, s);
  return out;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

void AppendVma(std::string* out, const ObsVma& v) {
  fmt::format_to(std::back_inserter(*out),
                 R"({{"start": {}, "end": {}, "prot": {}, "shared": {}, "backing": {}}})", v.start,
                 v.end, Quoted(v.prot), Bool(v.shared), Quoted(v.backing));
}

void AppendPage(std::string* out, const ObsPage& p) {
  fmt::format_to(std::back_inserter(*out),
                 R"({{"addr": {}, "frame": {}, "type": {}, "mapcount": {}, "exclusive": {}}})",
                 p.addr, p.frame, Quoted(p.type), p.mapcount, Bool(p.exclusive));
}

void AppendError(std::string* out, const ObsError& e) {
  fmt::format_to(std::back_inserter(*out), R"({{"line": {}, "op": {})", e.line, Quoted(e.op));
  if (!e.errno_name.empty()) *out += ", \"errno\": " + Quoted(e.errno_name);
  if (!e.signal_name.empty()) *out += ", \"signal\": " + Quoted(e.signal_name);
  *out += "}";
}

void AppendWalk(std::string* out, const ObsWalk& w) {
  fmt::format_to(std::back_inserter(*out), R"({{"line": {}, "found": [)", w.line);
  for (size_t i = 0; i < w.found.size(); ++i) {
    if (i) *out += ", ";
    fmt::format_to(std::back_inserter(*out), R"({{"process": {}, "addr": {}}})",
                   Quoted(w.found[i].process), w.found[i].addr);
  }
  fmt::format_to(std::back_inserter(*out), R"(], "visited": {}, "false_positives": {}}})",
                 w.visited, w.false_positives);
}

// Writes `"key": [` + one item a line + `]`, or `"key": []` when empty. `indent` is the
// indentation of the line holding the key; items get two more spaces.
template <typename T, typename AppendItem>
void AppendList(std::string* out, const std::string& indent, const char* key,
                const std::vector<T>& items, AppendItem append_item) {
  fmt::format_to(std::back_inserter(*out), "\"{}\": [", key);
  if (items.empty()) {
    *out += "]";
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    *out += i ? ",\n" : "\n";
    *out += indent + "  ";
    append_item(out, items[i]);
  }
  *out += "\n" + indent + "]";
}

void AppendProcess(std::string* out, const ObsProcess& p) {
  const std::string indent = "          ";
  fmt::format_to(std::back_inserter(*out), "{{\"name\": {}, \"alive\": {},\n{}", Quoted(p.name),
                 Bool(p.alive), indent);
  AppendList(out, indent, "vmas", p.vmas, AppendVma);
  *out += ",\n" + indent;
  AppendList(out, indent, "pages", p.pages, AppendPage);
  *out += "}";
}

void AppendKernel(std::string* out, const std::map<std::string, ObsCount>& kernel) {
  *out += "\"kernel\": {";
  std::vector<std::string> names = observation_internal::KernelNamesInOrder(kernel);
  std::vector<std::string> keys;
  size_t width = 0;
  for (const std::string& name : names) {
    keys.push_back(Quoted(name) + ":");
    width = std::max(width, keys.back().size());
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const ObsCount& c = kernel.at(names[i]);
    *out += i ? ",\n" : "\n";
    fmt::format_to(std::back_inserter(*out), "        {:<{}} {{\"alloc\": {}, \"free\": {}}}",
                   keys[i], width, c.alloc, c.free);
  }
  if (!names.empty()) *out += "\n      ";
  *out += "}";
}

void AppendPoint(std::string* out, const ObsPoint& p) {
  *out += "{\n      \"label\": ";
  *out += p.label ? Quoted(*p.label) : "null";
  fmt::format_to(std::back_inserter(*out), ",\n      \"line\": {},\n      ", p.line);
  AppendList(out, "      ", "processes", p.processes, AppendProcess);
  if (p.kernel) {
    *out += ",\n      ";
    AppendKernel(out, *p.kernel);
  }
  *out += "\n    }";
}

}  // namespace

std::string ObservationToJson(const Observation& obs) {
  std::string out = "{\n";
  out += "  \"format\": " + Quoted(obs.format) + ",\n";
  out += "  \"scenario\": " + Quoted(obs.scenario) + ",\n";
  out += "  \"source\": " + Quoted(obs.source) + ",\n  ";
  AppendList(&out, "  ", "observations", obs.observations, AppendPoint);
  out += ",\n  ";
  AppendList(&out, "  ", "errors", obs.errors, AppendError);
  if (obs.walks) {
    out += ",\n  ";
    AppendList(&out, "  ", "walks", *obs.walks, AppendWalk);
  }
  out += "\n}\n";
  return out;
}

}  // namespace rmaplab
