#include "report/html.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

namespace rmaplab {
namespace {

std::string Esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string Bytes(double b) {
  if (b >= 1 << 20) return fmt::format("{:.1f} MiB", b / (1 << 20));
  if (b >= 1 << 10) return fmt::format("{:.1f} KiB", b / (1 << 10));
  return fmt::format("{:.0f} B", b);
}

// A colour per scheme, stable across charts.
std::string Colour(size_t i) {
  static const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kPalette[i % 10];
}

// Grouped bars: groups (workloads) x series (schemes), log-scale y. Values <= 0 draw none.
std::string GroupedBars(const std::string& id, const std::string& ylabel,
                        const std::vector<std::string>& groups,
                        const std::vector<std::string>& series,
                        const std::map<std::pair<std::string, std::string>, double>& v,
                        bool log_scale) {
  double lo = INFINITY, hi = 0;
  for (auto& [k, x] : v)
    if (x > 0) lo = std::min(lo, x), hi = std::max(hi, x);
  if (hi <= 0) return "<p>(no data)</p>";
  if (log_scale) lo = std::pow(10, std::floor(std::log10(lo))), hi = std::pow(10, std::ceil(std::log10(hi)));
  else lo = 0;
  const int left = 70, top = 20, plot_h = 260, bar_w = 12, gap = 18;
  int group_w = static_cast<int>(series.size()) * bar_w + gap;
  int width = left + static_cast<int>(groups.size()) * group_w + 20;
  int height = top + plot_h + 120;
  auto y = [&](double x) {
    double f = log_scale ? (std::log10(x) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                         : x / hi;
    return top + plot_h - f * plot_h;
  };
  std::string s = fmt::format(
      "<svg class=\"chart\" id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"11\">\n",
      id, width, height, width, height);
  // Axis and grid lines.
  std::vector<double> ticks;
  if (log_scale)
    for (double t = lo; t <= hi * 1.0001; t *= 10) ticks.push_back(t);
  else
    for (int i = 0; i <= 4; ++i) ticks.push_back(hi * i / 4);
  for (double t : ticks) {
    s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                     left, width - 10, y(t), y(t), left - 4, y(t) + 4,
                     Esc(log_scale ? Bytes(t) : fmt::format("{:.0f}", t)));
  }
  s += fmt::format("<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>\n",
                   top + plot_h / 2, top + plot_h / 2, Esc(ylabel));
  for (size_t g = 0; g < groups.size(); ++g) {
    int x0 = left + static_cast<int>(g) * group_w + gap / 2;
    for (size_t i = 0; i < series.size(); ++i) {
      auto it = v.find({groups[g], series[i]});
      if (it == v.end() || it->second <= 0) continue;
      double yy = y(std::max(it->second, lo));
      s += fmt::format("<rect class=\"bar\" x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" "
                       "fill=\"{}\"><title>{} / {}: {}</title></rect>\n",
                       x0 + static_cast<int>(i) * bar_w, yy, bar_w - 1, top + plot_h - yy,
                       Colour(i), Esc(groups[g]), Esc(series[i]),
                       Esc(log_scale ? Bytes(it->second) : fmt::format("{:.0f}", it->second)));
    }
    int cx = x0 + static_cast<int>(series.size()) * bar_w / 2;
    s += fmt::format("<text x=\"{}\" y=\"{}\" transform=\"rotate(35 {} {})\">{}</text>\n", cx,
                     top + plot_h + 14, cx, top + plot_h + 14, Esc(groups[g]));
  }
  // Legend.
  for (size_t i = 0; i < series.size(); ++i)
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                     "<text x=\"{}\" y=\"{}\">{}</text>\n",
                     left + static_cast<int>(i % 5) * 120, height - 34 + static_cast<int>(i / 5) * 14,
                     Colour(i), left + static_cast<int>(i % 5) * 120 + 14,
                     height - 25 + static_cast<int>(i / 5) * 14, Esc(series[i]));
  return s + "</svg>\n";
}

// Walk-cost distribution: for each scheme, the share of walks that examined 1, 2, 3-4,
// 5-8, ... candidates (all inputs pooled), as a row of bars.
std::string Distribution(const std::string& id, const std::vector<std::string>& series,
                         const std::map<std::string, std::map<int64_t, int64_t>>& hist) {
  std::vector<std::pair<int64_t, int64_t>> buckets = {{1, 1}, {2, 2}, {3, 4}, {5, 8}, {9, 16},
                                                      {17, 32}, {33, 64}, {65, 1LL << 62}};
  const int left = 110, row_h = 40, cell_w = 56, top = 30;
  int width = left + static_cast<int>(buckets.size()) * cell_w + 20;
  int height = top + static_cast<int>(series.size()) * row_h + 10;
  std::string s = fmt::format(
      "<svg class=\"chart\" id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"11\">\n",
      id, width, height, width, height);
  for (size_t b = 0; b < buckets.size(); ++b) {
    auto [a, z] = buckets[b];
    std::string label = a == z ? std::to_string(a) : z > (1LL << 40) ? fmt::format("{}+", a)
                                                                       : fmt::format("{}-{}", a, z);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     left + static_cast<int>(b) * cell_w + cell_w / 2, top - 10, label);
  }
  for (size_t i = 0; i < series.size(); ++i) {
    auto it = hist.find(series[i]);
    int64_t total = 0;
    if (it != hist.end())
      for (auto& [k, n] : it->second) total += n;
    int y0 = top + static_cast<int>(i) * row_h;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6,
                     y0 + row_h / 2 + 4, Esc(series[i]));
    for (size_t b = 0; b < buckets.size() && total; ++b) {
      int64_t n = 0;
      for (auto& [k, c] : it->second)
        if (k >= buckets[b].first && k <= buckets[b].second) n += c;
      double f = static_cast<double>(n) / total;
      double h = std::max(f * (row_h - 6), n ? 1.0 : 0.0);
      if (h <= 0) continue;
      s += fmt::format("<rect class=\"bar\" x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" "
                       "fill=\"{}\"><title>{}: {:.1f}% of {} walks</title></rect>\n",
                       left + static_cast<int>(b) * cell_w + 4, y0 + row_h - 3 - h, cell_w - 8, h,
                       Colour(i), Esc(series[i]), 100 * f, total);
      if (f < 0.5)  // the share in numbers where the bar is short
        s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"9\" "
                         "fill=\"#444\">{}</text>\n",
                         left + static_cast<int>(b) * cell_w + cell_w / 2, y0 + row_h - 5 - h,
                         f >= 0.001 ? fmt::format("{:.1f}%", 100 * f) : "<0.1%");
    }
  }
  return s + "</svg>\n";
}

}  // namespace

