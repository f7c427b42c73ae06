# The Wine test suite (included by tests/CMakeLists.txt, host build).
#
# Native Linux peers (tests/peers), built with the host compiler, and one
# ctest test per case of tests/wine/wsksuite.py, which runs the drivers of
# the mingw-w64 tree (${WSKSOCK_DRIVERS_DIR}) under tools/wskrun and asserts
# on their kernel log and on the peers' results. Every test picks its own
# ports at run time, so the tests may run in parallel (ctest -j).

# The native peers are built by suite_host.cmake (the host bed runs them too).
include(${CMAKE_CURRENT_LIST_DIR}/suite_host.cmake)

# wine.<case> for each case of wsksuite.py's CASES with the Wine bed
# (WSKSUITE_CASES_WINE, from `wsksuite.py --list` in suite_host.cmake): ctest
# TIMEOUT is the outer bound; wsksuite.py's own limit (--time-limit) is
# shorter, so it always stops its processes itself first.
foreach(case IN LISTS WSKSUITE_CASES_WINE)
  math(EXPR limit "${WSKSUITE_TIMEOUT_${case}} - 30")
  add_test(NAME wine.${case}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/wsksuite.py ${case}
                   --wskrun ${WSKRUN} --drivers ${WSKSOCK_DRIVERS_DIR}
                   --peers ${WSKSUITE_PEERS_DIR} --time-limit ${limit})
  set_tests_properties(wine.${case} PROPERTIES TIMEOUT ${WSKSUITE_TIMEOUT_${case}} LABELS wine
                       ENVIRONMENT "WSKRUN_WSKCTL=${WSKSOCK_DRIVERS_DIR}/tools/wskctl/wskctl.exe")
  if(WSKSUITE_LOCK_${case})
    set_tests_properties(wine.${case} PROPERTIES RESOURCE_LOCK ${WSKSUITE_LOCK_${case}})
  endif()
endforeach()
