# tandem_module(NAME DEPS...): a static library from src/NAME/*.cpp (not recursing
# into cuda/), include root src/, linked to the listed modules.
function(tandem_module name)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER srcs EXCLUDE REGEX "/cuda/")
  add_library(tandem_${name} STATIC ${srcs})
  target_include_directories(tandem_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(tandem_${name} PUBLIC tandem_deps ${ARGN})
  target_compile_options(tandem_${name} PRIVATE -Wall -Wextra)
endfunction()

# tandem_unit_tests(MODULE LIBS...): one GoogleTest binary per module from
# tests/unit/MODULE/*_test.cpp, registered with CTest.
function(tandem_unit_tests name)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  if(NOT srcs)
    return()
  endif()
  add_executable(${name}_unit_tests ${srcs})
  target_link_libraries(${name}_unit_tests PRIVATE ${ARGN} tandem_test_support GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name}_unit_tests PRIVATE
    TANDEM_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    TANDEM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name}_unit_tests DISCOVERY_TIMEOUT 60)
endfunction()
