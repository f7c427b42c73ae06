# Test drivers of the Wine test suite (tests/wine/suite.cmake runs them).
#   kecho  kernel echo server (parameter Port)
#   ktest  scenario driver (parameters Test, Port, Port2, Bytes, Seed, Timeout)
# Both share tests/peers/kspattern.h (test pattern and checksum) with the
# native peers; ktest.h includes it by relative path.
wsksock_add_driver(kecho SOURCES ${CMAKE_CURRENT_LIST_DIR}/kecho/kecho.c)
wsksock_add_driver(ktest SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ktest/ktest.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_util.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_net.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_blocking.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_badinput.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_options.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_resolve.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_nonblock.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_aio.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_listen_close.c
  ${CMAKE_CURRENT_LIST_DIR}/ktest/kt_races.c)
if(MSVC)
  # kt_util.c's paged allocations use ExAllocatePoolWithTag (ExAllocatePool2
  # is not in Wine), which WDK 10.0.22621 marks deprecated.
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/ktest/kt_util.c PROPERTIES COMPILE_OPTIONS
    $<IF:$<C_COMPILER_ID:Clang>,-Wno-deprecated-declarations,/wd4996>)
endif()
# ktls: TLS client cases (parameters TrustFile, Cases, Timeout); needs
# wsksock_tls.
if(TARGET wsksock_tls)
  wsksock_add_driver(ktls SOURCES ${CMAKE_CURRENT_LIST_DIR}/ktls/ktls.c LIBS wsksock_tls)
endif()
