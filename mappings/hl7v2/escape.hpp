// HL7 v2 escape sequences (v2 chapter 2, "Use of escape sequences in text fields").
//
// Decoding: \F\ \S\ \T\ \R\ \E\ (and \P\, the v2.7 truncation character) become the delimiter they
// stand for; \Xhh…\ becomes the bytes it spells (any even number of hex digits, read in the
// message's character set; an odd count is padded with a leading zero, so \X00D\ is CR);
// \.br\ becomes a line feed. Formatting and character-set escapes (\H\, \N\, \.sp\, \.in\,
// \Cxxyy\, \Mxxyyzz\, \Zxx\ …) are kept verbatim, as is anything that is not a complete escape
// sequence.
#pragma once

#include "mappings/hl7v2/charset.hpp"

#include <string>
#include <string_view>

namespace carebridge::mappings::hl7v2 {

struct delimiters;

/// Appends the decoded form of `raw` (ER7 text of one leaf value) to `out`, in UTF-8. `source` is
/// the character set \Xhh\ bytes are read in.
void decode_escapes(std::string_view raw, const delimiters& d, charset source, std::string& out);

/// The decoded form of `raw`.
std::string unescape(std::string_view raw, const delimiters& d, charset source = charset::utf8);

/// The ER7 form of `text`: every delimiter and the escape character escaped, CR as \X0D\ and LF as
/// \X0A\, so the result is a single leaf value. A message whose MSH-2 defines no escape character
/// cannot carry its delimiters in data at all: they (and CR, LF) become spaces, and nothing else
/// changes (an escape sequence there would be read as data, or split the value when `\` is one of
/// its delimiters).
std::string escape(std::string_view text, const delimiters& d);

}  // namespace carebridge::mappings::hl7v2
