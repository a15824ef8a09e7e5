// The status page's files (gateway/app/status/), compiled into the binary at build time by
// status/embed_assets.cmake: no file is read at run time, and nothing comes from another origin.
#pragma once

#include <cstddef>
#include <string_view>

namespace carebridge::app::status_assets {

struct asset {
  std::string_view name;          // "index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

extern const asset files[];
extern const std::size_t file_count;

}  // namespace carebridge::app::status_assets
