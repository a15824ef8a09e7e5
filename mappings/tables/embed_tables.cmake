# Compiles mappings/tables/*.csv into carebridge_mappings (see README.md in this folder).
#
# At configure time, writes ${CMAKE_CURRENT_BINARY_DIR}/code_tables_data.cpp with the text of every
# CSV as a raw string literal, and sets CAREBRIDGE_CODE_TABLES_SOURCE to that file. CMake re-runs when
# a CSV changes (CMAKE_CONFIGURE_DEPENDS) or one is added or removed (GLOB CONFIGURE_DEPENDS); the
# generated file is rewritten only when its content changes, so an untouched table costs no rebuild.
# Included from mappings/CMakeLists.txt.

file(GLOB _cb_table_files CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.csv")
list(SORT _cb_table_files)
list(LENGTH _cb_table_files _cb_table_count)
if(_cb_table_count EQUAL 0)
  message(FATAL_ERROR "no code tables in ${CMAKE_CURRENT_LIST_DIR} (expected *.csv)")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_cb_table_files})

set(_cb_names "")
set(_cb_texts "")
foreach(_cb_file IN LISTS _cb_table_files)
  get_filename_component(_cb_name "${_cb_file}" NAME_WLE)
  file(READ "${_cb_file}" _cb_text)
  # The raw string delimiter must not occur in the table.
  string(FIND "${_cb_text}" ")cbtable\"" _cb_clash)
  if(NOT _cb_clash EQUAL -1)
    message(FATAL_ERROR "${_cb_file} contains the sequence )cbtable\" and cannot be embedded")
  endif()
  string(APPEND _cb_names "    \"${_cb_name}\",\n")
  string(APPEND _cb_texts "    R\"cbtable(${_cb_text})cbtable\",\n")
endforeach()

set(CAREBRIDGE_CODE_TABLES_SOURCE "${CMAKE_CURRENT_BINARY_DIR}/code_tables_data.cpp")
set(_cb_source "// Generated from mappings/tables/*.csv by mappings/tables/embed_tables.cmake. Do not edit.
#include <cstddef>
#include <string_view>

namespace carebridge::mappings::fhir::detail {

extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];

const std::size_t builtin_table_count = ${_cb_table_count};
const std::string_view builtin_table_names[] = {
${_cb_names}};
const std::string_view builtin_table_csv[] = {
${_cb_texts}};

}  // namespace carebridge::mappings::fhir::detail
")
file(CONFIGURE OUTPUT "${CAREBRIDGE_CODE_TABLES_SOURCE}" CONTENT "@_cb_source@" @ONLY)

unset(_cb_table_files)
unset(_cb_table_count)
unset(_cb_names)
unset(_cb_texts)
unset(_cb_file)
unset(_cb_name)
unset(_cb_text)
unset(_cb_clash)
unset(_cb_source)
