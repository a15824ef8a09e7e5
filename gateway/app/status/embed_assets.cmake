# Script mode (cmake -P): writes OUTPUT, a C++ source holding the status page's files
# (gateway/app/status/*: html, js, css) as raw string literals, for ops_routes.cpp to serve:
#   carebridge::app::status_assets::files[] / file_count  — {name, content type, body}
# Run at build time by the add_custom_command in gateway/CMakeLists.txt, whenever a file changes.
# Usage: cmake -DOUTPUT=out.cpp -DFILES="a;b;c" -P embed_assets.cmake
if(NOT OUTPUT OR NOT FILES)
  message(FATAL_ERROR "embed_assets.cmake: OUTPUT and FILES are required")
endif()
set(entries "")
list(LENGTH FILES count)
foreach(file IN LISTS FILES)
  get_filename_component(name "${file}" NAME)
  get_filename_component(ext "${file}" LAST_EXT)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_assets.cmake: no content type for ${file}")
  endif()
  file(READ "${file}" text)
  string(FIND "${text}" ")cbasset\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} contains the sequence )cbasset\" and cannot be embedded")
  endif()
  string(APPEND entries "    {\"${name}\", \"${type}\", R\"cbasset(${text})cbasset\"},\n")
endforeach()
set(content "// Generated from gateway/app/status/ by embed_assets.cmake. Do not edit.
#include \"gateway/app/status_assets.hpp\"

namespace carebridge::app::status_assets {

const asset files[] = {
${entries}};
const std::size_t file_count = ${count};

}  // namespace carebridge::app::status_assets
")
file(WRITE "${OUTPUT}" "${content}")
