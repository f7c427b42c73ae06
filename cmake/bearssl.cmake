# BearSSL, the TLS engine under wsksock/tls.h, compiled for the target from
# Debian's source package (tools/fetch-bearssl; never committed here).
#
#   WSKSOCK_BEARSSL_DIR  BearSSL's source folder; empty: fetched once into
#                        tools/fetch-bearssl's cache at configure time.
#
# Kernel configuration (BearSSL's src/config.h switches, set here): no
# system RNG or clock of BearSSL's own (the TLS layer injects entropy from
# BCryptGenRandom and sets the time from KeQuerySystemTime), and no SSE2,
# AES-NI or POWER8 code paths: the portable constant-time code only, so no
# SIMD register is used in kernel mode. Third-party code: built without our
# warning flags.
set(WSKSOCK_BEARSSL_DIR "" CACHE PATH "BearSSL 0.6 source folder (empty: tools/fetch-bearssl)")
if(NOT WSKSOCK_BEARSSL_DIR)
  execute_process(COMMAND ${WSKSOCK_SOURCE_DIR}/tools/fetch-bearssl
                  OUTPUT_VARIABLE _wsksock_bearssl OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _wsksock_bearssl_rc)
  if(NOT _wsksock_bearssl_rc EQUAL 0 OR NOT EXISTS "${_wsksock_bearssl}/inc/bearssl.h")
    message(FATAL_ERROR "wsksock: tools/fetch-bearssl failed (it needs network access to "
                        "Debian's mirror once); or set WSKSOCK_BEARSSL_DIR to BearSSL 0.6's source")
  endif()
  set(WSKSOCK_BEARSSL_DIR "${_wsksock_bearssl}" CACHE PATH
      "BearSSL 0.6 source folder (empty: tools/fetch-bearssl)" FORCE)
endif()

file(GLOB_RECURSE _wsksock_bearssl_sources ${WSKSOCK_BEARSSL_DIR}/src/*.c)
add_library(bearssl STATIC ${_wsksock_bearssl_sources})
target_include_directories(bearssl SYSTEM PUBLIC ${WSKSOCK_BEARSSL_DIR}/inc)
target_include_directories(bearssl PRIVATE ${WSKSOCK_BEARSSL_DIR}/src)
target_compile_definitions(bearssl PRIVATE BR_USE_URANDOM=0 BR_USE_WIN32_RAND=0 BR_RDRAND=0
                           BR_USE_UNIX_TIME=0 BR_USE_WIN32_TIME=0 BR_AES_X86NI=0 BR_SSE2=0
                           BR_POWER8=0)
if(MSVC)
  target_compile_options(bearssl PRIVATE /W0)
  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    # clang-cl is both Clang and MSVC to BearSSL, which then includes GCC's
    # <cpuid.h> and MSVC's <intrin.h> together (they clash): MSVC only.
    target_compile_definitions(bearssl PRIVATE BR_CLANG=0)
  endif()
else()
  target_compile_options(bearssl PRIVATE -w)
endif()
if(WSKSOCK_SANITIZE AND NOT CMAKE_SYSTEM_NAME STREQUAL "Windows")
  # BearSSL reads and writes integers at unaligned addresses on x86 on
  # purpose (BR_LE_UNALIGNED, through a union: inner.h's br_dec64le, ...),
  # which UndefinedBehaviorSanitizer's alignment check aborts on. The host
  # bed keeps the code the drivers run and drops that one check here.
  target_compile_options(bearssl PRIVATE -fno-sanitize=alignment)
endif()
if(CMAKE_SYSTEM_NAME STREQUAL "Windows")
  # Kernel code generation (no stack protector, no builtin malloc, ...).
  target_link_libraries(bearssl PRIVATE wsksock_kernel)
endif()
