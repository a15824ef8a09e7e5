// Who is calling: the principal a request acts as, once authenticated (a SMART access token, or —
// in `certificate` authentication mode — the client certificate / address rules of the config).
//
// Three kinds of clients are registered, each tied to what it acts for:
//   group   a physician group's care-management system: subscribes to alerts, reads what its own
//           alerts name, works its follow-up Tasks (roster_groups.id)
//   sender  a hospital interface engine: sends ADT as FHIR, for the facilities it is registered for
//   ops     the gateway's operators: audit trail, any stored resource (every read audited)
#pragma once

#include "gateway/auth/scopes.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::auth {

enum class role : std::uint8_t { group, sender, ops };

std::string_view role_name(role r);  // "group", "sender", "ops"

struct principal {
  std::string client_id;  // the registered client (or the certificate rule's name): logs, audit
  role kind = role::group;
  std::string group;                    // role::group: the physician group (roster_groups.id)
  std::vector<std::string> facilities;  // role::sender: facilities it may send for ("*": any)
  scope_set scopes;                     // what its access token grants
  bool by_token = true;                 // false: identified by certificate or address

  bool may_send_for(std::string_view facility) const;
};

}  // namespace carebridge::gateway::auth
