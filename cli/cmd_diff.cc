#include <cstdio>
#include <memory>

#include "commands.h"
#include "rmaplab/observation.h"

namespace rmaplab::cli {

Runner AddDiff(CLI::App& app) {
  struct Opts {
    std::string a, b;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("A", o->a, "First observation (JSON)")->required();
  app.add_option("B", o->b, "Second observation (JSON)")->required();
  app.footer("Exit status: 0 equal, 1 different (the first difference is printed), 2 error.");
  return [o] {
    Observation obs[2];
    const std::string* paths[2] = {&o->a, &o->b};
    for (int i = 0; i < 2; ++i) {
      std::string text, error;
      if (!ReadFile(*paths[i], &text, &error)) {
        std::fprintf(stderr, "rmaplab diff: %s\n", error.c_str());
        return 2;
      }
      auto parsed = ObservationFromJson(text, &error);
      if (!parsed) {
        std::fprintf(stderr, "rmaplab diff: %s: %s\n", paths[i]->c_str(), error.c_str());
        return 2;
      }
      obs[i] = std::move(*parsed);
    }
    for (int i = 0; i < 2; ++i) {
      bool absent = false;
      for (const auto& p : obs[i].observations) absent |= !p.kernel.has_value();
      if (absent)
        std::printf("note: kernel object counts not compared (absent in %s)\n",
                    paths[i]->c_str());
    }
    auto diff = FirstDifference(obs[0], obs[1], o->a, o->b);
    if (!diff) {
      std::printf("equal\n");
      return 0;
    }
    std::printf("different: %s\n", diff->c_str());
    return 1;
  };
}

}  // namespace rmaplab::cli
