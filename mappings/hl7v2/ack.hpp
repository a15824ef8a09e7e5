// The ACK builder: the acknowledgment a receiver returns for an inbound message.
//
// Mode: when MSH-15 or MSH-16 is valued the sender uses enhanced acknowledgment, and the ACK we
// return on receipt is the accept (commit) ACK: CA/CE/CR, sent or not as MSH-15 asks
// (AL always, NE never, ER only for an error or reject, SU only for success; empty = AL). When
// MSH-15 asks for no accept ACK but MSH-16 asks for an application ACK for this outcome, the
// application ACK (AA/AE/AR) is sent at once instead: a gateway's application answer is its durable
// acceptance, and it sends no deferred acknowledgment later. When neither is wanted, none is sent.
// Otherwise original mode: AA/AE/AR, always sent.
//
// The ACK echoes the inbound delimiters, MSH-11 and MSH-12 (and MSH-18 when valued); swaps sender
// and receiver; carries a new control id in MSH-10 and the inbound MSH-10 in MSA-2. An error or a
// reject carries an ERR segment with an HL7 table 0357 code and a text the caller guarantees is free
// of PHI (it is escaped here, never interpreted).
#pragma once

#include "mappings/hl7v2/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::mappings::hl7v2 {

/// The three outcomes a receiver can give a message. Mapped to MSA-1 in exactly one switch.
enum class disposition : std::uint8_t {
  accepted,  // stored (and, in original mode, taken for processing)
  errored,   // could not be stored or processed: the sender may retry
  rejected,  // will never be accepted as sent (facility not allowed, unsupported type, too large…)
};

/// HL7 table 0357, message error condition codes.
enum class error_condition : std::uint16_t {
  accepted = 0,
  segment_sequence_error = 100,
  required_field_missing = 101,
  data_type_error = 102,
  table_value_not_found = 103,
  value_too_long = 104,
  unsupported_message_type = 200,
  unsupported_event_code = 201,
  unsupported_processing_id = 202,
  unsupported_version_id = 203,
  unknown_key_identifier = 204,
  duplicate_key_identifier = 205,
  application_record_locked = 206,
  application_internal_error = 207,
};

/// The table 0357 display text ("Application internal error").
std::string_view error_condition_text(error_condition c) noexcept;

enum class ack_mode : std::uint8_t { original, enhanced };
/// MSH-15 / MSH-16 values (HL7 table 0155).
enum class ack_condition : std::uint8_t { always, never, error_only, success_only };

struct ack_policy {
  ack_mode mode = ack_mode::original;
  ack_condition accept = ack_condition::always;       // MSH-15 (enhanced mode)
  ack_condition application = ack_condition::always;  // MSH-16 (enhanced mode)
};

/// Reads MSH-15/MSH-16. Unknown values are read as "always", so the sender is never left waiting.
ack_policy ack_policy_of(const message& inbound);

/// The problem an error/reject ACK reports. `text` must be free of PHI.
struct ack_error {
  error_condition condition = error_condition::application_internal_error;
  std::string_view text;      // ERR-8 user message (v2.5+) / MSA-3 text message (before v2.5,
                              // whose ERR-1 carries the table 0357 code and its own text)
  std::string_view segment;   // location: segment id, e.g. "PID" (empty when not known)
  std::uint32_t sequence = 1;  // location: occurrence of that segment
  std::uint32_t field = 0;     // location: field number (0 when not known)
};

struct ack_context {
  std::string_view control_id;  // the ACK's own MSH-10: new and unique (the caller's generator)
  std::string_view timestamp;   // MSH-7, e.g. "20261122143005.123+0000"
};

struct built_ack {
  std::string text;   // the ACK message, segments terminated by `\r`
  std::string_view code;  // "AA", "CE"…
};

/// The MSA-1 code for a disposition in a mode.
std::string_view ack_code(disposition d, ack_mode mode) noexcept;

/// Builds the ACK, or nullopt when MSH-15 and MSH-16 say none is wanted for this outcome. `error` is used for
/// errored and rejected outcomes (a generic application_internal_error one when null).
std::optional<built_ack> build_ack(const message& inbound, disposition d, const ack_context& ctx,
                                   const ack_error* error = nullptr);

/// An ACK for input that could not be parsed as a message at all (no usable MSH): original mode,
/// default delimiters, version 2.5.1, AR with the given error and an empty MSA-2 (there is no
/// control id to echo). The sender still gets an answer it can log.
built_ack build_reject_for_unparseable(const ack_context& ctx, const ack_error& error);

}  // namespace carebridge::mappings::hl7v2
