# wsksock_add_driver(<name> SOURCES <files...> [COMPAT] [NO_WERROR]
#                    [WARNINGS <flags...>] [LIBS <libs...>])
#
# Builds <name>.sys, a Windows x64 kernel driver whose entry point is
# DriverEntry, from the given sources linked with the wsksock library.
#   COMPAT     also puts compat/ (LySocket.hpp) on the include path and builds
#              the sources with the toolchain's default warnings (third-party
#              code such as the LySocket article's drivers).
#   NO_WERROR  warnings are not errors (also -DWSKSOCK_WERROR=OFF).
#   WARNINGS   the warning flags instead of WSKSOCK_WARNINGS.
#   LIBS       extra libraries to link.
# cmake/driver-options.cmake lists the flags. Requires a toolchain file
# (cmake/mingw-w64.cmake or cmake/clang-cl-wdk.cmake); without one, the host
# bed's variant (hostbed/hostbed.cmake) builds <name>-host instead.
include(${CMAKE_CURRENT_LIST_DIR}/driver-options.cmake)

function(wsksock_add_driver name)
  _wsksock_driver_parse(${name} ${ARGN})
  add_library(${name} SHARED ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".sys")
  target_link_libraries(${name} PRIVATE wsksock ${ARG_LIBS} wsksock_kernel_libs)
  _wsksock_driver_options(${name})
endfunction()
