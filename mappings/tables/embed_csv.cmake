# carebridge_embed_csv(<var> <dir> <namespace> <output>): compiles a folder of CSV data files into
# the binary (see README.md in this folder). One mechanism for every table set: the v2 code tables
# (mappings/tables/*.csv), the risk code lists (risk/*.csv) and the member-matching tables
# (members/*.csv).
#
# At configure time, writes ${CMAKE_CURRENT_BINARY_DIR}/<output> with the text of every <dir>/*.csv
# as a raw string literal, as
#   <namespace>::detail::builtin_table_count / builtin_table_names[] / builtin_table_csv[]
# (names are the file names without .csv, sorted), and sets <var> to that file. CMake re-runs when
# a CSV changes (CMAKE_CONFIGURE_DEPENDS) or one is added or removed (GLOB CONFIGURE_DEPENDS); the
# generated file is rewritten only when its content changes, so an untouched table costs no rebuild.
function(carebridge_embed_csv var dir namespace output)
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.csv")
  list(SORT files)
  list(LENGTH files count)
  if(count EQUAL 0)
    message(FATAL_ERROR "no data files in ${dir} (expected *.csv)")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})

  set(names "")
  set(texts "")
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME_WLE)
    file(READ "${file}" text)
    # The raw string delimiter must not occur in the table.
    string(FIND "${text}" ")cbtable\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "${file} contains the sequence )cbtable\" and cannot be embedded")
    endif()
    string(APPEND names "    \"${name}\",\n")
    string(APPEND texts "    R\"cbtable(${text})cbtable\",\n")
  endforeach()

  file(RELATIVE_PATH from "${PROJECT_SOURCE_DIR}" "${dir}")
  set(source "${CMAKE_CURRENT_BINARY_DIR}/${output}")
  set(content "// Generated from ${from}/*.csv by mappings/tables/embed_csv.cmake. Do not edit.
#include <cstddef>
#include <string_view>

namespace ${namespace}::detail {

extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];

const std::size_t builtin_table_count = ${count};
const std::string_view builtin_table_names[] = {
${names}};
const std::string_view builtin_table_csv[] = {
${texts}};

}  // namespace ${namespace}::detail
")
  file(CONFIGURE OUTPUT "${source}" CONTENT "@content@" @ONLY)
  set(${var} "${source}" PARENT_SCOPE)
endfunction()
