# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt), not at configure time: here
# CMAKE_INSTALL_PREFIX is the prefix of this install, a --prefix given to cmake --install
# included, so the files that name a path (the pkg-config file, the systemd units) name the
# place they are installed to, and the config goes under it too. The LV_* variables come
# from the install(CODE) just before. file(INSTALL) adds $DESTDIR itself.
set(prefix "${CMAKE_INSTALL_PREFIX}")
function(lv_full out dir) # a GNUInstallDirs dir made absolute under this prefix
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

# /usr: the config in /etc and the units in systemd's own folder; else all under the prefix
if(prefix STREQUAL "/usr")
  set(CMAKE_INSTALL_FULL_SYSCONFDIR /etc)
  set(unitdir "${LV_SYSTEMD_UNITDIR}")
  if(NOT unitdir)
    set(unitdir /usr/lib/systemd/system)
  endif()
else()
  set(CMAKE_INSTALL_FULL_SYSCONFDIR "${prefix}/etc")
  set(unitdir "${prefix}/lib/systemd/system")
endif()
lv_full(CMAKE_INSTALL_FULL_SBINDIR "${LV_SBINDIR}")
set(CMAKE_INSTALL_INCLUDEDIR "${LV_INCLUDEDIR}")
set(CMAKE_INSTALL_LIBDIR "${LV_LIBDIR}")
set(PROJECT_VERSION "${LV_VERSION}")
lv_full(pcdir "${LV_LIBDIR}/pkgconfig")

set(gen "${LV_BINARY_DIR}/install-configured")
configure_file("${LV_SOURCE_DIR}/include/loopvisor-job.pc.in" "${gen}/loopvisor-job.pc" @ONLY)
foreach(unit loopvisor.service loopvisor@.service)
  configure_file("${LV_SOURCE_DIR}/systemd/${unit}.in" "${gen}/${unit}" @ONLY)
endforeach()

file(INSTALL DESTINATION "${pcdir}" TYPE FILE FILES "${gen}/loopvisor-job.pc")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE
     FILES "${gen}/loopvisor.service" "${gen}/loopvisor@.service"
           "${LV_SOURCE_DIR}/systemd/loopvisor.socket")
file(INSTALL DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/loopvisor" TYPE FILE
     FILES "${LV_SOURCE_DIR}/examples/loopvisor.json")
