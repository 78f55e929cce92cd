#include "rmap/registry.h"

#include <algorithm>
#include <map>

namespace rmaplab {
namespace {
std::map<std::string, SchemeFactory>& Registry() {
  static std::map<std::string, SchemeFactory> r;
  return r;
}
}  // namespace

bool RegisterScheme(const std::string& name, SchemeFactory factory) {
  Registry()[name] = std::move(factory);
  return true;
}

void UnregisterScheme(const std::string& name) { Registry().erase(name); }

std::vector<SchemeInfo> ListSchemes() {
  std::vector<SchemeInfo> out;
  for (auto& [name, f] : Registry()) {
    auto s = f();
    out.push_back({name, s->description(), f});
  }
  std::stable_partition(out.begin(), out.end(), [](const SchemeInfo& i) { return i.name == "linux"; });
  return out;
}

std::unique_ptr<Scheme> CreateScheme(const std::string& name) {
  auto it = Registry().find(name);
  return it == Registry().end() ? nullptr : it->second();
}

}  // namespace rmaplab
