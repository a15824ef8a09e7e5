// Member matching: which plan member is the patient a hospital is telling us about? Pure core, no
// I/O and no store: the caller builds a roster_index from the roster's member records and asks
// match() for each clinical event's patient; the result says what was decided, by which rule, on
// which fields, with which scores, in PHI-free reason codes.
//
// Rules, in order of precedence (the first that finds a member decides):
//   1. member_id        a member/subscriber id the hospital sent (IN1-49/IN1-36, Coverage
//                       subscriberId) equals a member's id, after normalisation (case, spaces,
//                       dashes ignored);
//   2. payer_id         a payer-issued identifier (v2 type MB, MC, MA, SN: Medicare MBI, Medicaid
//                       id, member number) equals one linked to a member (same system);
//   3. identifier_link  any other identifier (MRN: MR, PI, PT…) already linked to a member (same
//                       system; an identifier without a system is never used to link);
//   4. demographics     a Fellegi–Sunter score over family and given name, birth date, sex, postal
//                       code and phone (weights in match_weights, log2 likelihood ratios).
// An identifier rule links outright unless identifiers point at different members (review,
// `identifier_conflict`) or the member's demographics contradict: two or more of family name,
// given name, birth date, sex disagreeing, or one of them disagreeing while the demographics fit
// another member better (review, `demographics_conflict`: a dependent or a twin registered under
// the subscriber's id). Demographics auto-link only when the total reaches
// auto_link_threshold, both names and the birth date agree (exactly or as a recognised variant or
// typo), sex does not disagree, and no other candidate comes within ambiguity_margin (twins,
// duplicates: `twin_conflict`, `close_candidates`). A missing field scores 0: neither evidence for
// nor against, and never counted as agreement.
//
// Lifecycle and threads: a roster_index is built once from the roster (a new roster, a new index)
// and is immutable; match() may be called from any number of threads at once (each thread keeps
// scratch buffers, reused from one match to the next: a bit per member and a slot per distinct
// name of the largest roster it matched against). The index owns its member records. It keeps
// hash postings (member id, linked identifiers) and blocking keys (birth date; Soundex of a
// family-name part with two of year, month, day of birth; Soundex of the family name + the given
// name's formal form, used when the patient has no birth date), so a match touches the few
// members that share a key, never the whole roster; and each distinct name once, normalised, so
// a match compares the patient's names with each distinct name of its candidates once.
#pragma once

#include "gateway/members/name_variants.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::members {

/// An identifier: `system` a URI (or the assigning authority as configured), `value` as sent,
/// `type` the v2 table 0203 code when known (MR, MB, MC, MA, SN, PI…).
struct identifier {
  std::string system;
  std::string value;
  std::string type;
};

/// One member of the plan's roster.
struct member_record {
  std::string member_id;
  std::string family, given;
  std::string birth_date;   // YYYY-MM-DD
  std::string sex;          // male | female | other | unknown (also M, F, O, U)
  std::string postal_code;  // the first 5 digits are compared
  std::string phone;        // digits are compared, the last 10 (7 when one side has no area code)
  std::vector<identifier> identifiers;  // Medicare MBI, Medicaid id, hospital MRNs linked to it
};

/// What a hospital said about its patient (from mappings::event::clinical_event).
struct patient_facts {
  std::vector<identifier> identifiers;  // PID-3 etc., with type
  std::vector<std::string> member_ids;  // member / subscriber ids from IN1 or Coverage
  std::string family, given;
  std::string birth_date;  // YYYY-MM-DD; anything else counts as missing
  std::string sex;
  std::string postal_code;
  std::string phone;
};

/// Normalizes an identifier value for comparison: ASCII upper case, spaces, tabs and dashes
/// removed ("1eg4-tE5-mK73" → "1EG4TE5MK73").
std::string normalize_id(std::string_view value);

// --- Scoring -------------------------------------------------------------------------------------

enum class field : std::uint8_t { family, given, birth_date, sex, postal_code, phone };
inline constexpr std::size_t field_count = 6;
std::string_view to_string(field f) noexcept;

