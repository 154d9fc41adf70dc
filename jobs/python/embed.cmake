# host.py as a C array (host_py.h): cmake -DIN=host.py -DOUT=host_py.h -P embed.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from host.py by embed.cmake */\nstatic const char host_py[] = { ${bytes} 0x00 };\n")
