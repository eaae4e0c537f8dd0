# Shared settings for every Tunebench target.
function(tunebench_target_defaults target)
  target_compile_definitions(${target} PRIVATE QT_NO_KEYWORDS)  # LibTorch headers use the name `slots`
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# One place the tests look for OpenAI's CLIP vocabulary, data/bpe_simple_vocab_16e6.txt.gz (after the places
# the program looks, tests/ClipVocabulary.h): $TUNEBENCH_SHARED_DIR when set at configure time (a clone that
# does not sit beside shared/), else ../shared beside the source tree. Without it the checks that need that
# vocabulary are skipped (failed under CI=true); the rest use the demo model's.
if(DEFINED ENV{TUNEBENCH_SHARED_DIR})
  set(TUNEBENCH_TEST_SHARED_DIR "$ENV{TUNEBENCH_SHARED_DIR}")
else()
  set(TUNEBENCH_TEST_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared")
endif()

# tunebench_add_test(NAME [SOURCES...] [LIBS libs...] [LABELS labels...] [TIMEOUT seconds]): one Qt Test
# executable registered with CTest, labelled (unit unless told: unit, gui, slow, fuzz; `ctest -L unit`) and
# with a timeout (120 s unless told). Tests run from the source tree root (TUNEBENCH_SOURCE_DIR names it too),
# where resources/demo-model and ../shared/data resolve as documented.
function(tunebench_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_SOURCES)
    set(ARG_SOURCES ${name}.cpp)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  tunebench_target_defaults(${name})
  target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;TUNEBENCH_SOURCE_DIR=${PROJECT_SOURCE_DIR};TUNEBENCH_SHARED_DIR=${TUNEBENCH_TEST_SHARED_DIR};OMP_NUM_THREADS=2"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    LABELS "${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT})
endfunction()
