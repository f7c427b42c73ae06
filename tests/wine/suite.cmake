# The Wine test suite (included by tests/CMakeLists.txt, host build).
#
# Native Linux peers (tests/peers), built with the host compiler, and one
# ctest test per case of tests/wine/wsksuite.py, which runs the drivers of
# the mingw-w64 tree (${WSKSOCK_DRIVERS_DIR}) under tools/wskrun and asserts
# on their kernel log and on the peers' results. Every test picks its own
# ports at run time, so the tests may run in parallel (ctest -j).

# The native peers are built by suite_host.cmake (the host bed runs them too).
include(${CMAKE_CURRENT_LIST_DIR}/suite_host.cmake)

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
# Closing a listener keeps its accepted connections (issue 11, item 8).
wsksuite_add_test(listen-close 150)
# ktest races: close/shutdown/cleanup racing calls in flight, 100 times each.
wsksuite_add_test(races 180)
wsksuite_add_test(badinput 150)
wsksuite_add_test(unload-busy 150)
wsksuite_add_test(stack-paged 150)
wsksuite_add_test(options 150)
wsksuite_add_test(resolve 150)
wsksuite_add_test(nonblock 180)
wsksuite_add_test(timeouts 150)
# ktest aio: the asynchronous and event APIs in a driver.
wsksuite_add_test(aio 150)
# examples/http-get against nginx (50 MiB), redirects, chunked bodies.
wsksuite_add_test(http-get 240)
# examples/echo-server: 1,000 connections with 3 threads; unload with 1,000 open.
wsksuite_add_test(echo-server 300)
# examples/httpd: http.client checks, wrk -c100 for 3 s, unload with connections open.
wsksuite_add_test(httpd 300)
# examples/event-echo (event API, fallback under Wine): 200 connections x 256 KiB.
wsksuite_add_test(event-echo 240)
