// TEMPORARY instrumentation (not to be committed).
#pragma once
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
namespace torch_ext::kernels {
struct PhaseTotals {
  std::mutex mutex;
  std::map<std::string, std::pair<double, long>> totals;
  ~PhaseTotals() {
    for (auto& [name, v] : totals) std::fprintf(stderr, "PHASE %-28s %10.3f ms %8ld calls\n", name.c_str(), v.first * 1e3, v.second);
  }
  static PhaseTotals& get() { static PhaseTotals t; return t; }
};
struct PhaseTimer {
  const char* name;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  explicit PhaseTimer(const char* n) : name(n) {}
  ~PhaseTimer() {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto& t = PhaseTotals::get();
    std::lock_guard<std::mutex> lock(t.mutex);
    auto& v = t.totals[name]; v.first += s; v.second += 1;
  }
};
}
#define PHASE_CAT2(a, b) a##b
#define PHASE_CAT(a, b) PHASE_CAT2(a, b)
#define PHASE(n) ::torch_ext::kernels::PhaseTimer PHASE_CAT(phase_, __LINE__)(n)
