// Roster import at scale (issue 5): a generated 1,000,000-member CSV roster (households, common
// names, MBI and two hospitals' MRN columns, phone, address, ~2,000 physician groups, one member in
// eight with an earlier ended attribution) is
//   import    read (read_roster_path) + apply into a fresh members.db
//   reimport  the same roster with ~2 % of members touched (dropped, new, demographics changed,
//             moved to another group) read + applied as the same source
//   load      roster_db::load(): the snapshot a running gateway swaps in (index build included)
// Each phase runs in a child process, so that its peak RSS (wait4's ru_maxrss) is its own. Prints
// wall-clock seconds, CPU seconds (user + system: on a shared machine the wall clock includes
// waiting for a core), rows per second and peak RSS per phase; the target is the first import in
// <= 20 s. A report, not a test: it never fails on speed.
//
// Run: carebridge_roster_import_bench [members] [work-dir]   (default 1000000, a temp directory)
#include "gateway/members/roster.hpp"
#include "tests/unit/member_roster_generator.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace gm = carebridge::gateway::members;
namespace gen = carebridge::test::members;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view mrn_a = "urn:oid:2.16.840.1.113883.3.1001";
constexpr std::string_view mrn_b = "urn:oid:2.16.840.1.113883.3.2002";
constexpr std::size_t group_count = 2000;
constexpr const char* as_of_first = "2026-06-01";
constexpr const char* as_of_second = "2026-07-01";

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string group_id(std::size_t g) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "PG%05zu", g);
  return buf;
}

// Writes the first roster (members [0, n)) and the second (~2 % touched) as CSV.
void generate(std::size_t n, const fs::path& first, const fs::path& second) {
  gen::roster_generator g(20261201);
  std::vector<std::size_t> given;
  const std::size_t extra = n / 150;  // new members of the second roster
  auto members = g.roster(n + extra, given);
  std::ofstream a(first, std::ios::binary), b(second, std::ios::binary);
  const std::string header =
      "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
      "period_end,phone,address_line1,mbi,medicaid_id,mrn:" +
      std::string(mrn_a) + ",mrn:" + std::string(mrn_b) + "\r\n";
  a << header;
  b << header;
  std::string row;
  const auto write = [&](std::ostream& out, const gm::member_record& m, std::size_t grp,
                         const char* start, const char* end, bool moved_house) {
    std::string mbi, mrn1, mrn2;
    for (const auto& id : m.identifiers) {
      if (id.system == gen::k_mbi_system) mbi = id.value;
      if (id.system == mrn_a) mrn1 = id.value;
    }
    if (mrn1.empty() && m.member_id.back() == '3') mrn2 = "B" + m.member_id.substr(1);
    row.clear();
    row += m.member_id;
    row += ',' + csv_field(m.family) + ',' + csv_field(m.given) + ',' + m.birth_date + ',' + m.sex;
    row += ',' + (moved_house ? std::string("60999") : m.postal_code);
    row += ',' + group_id(grp) + ",\"Physician Group " + std::to_string(grp) + ", P.C.\",";
    row += start;
    row += ',';
    row += end;
    row += ',' + m.phone + ',' + std::to_string(100 + grp) + " Main St,";
    row += mbi + ',';
    row += m.birth_date > "2000" ? "MC" + m.member_id.substr(1) : std::string();
    row += ',' + mrn1 + ',' + mrn2 + "\r\n";
    out << row;
  };
  for (std::size_t i = 0; i < n + extra; ++i) {
    const auto& m = members[i];
    const std::size_t grp = (i * 7919) % group_count;
    const bool history = i % 8 == 5;  // an earlier attribution, ended
    const std::size_t old_grp = (grp + 1) % group_count;
    if (i < n) {
      if (history) write(a, m, old_grp, "2024-01-01", "2025-12-31", false);
      write(a, m, grp, history ? "2026-01-01" : "2025-01-01", "", false);
    }
    // The second roster: ~0.67 % each dropped, new, changed demographics, moved group.
    const std::size_t k = i % 150;
    if (i < n && k == 0) continue;  // dropped
    if (history) write(b, m, old_grp, "2024-01-01", "2025-12-31", i < n && k == 1);
    if (i < n && k == 2) {  // moved to another group on 2026-07-01
      write(b, m, grp, history ? "2026-01-01" : "2025-01-01", "2026-06-30", false);
      write(b, m, (grp + 2) % group_count, "2026-07-01", "", false);
      continue;
    }
    write(b, m, grp,
          i >= n    ? "2026-07-01"
          : history ? "2026-01-01"
                    : "2025-01-01",
          "", i < n && k == 1);
  }
}

