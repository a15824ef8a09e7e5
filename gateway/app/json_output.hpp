// The commands' --json output: string members written from (name, value) pairs.
#pragma once

#include <rapidjson/rapidjson.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace carebridge::app {

template <typename Writer>
void string_members(Writer& w,
                    std::initializer_list<std::pair<const char*, const std::string*>> fields) {
  for (const auto& [name, value] : fields) {
    w.Key(name);
    w.String(value->c_str(), static_cast<rapidjson::SizeType>(value->size()));
  }
}

}  // namespace carebridge::app
