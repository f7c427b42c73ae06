# What wsksock_add_driver() does to a driver's own sources, shared by its two
# variants: cmake/wsksock.cmake (<name>.sys) and hostbed/hostbed.cmake
# (<name>-host, the host bed).
#
# Warnings of a driver's sources:
#   default     WSKSOCK_WARNINGS, the library's own set: with mingw-w64 and
#               gcc, -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
#               -Wmissing-prototypes; with clang-cl (cmake/wdk.cmake), /W4 /WX
#               -Werror=gnu -Werror=pedantic -Werror=vla -Werror=pointer-arith
#               -Werror=gcc-compat
#   COMPAT      none of ours: the toolchain's defaults
#   WARNINGS <flags...>  these flags instead (with COMPAT too)
#   NO_WERROR   the same set, warnings not errors: -Werror and /WX dropped,
#               -Werror=X becomes -WX
# -DWSKSOCK_WERROR=OFF makes NO_WERROR the default of every driver and of the
# library itself (a newer compiler's new warnings then do not stop a build).

option(WSKSOCK_WERROR "Warnings are errors in wsksock_add_driver() drivers and the library" ON)

# _wsksock_no_werror(<out-var> <flags...>): the flags without their errors.
function(_wsksock_no_werror out)
  set(r "")
  foreach(f ${ARGN})
    if(f STREQUAL "-Werror" OR f STREQUAL "/WX")
      continue()
    elseif(f MATCHES "^-Werror=(.+)$")
      list(APPEND r "-W${CMAKE_MATCH_1}")
    else()
      list(APPEND r "${f}")
    endif()
  endforeach()
  set(${out} ${r} PARENT_SCOPE)
endfunction()

# _wsksock_library_warnings(<out-var>): the library's warnings, as
# WSKSOCK_WERROR says.
function(_wsksock_library_warnings out)
  set(w ${WSKSOCK_WARNINGS})
  if(NOT WSKSOCK_WERROR)
    _wsksock_no_werror(w ${w})
  endif()
  set(${out} ${w} PARENT_SCOPE)
endfunction()

# _wsksock_driver_parse(<name> <args...>): wsksock_add_driver()'s arguments
# into ARG_* of the calling function.
macro(_wsksock_driver_parse name)
  cmake_parse_arguments(ARG "COMPAT;NO_WERROR" "" "SOURCES;LIBS;WARNINGS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "wsksock_add_driver(${name}): SOURCES is required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "wsksock_add_driver(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
endmacro()

# _wsksock_driver_options(<target>): compat/ and the warnings, from ARG_*.
function(_wsksock_driver_options target)
  if(ARG_COMPAT)
    target_include_directories(${target} PRIVATE ${WSKSOCK_SOURCE_DIR}/compat)
  endif()
  if(DEFINED ARG_WARNINGS OR "WARNINGS" IN_LIST ARG_KEYWORDS_MISSING_VALUES)
    set(w ${ARG_WARNINGS})
  elseif(ARG_COMPAT)
    set(w "")
  else()
    set(w ${WSKSOCK_WARNINGS})
  endif()
  if(ARG_NO_WERROR OR NOT WSKSOCK_WERROR)
    _wsksock_no_werror(w ${w})
  endif()
  if(w)
    target_compile_options(${target} PRIVATE ${w})
  endif()
endfunction()
