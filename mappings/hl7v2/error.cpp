#include "mappings/hl7v2/error.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace carebridge::mappings::hl7v2 {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "hl7v2"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::empty_input: return "the input is empty";
      case error::no_msh: return "no MSH segment at the start of the input";
      case error::truncated_msh: return "the MSH segment ends before its encoding characters";
      case error::bad_delimiters: return "MSH-1/MSH-2 hold an unusable delimiter set";
      case error::too_large: return "the input is larger than the configured maximum";
      case error::too_many_segments: return "the input has more segments than the configured maximum";
      case error::bad_path: return "not a valid HL7 path (expected SEG[n].F[r].C.S)";
      case error::bad_datetime: return "not a valid HL7 date/time (expected YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])";
      case error::bad_batch: return "the batch envelope is malformed";
    }
    return "unknown hl7v2 error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::string parse_error::describe() const {
  return code.message() + " (byte " + std::to_string(offset) + ")";
}

void throw_exception_from_error(const parse_error& e, const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(e.code, e.describe()), loc);
}

}  // namespace carebridge::mappings::hl7v2