std::string ReportInputKind(const nlohmann::json& d) {
  if (d.is_array() && !d.empty() && d[0].is_object() && d[0].contains("scenario") &&
      d[0].contains("scheme"))
    return "compare";
  if (d.is_object() && d.contains("conform")) return "conform";
  if (d.is_object() && d.contains("schemes") && d.contains("trace")) return "replay";
  return "";
}

std::string RenderReport(const std::vector<ReportInput>& inputs,
                         const std::vector<ReportPicture>& pictures, const std::string& title) {
  // Gather: workload -> scheme -> peak bytes; scheme -> histogram; fidelity rows.
  std::vector<std::string> schemes, workloads;
  auto add = [](std::vector<std::string>& v, const std::string& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  std::map<std::pair<std::string, std::string>, double> peak, p50, mx, fp;
  std::map<std::string, std::map<int64_t, int64_t>> hist;
  struct Fid { std::string trace, command; int64_t events; nlohmann::json f; };
  std::vector<Fid> fids;
  std::vector<nlohmann::json> conforms;
  auto walks = [&](const std::string& w, const std::string& sc, const nlohmann::json& rw) {
    if (!rw.is_object()) return;
    p50[{w, sc}] = rw.value("visited_p50", 0.0);
    mx[{w, sc}] = rw.value("visited_max", 0.0);
    fp[{w, sc}] = rw.value("false_positives", 0.0);
    if (rw.contains("visited_histogram"))
      for (auto& [k, n] : rw["visited_histogram"].items()) hist[sc][std::stoll(k)] += n.get<int64_t>();
  };
  for (const auto& in : inputs) {
    std::string kind = ReportInputKind(in.data);
    if (kind == "compare") {
      for (const auto& row : in.data) {
        std::string w = row.value("scenario", "?"), sc = row.value("scheme", "?");
        add(workloads, w);
        add(schemes, sc);
        peak[{w, sc}] = row.value("peak_bytes", 0.0);
        walks(w, sc, row.value("reclaim_walks", nlohmann::json()));
      }
    } else if (kind == "replay") {
      std::string w = "trace:" + std::filesystem::path(in.data.value("trace", in.name)).stem().string();
      add(workloads, w);
      for (auto& [sc, r] : in.data["schemes"].items()) {
        add(schemes, sc);
        peak[{w, sc}] = r.value("peak_bytes", 0.0);
        walks(w, sc, r.value("walks", nlohmann::json()));
      }
      if (in.data.contains("fidelity")) {
        std::string cmd;
        for (auto& a : in.data.value("command", nlohmann::json::array())) cmd += (cmd.empty() ? "" : " ") + a.get<std::string>();
        fids.push_back({w.substr(6), cmd, in.data.value("events", int64_t{0}), in.data["fidelity"]});
      }
    } else if (kind == "conform") {
      conforms.push_back(in.data["conform"]);
    }
  }

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + Esc(title) +
       "</title>\n<style>\n"
       "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\n"
       "h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\n"
       "table{border-collapse:collapse;font-size:.85em;margin:.5em 0} td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}\n"
       "td:first-child,th:first-child{text-align:left} .ok{color:#176b2c} .bad{color:#b00020;font-weight:bold}\n"
       ".chart{display:block;margin:.5em 0;max-width:100%;height:auto} .picture svg{max-width:100%;height:auto}\n"
       "pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.8em} .note{color:#555;font-size:.9em}\n"
       "</style></head><body>\n";
  utsname u{};
  uname(&u);
  char date[64];
  time_t now = time(nullptr);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  h += fmt::format("<h1>{}</h1>\n<p class=\"note\">Generated by rmaplab on {} ({} {}, {}); inputs: {}.</p>\n",
                   Esc(title), date, Esc(u.sysname), Esc(u.release), Esc(u.machine),
                   [&] {
                     std::string s;
                     for (const auto& in : inputs) s += (s.empty() ? "" : ", ") + Esc(in.name);
                     return s;
                   }());

  // 1. Fidelity.
  h += "<h2>Fidelity of the <code>linux</code> model against the real kernel</h2>\n";
  if (fids.empty() && conforms.empty()) h += "<p>(no replay or conform results given)</p>\n";
  if (!fids.empty()) {
    h += "<p>Recorded workloads replayed in the model: the kernel's own anon_vma / anon_vma_chain "
         "allocations during the run (tracefs) against the model's prediction.</p>\n"
         "<table id=\"fidelity\"><tr><th>trace</th><th>command</th><th>events</th><th>anon_vma recorded</th>"
         "<th>predicted</th><th>error</th><th>anon_vma_chain recorded</th><th>predicted</th><th>error</th></tr>\n";
    for (const auto& f : fids) {
      auto cell = [&](const char* k) {
        const auto& x = f.f[k];
        double e = x.value("relative_error", 0.0);
        return fmt::format("<td>{}</td><td>{}</td><td class=\"{}\">{:.2f}%</td>",
                           x.value("recorded_allocs", int64_t{0}), x.value("predicted_allocs", int64_t{0}),
                           e < 0.01 ? "ok" : "bad", 100 * e);
      };
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>{}{}</tr>\n", Esc(f.trace),
                       Esc(f.command.substr(0, 60)), f.events, cell("anon_vma"), cell("anon_vma_chain"));
    }
    h += "</table>\n";
  }
  for (const auto& c : conforms) {
    int64_t eq = c.value("equal", int64_t{0}), total = c.value("total", int64_t{0});
    h += fmt::format("<p>Scenarios run natively (kernel {}) and in the model (<code>{}</code>): "
                     "<b class=\"{}\">{}/{} observations equal</b>.</p>\n",
                     Esc(c.value("kernel", "?")), Esc(c.value("scheme", "?")),
                     eq == total ? "ok" : "bad", eq, total);
    std::string diffs;
    for (const auto& s : c.value("scenarios", nlohmann::json::array()))
      if (!s.value("equal", false)) diffs += Esc(s.value("result", "")) + "\n";
    if (!diffs.empty()) h += "<pre>" + diffs + "</pre>\n";
  }

  // 2. Metadata bytes.
  h += "<h2>rmap metadata: peak bytes per scheme per workload</h2>\n"
       "<p>The most bytes of the scheme's own objects alive at once (log scale). Workloads: "
       "scenarios (<code>compare</code>) and recorded traces (<code>replay</code>).</p>\n";
  h += GroupedBars("chart-peak-bytes", "peak metadata bytes", workloads, schemes, peak, true);
  h += "<table id=\"peak-table\"><tr><th>workload</th>";
  for (const auto& s : schemes) h += "<th>" + Esc(s) + "</th>";
  h += "</tr>\n";
  for (const auto& w : workloads) {
    h += "<tr><td>" + Esc(w) + "</td>";
    for (const auto& s : schemes) {
      auto it = peak.find({w, s});
      h += "<td>" + (it == peak.end() ? std::string("–") : Bytes(it->second)) + "</td>";
    }
    h += "</tr>\n";
  }
  h += "</table>\n";

  // 3. Walk costs.
  h += "<h2>Reverse-map walk costs</h2>\n"
       "<p>Reclaim-style walks of every anon folio: how many candidate (VMA, address) pairs "
       "each walk examined (all workloads pooled; share of walks per bucket).</p>\n";
  h += Distribution("chart-walk-distribution", schemes, hist);
  h += "<table id=\"walk-table\"><tr><th>workload</th>";
  for (const auto& s : schemes) h += "<th>" + Esc(s) + "<br>p50 / max / false+</th>";
  h += "</tr>\n";
  for (const auto& w : workloads) {
    h += "<tr><td>" + Esc(w) + "</td>";
    for (const auto& s : schemes) {
      auto it = p50.find({w, s});
      h += it == p50.end() ? "<td>–</td>"
                           : fmt::format("<td>{:.0f} / {:.0f} / {:.0f}</td>", it->second,
                                         mx[{w, s}], fp[{w, s}]);
    }
    h += "</tr>\n";
  }
  h += "</table>\n";

  // 4. Pictures.
  if (!pictures.empty()) {
    h += "<h2>anon_vma hierarchies</h2>\n";
    for (size_t i = 0; i < pictures.size(); ++i) {
      const auto& p = pictures[i];
      h += fmt::format("<h3>{}</h3>\n<div class=\"picture\" id=\"picture-{}\">\n", Esc(p.title), i);
      if (!p.svg.empty()) {
        size_t at = p.svg.find("<svg");  // drop the XML prologue and doctype
        h += p.svg.substr(at == std::string::npos ? 0 : at);
      } else {
        h += "<p class=\"note\">(Graphviz is not installed: the DOT text)</p><pre>" + Esc(p.dot_text) + "</pre>";
      }
      h += "</div>\n";
    }
  }

  // Self-check for headless browsers: every chart has a non-empty box; script errors are
  // collected. `chromium --headless --dump-dom` shows the result in #selfcheck.
  h += "<pre id=\"selfcheck\" class=\"note\"></pre>\n<script>\n"
       "(function(){var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message));});\n"
       "function check(){var charts=document.querySelectorAll('svg'),empty=[],bars=0;\n"
       "charts.forEach(function(s){var b=s.getBoundingClientRect();if(!(b.width>0&&b.height>0))empty.push(s.id||'svg');});\n"
       "bars=document.querySelectorAll('svg.chart rect.bar').length;\n"
       "document.getElementById('selfcheck').textContent='selfcheck '+JSON.stringify({svgs:charts.length,bars:bars,empty:empty,errors:errors});}\n"
       "if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',check);else check();})();\n"
       "</script>\n</body></html>\n";
  return h;
}

}  // namespace rmaplab
