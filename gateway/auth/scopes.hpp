// SMART on FHIR system scopes (SMART App Launch 2.2.0, scopes-and-launch-context): what an access
// token lets a backend client do, per resource type and interaction.
//
//   system/Encounter.cu     v2: a subset of "cruds" in that order (create, read, update, delete,
//                           search)
//   system/*.rs             any resource type
//   system/Patient.read     v1: .read = .rs, .write = .cud, .* = .cruds
//
// Only `system/` scopes mean anything to a backend service; `patient/`, `user/`, launch and OpenID
// scopes, and v2 scopes with a `?param=value` restriction (not supported) are reported as unknown and
// grant nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::auth {

enum class action : std::uint8_t {
  create = 1,
  read = 2,
  update = 4,
  remove = 8,  // "d"
  search = 16,
};

struct scope {
  std::string type;           // "Encounter", or "*"
  std::uint8_t actions = 0;   // action bits
  std::string text;           // as written ("system/*.read")

  bool permits(std::string_view resource_type, action a) const;
  /// The v2 spelling: "system/Encounter.cu".
  std::string v2_text() const;
};

struct scope_set {
  std::vector<scope> items;

  bool permits(std::string_view resource_type, action a) const;
  bool empty() const { return items.empty(); }
  /// Space-separated, as written.
  std::string text() const;
};

/// One scope; nullopt when it is not a system scope this server understands.
std::optional<scope> parse_scope(std::string_view text);
/// Space-separated scopes; those not understood go to `unknown` (when given) and are dropped.
scope_set parse_scopes(std::string_view text, std::vector<std::string>* unknown = nullptr);

/// What a client that asked for `requested` gets when it was registered for `allowed`: each
/// requested scope narrowed to the actions an allowed scope of a covering type grants (a requested
/// `system/*.rs` against an allowed `system/Task.rus` gives `system/Task.rs`). A granted scope equal
/// to the request keeps the request's spelling (v1 stays v1); a narrowed one is written in v2. A
/// type's grant that a granted `system/*` scope already covers is left out.
scope_set grant(const scope_set& requested, const scope_set& allowed);

/// The short name of an action for messages: "create", "read", "update", "delete", "search".
std::string_view action_name(action a);

}  // namespace carebridge::gateway::auth
