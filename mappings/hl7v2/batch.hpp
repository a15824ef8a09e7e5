// Splitting a byte stream into HL7 v2 messages: a single message, several messages one after the
// other (a file), or a batch file with FHS/BHS … BTS/FTS envelopes.
//
// Splitting only looks at segment ids at the start of segments; the messages are then parsed one by
// one with parse(). Messages are views into the input. Count problems (BTS-1, FTS-1) and envelope
// problems are reported beside the messages, never by dropping one: nothing in the input is lost.
#pragma once

#include "mappings/hl7v2/error.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::hl7v2 {

/// Something about an envelope that does not add up. Never contains message content.
struct batch_issue {
  enum class kind : std::uint8_t {
    bts_count_mismatch,  // BTS-1 differs from the number of messages in the batch
    fts_count_mismatch,  // FTS-1 differs from the number of batches in the file
    missing_bts,         // a BHS without its BTS
    missing_fts,         // an FHS without its FTS
    unexpected_segment,  // BTS/FTS/BHS where it cannot be, or text before the first MSH/FHS/BHS
    trailing_segment,    // segments after FTS
  };
  kind what;
  std::size_t offset;    // byte offset of the segment concerned
  std::uint64_t expected = 0;  // the count the trailer states (count mismatches only)
  std::uint64_t actual = 0;    // the count found

  std::string describe() const;
};

/// One batch (BHS … BTS), or the implicit batch of messages without a BHS.
struct batch_group {
  std::string_view header;   // the BHS segment, empty when none
  std::string_view trailer;  // the BTS segment, empty when none
  std::vector<std::string_view> messages;  // each from its MSH to the end of its last segment
  std::vector<std::size_t> message_offsets;  // where each message starts in the input
};

struct batch_file {
  std::string_view file_header;   // FHS, empty when none
  std::string_view file_trailer;  // FTS, empty when none
  std::vector<batch_group> batches;
  std::vector<batch_issue> issues;

  /// All messages of all batches, in input order.
  std::vector<std::string_view> messages() const;
  std::size_t message_count() const;
  bool is_envelope() const { return !file_header.empty() || batches.size() > 1 ||
                                    (!batches.empty() && !batches.front().header.empty()); }
};

/// Splits `bytes` (after an optional UTF-8 byte-order mark) into messages. Fails only when the
/// input holds no MSH segment at all (error::empty_input, error::no_msh) or is too large.
boost::system::result<batch_file, parse_error> split_batch(std::string_view bytes,
                                                           std::size_t max_bytes = 256u << 20);

}  // namespace carebridge::mappings::hl7v2
