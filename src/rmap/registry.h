// Schemes by name. Each scheme registers itself from its own folder:
//   RMAPLAB_REGISTER_SCHEME(LinuxScheme, "linux");
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rmap/scheme.h"

namespace rmaplab {

using SchemeFactory = std::function<std::unique_ptr<Scheme>()>;

struct SchemeInfo {
  std::string name;
  std::string description;
  SchemeFactory factory;
};

// Registers a scheme; returns true (for static initialisation).
bool RegisterScheme(const std::string& name, SchemeFactory factory);
// Removes a scheme (tests register deliberately broken variants, then remove them).
void UnregisterScheme(const std::string& name);
// All registered schemes, `linux` first, then by name.
std::vector<SchemeInfo> ListSchemes();
// A new instance, or nullptr for an unknown name.
std::unique_ptr<Scheme> CreateScheme(const std::string& name);

#define RMAPLAB_REGISTER_SCHEME(Class, Name)                                  \
  static const bool rmaplab_registered_##Class = ::rmaplab::RegisterScheme(   \
      Name, [] { return std::unique_ptr<::rmaplab::Scheme>(new Class()); })

}  // namespace rmaplab
