# Dependencies come from Debian packages; nothing is fetched at build time.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)          # Beast, Asio (header-only); JSON used header-only
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD IMPORTED_TARGET libsystemd)

find_path(TOMLPP_INCLUDE_DIR toml++/toml.h REQUIRED)
find_path(SPDLOG_INCLUDE_DIR spdlog/spdlog.h REQUIRED)
find_path(FMT_INCLUDE_DIR fmt/format.h REQUIRED)

add_library(tandem_deps INTERFACE)
target_include_directories(tandem_deps SYSTEM INTERFACE
  ${Boost_INCLUDE_DIRS} ${TOMLPP_INCLUDE_DIR} ${SPDLOG_INCLUDE_DIR} ${FMT_INCLUDE_DIR})
target_link_libraries(tandem_deps INTERFACE Threads::Threads)
# SQLite is linked only by the modules that use it (disk KV tier, profiles), not through tandem_deps.
target_compile_definitions(tandem_deps INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_JSON_NO_LIB BOOST_CONTAINER_NO_LIB)
if(TANDEM_HEADER_ONLY_DEPS)
  target_compile_definitions(tandem_deps INTERFACE
    TOML_HEADER_ONLY=1 SPDLOG_HEADER_ONLY FMT_HEADER_ONLY)
else()
  find_package(spdlog REQUIRED)
  target_link_libraries(tandem_deps INTERFACE spdlog::spdlog)
endif()
if(SYSTEMD_FOUND)
  target_link_libraries(tandem_deps INTERFACE PkgConfig::SYSTEMD)
  target_compile_definitions(tandem_deps INTERFACE TANDEM_HAVE_SYSTEMD=1)
endif()
