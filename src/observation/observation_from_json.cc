// ObservationFromJson: parses and validates an observation document.
//
// Contract:
// - Never throws and never crashes, whatever the input; on failure returns nullopt and
//   sets *error (when `error` is not null) to one message naming the place, e.g.
//   `observations[1].processes[0].pages[3]: field 'frame' must be an integer (got string)`.
//   Paths use 0-based JSON array indexes.
// - `format` must be "rmaplab-observation/1". Every field of the spec is required, with
//   the right JSON type, except `kernel` and `walks`, which may be absent (or null,
//   read as absent). `label` is required and may be null. Each error entry needs
//   `errno` or `signal` (a string; both are accepted).
// - Integers must be JSON integers (no fraction) within the range of the field: `line`
//   fits an int, addresses are non-negative, counts and frames fit int64.
// - Values are not checked beyond their type (a `type` of "huge" is accepted); the diff
//   reports such things. Keys the spec does not name are ignored.

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rmaplab/observation.h"

namespace rmaplab {
namespace {

using nlohmann::json;

constexpr char kFormat[] = "rmaplab-observation/1";

// Reads typed fields out of JSON objects, remembering the first failure. Every method
// returns false once a failure is recorded.
class Reader {
 public:
  const std::string& error() const { return error_; }

  bool Fail(const std::string& path, const std::string& message) {
    if (error_.empty()) error_ = path.empty() ? message : path + ": " + message;
    return false;
  }

  bool IsObject(const json& j, const std::string& path) {
    if (j.is_object()) return true;
    return Fail(path, fmt::format("must be an object (got {})", TypeName(j)));
  }

  // Sets *out to obj[key], or fails when it is missing.
  bool Field(const json& obj, const std::string& path, const char* key, const json** out) {
    auto it = obj.find(key);
    if (it == obj.end()) return Fail(path, fmt::format("missing field '{}'", key));
    *out = &*it;
    return true;
  }

  bool String(const json& obj, const std::string& path, const char* key, std::string* out) {
    const json* v;
    if (!Field(obj, path, key, &v)) return false;
    if (!v->is_string()) return WrongType(path, key, "a string", *v);
    *out = v->get<std::string>();
    return true;
  }

  bool Bool(const json& obj, const std::string& path, const char* key, bool* out) {
    const json* v;
    if (!Field(obj, path, key, &v)) return false;
    if (!v->is_boolean()) return WrongType(path, key, "a boolean", *v);
    *out = v->get<bool>();
    return true;
  }

  bool U64(const json& obj, const std::string& path, const char* key, uint64_t* out) {
    const json* v;
    if (!Field(obj, path, key, &v)) return false;
    if (v->is_number_unsigned()) {
      *out = v->get<uint64_t>();
      return true;
    }
    if (v->is_number_integer()) {
      return Fail(path,
                  fmt::format("field '{}' must not be negative (got {})", key, v->get<int64_t>()));
    }
    return WrongType(path, key, "an integer", *v);
  }

  bool I64(const json& obj, const std::string& path, const char* key, int64_t* out) {
    const json* v;
    if (!Field(obj, path, key, &v)) return false;
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return OutOfRange(path, key, std::to_string(u));
      *out = static_cast<int64_t>(u);
      return true;
    }
    if (v->is_number_integer()) {
      *out = v->get<int64_t>();
      return true;
    }
    return WrongType(path, key, "an integer", *v);
  }

  bool Int(const json& obj, const std::string& path, const char* key, int* out) {
    int64_t wide;
    if (!I64(obj, path, key, &wide)) return false;
    if (wide < INT_MIN || wide > INT_MAX) return OutOfRange(path, key, std::to_string(wide));
    *out = static_cast<int>(wide);
    return true;
  }

  // Sets *out to obj[key], which must be an array.
  bool Array(const json& obj, const std::string& path, const char* key, const json** out) {
    if (!Field(obj, path, key, out)) return false;
    if (!(*out)->is_array()) return WrongType(path, key, "an array", **out);
    return true;
  }

 private:
  static std::string TypeName(const json& v) {
    if (v.is_number_float()) return "a non-integer number";
    return v.type_name();
  }

  bool WrongType(const std::string& path, const char* key, const char* expected, const json& v) {
    return Fail(path, fmt::format("field '{}' must be {} (got {})", key, expected, TypeName(v)));
  }

  bool OutOfRange(const std::string& path, const char* key, const std::string& value) {
    return Fail(path, fmt::format("field '{}' is out of range ({})", key, value));
  }

  std::string error_;
};

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? key : path + "." + key;
}

std::string Item(const std::string& path, const char* key, size_t i) {
  return fmt::format("{}[{}]", Join(path, key), i);
}

// Reads obj[key] as an array of T, each element read by `read_item(reader, element,
// element_path, &t)`.
template <typename T, typename ReadItem>
bool ReadList(Reader& r, const json& obj, const std::string& path, const char* key,
              std::vector<T>* out, ReadItem read_item) {
  const json* array;
  if (!r.Array(obj, path, key, &array)) return false;
  out->clear();
  out->reserve(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    std::string item_path = Item(path, key, i);
    const json& element = (*array)[i];
    if (!r.IsObject(element, item_path)) return false;
    out->emplace_back();
    if (!read_item(r, element, item_path, &out->back())) return false;
  }
  return true;
}

