// Code tables: HL7 v2 codes → FHIR codings, as data. The built-in tables are the CSV files in
// mappings/tables/ (compiled into the library, so the binary needs no data directory); a sender's
// overrides (its local codes) are layered on top from the config. No I/O.
//
// Every table maps a v2 code (as sent, compared case-sensitively first, then case-insensitively) to
// one coding: system URI, code, display. A code that is not in a table is "unmapped": the mapper
// keeps it as sent (in the v2 table's own code system) and counts it.
//
// Lifecycle and threads: builtin() is built on first use (thread-safe) and never changes. A
// sender's tables are a copy of builtin() with merge()/set() applied at start-up (config load);
// after that they are only read, and find() may be called from any number of threads at once.
// find() does not allocate (except the first time a given HL7nnnn name is asked for, see find()).
// The pointers it returns stay valid until the table they come from is changed or destroyed.
#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::fhir {

struct coding {
  std::string system;
  std::string code;
  std::string display;
  bool operator==(const coding&) const = default;
};

/// A table that cannot be read: `where` is "origin:line" ("patient-class.csv:12"), `what` says
/// what is wrong ("duplicate code 'E' (first at line 9)"). Neither quotes row content but the code.
struct table_error {
  std::string where;
  std::string what;

  /// "patient-class.csv:12: duplicate code 'E' (first at line 9)": one line for the log.
  std::string describe() const;
};

/// Lets boost::system::result<T, table_error>::value() throw (std::runtime_error with describe()).
[[noreturn]] void throw_exception_from_error(const table_error& e,
                                             const boost::source_location& loc);

class code_tables {
 public:
  /// The tables compiled in from mappings/tables/*.csv (built once, shared, immutable).
  static const code_tables& builtin();

  /// Reads one table in the CSV form of mappings/tables/ (header `code,system,target,display`,
  /// `#` comment lines before it, RFC 4180 quoting). `origin` names the source in errors. Rejects a
  /// bad header, a row without exactly 4 columns, an empty code or target, an empty system (except
  /// in table::coding_system) and a code given twice (codes differing only in case are distinct).
  static boost::system::result<code_tables, table_error> from_csv(std::string_view table,
                                                                  std::string_view csv,
                                                                  std::string_view origin);

  /// The coding for `code` in `table`, or nullptr when the table or the code is unknown. The exact
  /// code wins; otherwise a row equal to it ignoring ASCII case (the first in code order if there
  /// are several). In table::coding_system, a name "HL7nnnn" (4 digits, any case) that no row
  /// covers gives http://terminology.hl7.org/CodeSystem/v2-nnnn (process-wide, made once per nnnn).
  const coding* find(std::string_view table, std::string_view code) const;

  /// Adds or replaces one row (overrides from the config use this).
  void set(std::string_view table, std::string_view code, coding target);
  /// Copies every row of `other` over this one's (a sender's overrides over the built-ins).
  void merge(const code_tables& other);

  /// Names of the tables present, sorted.
  std::vector<std::string> tables() const;
  /// Number of rows in `table` (0 when the table is unknown).
  std::size_t size(std::string_view table) const;

  /// Calls f(std::string_view code, const coding&) for every row of `table` (none when unknown), in
  /// case-insensitive code order. For tests and for listing tables (`carebridge inspect`).
  template <class F>
  void for_each_row(std::string_view table, F&& f) const {
    if (auto t = tables_.find(table); t != tables_.end()) {
      for (const auto& [code, target] : t->second) f(std::string_view(code), target);
    }
  }

 private:
  // Rows are ordered by code ignoring ASCII case, ties broken case-sensitively. That is a strict
  // total order on the codes, so one map serves both lookups: find(code) is the exact match, and
  // lower_bound(folded{code}) lands on the first row equal to code ignoring case (such rows are
  // contiguous). Both are heterogeneous lookups on a string_view: nothing is allocated.
  struct ci_less {
    using is_transparent = void;
    /// A probe that compares ignoring case only (for the case-insensitive fallback).
    struct folded {
      std::string_view text;
    };

    static constexpr unsigned char fold(char c) noexcept {
      const auto u = static_cast<unsigned char>(c);
      return (u >= 'A' && u <= 'Z') ? static_cast<unsigned char>(u - 'A' + 'a') : u;
    }
    /// <0, 0, >0 like strcmp, ignoring ASCII case.
    static constexpr int compare_folded(std::string_view a, std::string_view b) noexcept {
      const std::size_t n = a.size() < b.size() ? a.size() : b.size();
      for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = fold(a[i]);
        const unsigned char y = fold(b[i]);
        if (x != y) return x < y ? -1 : 1;
      }
      return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
    }

