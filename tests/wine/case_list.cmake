# The one lists of test cases (issue 13) are in the scripts that run them;
# CMake reads each through the script's --list at configure time.
include_guard(GLOBAL)

# Sets out to the non-empty lines `<script> --list` prints. Configuring
# again follows any change of the script; a failing script or an empty list
# fails the configuration.
function(wsksock_list_lines script out)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${script})
  execute_process(COMMAND ${Python3_EXECUTABLE} ${script} --list
                  OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR text STREQUAL "")
    message(FATAL_ERROR "${script} --list failed (${rc})")
  endif()
  string(REPLACE "\n" ";" text "${text}")
  list(REMOVE_ITEM text "")
  set(${out} ${text} PARENT_SCOPE)
endfunction()

# A runner's list, "<case> <timeout>" a line (tests/wine/wskrun_cases.py,
# hostbed/hostrun/hostrun_cases.py): sets <prefix>_CASES, the case names in
# the script's order, and <prefix>_TIMEOUT_<case>, ctest's TIMEOUT for each.
# A malformed line or a name twice fails the configuration.
function(wsksock_read_case_list script prefix)
  wsksock_list_lines(${script} lines)
  set(cases "")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^([A-Za-z0-9][A-Za-z0-9_-]*) ([1-9][0-9]*)$")
      message(FATAL_ERROR "${script} --list: bad line '${line}'")
    endif()
    if(CMAKE_MATCH_1 IN_LIST cases)
      message(FATAL_ERROR "${script} --list: case '${CMAKE_MATCH_1}' twice")
    endif()
    list(APPEND cases ${CMAKE_MATCH_1})
    set(${prefix}_TIMEOUT_${CMAKE_MATCH_1} ${CMAKE_MATCH_2} PARENT_SCOPE)
  endforeach()
  set(${prefix}_CASES ${cases} PARENT_SCOPE)
endfunction()
