// The HL7 v2 (ER7) message view: a lossless, schema-less, zero-copy parse.
//
// parse() indexes segments and nothing more; fields, repetitions, components and sub-components are
// found when asked for, and escape sequences are decoded on access. Nothing is rejected for being
// unknown: Z-segments, extra repetitions and extra fields stay exactly as they came.
//
// Lifetime: a message whose text is plain ASCII or valid UTF-8 views the caller's bytes, which must
// outlive it (and every view taken from it). A message that had to be transcoded to UTF-8 (MSH-18
// names another character set, or invalid bytes were replaced) owns its text. Copies are cheap and
// share that text. A message is immutable, so it may be read from any thread.
#pragma once

#include "mappings/hl7v2/charset.hpp"
#include "mappings/hl7v2/error.hpp"

#include <boost/system/result.hpp>

#include <array>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::hl7v2 {

/// The delimiter set of a message (MSH-1 and MSH-2). A NUL member means "not defined by MSH-2".
struct delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  char truncation = '\0';  // v2.7+: the fifth encoding character, e.g. '#'

  /// MSH-2 as it should be written: the encoding characters in order.
  std::string encoding_characters() const;
};

/// A parsed path such as `PID.3[2].1`, `DG1[2].3.1`, `MSH.9.2` (all indexes 1-based).
/// field/component/subcomponent of 0 mean "not given" (the whole of the enclosing element).
struct path {
  char segment[3] = {};
  std::uint32_t occurrence = 1;  // SEG[n]
  std::uint32_t field = 0;
  std::uint32_t repetition = 1;  // F[r]
  std::uint32_t component = 0;
  std::uint32_t subcomponent = 0;

  std::string_view segment_id() const { return {segment, 3}; }
};

/// Parses `SEG[n].F[r].C.S`; error::bad_path when it is not of that form. Two common spellings are
/// accepted too: lower-case segment ids (`pid.5`) and `-` for `.` (`PID-5`, `PID-5-1`), the way
/// interface specifications often write paths.
boost::system::result<path> parse_path(std::string_view text);

class message;

/// One value at any level (a field repetition, a component, a sub-component), as ER7 text.
/// Cheap to copy; views the message's text.
class element {
 public:
  /// How deep in the hierarchy an element sits; decides what component() etc. split on.
  /// `literal` is for MSH-1 and MSH-2, which are never split or decoded.
  enum class level : std::uint8_t { field, repetition, component, subcomponent, literal };

  element() = default;
  element(std::string_view raw, const message* msg, level lv) : raw_(raw), msg_(msg), level_(lv) {}

  /// The ER7 text as sent (escape sequences not decoded, inner delimiters kept).
  std::string_view raw() const { return raw_; }
  /// True when nothing was sent (absent or empty).
  bool empty() const { return raw_.empty(); }
  /// True for the explicit HL7 null `""` (the sender asks the receiver to delete the value).
  bool is_null() const { return raw_ == "\"\""; }

  level depth() const { return level_; }
  /// The message this element is part of (nullptr for a default-constructed element).
  const message* owner() const { return msg_; }

  /// The r-th repetition (1-based) of a field; an element that is not a field has one.
  element repetition(std::uint32_t r) const;
  std::uint32_t repetition_count() const;
  /// The c-th component (1-based) of a repetition (of the first repetition, for a field).
  element component(std::uint32_t c) const;
  std::uint32_t component_count() const;
  /// All components of a repetition (of the first repetition, for a field) in one pass, for readers
  /// that take several: out[i] is component(i + 1) for i < n. Returns component_count(); the ones
  /// past n are counted, not stored. `info`, when given, says what else the same pass found.
  struct split_info {
    bool escapes = false;        // the escape character: without it, decoded() is raw()
    bool subcomponents = false;  // the sub-component separator: without it, subcomponent(1) of a
                                 // component is the component and the others are empty
  };
  std::uint32_t components(element* out, std::uint32_t n, split_info* info = nullptr) const;
  /// The s-th sub-component (1-based) of a component.
  element subcomponent(std::uint32_t s) const;
  std::uint32_t subcomponent_count() const;

  /// The value with escape sequences decoded, in UTF-8. Formatting and charset escapes (`\H\`,
  /// `\N\`, `\.sp\`, `\Cxxyy\`, `\Mxxyyzz\`, `\Zxx\`) are kept verbatim; `\.br\` becomes a
  /// line feed.
  std::string decoded() const;
  /// The same without allocating when there is nothing to decode: returns raw() itself, or the
  /// decoded text written into `scratch` (valid until `scratch` changes).
  std::string_view decoded(std::string& scratch) const;

 private:
  std::string_view raw_;
  const message* msg_ = nullptr;
  level level_ = level::field;
};

/// One segment. Field numbering follows the standard: for MSH, field 1 is the field separator and
/// field 2 the encoding characters.
class segment_view {
 public:
  segment_view() = default;
  segment_view(std::string_view raw, const message* msg) : raw_(raw), msg_(msg) {}

