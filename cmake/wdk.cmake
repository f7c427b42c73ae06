# cmake/wdk.cmake - kernel-mode settings for MSVC-mode compilers (clang-cl
# with cmake/clang-cl-wdk.cmake on Linux, or cl.exe with the WDK on Windows).
# Included by the top-level CMakeLists.txt when MSVC is set; defines the
# interface targets wsksock_kernel (compile settings) and wsksock_kernel_libs
# (link settings of a .sys image), as the mingw-w64 branch does.
#
# Cache variables:
#   WDK_KM, WDK_SHARED  the kit's Include/<version>/km and .../shared folders.
#                       Empty: looked up under WDKContentRoot (a CMake or
#                       environment variable, as set by a WDK install or the
#                       WDK NuGet package), or under the default Windows Kits
#                       folder, at version WDK_VERSION (default: the newest
#                       with km/ntddk.h).
#   WDK_LIB_DIR         the kit's Lib/<version>/km/x64 (ntoskrnl.lib, hal.lib,
#                       netio.lib). Empty on a Linux cross build: import
#                       libraries are then made from cmake/wdk/*.def.
#   WSKSOCK_NTDDI_VERSION  the oldest Windows the drivers target (NTDDI_*),
#                       default 0x0A000000 (Windows 10); the library itself
#                       decides what it uses at run time (see README).

set(WDK_KM "" CACHE PATH "WDK Include/<version>/km folder")
set(WDK_SHARED "" CACHE PATH "WDK Include/<version>/shared folder")
set(WDK_LIB_DIR "" CACHE PATH "WDK Lib/<version>/km/x64 folder (Windows; empty: made from .def files)")
set(WDK_VERSION "" CACHE STRING "WDK version under WDKContentRoot, e.g. 10.0.22621.0 (empty: newest)")
set(WSKSOCK_NTDDI_VERSION "0x0A000000" CACHE STRING "NTDDI_VERSION of the drivers")

# ---- Find the kit when the folders were not given. ----
if(NOT WDK_KM OR NOT WDK_SHARED)
  set(_wdk_root "")
  if(DEFINED WDKContentRoot)
    set(_wdk_root "${WDKContentRoot}")
  elseif(DEFINED ENV{WDKContentRoot})
    file(TO_CMAKE_PATH "$ENV{WDKContentRoot}" _wdk_root)
  elseif(CMAKE_HOST_WIN32)
    set(_wdk_root "C:/Program Files (x86)/Windows Kits/10")
  endif()
  if(_wdk_root)
    if(NOT WDK_VERSION)
      file(GLOB _wdk_found LIST_DIRECTORIES false "${_wdk_root}/Include/*/km/ntddk.h")
      list(SORT _wdk_found COMPARE NATURAL ORDER DESCENDING)
      if(_wdk_found)
        list(GET _wdk_found 0 _wdk_newest)
        string(REGEX REPLACE ".*/Include/([^/]+)/km/ntddk.h$" "\\1" _wdk_version "${_wdk_newest}")
      endif()
    else()
      set(_wdk_version "${WDK_VERSION}")
    endif()
    if(_wdk_version)
      set(WDK_KM "${_wdk_root}/Include/${_wdk_version}/km" CACHE PATH "" FORCE)
      set(WDK_SHARED "${_wdk_root}/Include/${_wdk_version}/shared" CACHE PATH "" FORCE)
      if(NOT WDK_LIB_DIR AND EXISTS "${_wdk_root}/Lib/${_wdk_version}/km/x64/ntoskrnl.lib")
        set(WDK_LIB_DIR "${_wdk_root}/Lib/${_wdk_version}/km/x64" CACHE PATH "" FORCE)
      endif()
    endif()
  endif()
endif()
if(NOT EXISTS "${WDK_KM}/wdm.h" OR NOT EXISTS "${WDK_SHARED}/ws2def.h")
  message(FATAL_ERROR
    "wsksock: no WDK headers: set WDK_KM to the kit's Include/<version>/km folder and WDK_SHARED "
    "to its shared folder (or WDKContentRoot to the kit root). WDK_KM='${WDK_KM}' "
    "WDK_SHARED='${WDK_SHARED}'")
endif()

set(_wdk_includes "${WDK_KM}" "${WDK_SHARED}")
if(IS_DIRECTORY "${WDK_KM}/crt")
  list(APPEND _wdk_includes "${WDK_KM}/crt")
endif()
# Case-sensitive file systems: links with the spellings the kit includes by.
if(NOT CMAKE_HOST_WIN32)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  set(_wdk_fold "${CMAKE_BINARY_DIR}/wdk-casefold")
  execute_process(COMMAND ${Python3_EXECUTABLE} ${WSKSOCK_SOURCE_DIR}/tools/wdk-casefold
                          ${_wdk_fold} ${_wdk_includes}
                  RESULT_VARIABLE _wdk_rc OUTPUT_QUIET)
  if(NOT _wdk_rc EQUAL 0)
    message(FATAL_ERROR "wsksock: tools/wdk-casefold failed")
  endif()
  list(APPEND _wdk_includes "${_wdk_fold}")
