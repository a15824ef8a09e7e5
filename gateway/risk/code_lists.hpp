// ICD-10 code lists of the readmission-risk core, as data: which diagnosis codes mean which
// condition. The built-in lists are the CSV files in mappings/tables/risk/ (compiled in by
// mappings/tables/embed_csv.cmake): `charlson-icd10` (the 17 Quan 2005 Charlson conditions
// plus CareBridge's ICD-10-CM decisions) and `chronic-conditions-icd10` (chronic-condition flags).
// No I/O.
//
// A list maps code prefixes to condition keys. A code matches the rows of the LONGEST prefix it
// starts with; several rows with one prefix give several conditions (one code, several
// conditions). Codes and prefixes are compared dot-less and upper case.
//
// Lifecycle and threads: builtin() is parsed on first use (thread-safe) and never changes; a
// code_lists is immutable once built, and match() may be called from any number of threads.
// match() does not allocate.
#pragma once

#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace carebridge::gateway::risk {

// --- ICD-10 codes ------------------------------------------------------------------------------

/// FHIR system URIs of the code systems the lists read (WHO ICD-10 and US ICD-10-CM). Diagnoses
/// in any other system (ICD-9-CM, SNOMED CT, local codes, none) are not considered.
inline constexpr std::string_view icd10_system = "http://hl7.org/fhir/sid/icd-10";
inline constexpr std::string_view icd10cm_system = "http://hl7.org/fhir/sid/icd-10-cm";
bool is_icd10_system(std::string_view system) noexcept;

/// A well-formed ICD-10 / ICD-10-CM code without its dot, upper case ("E1165"). At most 7
/// characters, so it lives inline (no allocation).
class icd10_code {
 public:
  /// Normalizes `text`: ASCII whitespace trimmed at both ends, one dot allowed right after the
  /// third character, any case. Empty when it is not a code: a letter, a digit, a digit or letter,
  /// then up to four digits or letters ("E11", "I21.A1", "S72.001A"). WHO dagger/asterisk marks,
  /// ranges ("I21-I22") and inner spaces are not codes.
  static std::optional<icd10_code> parse(std::string_view text) noexcept;

  /// "E1165"
  std::string_view compact() const noexcept { return {chars_.data(), size_}; }
  /// "E11.65" (the ICD-10-CM display form; "E11" stays "E11")
  std::string dotted() const;

  bool operator==(const icd10_code& o) const noexcept { return compact() == o.compact(); }

 private:
  std::array<char, 7> chars_{};
  std::uint8_t size_ = 0;
};

// --- Prefix lists ------------------------------------------------------------------------------

/// A list that cannot be read: `where` is "origin:line" ("charlson-icd10.csv:40"), `what` says
/// what is wrong ("unknown condition 'chd'").
struct list_error {
  std::string where;
  std::string what;
  /// "charlson-icd10.csv:40: unknown condition 'chd'": one line for the log.
  std::string describe() const;
};

/// Lets boost::system::result<T, list_error>::value() throw (std::runtime_error with describe()).
[[noreturn]] void throw_exception_from_error(const list_error& e,
                                             const boost::source_location& loc);

/// One prefix list: prefix → set of conditions, the conditions being bit positions 0–31 of a mask
/// (the caller's enum). Built from CSV text by code_lists.
class prefix_list {
 public:
  struct row {
    std::string prefix;     // dot-less, upper case
    std::uint32_t bit = 0;  // condition bit position
    std::string source;     // the row's `source` column ("quan2005", "carebridge")
  };

  /// Conditions (a bit mask) of the longest prefix `code` starts with; 0 when none.
  std::uint32_t match(const icd10_code& code) const noexcept;
  /// The rows in file order (tests, listing).
  const std::vector<row>& rows() const noexcept { return rows_; }

  /// Reads `prefix,condition,source` CSV (see mappings/tables/README.md): `#` comment lines and
  /// blank lines anywhere, the header line first, then one row per line. `condition_bit` maps a
  /// condition key to its bit (nullopt: unknown key). Rejects a bad header, a row without exactly 3
  /// non-empty columns, a prefix that is not 3–7 code characters (a dot after the third allowed),
  /// an unknown condition and a row given twice.
  static boost::system::result<prefix_list, list_error> from_csv(
      std::string_view csv, std::string_view origin,
      std::optional<std::uint32_t> (*condition_bit)(std::string_view key));

 private:
  std::vector<row> rows_;
  // Prefix packed into a 64-bit key (7 bytes of characters, the length in the top byte) → mask.
  std::unordered_map<std::uint64_t, std::uint32_t> index_;
  std::uint8_t longest_ = 0;
  std::uint8_t shortest_ = 7;
};

/// The two lists the risk core reads.
struct code_lists {
  prefix_list charlson;  // bits: risk::condition
  prefix_list chronic;   // bits: risk::chronic_condition

  /// mappings/tables/risk/charlson-icd10.csv and chronic-conditions-icd10.csv, compiled in (parsed
  /// once, shared, immutable). A malformed built-in list throws std::logic_error on first use; the
  /// unit tests (ComorbidityTables.*) parse every file so a build whose tests pass never does.
  static const code_lists& builtin();

  /// Both lists from CSV text (tests; a site's own lists later). Errors name the built-in file.
  static boost::system::result<code_lists, list_error> from_csv(std::string_view charlson_csv,
                                                                std::string_view chronic_csv);
};

/// The built-in list files as compiled in, by file name without .csv ("charlson-icd10"); empty
/// when there is no such file. For the tests that compare them with mappings/tables/risk/.
std::string_view builtin_list_text(std::string_view name) noexcept;
/// The names of the compiled-in list files, sorted.
std::vector<std::string_view> builtin_list_names();

}  // namespace carebridge::gateway::risk
