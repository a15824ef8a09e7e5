// What the codec fuzz targets share: the invariant check and the input as text.
//
// A violated invariant prints the condition and its line, then traps: libFuzzer reports a deadly
// signal and saves the input as crash-<sha1>. Nothing here throws or allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#define CB_FUZZ_REQUIRE(cond)                                                               \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "invariant violated at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                                     \
    }                                                                                       \
  } while (false)

namespace carebridge::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// True when `inner` lies within `outer` (both views of the same buffer). An empty view points
/// nowhere in particular (often nullptr), so it is within anything.
inline bool within(std::string_view inner, std::string_view outer) noexcept {
  if (inner.empty()) return true;
  const auto lo = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto p = reinterpret_cast<std::uintptr_t>(inner.data());
  return p >= lo && p - lo <= outer.size() && inner.size() <= outer.size() - (p - lo);
}

}  // namespace carebridge::fuzz
