// Deterministic resource ids. A resource's id is derived from what identifies it in the real world
// (a Patient from its MRN and the MRN's authority, an Encounter from the facility and the visit
// number), so the A01, A08 and A03 of one stay update the same Encounter and a replayed message
// changes nothing. The id is a UUID built from SHA-256 of the key (version nibble 8, RFC 9562
// "custom"): valid as a FHIR id, as a urn:uuid fullUrl, and free of PHI.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace carebridge::mappings::fhir {

/// A derived id's 36 characters, held in place (no allocation); converts to std::string_view and
/// std::string.
struct uuid_text {
  char text[36];
  std::string_view view() const { return {text, sizeof text}; }
  operator std::string_view() const { return view(); }
  operator std::string() const { return std::string(view()); }
  friend bool operator==(const uuid_text& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const uuid_text& a, const uuid_text& b) { return a.view() == b.view(); }
};

/// The id for a resource type and the parts of its key (joined with a separator that cannot be
/// confused with their content).
uuid_text derived_uuid(std::string_view resource_type, std::initializer_list<std::string_view> key);
inline std::string derived_id(std::string_view resource_type,
                              std::initializer_list<std::string_view> key) {
  return derived_uuid(resource_type, key);
}

}  // namespace carebridge::mappings::fhir
