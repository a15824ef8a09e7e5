// The plan's roster: members, the physician groups they are attributed to and when, and the
// groups' alert settings; read from a roster file (CSV, or Da Vinci ATR FHIR) and kept in the
// member database (DATA_DIR/members.db, SQLite), which the import command writes and a running
// gateway reads (it polls version() and loads a new snapshot when it changes).
//
// This header is the contract between the roster import (roster_csv/atr readers, roster_db) and
// the pipeline stage that matches and attributes clinical events.
#pragma once

#include "gateway/members/member_matcher.hpp"

#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace carebridge::gateway::members {

/// The events a group wants alerts for (bit set).
enum alert_event : std::uint8_t {
  alert_discharge = 1,
  alert_ed_visit = 2,
  alert_admission = 4,
};

/// A physician group (the organization care coordinators work for).
struct physician_group {
  std::string id;    // the roster's group_id (stable, plan-assigned)
  std::string name;
  std::string npi;   // organization NPI (10 digits), optional
  std::string tin;   // tax id (9 digits), optional
  /// Alert when the assessment's qualitative risk is at least this: "low", "moderate", "high".
  std::string risk_threshold = "moderate";
  std::uint8_t alert_events = alert_discharge;
  bool operator==(const physician_group&) const = default;
};

/// A member attributed to a group over [period_start, period_end] (dates inclusive, YYYY-MM-DD;
/// period_end empty: open-ended).
struct attribution {
  std::string member_id;
  std::string group_id;
  std::string period_start;
  std::string period_end;
  bool operator==(const attribution&) const = default;
};

/// A row (CSV line, NDJSON line, Bundle entry) that was skipped, and why. PHI-free: names the
/// column and the rule, never the value.
struct roster_problem {
  std::size_t line = 0;  // 1-based line of the CSV/NDJSON file, or 1-based Bundle entry
  std::string file;      // the file it came from (NDJSON sets), else empty
  std::string message;
};

/// What a roster file holds, once read and checked. A member row that fails a check is left out
/// whole (with its attribution) and reported in `problems`.
struct roster_batch {
  std::vector<member_record> members;       // one per member_id
  std::vector<attribution> attributions;    // one or more per member
  std::vector<physician_group> groups;      // every group the file names (id, name, NPI/TIN)
  std::vector<roster_problem> problems;
  std::size_t rows_read = 0;                // data rows / resources seen
  /// Members whose rows were skipped (their id could be read): apply() leaves what the database
  /// holds for them untouched — neither changed nor dropped — so a bad row never ends an
  /// attribution. Sorted, unique.
  std::vector<std::string> skipped_member_ids;
  /// Rows left out: the bad ones and the other rows of their members.
  std::size_t rows_skipped = 0;
  std::string format;  // "csv", "atr-bundle", "atr-ndjson"
  std::string origin;  // the file or directory read (read_roster_path sets it), for the import log
};

/// Identifier systems the readers give the CSV columns (and the ATR reader keeps as sent).
inline constexpr std::string_view mbi_system = "http://hl7.org/fhir/sid/us-mbi";  // type MC
/// A `medicaid_id` column without a system (`medicaid_id:SYSTEM` names the state's own system).
inline constexpr std::string_view default_medicaid_system = "urn:carebridge:sid:medicaid-id";
inline constexpr std::string_view npi_system = "http://hl7.org/fhir/sid/us-npi";
inline constexpr std::string_view tin_system = "urn:oid:2.16.840.1.113883.4.4";

/// YYYY-MM-DD and a real calendar date (1800-01-01 to 2999-12-31).
bool is_valid_date(std::string_view date) noexcept;
/// 10 digits whose last is the Luhn check digit over "80840" + the first nine (CMS NPI rule).
bool is_valid_npi(std::string_view npi) noexcept;
/// 9 digits (an EIN/TIN, without the dash).
bool is_valid_tin(std::string_view tin) noexcept;
/// "discharge,ed_visit,admission" (any order, any subset, at least one) → bits; nullopt if a name
/// is unknown.
std::optional<std::uint8_t> parse_alert_events(std::string_view list);
/// The bits as "discharge,ed_visit,admission" (in that order).
std::string alert_events_text(std::uint8_t events);
/// "low", "moderate", "high".
bool is_valid_risk_threshold(std::string_view t) noexcept;

