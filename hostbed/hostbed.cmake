# The host test bed: the library, its examples and its test drivers compiled
# natively on Linux against a user-space kernel shim (hostbed/kshim) and a
# WSK provider over POSIX sockets (hostbed/wskprov).
#
# Defines, for the host build tree:
#   wsksock_kernel       compile settings of "kernel" code (shim headers,
#                        -fshort-wchar); the library links it, as on Windows
#   kshim, wskprov       the shim and the provider (static libraries)
#   wsksock_host_runtime kshim + wskprov + the runner's main()
#   wsksock_add_driver() builds <name>-host, an executable that runs the
#                        driver's DriverEntry/DriverUnload (hostbed/hostrun)
# Options:
#   WSKSOCK_SANITIZE  (ON)  AddressSanitizer + UndefinedBehaviorSanitizer
#   WSKSOCK_COVERAGE  (OFF) gcov instrumentation of the library (make coverage)

option(WSKSOCK_SANITIZE "Build the host bed with ASan and UBSan" ON)
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/driver-options.cmake)
option(WSKSOCK_COVERAGE "Instrument the library for coverage (gcov)" OFF)
set(WSKSOCK_HOSTBED_DIR ${WSKSOCK_SOURCE_DIR}/hostbed CACHE INTERNAL "")

if(WSKSOCK_COVERAGE)
  set(WSKSOCK_SANITIZE OFF CACHE BOOL "" FORCE)
endif()
if(WSKSOCK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(WSKSOCK_COVERAGE)
  # Only the library's sources are instrumented (src/CMakeLists.txt); every
  # executable links the gcov runtime.
  add_link_options(--coverage)
endif()

find_package(Threads REQUIRED)

# Kernel-mode code: the shim's ntddk.h first on the include path.
add_library(wsksock_kernel INTERFACE)
target_include_directories(wsksock_kernel SYSTEM INTERFACE ${WSKSOCK_HOSTBED_DIR}/include)
target_compile_options(wsksock_kernel INTERFACE -fshort-wchar -fno-strict-aliasing)
target_compile_definitions(wsksock_kernel INTERFACE WSKSOCK_HOSTBED=1)

file(GLOB KSHIM_SOURCES CONFIGURE_DEPENDS ${WSKSOCK_HOSTBED_DIR}/kshim/*.c)
add_library(kshim STATIC ${KSHIM_SOURCES})
target_link_libraries(kshim PUBLIC wsksock_kernel Threads::Threads)
target_compile_options(kshim PRIVATE ${WSKSOCK_WARNINGS})

# The provider: WSK-side files include ntddk.h and wsksock/wsk.h; the
# posix_*.c files include only the system's headers (their struct sockaddr
# and errno values differ from Winsock's) and talk to the rest through
# hostbed/wskprov/posix_net.h.
file(GLOB WSKPROV_SOURCES CONFIGURE_DEPENDS ${WSKSOCK_HOSTBED_DIR}/wskprov/*.c)
add_library(wskprov STATIC ${WSKPROV_SOURCES})
target_include_directories(wskprov PUBLIC ${WSKSOCK_SOURCE_DIR}/include)
target_link_libraries(wskprov PUBLIC kshim)
target_compile_options(wskprov PRIVATE ${WSKSOCK_WARNINGS})
foreach(f ${WSKPROV_SOURCES})
  get_filename_component(n ${f} NAME)
  if(n MATCHES "^posix_")
    # System headers only: no shim, normal wchar_t.
    set_source_files_properties(${f} PROPERTIES COMPILE_OPTIONS "-fno-short-wchar")
  endif()
endforeach()

# The runner: main() that loads one driver (DriverEntry ... DriverUnload).
file(GLOB HOSTRUN_SOURCES CONFIGURE_DEPENDS ${WSKSOCK_HOSTBED_DIR}/hostrun/*.c)
add_library(wsksock_hostrun STATIC ${HOSTRUN_SOURCES})
target_link_libraries(wsksock_hostrun PUBLIC wskprov kshim)
target_compile_options(wsksock_hostrun PRIVATE ${WSKSOCK_WARNINGS})

add_library(wsksock_host_runtime INTERFACE)
target_link_libraries(wsksock_host_runtime INTERFACE wsksock_hostrun wskprov kshim)
# The sanitizers and coverage reach a consumer's <name>-host through this
# target (add_compile_options above covers this directory only).
if(WSKSOCK_SANITIZE)
  target_compile_options(wsksock_host_runtime INTERFACE -fsanitize=address,undefined
                         -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(wsksock_host_runtime INTERFACE -fsanitize=address,undefined)
endif()
if(WSKSOCK_COVERAGE)
  target_link_options(wsksock_host_runtime INTERFACE --coverage)
endif()

# wsksock_add_driver(<name> SOURCES ... [COMPAT] [NO_WERROR] [WARNINGS ...]
# [LIBS ...]): host variant of cmake/wsksock.cmake's function (the same
# arguments and warnings, cmake/driver-options.cmake); builds the executable
# <name>-host.
function(wsksock_add_driver name)
  _wsksock_driver_parse(${name} ${ARGN})
  add_executable(${name}-host ${ARG_SOURCES})
  target_link_libraries(${name}-host PRIVATE wsksock ${ARG_LIBS} wsksock_host_runtime)
  _wsksock_driver_options(${name}-host)
endfunction()
