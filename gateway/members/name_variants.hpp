// Name comparison for member matching: normalisation (case, accents, punctuation), the given-name
// variant table (nicknames, as data: mappings/tables/members/given-name-variants.csv, compiled in
// by mappings/tables/embed_csv.cmake), a phonetic key for blocking (Soundex) and the two
// typo measures (Jaro–Winkler, Damerau–Levenshtein). Pure functions, no I/O.
//
// Lifecycle and threads: name_variants::builtin() is parsed on first use (thread-safe) and never
// changes; a name_variants is immutable once built and may be read from any number of threads.
#pragma once

#include "mappings/fhir/code_tables.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace carebridge::gateway::members {

/// A name reduced to what matching compares: ASCII lower-case letters in tokens separated by one
/// space. UTF-8 accents of Latin-1 and Latin Extended-A are folded ("José" → "jose", "Łukasz" →
/// "lukasz", "ß" → "ss"); every other character (space, hyphen, apostrophe, period, digit, other
/// scripts) separates tokens. "  O'Brien-Smith, Jr. " → "o brien smith jr".
std::string normalize_name(std::string_view utf8);
/// The tokens of a normalized name without spaces: "o brien smith" → "obriensmith".
std::string joined(std::string_view normalized);
/// American Soundex of the letters of `normalized` (spaces ignored): "robert" → "R163"; empty for
/// a name without letters.
std::string soundex(std::string_view normalized);

/// Jaro–Winkler similarity in [0, 1] (prefix scale 0.1, up to 4 characters); 1 for two empty
/// strings, 0 when one is empty.
double jaro_winkler(std::string_view a, std::string_view b) noexcept;
/// Optimal-string-alignment distance (Damerau–Levenshtein with adjacent transpositions, each
/// substring edited once): insertions, deletions, substitutions, transpositions. Strings longer
/// than 64 characters are compared on their first 64.
std::size_t damerau_levenshtein(std::string_view a, std::string_view b) noexcept;

/// A table that cannot be read ("given-name-variants.csv:12: expected 2 columns"): the code
/// tables' error type, which boost::system::result can throw.
using table_error = mappings::fhir::table_error;

/// Given-name variants: groups of names that may name the same person. Each row `name,variant`
/// puts both in the group of `name`; two names are variants when they share a group (Bill and Will
/// are, through William; Christina and Christine are not, although both have Chris).
class name_variants {
 public:
  /// mappings/tables/members/given-name-variants.csv, compiled in (parsed once, shared). A
  /// malformed built-in table throws std::logic_error on first use; the unit tests
  /// (MemberNameVariants.*) parse it, so a build whose tests pass never does.
  static const name_variants& builtin();

  /// Reads `name,variant` CSV: `#` comment lines and blank lines anywhere, the header first, one
  /// pair per line, both normalized to a single token of at least 2 letters. Rejects a bad header,
  /// a row without exactly 2 columns, a name that normalizes to anything else, and a pair given
  /// twice.
  static boost::system::result<name_variants, table_error> from_csv(std::string_view csv,
                                                                    std::string_view origin);

  /// The groups (sorted ids) of a normalized single-token name; empty when it is in none.
  std::span<const std::uint32_t> groups(std::string_view name) const noexcept;
  /// True when the two normalized names differ and share a group.
  bool are_variants(std::string_view a, std::string_view b) const noexcept;
  /// Whether two sorted group lists (groups()) share a group.
  static bool share_group(std::span<const std::uint32_t> a,
                          std::span<const std::uint32_t> b) noexcept;
  /// The formal name of a group (the `name` column), for blocking keys: the first group of `name`,
  /// or `name` itself when it is in none.
  std::string_view canonical(std::string_view name) const noexcept;

  std::size_t group_count() const noexcept { return formal_.size(); }
  std::size_t pair_count() const noexcept { return pairs_; }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::vector<std::uint32_t>, string_hash, std::equal_to<>> groups_;
  std::vector<std::string> formal_;
  std::size_t pairs_ = 0;
};

/// The compiled-in table text by file name without .csv ("given-name-variants"); empty when there
/// is no such file. For the tests that compare it with mappings/tables/members/.
std::string_view builtin_table_text(std::string_view name) noexcept;

}  // namespace carebridge::gateway::members
