# wsksock_add_driver(<name> SOURCES <files...> [COMPAT] [LIBS <libs...>])
#
# Builds <name>.sys, a Windows x64 kernel driver whose entry point is
# DriverEntry, from the given sources linked with the wsksock library.
#   COMPAT  also puts compat/ (LySocket.hpp) on the include path and builds the
#           sources with the toolchain's default warnings (third-party code
#           such as the LySocket article's drivers).
#   LIBS    extra libraries to link.
# Requires the mingw-w64 toolchain file (cmake/mingw-w64.cmake).
function(wsksock_add_driver name)
  cmake_parse_arguments(ARG "COMPAT" "" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "wsksock_add_driver(${name}): SOURCES is required")
  endif()
  add_library(${name} SHARED ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".sys")
  target_link_libraries(${name} PRIVATE wsksock ${ARG_LIBS} wsksock_kernel_libs)
  if(ARG_COMPAT)
    target_include_directories(${name} PRIVATE ${WSKSOCK_SOURCE_DIR}/compat)
  else()
    target_compile_options(${name} PRIVATE ${WSKSOCK_WARNINGS})
  endif()
endfunction()