    bool operator()(std::string_view a, std::string_view b) const noexcept {
      const int c = compare_folded(a, b);
      return c != 0 ? c < 0 : a < b;
    }
    bool operator()(folded a, std::string_view b) const noexcept {
      return compare_folded(a.text, b) < 0;
    }
    bool operator()(std::string_view a, folded b) const noexcept {
      return compare_folded(a, b.text) < 0;
    }
  };
  using table_rows = std::map<std::string, coding, ci_less>;
  std::map<std::string, table_rows, std::less<>> tables_;

  // The exact matches again, in an open-addressing hash table keyed on (table, code): nearly every
  // lookup is one (a code as the table has it), and the mapper makes dozens per message. The hash
  // reads eight bytes at a time and the key is never assembled for a lookup. The hashes sit in an
  // array of their own (a probe reads a few of them, in one cache line) and a row's text is
  // compared only when its hash is equal. Holds copies, so a copied code_tables is consistent
  // without rebuilding anything.
  struct exact_row {
    std::uint32_t table_size = 0;  // key = table + code, one string
    std::string key;
    coding value;
  };
  std::vector<std::uint64_t> exact_hashes_;  // power-of-two size, at most half full; 0: free slot
  std::vector<exact_row> exact_rows_;        // the row of each slot
  std::size_t exact_count_ = 0;
  static std::uint64_t exact_hash(std::string_view table, std::string_view code) noexcept;
  const coding* find_exact(std::string_view table, std::string_view code) const noexcept;
  void index(std::string_view table, std::string_view code, const coding& target);
};

/// Names of the built-in tables (the file names in mappings/tables/ without .csv), each with the
/// v2 table it reads and the FHIR code system it targets (as in mappings/tables/README.md).
namespace table {
/// 0004 patient class (PV1-2) → v3 ActCode (Encounter.class)
inline constexpr std::string_view patient_class = "patient-class";
/// 0007 admission type (PV1-4) → v2-0007 (Encounter.type)
inline constexpr std::string_view admission_type = "admission-type";
/// 0112 discharge disposition (PV1-36) → NUBC patient discharge status
inline constexpr std::string_view discharge_disposition = "discharge-disposition";
/// 0001 administrative sex → administrative-gender
inline constexpr std::string_view sex = "sex";
/// 0200 name type (XPN.7) → name-use
inline constexpr std::string_view name_use = "name-use";
/// 0190 address type (XAD.7) → address-use
inline constexpr std::string_view address_use = "address-use";
/// 0190 address type (XAD.7) → address-type
inline constexpr std::string_view address_type = "address-type";
/// 0201 telecommunication use (XTN.2) → contact-point-use
inline constexpr std::string_view telecom_use = "telecom-use";
/// 0202 telecommunication equipment type (XTN.3) → contact-point-system
inline constexpr std::string_view telecom_system = "telecom-system";
/// 0203 identifier type (CX.5) → v2-0203
inline constexpr std::string_view identifier_type = "identifier-type";
/// 0396 coding system name (CWE.3) → code system URI, in coding::code (system left empty)
inline constexpr std::string_view coding_system = "coding-system";
/// 0052 diagnosis type (DG1-6) → diagnosis-role
inline constexpr std::string_view diagnosis_type = "diagnosis-type";
/// 0069 hospital service (PV1-10) → v2-0069
inline constexpr std::string_view hospital_service = "hospital-service";
/// 0092 re-admission indicator (PV1-13) → v2-0092
inline constexpr std::string_view readmission = "readmission";
/// 0063 relationship (NK1-3) → v3 RoleCode
inline constexpr std::string_view relationship = "relationship";
/// 0002 marital status (PID-16) → v3 MaritalStatus
inline constexpr std::string_view marital_status = "marital-status";
/// 0078 abnormal flags (OBX-8) → v3 ObservationInterpretation
inline constexpr std::string_view abnormal_flag = "abnormal-flag";
/// 0085 observation result status (OBX-11) → observation-status
inline constexpr std::string_view observation_status = "observation-status";
/// 0023 admit source (PV1-14, NUBC point of origin) → admit-source
inline constexpr std::string_view admit_source = "admit-source";
/// 0004 patient class → encounter-status, used when PV1-45 is empty
inline constexpr std::string_view encounter_status = "encounter-status";
}  // namespace table

}  // namespace carebridge::mappings::fhir
