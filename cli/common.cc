#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "native/procfs.h"
#include "rmap/registry.h"

namespace rmaplab::cli {

namespace fs = std::filesystem;

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::vector<std::string> CollectScenarios(const std::vector<std::string>& args, bool* ok) {
  std::vector<std::string> out;
  *ok = true;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> here;
      for (const auto& e : fs::directory_iterator(a, ec))
        if (e.is_regular_file() && e.path().extension() == ".rmap") here.push_back(e.path().string());
      std::sort(here.begin(), here.end());
      out.insert(out.end(), here.begin(), here.end());
    } else if (fs::is_regular_file(a, ec)) {
      out.push_back(a);
    } else {
      std::fprintf(stderr, "rmaplab: %s: no such file or directory\n", a.c_str());
      *ok = false;
    }
  }
  return out;
}

std::vector<std::string> ResolveSchemes(const std::string& spec, bool* ok) {
  std::vector<std::string> out;
  *ok = true;
  if (spec == "all") {
    for (const auto& s : ListSchemes()) out.push_back(s.name);
    return out;
  }
  std::stringstream ss(spec);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name.empty()) continue;
    if (!CreateScheme(name)) {
      std::fprintf(stderr, "rmaplab: unknown scheme '%s' (see 'rmaplab schemes')\n", name.c_str());
      *ok = false;
    }
    out.push_back(name);
  }
  if (out.empty()) *ok = false;
  return out;
}

std::map<std::string, int64_t> Histogram(const std::map<int64_t, int64_t>& h) {
  std::map<std::string, int64_t> out;
  for (auto [k, n] : h) out[std::to_string(k)] = n;
  return out;
}

void AddZeroPageOption(CLI::App& app, std::string* value) {
  app.add_option("--zero-page", *value,
                 "Read faults on private anon memory map the zero page: yes (the kernel's "
                 "default), no (as with pvm_no_zero_page=1), host (as this kernel does)")
      ->check(CLI::IsMember({"yes", "no", "host"}))
      ->default_val(*value);
}

bool ResolveZeroPage(const std::string& value) {
  if (value == "host") return native::KernelHasZeroPage();
  return value != "no";
}

void ProgressBar(const std::string& what, size_t done, size_t total) {
  static const bool tty = isatty(1) && isatty(2);  // a person is watching
  if (!tty) return;
  int pct = total ? static_cast<int>(100 * done / total) : 100;
  std::fprintf(stderr, "\r%-24.24s [%-40s] %3d%% (%zu/%zu)", what.c_str(),
               std::string(pct * 40 / 100, '#').c_str(), pct, done, total);
  if (done == total) std::fprintf(stderr, "\r%90s\r", "");
  std::fflush(stderr);
}

}  // namespace rmaplab::cli