endif()

# ---- Compile settings. ----
add_library(wsksock_kernel INTERFACE)
target_include_directories(wsksock_kernel SYSTEM INTERFACE ${_wdk_includes})
target_compile_definitions(wsksock_kernel INTERFACE
  _WIN64 _AMD64_ AMD64 _KERNEL_MODE WINNT=1 NTDDI_VERSION=${WSKSOCK_NTDDI_VERSION}
  POOL_NX_OPTIN=1
  # KeGetCurrentIrql inline (CR8) rather than imported: WDK 10.0.20348 and
  # later import it by default; Wine's ntoskrnl exports none.
  NT_INLINE_GET_CURRENT_IRQL)
# No stack cookies (no GsDriverEntry), functions in their own sections, the
# kernel's structure packing, debug information in the objects.
target_compile_options(wsksock_kernel INTERFACE /GS- /Gy /Zp8 /Z7)
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  # The WDK folders are system folders (-imsvc), so clang's own stddef.h
  # and stdint.h come first, and the kit's headers warn about nothing.
  target_compile_options(wsksock_kernel INTERFACE "SHELL:/clang:-ffreestanding")
else()
  target_compile_options(wsksock_kernel INTERFACE /kernel)
endif()
# No C runtime library and none of the user-mode SDK libraries CMake links
# by default (kernel32.lib, ...) in a driver.
set(CMAKE_MSVC_RUNTIME_LIBRARY "")
set(CMAKE_C_STANDARD_LIBRARIES "" CACHE STRING "Libraries linked into every C target" FORCE)

# ---- Link settings of a .sys image. ----
add_library(wsksock_kernel_libs INTERFACE)
target_link_options(wsksock_kernel_libs INTERFACE /DRIVER /SUBSYSTEM:NATIVE /ENTRY:DriverEntry
                    /NODEFAULTLIB /INCREMENTAL:NO /OPT:REF /OPT:ICF /MANIFEST:NO)
if(WDK_LIB_DIR)
  target_link_libraries(wsksock_kernel_libs INTERFACE ${WDK_LIB_DIR}/ntoskrnl.lib
                        ${WDK_LIB_DIR}/hal.lib ${WDK_LIB_DIR}/netio.lib)
else()
  # Import libraries made from the committed .def files (exactly the kernel
  # functions our drivers import), plus wdk_support.c.
  find_program(WSKSOCK_LLVM_DLLTOOL NAMES llvm-dlltool llvm-dlltool-19 llvm-dlltool-18
               llvm-dlltool-17 llvm-dlltool-16 llvm-dlltool-15 llvm-dlltool-14)
  if(NOT WSKSOCK_LLVM_DLLTOOL)
    message(FATAL_ERROR "wsksock: llvm-dlltool not found (Debian package llvm), and WDK_LIB_DIR "
                        "is not set")
  endif()
  set(_wdk_implibs "")
  foreach(image ntoskrnl hal netio)
    set(_def "${WSKSOCK_SOURCE_DIR}/cmake/wdk/${image}.def")
    set(_lib "${CMAKE_BINARY_DIR}/wdk-lib/${image}.lib")
    add_custom_command(OUTPUT ${_lib}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/wdk-lib
      COMMAND ${WSKSOCK_LLVM_DLLTOOL} -m i386:x86-64 -d ${_def} -l ${_lib}
      DEPENDS ${_def} VERBATIM)
    list(APPEND _wdk_implibs ${_lib})
  endforeach()
  add_custom_target(wsksock_wdk_implibs DEPENDS ${_wdk_implibs})
  add_library(wsksock_wdk_support STATIC ${WSKSOCK_SOURCE_DIR}/cmake/wdk/wdk_support.c)
  target_compile_options(wsksock_wdk_support PRIVATE /GS- /Zp8 /Z7)
  add_dependencies(wsksock_kernel_libs wsksock_wdk_implibs)
  target_link_libraries(wsksock_kernel_libs INTERFACE wsksock_wdk_support ${_wdk_implibs})
endif()

# Warnings are errors at /W4; with clang, also what cl.exe would reject or
# what is not C11 (GNU extensions, VLAs, arithmetic on void *).
set(WSKSOCK_WARNINGS /W4 /WX CACHE INTERNAL "")
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  list(APPEND WSKSOCK_WARNINGS -Werror=gnu -Werror=pedantic -Werror=vla -Werror=pointer-arith
       -Werror=gcc-compat)
  set(WSKSOCK_WARNINGS ${WSKSOCK_WARNINGS} CACHE INTERNAL "")
endif()
