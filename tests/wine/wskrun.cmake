# Tests of tools/wskrun itself, with the test driver wskrun-probe.sys
# (tests/drivers/wskrun_drivers.cmake). Each case is one invocation of
# wskrun_cases.py, which bounds every run on its own and checks that nothing
# of the run (processes, prefix, wineserver directory) is left behind.
set(WSKRUN_PROBE ${WSKSOCK_DRIVERS_DIR}/tests/drivers/wskrun-probe.sys)
set(WSKRUN_WSKCTL_EXE ${WSKSOCK_DRIVERS_DIR}/tools/wskctl/wskctl.exe)

# The first run on a machine creates the cached Wine template prefix
# (~10-15 s), hence the margins of the timeouts.
foreach(case_timeout
        hello:120 until-nomatch:120 crash-entry:120 fail-entry:120 crash-later:180
        hang-unload:150 order:120 concurrent:180 sigterm:120 usage:60)
  string(REPLACE ":" ";" pair ${case_timeout})
  list(GET pair 0 case)
  list(GET pair 1 timeout)
  add_test(NAME wine.wskrun.${case}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/wskrun_cases.py ${WSKRUN} ${WSKRUN_PROBE} ${case})
  set_tests_properties(wine.wskrun.${case} PROPERTIES
                       TIMEOUT ${timeout}
                       LABELS "wine;wskrun"
                       ENVIRONMENT "WSKRUN_WSKCTL=${WSKRUN_WSKCTL_EXE}")
endforeach()
