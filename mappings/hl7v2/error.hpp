// Error codes of the HL7 v2 (ER7) codec.
//
// Every value names what is wrong; where it is wrong travels beside the code (parse_error::offset,
// the path text). Neither ever contains message content, so both are safe to log and to send to a
// peer.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace carebridge::mappings::hl7v2 {

enum class error {
  /// The input is empty or holds only segment terminators.
  empty_input = 1,
  /// The input does not start with an MSH segment (nor FHS/BHS for a batch).
  no_msh,
  /// The MSH segment ends before its field separator and encoding characters.
  truncated_msh,
  /// MSH-1/MSH-2 hold an unusable delimiter set (repeated, alphanumeric, CR/LF or NUL).
  bad_delimiters,
  /// The input is larger than parse_options::max_bytes allows.
  too_large,
  /// The input has more segments than parse_options::max_segments allows.
  too_many_segments,
  /// A path such as `PID.3[2].1` is not well formed.
  bad_path,
  /// A DTM/TS value is not a valid date/time.
  bad_datetime,
  /// A batch envelope (FHS/BHS/BTS/FTS) is out of order or unbalanced.
  bad_batch,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// A parse failure: what (code) and where (byte offset into the input as given). No content.
struct parse_error {
  boost::system::error_code code;
  std::size_t offset = 0;

  /// "no MSH segment at the start of the input (byte 0)": one line, free of message content.
  std::string describe() const;
};

/// Lets boost::system::result<T, parse_error>::value() throw a system_error.
[[noreturn]] void throw_exception_from_error(const parse_error& e, const boost::source_location& loc);

}  // namespace carebridge::mappings::hl7v2

template <>
struct boost::system::is_error_code_enum<carebridge::mappings::hl7v2::error> : std::true_type {};