struct phase_result {
  double seconds = 0;
  double sub[2] = {0, 0};
  std::size_t rows = 0;
  long peak_kib = 0;
  double cpu_seconds = 0;  // user + system
  gm::import_summary summary;
};

// Runs `body` in a child process; its result comes back through a pipe, its peak RSS from wait4.
phase_result in_child(const std::function<phase_result()>& body) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    phase_result r;
    try {
      r = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "roster_import_bench: %s\n", e.what());
      _exit(1);
    }
    if (write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  phase_result r;
  const bool got = read(fds[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fds[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "roster_import_bench: a phase failed\n");
    std::exit(1);
  }
  r.peak_kib = ru.ru_maxrss;
  const auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  r.cpu_seconds = secs(ru.ru_utime) + secs(ru.ru_stime);
  return r;
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

phase_result import(const fs::path& csv, const fs::path& db_file, const char* as_of) {
  phase_result r;
  const auto t0 = std::chrono::steady_clock::now();
  const gm::roster_batch batch = gm::read_roster_path(csv);
  r.sub[0] = since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  r.summary = gm::roster_db::open(db_file)->apply(batch, "plan", as_of);
  r.sub[1] = since(t1);
  r.seconds = since(t0);
  r.rows = batch.rows_read;
  if (!batch.problems.empty()) {
    std::fprintf(stderr, "roster_import_bench: %zu problems, first line %zu: %s\n",
                 batch.problems.size(), batch.problems[0].line, batch.problems[0].message.c_str());
  }
  return r;
}

void print(const char* name, const phase_result& r, const char* detail) {
  std::printf("%-9s %7.2f s (cpu %6.2f s)  %9.0f rows/s  peak RSS %5.0f MiB  %s\n", name, r.seconds,
              r.cpu_seconds, r.rows > 0 ? static_cast<double>(r.rows) / r.seconds : 0.0,
              static_cast<double>(r.peak_kib) / 1024.0, detail);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  fs::path work;
  bool remove_work = false;
  if (argc > 2) {
    work = argv[2];
    fs::create_directories(work);
  } else {
    std::string tmpl = (fs::temp_directory_path() / "roster-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return 1;
    work = tmpl;
    remove_work = true;
  }
  const fs::path first = work / "roster-1.csv", second = work / "roster-2.csv";
  const fs::path db_file = work / "members.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_file.string() + suffix);

  const auto g = in_child([&] {
    phase_result r;
    const auto t0 = std::chrono::steady_clock::now();
    generate(n, first, second);
    r.seconds = since(t0);
    return r;
  });
  std::printf(
      "roster_import_bench: %zu members; CSV %.0f MB (first), %.0f MB (second); "
      "generated in %.1f s\n",
      n, static_cast<double>(fs::file_size(first)) / 1e6,
      static_cast<double>(fs::file_size(second)) / 1e6, g.seconds);

  char detail[256];
  const auto first_import = in_child([&] { return import(first, db_file, as_of_first); });
  std::snprintf(detail, sizeof detail, "read %.2f s + apply %.2f s; %zu members, %zu attributions",
                first_import.sub[0], first_import.sub[1], first_import.summary.members_new,
                first_import.summary.attributions_new);
  print("import", first_import, detail);
  const double db_mb = static_cast<double>(fs::file_size(db_file)) / 1e6;

  const auto re = in_child([&] { return import(second, db_file, as_of_second); });
  const auto& s = re.summary;
  std::snprintf(detail, sizeof detail,
                "read %.2f s + apply %.2f s; members +%zu ~%zu -%zu =%zu, attributions +%zu ~%zu "
                "ended %zu",
                re.sub[0], re.sub[1], s.members_new, s.members_changed, s.members_dropped,
                s.members_unchanged, s.attributions_new, s.attributions_changed,
                s.attributions_ended);
  print("reimport", re, detail);

  const auto loaded = in_child([&] {
    phase_result r;
    const auto t0 = std::chrono::steady_clock::now();
    const auto snap = gm::roster_db::open(db_file)->load();
    r.seconds = since(t0);
    r.rows = snap->index->size();
    return r;
  });
  std::snprintf(detail, sizeof detail, "snapshot with the match index; members.db %.0f MB", db_mb);
  print("load", loaded, detail);
  std::printf("\nfirst import of %zu members: %.1f s (target <= 20 s)\n", n, first_import.seconds);
  if (remove_work) fs::remove_all(work);
  return 0;
}
