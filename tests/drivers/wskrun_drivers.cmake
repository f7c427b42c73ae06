# Test drivers of tools/wskrun itself (tests/wine/wskrun.cmake). They use no
# sockets, so they do not link the wsksock library (except the probe's
# assert-fails mode, below).

# wskrun-probe.sys: behaviour chosen by the "Mode" parameter
# (hello, crash-entry, fail-entry, hang-unload, crash-later, assert-fails).
add_library(wskrun-probe SHARED ${CMAKE_CURRENT_LIST_DIR}/wskrun-probe/probe.c)
set_target_properties(wskrun-probe PROPERTIES PREFIX "" SUFFIX ".sys")
target_compile_options(wskrun-probe PRIVATE ${WSKSOCK_WARNINGS})
target_link_libraries(wskrun-probe PRIVATE wsksock_kernel wsksock_kernel_libs)
# Mode assert-fails calls the library's assertion failure (a WSKSOCK_ASSERTS
# build only): that much of the library is linked in.
if(WSKSOCK_ASSERTS)
  target_compile_definitions(wskrun-probe PRIVATE PROBE_KS_ASSERTS=1)
  target_link_libraries(wskrun-probe PRIVATE wsksock)
endif()