  /// The segment id: "MSH", "PID", "ZPI"… (the text before the first field separator).
  std::string_view id() const;
  /// The segment as sent, without its terminator.
  std::string_view raw() const { return raw_; }
  /// The number of fields present (trailing empty fields sent as `||` count).
  std::uint32_t field_count() const;
  /// Field n (1-based), all repetitions; empty when absent.
  element field(std::uint32_t n) const;

 private:
  friend class indexed_segment;
  std::string_view raw_;
  const message* msg_ = nullptr;
};

/// A segment with its fields located once, for readers that take many fields of one segment (the
/// mappers read thirty of PV1's): field(n) is then a lookup, not a scan from the segment's start.
/// Same numbering and results as segment_view::field; views the message the same way.
class indexed_segment {
 public:
  indexed_segment() = default;
  explicit indexed_segment(const segment_view& s);

  std::string_view id() const { return seg_.id(); }
  std::string_view raw() const { return seg_.raw(); }
  std::uint32_t field_count() const;
  element field(std::uint32_t n) const;
  const segment_view& view() const { return seg_; }

 private:
  segment_view seg_;
  const message* msg_ = nullptr;
  bool header_ = false;                 // MSH, FHS, BHS: field 1 is the separator itself
  // Where each piece between field separators starts (the id is piece 0), inline for up to 64
  // pieces (PV1 has 52 fields); a longer segment keeps them all in spill_.
  std::string_view piece(std::uint32_t i) const;
  std::uint32_t count_ = 0;
  std::array<std::uint32_t, 64> starts_{};
  std::vector<std::uint32_t> spill_;
};

/// What character set the text was in and what happened converting it to UTF-8.
struct text_encoding {
  std::string declared;             // MSH-18 (first repetition) as sent; empty when not valued
  charset source = charset::utf8;   // the character set the bytes were read as
  bool transcoded = false;          // the message owns a UTF-8 copy of the input
  bool used_fallback = false;       // parse_options::fallback_charset was applied
  bool unknown_declared = false;    // MSH-18 named a character set we do not know
  std::size_t invalid_bytes = 0;    // bytes that were not valid in `source` (replaced by U+FFFD)
};

struct parse_options {
  /// Applied when MSH-18 is empty, ASCII or UTF-8 but the bytes are not valid UTF-8, and when MSH-18
  /// names an unknown character set. charset::none leaves invalid bytes as U+FFFD (counted).
  charset fallback_charset = charset::none;
  std::size_t max_bytes = 64u << 20;
  std::size_t max_segments = 100'000;
};

class message {
 public:
  /// Segment text (UTF-8): each segment without its terminator.
  std::size_t segment_count() const { return segments_.size(); }
  segment_view segment(std::size_t i) const;
  /// The n-th (1-based) segment with this id, if present.
  std::optional<segment_view> find(std::string_view id, std::uint32_t occurrence = 1) const;
  /// The number of segments with this id.
  std::uint32_t count(std::string_view id) const;

  /// The element at a path, or an empty element when it is absent.
  element at(const path& p) const;
  /// The decoded value at a path, or error::bad_path. Leaves (no inner delimiters) are decoded;
  /// composites are returned as ER7 text so that the result stays unambiguous.
  boost::system::result<std::string> get(std::string_view path_text) const;

  /// The message written back: each segment followed by `\r` (the canonical terminator). For a
  /// message read from ASCII or valid UTF-8 this is byte-identical to the input after terminator
  /// normalisation (and without a leading byte-order mark).
  std::string to_er7() const;

  const delimiters& delims() const { return delims_; }
  const text_encoding& encoding() const { return encoding_; }
  /// The whole UTF-8 text the segments are views into.
  std::string_view text() const { return text_; }

  // Convenience accessors for the header (raw values, first repetition / component as noted).
  std::string_view sending_application() const;  // MSH-3.1
  std::string_view sending_facility() const;     // MSH-4.1
  std::string_view message_type() const;         // MSH-9.1, e.g. "ADT"
  std::string_view trigger_event() const;        // MSH-9.2, e.g. "A03"
  std::string_view control_id() const;           // MSH-10
  std::string_view processing_id() const;        // MSH-11.1
  std::string_view version() const;              // MSH-12.1

  /// Parses one message. `bytes` must outlive the message unless encoding().transcoded.
  friend boost::system::result<message, parse_error> parse(std::string_view bytes,
                                                           const parse_options& options);

  /// Used by element to decode `\Xhh…\` in the source character set.
  charset source_charset() const { return encoding_.source; }

 private:
  struct span {
    std::uint32_t offset;
    std::uint32_t length;
  };

  std::shared_ptr<const std::string> owned_;  // set when transcoded
  std::string_view text_;
  std::vector<span> segments_;
  delimiters delims_;
  text_encoding encoding_;
};

boost::system::result<message, parse_error> parse(std::string_view bytes,
                                                  const parse_options& options = {});

/// Splits `raw` on `sep` and returns the n-th (1-based) piece, or empty. Exposed for the batch
/// splitter and tests.
std::string_view nth_piece(std::string_view raw, char sep, std::uint32_t n) noexcept;
std::uint32_t piece_count(std::string_view raw, char sep) noexcept;

}  // namespace carebridge::mappings::hl7v2