/// How one field compared. Not every outcome applies to every field.
enum class comparison : std::uint8_t {
  missing,     // absent on either side: weight 0
  exact,       // equal after normalisation
  nickname,    // given: variants in the nickname table (Bill ~ William)
  name_part,   // family: a part of a hyphenated/double name; given: same first name, one
               // side has a middle name
  typo,        // names: Damerau–Levenshtein 1 (both ≥ 4 letters), 2 (≥ 8), or JW ≥ 0.94
  initial,     // given: one side is an initial that fits the other
  transposed,  // birth date: two adjacent digits swapped, same year ±1
  one_digit,   // birth date: one digit differs, same year ±1
  month_day_swapped,  // birth date: month and day exchanged
  year_typo,          // birth date: one digit or a transposition, but years more than 1 apart
  prefix,             // postal code: same first 3 digits (same area)
  disagree,           // present on both sides and different
};
std::string_view to_string(comparison c) noexcept;

/// Weights, log2 likelihood ratios log2(m/u) of each outcome (m: probability among true matches,
/// u: among non-matches), rounded; `disagree` weights are log2((1-m)/(1-u)). See member_matcher.cpp
/// for the m and u each one assumes.
struct match_weights {
  double family_exact = 7, family_part = 5, family_typo = 4.5, family_disagree = -4;
  double given_exact = 6, given_nickname = 4.5, given_part = 4.5, given_typo = 3.5,
         given_initial = 1, given_disagree = -5;
  double names_swapped = -1;  // added once when given and family match crosswise
  double dob_exact = 10, dob_near = 5, dob_year_typo = 1.5, dob_disagree = -8;
  double sex_exact = 1, sex_disagree = -4;
  double postal_exact = 4, postal_prefix = 1, postal_disagree = -1.5;
  double phone_exact = 5, phone_disagree = -1;
};

struct match_options {
  match_weights weights;
  double auto_link_threshold =
      20;                        // demographics: auto_link at or above (and the conditions above)
  double review_threshold = 10;  // demographics: review at or above, no_match below
  double ambiguity_margin = 6;   // the best must lead every other candidate ≥ review by this
  std::size_t max_candidates =
      5000;                      // more candidates than this: scored up to it, never auto-linked
  std::size_t max_reported = 3;  // candidates kept in the result
};

struct field_evidence {
  field which = field::family;
  comparison outcome = comparison::missing;
  double weight = 0;
};

/// One scored member.
struct candidate {
  std::uint32_t position = 0;  // in the roster_index
  std::string member_id;
  double total = 0;
  bool names_swapped = false;  // given and family were compared crosswise
  std::array<field_evidence, field_count> fields{};

  const field_evidence& operator[](field f) const noexcept {
    return fields[static_cast<std::size_t>(f)];
  }
};

enum class match_decision : std::uint8_t { auto_link, review, no_match };
std::string_view to_string(match_decision d) noexcept;

/// The rule that decided (or found the candidates of a review).
enum class match_rule : std::uint8_t { member_id, payer_id, identifier_link, demographics, none };
std::string_view to_string(match_rule r) noexcept;

struct match_result {
  match_decision decision = match_decision::no_match;
  match_rule rule = match_rule::none;
  /// PHI-free codes, the deciding one first: "member_id", "payer_id", "mrn_link",
  /// "identifier_conflict", "demographics_conflict"; for demographics the agreeing fields
  /// ("name+dob+sex+postal"), then qualifiers ("given_nickname", "family_typo", "swapped_names",
  /// "dob_near") and, for a review, why not auto ("twin_conflict", "close_candidates",
  /// "below_auto_threshold", "name_not_confirmed", "dob_not_confirmed", "sex_conflict",
  /// "candidates_truncated"); "below_threshold", "no_candidates" for no_match.
  std::vector<std::string> reasons;
  std::vector<candidate> candidates;      // best first, at most max_reported
  std::size_t candidates_considered = 0;  // members scored

