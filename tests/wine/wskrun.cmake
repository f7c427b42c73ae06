# Tests of tools/wskrun itself, with the test driver wskrun-probe.sys
# (tests/drivers/wskrun_drivers.cmake). Each case is one invocation of
# wskrun_cases.py, which bounds every run on its own and checks that nothing
# of the run (processes, prefix, wineserver directory) is left behind.
set(WSKRUN_PROBE ${WSKSOCK_DRIVERS_DIR}/tests/drivers/wskrun-probe.sys)
set(WSKRUN_WSKCTL_EXE ${WSKSOCK_DRIVERS_DIR}/tools/wskctl/wskctl.exe)

# wine.wskrun.<case> for each case of CASES in wskrun_cases.py, the one list
# (`wskrun_cases.py --list`: name and ctest timeout).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
include(${CMAKE_CURRENT_LIST_DIR}/case_list.cmake)
wsksock_read_case_list(${CMAKE_CURRENT_LIST_DIR}/wskrun_cases.py WSKRUN)
foreach(case IN LISTS WSKRUN_CASES)
  add_test(NAME wine.wskrun.${case}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/wskrun_cases.py ${WSKRUN} ${WSKRUN_PROBE} ${case})
  set_tests_properties(wine.wskrun.${case} PROPERTIES
                       TIMEOUT ${WSKRUN_TIMEOUT_${case}}
                       LABELS "wine;wskrun"
                       ENVIRONMENT "WSKRUN_WSKCTL=${WSKRUN_WSKCTL_EXE}")
endforeach()