/// CSV with a header row: member_id,family,given,birth_date,sex,postal_code,group_id,group_name,
/// period_start,period_end required (any order, case-insensitive); optional phone, address…,
/// mbi, medicaid_id, and MRN columns `mrn:SYSTEM` (e.g. `mrn:urn:oid:1.2.3` or
/// `mrn:http://hospital.example/mrn`). RFC 4180 quoting; UTF-8 (BOM skipped).
roster_batch read_roster_csv(std::istream& in);
/// A FHIR Bundle (collection/transaction/searchset) of Da Vinci ATR Group(s) with the Patients
/// and Coverages they reference.
roster_batch read_atr_bundle(std::string_view json);
/// Bulk NDJSON: the files of a $davinci-data-export (Group.ndjson, Patient.ndjson,
/// Coverage.ndjson…), each line one resource.
roster_batch read_atr_ndjson(const std::vector<std::filesystem::path>& files);
/// By content: a directory or *.ndjson → NDJSON, JSON starting with '{' → Bundle, else CSV.
/// Throws std::runtime_error (one line, no PHI) when the file cannot be read at all.
roster_batch read_roster_path(const std::filesystem::path& path);

struct import_summary {
  std::size_t members_new = 0, members_changed = 0, members_unchanged = 0, members_dropped = 0;
  std::size_t attributions_new = 0, attributions_changed = 0, attributions_ended = 0;
  std::size_t groups_new = 0;
  std::size_t rows_skipped = 0;
  std::int64_t version = 0;  // the roster version after the import
};

/// Everything a running gateway needs, loaded at once and immutable: share it, swap it whole.
struct roster_snapshot {
  std::int64_t version = 0;
  std::unique_ptr<roster_index> index;  // every member, dropped ones included (late events)
  std::unordered_map<std::string, std::vector<attribution>> attributions;  // by member_id
  std::unordered_map<std::string, physician_group> groups;                 // by group id

  /// The group `member_id` is attributed to on `date` (YYYY-MM-DD), or nullptr. When periods of
  /// two groups overlap on that date, the one that started latest wins.
  const physician_group* attributed_group(std::string_view member_id,
                                          std::string_view date) const;
};

/// Counts for `carebridge roster stats`.
struct roster_stats {
  std::size_t members = 0;          // every member, dropped ones included
  std::size_t members_current = 0;  // present in at least one source's latest import
  std::size_t attributions_active = 0;  // whose period contains the date asked about
  std::size_t groups = 0;
  std::int64_t version = 0;
  struct import_run {
    std::string finished_at;  // UTC, ISO 8601
    std::string source, origin, as_of;
    std::size_t rows_read = 0, rows_skipped = 0;
    std::size_t members_new = 0, members_changed = 0, members_dropped = 0;
  };
  std::vector<import_run> last_imports;  // newest first
};

/// The member database. Safe to open from several processes (SQLite WAL); one object per thread.
class roster_db {
 public:
  /// Opens (creating the schema when new) DATA_DIR/members.db or the given file. Throws
  /// std::runtime_error on failure.
  static std::unique_ptr<roster_db> open(const std::filesystem::path& file);
  virtual ~roster_db() = default;

  /// Applies a roster as the new snapshot of `source` (default: "default"), in one transaction:
  /// new members inserted, changed ones updated, members of that source absent from the batch
  /// dropped (their open or later attribution periods end the day before `as_of`, YYYY-MM-DD;
  /// they stay for events dated within their old periods). Groups named are created when new
  /// (settings default) and their names/NPI/TIN updated. Readers see the old roster or the new,
  /// never half. Bumps version().
  virtual import_summary apply(const roster_batch& batch, std::string_view source,
                               std::string_view as_of) = 0;
  /// Counts what apply() would do, writing nothing.
  virtual import_summary plan(const roster_batch& batch, std::string_view source,
                              std::string_view as_of) = 0;

  /// Changes whenever the roster or a group changes (cheap: for polling).
  virtual std::int64_t version() = 0;
  /// Loads the whole roster (members with identifiers, attributions, groups) and builds the index.
  virtual std::shared_ptr<const roster_snapshot> load() = 0;

  virtual std::vector<physician_group> groups() = 0;
  virtual std::optional<physician_group> group(std::string_view id) = 0;
  /// Creates or replaces a group's settings. Bumps version().
  virtual void put_group(const physician_group& g) = 0;

  /// Counts (active attributions on `date`, YYYY-MM-DD) and the last `imports` import runs. Not
  /// pure, so that fakes of this interface need not implement it.
  virtual roster_stats stats(std::string_view date, std::size_t imports = 5) {
    (void)date;
    (void)imports;
    return {};
  }
};

}  // namespace carebridge::gateway::members
