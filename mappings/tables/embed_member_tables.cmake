# Compiles mappings/tables/members/*.csv (tables of the member-matching core, gateway/members) into
# carebridge_gateway (see README.md in this folder, "Member-matching tables").
#
# The sibling of embed_risk_tables.cmake, same mechanism: the files live in members/ because every
# CSV directly in this folder is read as a v2 code table. At configure time, writes
# ${CMAKE_CURRENT_BINARY_DIR}/member_tables_data.cpp with the text of every members/*.csv as a raw
# string literal, and sets CAREBRIDGE_MEMBER_TABLES_SOURCE to that file. CMake re-runs when a CSV
# changes or one is added or removed; the generated file is rewritten only when its content
# changes. Included from gateway/CMakeLists.txt; gateway/members/name_variants.cpp reads the result.

file(GLOB _cb_member_files CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/members/*.csv")
list(SORT _cb_member_files)
list(LENGTH _cb_member_files _cb_member_count)
if(_cb_member_count EQUAL 0)
  message(FATAL_ERROR "no member-matching tables in ${CMAKE_CURRENT_LIST_DIR}/members (expected *.csv)")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_cb_member_files})

set(_cb_member_names "")
set(_cb_member_texts "")
foreach(_cb_file IN LISTS _cb_member_files)
  get_filename_component(_cb_name "${_cb_file}" NAME_WLE)
  file(READ "${_cb_file}" _cb_text)
  # The raw string delimiter must not occur in the table.
  string(FIND "${_cb_text}" ")cbmember\"" _cb_clash)
  if(NOT _cb_clash EQUAL -1)
    message(FATAL_ERROR "${_cb_file} contains the sequence )cbmember\" and cannot be embedded")
  endif()
  string(APPEND _cb_member_names "    \"${_cb_name}\",\n")
  string(APPEND _cb_member_texts "    R\"cbmember(${_cb_text})cbmember\",\n")
endforeach()

set(CAREBRIDGE_MEMBER_TABLES_SOURCE "${CMAKE_CURRENT_BINARY_DIR}/member_tables_data.cpp")
set(_cb_source "// Generated from mappings/tables/members/*.csv by mappings/tables/embed_member_tables.cmake. Do not edit.
#include <cstddef>
#include <string_view>

namespace carebridge::gateway::members::detail {

extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];

const std::size_t builtin_table_count = ${_cb_member_count};
const std::string_view builtin_table_names[] = {
${_cb_member_names}};
const std::string_view builtin_table_csv[] = {
${_cb_member_texts}};

}  // namespace carebridge::gateway::members::detail
")
file(CONFIGURE OUTPUT "${CAREBRIDGE_MEMBER_TABLES_SOURCE}" CONTENT "@_cb_source@" @ONLY)

unset(_cb_member_files)
unset(_cb_member_count)
unset(_cb_member_names)
unset(_cb_member_texts)
unset(_cb_file)
unset(_cb_name)
unset(_cb_text)
unset(_cb_clash)
unset(_cb_source)
