# The LySocket article's drivers, unchanged, on compat/LySocket.hpp.
add_test(NAME wine.compat_seed
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/compat_seed.sh ${WSKRUN}
                 ${WSKSOCK_DRIVERS_DIR}/tests/compat/lysocket-server.sys
                 ${WSKSOCK_DRIVERS_DIR}/tests/compat/lysocket-client.sys)
# The article's drivers use port 8888, as does `make demo`.
set_tests_properties(wine.compat_seed PROPERTIES TIMEOUT 120 RESOURCE_LOCK port8888)
