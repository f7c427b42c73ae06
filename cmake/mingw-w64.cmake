# Toolchain file: cross-build Windows x64 kernel drivers (and the user-mode
# controller used by tools/wskrun) with Debian's mingw-w64.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(WSKSOCK_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${WSKSOCK_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${WSKSOCK_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${WSKSOCK_MINGW_PREFIX}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${WSKSOCK_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Where mingw-w64 keeps ntddk.h/wdm.h.
set(WSKSOCK_DDK_INCLUDE_DIR /usr/share/mingw-w64/include/ddk CACHE PATH "mingw-w64 DDK headers")
