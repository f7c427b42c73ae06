# Toolchain file: Windows x64 kernel drivers built in MSVC mode by clang-cl
# and linked by lld-link, against the real WDK headers, on Linux (Debian's
# clang, clang-tools, lld and llvm packages; tools/install-deps installs
# them).
#
#   cmake -S . -B build/msvc -DCMAKE_TOOLCHAIN_FILE=cmake/clang-cl-wdk.cmake \
#         -DWDK_KM=<kit>/Include/<version>/km -DWDK_SHARED=<kit>/Include/<version>/shared
#
# The WDK is not part of this project (its headers are not redistributable):
# WDK_KM and WDK_SHARED name its folders, or WDKContentRoot (variable or
# environment) names a kit root with Include/<version>/{km,shared}. The
# import libraries and the little the WDK's libraries supply are made at
# configure time (cmake/wdk.cmake). On Windows with Visual Studio and the WDK,
# use no toolchain file: cmake/wdk.cmake finds the kit the same way and links
# the kit's own libraries.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

# clang-cl under any of the names Debian gives it.
find_program(WSKSOCK_CLANG_CL NAMES clang-cl clang-cl-19 clang-cl-18 clang-cl-17 clang-cl-16
             clang-cl-15 clang-cl-14 PATHS /usr/lib/llvm-14/bin)
find_program(WSKSOCK_LLD_LINK NAMES lld-link lld-link-19 lld-link-18 lld-link-17 lld-link-16
             lld-link-15 lld-link-14)
find_program(WSKSOCK_LLVM_LIB NAMES llvm-lib llvm-lib-19 llvm-lib-18 llvm-lib-17 llvm-lib-16
             llvm-lib-15 llvm-lib-14)
find_program(WSKSOCK_LLVM_DLLTOOL NAMES llvm-dlltool llvm-dlltool-19 llvm-dlltool-18
             llvm-dlltool-17 llvm-dlltool-16 llvm-dlltool-15 llvm-dlltool-14)
foreach(tool WSKSOCK_CLANG_CL WSKSOCK_LLD_LINK WSKSOCK_LLVM_LIB WSKSOCK_LLVM_DLLTOOL)
  if(NOT ${tool})
    message(FATAL_ERROR "clang-cl-wdk.cmake: ${tool} not found "
                        "(Debian packages clang clang-tools lld llvm: tools/install-deps)")
  endif()
endforeach()

set(CMAKE_C_COMPILER ${WSKSOCK_CLANG_CL})
set(CMAKE_LINKER ${WSKSOCK_LLD_LINK})
set(CMAKE_AR ${WSKSOCK_LLVM_LIB})
set(CMAKE_MT "" CACHE FILEPATH "no manifests in drivers")
# No Windows SDK or CRT to link a test program with: check the compiler by
# compiling only.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# Seen by cmake/wdk.cmake: make import libraries and the support object.
set(WSKSOCK_WDK_CROSS ON)
set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WSKSOCK_WDK_CROSS)
