# Project helpers: one line adds a test.

# baffle_add_test(path/to/x_test.cpp [LIBS ...]): builds an executable named after the file (x_test)
# linked to GoogleTest's main and the project libraries, and registers it with ctest under the
# folder-qualified name (models.x_test). Tests run from the source tree's tests/ folder.
function(baffle_add_test source)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  get_filename_component(name ${source} NAME_WE)
  get_filename_component(dir ${source} DIRECTORY)
  get_filename_component(folder ${dir} NAME)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE GTest::gtest_main ${ARG_LIBS})
  add_test(NAME ${folder}.${name} COMMAND ${name})
  set_tests_properties(${folder}.${name} PROPERTIES
    ENVIRONMENT "BAFFLE_SOURCE_DIR=${PROJECT_SOURCE_DIR};BAFFLE_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# baffle_add_library(name): a static library of every .cpp in the calling folder, with the
# project root as include path. An empty folder gets an empty TU so the target stays valid.
function(baffle_add_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/empty.cpp "")
    set(sources ${CMAKE_CURRENT_BINARY_DIR}/empty.cpp)
  endif()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