bool ReadVma(Reader& r, const json& j, const std::string& path, ObsVma* v) {
  return r.U64(j, path, "start", &v->start) && r.U64(j, path, "end", &v->end) &&
         r.String(j, path, "prot", &v->prot) && r.Bool(j, path, "shared", &v->shared) &&
         r.String(j, path, "backing", &v->backing);
}

bool ReadPage(Reader& r, const json& j, const std::string& path, ObsPage* p) {
  return r.U64(j, path, "addr", &p->addr) && r.I64(j, path, "frame", &p->frame) &&
         r.String(j, path, "type", &p->type) && r.I64(j, path, "mapcount", &p->mapcount) &&
         r.Bool(j, path, "exclusive", &p->exclusive);
}

bool ReadProcess(Reader& r, const json& j, const std::string& path, ObsProcess* p) {
  return r.String(j, path, "name", &p->name) && r.Bool(j, path, "alive", &p->alive) &&
         ReadList(r, j, path, "vmas", &p->vmas, ReadVma) &&
         ReadList(r, j, path, "pages", &p->pages, ReadPage);
}

bool ReadKernel(Reader& r, const json& j, const std::string& path,
                std::map<std::string, ObsCount>* kernel) {
  if (!r.IsObject(j, path)) return false;
  for (const auto& [name, value] : j.items()) {
    std::string count_path = path + "." + name;
    ObsCount& c = (*kernel)[name];
    if (!r.IsObject(value, count_path) || !r.I64(value, count_path, "alloc", &c.alloc) ||
        !r.I64(value, count_path, "free", &c.free)) {
      return false;
    }
  }
  return true;
}

bool ReadPoint(Reader& r, const json& j, const std::string& path, ObsPoint* p) {
  const json* label;
  if (!r.Field(j, path, "label", &label)) return false;
  if (label->is_string()) {
    p->label = label->get<std::string>();
  } else if (!label->is_null()) {
    return r.Fail(
        path, fmt::format("field 'label' must be a string or null (got {})", label->type_name()));
  }
  if (!r.Int(j, path, "line", &p->line) ||
      !ReadList(r, j, path, "processes", &p->processes, ReadProcess)) {
    return false;
  }
  auto kernel = j.find("kernel");
  if (kernel != j.end() && !kernel->is_null()) {
    p->kernel.emplace();
    if (!ReadKernel(r, *kernel, Join(path, "kernel"), &*p->kernel)) return false;
  }
  return true;
}

bool ReadError(Reader& r, const json& j, const std::string& path, ObsError* e) {
  if (!r.Int(j, path, "line", &e->line) || !r.String(j, path, "op", &e->op)) return false;
  bool has_errno = j.contains("errno"), has_signal = j.contains("signal");
  if (!has_errno && !has_signal) return r.Fail(path, "needs field 'errno' or 'signal'");
  return (!has_errno || r.String(j, path, "errno", &e->errno_name)) &&
         (!has_signal || r.String(j, path, "signal", &e->signal_name));
}

bool ReadWalkHit(Reader& r, const json& j, const std::string& path, ObsWalkHit* h) {
  return r.String(j, path, "process", &h->process) && r.U64(j, path, "addr", &h->addr);
}

bool ReadWalk(Reader& r, const json& j, const std::string& path, ObsWalk* w) {
  return r.Int(j, path, "line", &w->line) &&
         ReadList(r, j, path, "found", &w->found, ReadWalkHit) &&
         r.I64(j, path, "visited", &w->visited) &&
         r.I64(j, path, "false_positives", &w->false_positives);
}

bool ReadObservation(Reader& r, const json& j, Observation* obs) {
  if (!r.IsObject(j, "document")) return false;
  if (!r.String(j, "", "format", &obs->format)) return false;
  if (obs->format != kFormat) {
    return r.Fail("",
                  fmt::format("unsupported format \"{}\" (expected \"{}\")", obs->format, kFormat));
  }
  if (!r.String(j, "", "scenario", &obs->scenario) || !r.String(j, "", "source", &obs->source) ||
      !ReadList(r, j, "", "observations", &obs->observations, ReadPoint) ||
      !ReadList(r, j, "", "errors", &obs->errors, ReadError)) {
    return false;
  }
  auto walks = j.find("walks");
  if (walks != j.end() && !walks->is_null()) {
    obs->walks.emplace();
    if (!ReadList(r, j, "", "walks", &*obs->walks, ReadWalk)) return false;
  }
  return true;
}

void SetError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
}

}  // namespace

std::optional<Observation> ObservationFromJson(const std::string& text, std::string* error) {
  try {
    json j = json::parse(text);  // throws parse_error, with line and column
    Reader reader;
    Observation obs;
    if (!ReadObservation(reader, j, &obs)) {
      SetError(error, reader.error());
      return std::nullopt;
    }
    return obs;
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string what = e.what();
    size_t bracket = what.find("] ");
    SetError(error,
             "invalid JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  } catch (const std::exception& e) {
    SetError(error, std::string("cannot read observation: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace rmaplab
