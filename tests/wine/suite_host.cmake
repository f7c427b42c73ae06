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

# host_<case>: as wine.<case>, ctest's TIMEOUT is the outer bound and
# wsksuite.py's --time-limit, 30 s shorter, stops its processes first.
function(wsksuite_add_host_test case timeout)
  math(EXPR limit "${timeout} - 30")
  add_test(NAME host_${case}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/wsksuite.py ${case} --bed host
                   --host-drivers ${CMAKE_BINARY_DIR} --peers ${WSKSUITE_PEERS_DIR}
                   --time-limit ${limit})
  set_tests_properties(host_${case} PROPERTIES TIMEOUT ${timeout} LABELS hostbed)
endfunction()

wsksuite_add_host_test(seed 150)
wsksuite_add_host_test(echo1 240)
wsksuite_add_host_test(echo50 240)
wsksuite_add_host_test(kecho-unload 150)
wsksuite_add_host_test(client 240)
wsksuite_add_host_test(refused 150)
wsksuite_add_host_test(reset 150)
wsksuite_add_host_test(close-blocked 150)
wsksuite_add_host_test(listen-close 150)
wsksuite_add_host_test(races 180)
wsksuite_add_host_test(badinput 150)
wsksuite_add_host_test(unload-busy 150)
wsksuite_add_host_test(stack-paged 150)
wsksuite_add_host_test(options 150)
wsksuite_add_host_test(resolve 150)
wsksuite_add_host_test(nonblock 180)
wsksuite_add_host_test(timeouts 150)
# ktest aio: the asynchronous and event APIs in a driver.
wsksuite_add_host_test(aio 150)
wsksuite_add_host_test(http-get 240)
wsksuite_add_host_test(echo-server 300)
wsksuite_add_host_test(httpd 300)
# examples/event-echo: 200 connections x 256 KiB, unload with 20 open; with WSK
# event callbacks, then with the library's fallback (KSHIM_WSK_EVENTS=0).
wsksuite_add_host_test(event-echo 240)
wsksuite_add_host_test(event-echo-fallback 240)
# The LySocket article's drivers (wine.compat_seed on Wine); port 8888.
wsksuite_add_host_test(compat 150)
set_tests_properties(host_compat PROPERTIES RESOURCE_LOCK port8888)

# The runner itself (hostbed/hostrun), with wskrun's probe driver built for
# the host bed: hostrun.<case> of hostbed/hostrun/hostrun_cases.py.
wsksock_add_driver(wskrun-probe SOURCES ${WSKSOCK_SOURCE_DIR}/tests/drivers/wskrun-probe/probe.c)
foreach(case hello name timeout until-nomatch fail-entry crash-entry crash-later hang-unload
        sigterm sigusr1 usage)
  add_test(NAME hostrun.${case}
           COMMAND ${Python3_EXECUTABLE} ${WSKSOCK_SOURCE_DIR}/hostbed/hostrun/hostrun_cases.py
                   $<TARGET_FILE:wskrun-probe-host> ${case})
  set_tests_properties(hostrun.${case} PROPERTIES TIMEOUT 120 LABELS hostbed)
endforeach()
