# The suite's cases on the host bed (included by tests/CMakeLists.txt, with
# or without the Wine build): host_<case> runs tests/wine/wsksuite.py --bed
# host, which starts the <name>-host executables of this build tree (one
# process per driver, hostbed/hostrun) with the native peers, and asserts as
# on Wine, plus the checks Wine cannot make (IRQL, receive after a reset)
# and the runner's leak check after every unload. Label: hostbed.
#
# Also builds the native peers (tests/peers), which the Wine suite
# (suite.cmake) uses too.
include_guard(GLOBAL)

find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(WSKSUITE_PEERS_DIR ${CMAKE_CURRENT_BINARY_DIR}/peers)
add_library(wsksuite_peer_common STATIC ${WSKSOCK_SOURCE_DIR}/tests/peers/peer_common.c)
target_compile_options(wsksuite_peer_common PRIVATE -Wall -Wextra -Werror)
foreach(peer echo_load echo_server reset_server silent_server hold_client)
  add_executable(${peer} ${WSKSOCK_SOURCE_DIR}/tests/peers/${peer}.c)
  target_link_libraries(${peer} PRIVATE wsksuite_peer_common)
  target_compile_options(${peer} PRIVATE -Wall -Wextra -Werror)
  set_target_properties(${peer} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${WSKSUITE_PEERS_DIR})
endforeach()

# The suite's cases come from its one list, CASES in wsksuite.py (`--list`:
# "<case> <timeout> <beds>[ <lock>]" a line): WSKSUITE_CASES_WINE and
# WSKSUITE_CASES_HOST name the cases of each bed, WSKSUITE_TIMEOUT_<case>
# is ctest's TIMEOUT and WSKSUITE_LOCK_<case> its RESOURCE_LOCK, if any.
# Configuring again follows any change of wsksuite.py (case_list.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/case_list.cmake)
wsksock_list_lines(${CMAKE_CURRENT_LIST_DIR}/wsksuite.py wsksuite_list)
set(WSKSUITE_CASES_WINE "")
set(WSKSUITE_CASES_HOST "")
foreach(line IN LISTS wsksuite_list)
  string(REPLACE " " ";" fields "${line}")
  list(LENGTH fields n)
  if(n LESS 3 OR n GREATER 4)
    message(FATAL_ERROR "wsksuite.py --list: bad line '${line}'")
  endif()
  list(GET fields 0 case)
  list(GET fields 1 WSKSUITE_TIMEOUT_${case})
  list(GET fields 2 beds)
  string(REPLACE "," ";" beds "${beds}")
  if(wine IN_LIST beds)
    list(APPEND WSKSUITE_CASES_WINE ${case})
  endif()
  if(host IN_LIST beds)
    list(APPEND WSKSUITE_CASES_HOST ${case})
  endif()
  set(WSKSUITE_LOCK_${case} "")
  if(n EQUAL 4)
    list(GET fields 3 WSKSUITE_LOCK_${case})
  endif()
endforeach()

# host_<case>: as wine.<case>, ctest's TIMEOUT is the outer bound and
# wsksuite.py's --time-limit, 30 s shorter, stops its processes first.
foreach(case IN LISTS WSKSUITE_CASES_HOST)
  math(EXPR limit "${WSKSUITE_TIMEOUT_${case}} - 30")
  add_test(NAME host_${case}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/wsksuite.py ${case} --bed host
                   --host-drivers ${CMAKE_BINARY_DIR} --peers ${WSKSUITE_PEERS_DIR}
                   --time-limit ${limit})
  set_tests_properties(host_${case} PROPERTIES TIMEOUT ${WSKSUITE_TIMEOUT_${case}} LABELS hostbed)
  if(WSKSUITE_LOCK_${case})
    set_tests_properties(host_${case} PROPERTIES RESOURCE_LOCK ${WSKSUITE_LOCK_${case}})
  endif()
endforeach()

# The lists cannot drift (suite_lists.py): ktest's scenario table
# (tests/drivers/ktest/ktest.c) against the scenarios the cases run
# (wsksuite.py --check-ktest); the CASES of wskrun_cases.py and
# hostrun_cases.py against their case functions, their --list and the probe
# driver's modes.
add_test(NAME suite_lists
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/suite_lists.py)
set_tests_properties(suite_lists PROPERTIES TIMEOUT 60)

# The runner itself (hostbed/hostrun), with wskrun's probe driver built for
# the host bed: hostrun.<case> for each case of CASES in
# hostbed/hostrun/hostrun_cases.py, the one list (`--list`: name and ctest
# timeout).
wsksock_add_driver(wskrun-probe SOURCES ${WSKSOCK_SOURCE_DIR}/tests/drivers/wskrun-probe/probe.c)
wsksock_read_case_list(${WSKSOCK_SOURCE_DIR}/hostbed/hostrun/hostrun_cases.py HOSTRUN)
foreach(case IN LISTS HOSTRUN_CASES)
  add_test(NAME hostrun.${case}
           COMMAND ${Python3_EXECUTABLE} ${WSKSOCK_SOURCE_DIR}/hostbed/hostrun/hostrun_cases.py
                   $<TARGET_FILE:wskrun-probe-host> ${case})
  set_tests_properties(hostrun.${case} PROPERTIES TIMEOUT ${HOSTRUN_TIMEOUT_${case}}
                       LABELS hostbed)
endforeach()
