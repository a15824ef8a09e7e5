# Compiles mappings/tables/risk/*.csv (ICD-10 code lists of the readmission-risk core) into
# carebridge_gateway (see README.md in this folder, "Risk code lists").
#
# The sibling of embed_tables.cmake, for files of another format (`prefix,condition,source`): they
# live in risk/ because every CSV directly in this folder is read as a v2 code table. At configure
# time, writes ${CMAKE_CURRENT_BINARY_DIR}/risk_tables_data.cpp with the text of every risk/*.csv
# as a raw string literal, and sets CAREBRIDGE_RISK_TABLES_SOURCE to that file. CMake re-runs when a
# CSV changes or one is added or removed; the generated file is rewritten only when its content
# changes. Included from gateway/CMakeLists.txt; gateway/risk/code_lists.cpp reads the result.

file(GLOB _cb_risk_files CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/risk/*.csv")
list(SORT _cb_risk_files)
list(LENGTH _cb_risk_files _cb_risk_count)
if(_cb_risk_count EQUAL 0)
  message(FATAL_ERROR "no risk code lists in ${CMAKE_CURRENT_LIST_DIR}/risk (expected *.csv)")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_cb_risk_files})

set(_cb_risk_names "")
set(_cb_risk_texts "")
foreach(_cb_file IN LISTS _cb_risk_files)
  get_filename_component(_cb_name "${_cb_file}" NAME_WLE)
  file(READ "${_cb_file}" _cb_text)
  # The raw string delimiter must not occur in the list.
  string(FIND "${_cb_text}" ")cbrisk\"" _cb_clash)
  if(NOT _cb_clash EQUAL -1)
    message(FATAL_ERROR "${_cb_file} contains the sequence )cbrisk\" and cannot be embedded")
  endif()
  string(APPEND _cb_risk_names "    \"${_cb_name}\",\n")
  string(APPEND _cb_risk_texts "    R\"cbrisk(${_cb_text})cbrisk\",\n")
endforeach()

set(CAREBRIDGE_RISK_TABLES_SOURCE "${CMAKE_CURRENT_BINARY_DIR}/risk_tables_data.cpp")
set(_cb_source "// Generated from mappings/tables/risk/*.csv by mappings/tables/embed_risk_tables.cmake. Do not edit.
#include <cstddef>
#include <string_view>

namespace carebridge::gateway::risk::detail {

extern const std::size_t builtin_list_count;
extern const std::string_view builtin_list_names[];
extern const std::string_view builtin_list_csv[];

const std::size_t builtin_list_count = ${_cb_risk_count};
const std::string_view builtin_list_names[] = {
${_cb_risk_names}};
const std::string_view builtin_list_csv[] = {
${_cb_risk_texts}};

}  // namespace carebridge::gateway::risk::detail
")
file(CONFIGURE OUTPUT "${CAREBRIDGE_RISK_TABLES_SOURCE}" CONTENT "@_cb_source@" @ONLY)

unset(_cb_risk_files)
unset(_cb_risk_count)
unset(_cb_risk_names)
unset(_cb_risk_texts)
unset(_cb_file)
unset(_cb_name)
unset(_cb_text)
unset(_cb_clash)
unset(_cb_source)
