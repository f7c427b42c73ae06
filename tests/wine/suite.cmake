# The Wine test suite (included by tests/CMakeLists.txt, host build).
#
# Native Linux peers (tests/peers), built with the host compiler, and one
# ctest test per case of tests/wine/wsksuite.py, which runs the drivers of
# the mingw-w64 tree (${WSKSOCK_DRIVERS_DIR}) under tools/wskrun and asserts
# on their kernel log and on the peers' results. Every test picks its own
# ports at run time, so the tests may run in parallel (ctest -j).

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

# wine.<case>: ctest TIMEOUT is the outer bound; wsksuite.py's own limit
# (--time-limit) is shorter, so it always stops its processes itself first.
function(wsksuite_add_test case timeout)
  math(EXPR limit "${timeout} - 30")
  add_test(NAME wine.${case}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/wsksuite.py ${case}
                   --wskrun ${WSKRUN} --drivers ${WSKSOCK_DRIVERS_DIR}
                   --peers ${WSKSUITE_PEERS_DIR} --time-limit ${limit})
  set_tests_properties(wine.${case} PROPERTIES TIMEOUT ${timeout} LABELS wine
                       ENVIRONMENT "WSKRUN_WSKCTL=${WSKSOCK_DRIVERS_DIR}/tools/wskctl/wskctl.exe")
endfunction()

wsksuite_add_test(seed 150)
wsksuite_add_test(echo1 240)
wsksuite_add_test(echo50 240)
wsksuite_add_test(kecho-unload 150)
wsksuite_add_test(client 240)
wsksuite_add_test(refused 150)
wsksuite_add_test(reset 150)
wsksuite_add_test(close-blocked 150)
wsksuite_add_test(badinput 150)
wsksuite_add_test(unload-busy 150)
wsksuite_add_test(stack-paged 150)
