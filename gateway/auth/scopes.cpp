#include "gateway/auth/scopes.hpp"

#include "gateway/auth/principal.hpp"

#include <algorithm>

namespace carebridge::gateway::auth {

namespace {

constexpr std::string_view v2_letters = "cruds";
constexpr std::uint8_t all_actions = 31;

bool valid_type(std::string_view t) {
  if (t == "*") return true;
  if (t.empty() || t.size() > 64 || t.front() < 'A' || t.front() > 'Z') return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

// "cruds" subset in order → bits; 0 when malformed.
std::uint8_t v2_actions(std::string_view p) {
  std::uint8_t bits = 0;
  std::size_t at = 0;
  for (char c : p) {
    const std::size_t i = v2_letters.find(c, at);
    if (i == std::string_view::npos) return 0;
    bits = static_cast<std::uint8_t>(bits | (1u << i));
    at = i + 1;
  }
  return bits;
}

}  // namespace

std::string_view action_name(action a) {
  switch (a) {
    case action::create: return "create";
    case action::read: return "read";
    case action::update: return "update";
    case action::remove: return "delete";
    case action::search: return "search";
  }
  return "?";
}

std::string_view role_name(role r) {
  switch (r) {
    case role::group: return "group";
    case role::sender: return "sender";
    case role::ops: return "ops";
  }
  return "?";
}

bool principal::may_send_for(std::string_view facility) const {
  if (kind != role::sender) return false;
  return std::any_of(facilities.begin(), facilities.end(),
                     [&](const std::string& f) { return f == "*" || f == facility; });
}

bool scope::permits(std::string_view resource_type, action a) const {
  return (type == "*" || type == resource_type) && (actions & static_cast<std::uint8_t>(a)) != 0;
}

std::string scope::v2_text() const {
  std::string out = "system/" + type + ".";
  for (std::size_t i = 0; i < v2_letters.size(); ++i)
    if (actions & (1u << i)) out.push_back(v2_letters[i]);
  return out;
}

bool scope_set::permits(std::string_view resource_type, action a) const {
  return std::any_of(items.begin(), items.end(),
                     [&](const scope& s) { return s.permits(resource_type, a); });
}

std::string scope_set::text() const {
  std::string out;
  for (const scope& s : items) {
    if (!out.empty()) out.push_back(' ');
    out += s.text;
  }
  return out;
}

std::optional<scope> parse_scope(std::string_view text) {
  constexpr std::string_view prefix = "system/";
  if (!text.starts_with(prefix)) return std::nullopt;
  const std::string_view rest = text.substr(prefix.size());
  if (rest.find('?') != std::string_view::npos) return std::nullopt;  // fine-grained: unsupported
  const std::size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view type = rest.substr(0, dot);
  const std::string_view perm = rest.substr(dot + 1);
  if (!valid_type(type)) return std::nullopt;
  std::uint8_t bits = 0;
  if (perm == "read") {
    bits = static_cast<std::uint8_t>(action::read) | static_cast<std::uint8_t>(action::search);
  } else if (perm == "write") {
    bits = static_cast<std::uint8_t>(action::create) | static_cast<std::uint8_t>(action::update) |
           static_cast<std::uint8_t>(action::remove);
  } else if (perm == "*") {
    bits = all_actions;
  } else {
    bits = v2_actions(perm);
  }
  if (bits == 0) return std::nullopt;
  return scope{std::string(type), bits, std::string(text)};
}

scope_set parse_scopes(std::string_view text, std::vector<std::string>* unknown) {
  scope_set out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
      ++i;
      continue;
    }
    std::size_t end = text.find_first_of(" \t\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(i, end - i);
    if (auto s = parse_scope(word)) {
      const bool seen = std::any_of(out.items.begin(), out.items.end(),
                                    [&](const scope& o) { return o.text == s->text; });
      if (!seen) out.items.push_back(std::move(*s));
    } else if (unknown != nullptr) {
      unknown->emplace_back(word);
    }
    i = end;
  }
  return out;
}

scope_set grant(const scope_set& requested, const scope_set& allowed) {
  scope_set out;
  auto add = [&out](scope s) {
    for (scope& o : out.items) {
      if (o.type == s.type) {
        const std::uint8_t merged = static_cast<std::uint8_t>(o.actions | s.actions);
        if (merged != o.actions) {
          o.actions = merged;
          o.text = o.v2_text();
        }
        return;
      }
    }
    out.items.push_back(std::move(s));
  };
  for (const scope& r : requested.items) {
    for (const scope& a : allowed.items) {
      if (a.type != "*" && r.type != "*" && a.type != r.type) continue;
      const std::uint8_t bits = static_cast<std::uint8_t>(r.actions & a.actions);
      if (bits == 0) continue;
      scope g;
      g.type = a.type == "*" ? r.type : a.type;
      g.actions = bits;
      g.text = (g.type == r.type && bits == r.actions) ? r.text : g.v2_text();
      add(std::move(g));
    }
  }
  // A type's grant that a wildcard grant already covers says nothing more ("system/*.rs" asked
  // against "system/Subscription.crud system/*.rs" is "system/*.rs", not that plus
  // "system/Subscription.r").
  std::uint8_t wildcard = 0;
  for (const scope& s : out.items)
    if (s.type == "*") wildcard = static_cast<std::uint8_t>(wildcard | s.actions);
  std::erase_if(out.items, [wildcard](const scope& s) {
    return s.type != "*" && (s.actions & ~wildcard) == 0;
  });
  return out;
}

}  // namespace carebridge::gateway::auth