  /// The linked member (auto_link), else nullptr.
  const candidate* linked() const noexcept {
    return decision == match_decision::auto_link && !candidates.empty() ? &candidates.front()
                                                                        : nullptr;
  }
  /// "auto_link demographics [name+dob+sex] 28.0 next 11.0 of 3": scores and codes only, no ids
  /// and no PHI.
  std::string describe() const;
};

// --- The index -----------------------------------------------------------------------------------

class roster_index {
 public:
  /// Builds the index (normalises every member once). `variants` must outlive the index.
  explicit roster_index(std::vector<member_record> members,
                        const name_variants& variants = name_variants::builtin());

  std::size_t size() const noexcept { return members_.size(); }
  const member_record& member(std::uint32_t position) const { return members_.at(position); }
  const name_variants& variants() const noexcept { return *variants_; }
  /// Postings held (ids, identifiers, blocking keys): for the benchmark's memory figures.
  std::size_t posting_count() const noexcept { return posting_keys_.size(); }

  /// A distinct name of the roster as comparisons see it. A roster repeats a few thousand names,
  /// so members refer to theirs by id and a match compares each distinct name once.
  struct name {
    std::string normalized;  // normalize_name() (family: generational suffixes dropped)
    std::string joined;      // the same without spaces
    // Given names: the variant groups (name_variants::groups) of the first token and of joined.
    std::span<const std::uint32_t> first_groups, joined_groups;
  };
  /// What matching compares, normalised once per member.
  struct prepared {
    std::uint32_t family = 0;       // id in family_name(); 0 is the empty name
    std::uint32_t given = 0;        // id in given_name(); 0 is the empty name
    std::uint32_t birth_date = 0;   // YYYYMMDD, 0 when missing or malformed
    std::uint32_t postal = 0;       // 5 digits + 1 (0 when missing)
    std::uint64_t phone = 0;        // up to the last 10 digits
    std::uint8_t phone_digits = 0;  // how many of them (0, or 7–10)
    std::uint8_t sex = 0;           // 0 missing, 1 male, 2 female, 3 other
  };
  const prepared& prepared_at(std::uint32_t position) const { return prepared_.at(position); }
  const name& family_name(std::uint32_t id) const { return family_names_.at(id); }
  const name& given_name(std::uint32_t id) const { return given_names_.at(id); }
  std::size_t family_name_count() const noexcept { return family_names_.size(); }
  std::size_t given_name_count() const noexcept { return given_names_.size(); }

  /// Calls f(position) for each member whose postings carry `key`, in ascending position (see
  /// member_matcher.cpp for how keys are made).
  template <class F>
  void for_each_posting(std::uint64_t key, F&& f) const {
    if (bucket_start_.empty()) return;  // moved from
    const std::size_t b = static_cast<std::size_t>(key >> bucket_shift_);
    for (std::uint32_t i = bucket_start_[b], end = bucket_start_[b + 1]; i < end; ++i)
      if (posting_keys_[i] == key) f(posting_members_[i]);
  }
  /// Members whose postings carry `key`, appended to `out`.
  void collect(std::uint64_t key, std::vector<std::uint32_t>& out) const;

 private:
  std::vector<member_record> members_;
  std::vector<prepared> prepared_;
  std::vector<name> family_names_, given_names_;
  // The postings, ordered by bucket (the key's top bits), each bucket in member order: a lookup
  // reads one bucket of a few postings, no search.
  std::vector<std::uint64_t> posting_keys_;
  std::vector<std::uint32_t> posting_members_;
  std::vector<std::uint32_t> bucket_start_;  // bucket b is [bucket_start_[b], bucket_start_[b + 1])
  unsigned bucket_shift_ = 63;
  const name_variants* variants_;
};

/// Matches one patient against the roster (see the rules at the top of this file).
match_result match(const roster_index& index, const patient_facts& patient,
                   const match_options& options = {});

/// Scores one member against the patient's demographics (what match() does for each candidate);
/// for tests and for explaining an identifier match.
candidate score_member(const roster_index& index, std::uint32_t position,
                       const patient_facts& patient, const match_options& options = {});

}  // namespace carebridge::gateway::members
