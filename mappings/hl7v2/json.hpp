// The JSON form of parsed HL7 v2 messages (what `carebridge inspect` prints).
//
// A message is {"control_id", "type", "version", "delimiters", "encoding", "segments": [...]};
// each segment is {"id": "PID", "fields": {"3": …, "5": …}} with only the fields that are valued.
// A field value is:
//   - a string, when it has one repetition and no components;
//   - null, for the HL7 null `""`;
//   - otherwise an array of repetitions, each a string or an array of components, each component a
//     string or an array of sub-components.
// Strings are decoded (escape sequences, character set) and in UTF-8. MSH-1 and MSH-2 are given as
// sent.
#pragma once

#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <string>

namespace carebridge::mappings::hl7v2 {

/// Appends the JSON object for one message to `out` (compact, one line).
void append_json(const message& msg, std::string& out);

/// The JSON document for a whole input: {"messages": [...], "batch": {...} | null, "issues": [...]}.
/// `parsed` holds one entry per message of `file` (a message that failed to parse is written as
/// {"error": "...", "offset": n}).
std::string to_json(const batch_file& file,
                    const std::vector<boost::system::result<message, parse_error>>& parsed,
                    bool pretty);

}  // namespace carebridge::mappings::hl7v2
