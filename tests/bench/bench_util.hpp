// What the roster-sized benchmarks share: the member count argument and the process's peak RSS
// and CPU time, printed beside their set-up steps.
#pragma once

#include <sys/resource.h>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <string>

namespace carebridge::test::bench {

/// Peak resident memory so far (VmHWM of /proc/self/status), as the kernel prints it ("  633 MB").
inline std::string peak_rss() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return line.substr(6);
  return " ?";
}

/// CPU seconds of the process so far (user + system): steadier than wall-clock time on a busy
/// machine.
inline double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// The optional first argument, a member count (before Google Benchmark's --options); removes it
/// from argv.
inline std::size_t members_argument(int& argc, char**& argv, std::size_t fallback) {
  if (argc > 1 && argv[1][0] != '-') {
    fallback = static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10));
    argv[1] = argv[0];
    --argc;
    ++argv;
  }
  return fallback;
}

}  // namespace carebridge::test::bench
