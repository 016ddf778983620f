# ctest -L format: every .cc and .h of harness/, scenarios/, fixes/ and
# ci/example/ must be as clang-format leaves it (.clang-format at the root).
# Fails listing the drift, with the command that fixes it.
# cmake -DCLANG_FORMAT=<program> -DSOURCE_DIR=<root> -P check_format.cmake
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format-14 not found: apt-get install clang-format-14")
endif()
set(files "")
foreach(dir IN ITEMS harness scenarios fixes ci/example)
  file(GLOB_RECURSE found LIST_DIRECTORIES false ${SOURCE_DIR}/${dir}/*.cc ${SOURCE_DIR}/${dir}/*.h)
  list(APPEND files ${found})
endforeach()
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "no C++ file found under ${SOURCE_DIR}: nothing was checked")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
                WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE status ERROR_VARIABLE drift)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${drift}\nformatting drift; fix it with: "
                      "${CLANG_FORMAT} -i $(git ls-files 'harness/*.cc' 'harness/*.h' "
                      "'scenarios/*.cc' 'fixes/*.cc' 'ci/example/*.cc' 'ci/example/*.h')")
endif()
message(STATUS "${count} files formatted as .clang-format says")
