# Fuzz targets (tests/fuzz, libFuzzer) built by clang in their own build, and a CI smoke run of
# each as a ctest test (label fuzz). LAUEPROC_FUZZ: AUTO (when clang++ links -fsanitize=fuzzer),
# ON, OFF. LAUEPROC_FUZZ_SECONDS: seconds per target (4 targets).
set(LAUEPROC_FUZZ AUTO CACHE STRING "Fuzz targets and their smoke run: AUTO (when clang++ with libFuzzer is found), ON, OFF")
set_property(CACHE LAUEPROC_FUZZ PROPERTY STRINGS AUTO ON OFF)
set(LAUEPROC_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz target runs in the ctest smoke run")

if(NOT LAUEPROC_FUZZ STREQUAL "OFF")
  find_program(LAUEPROC_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)
  find_program(LAUEPROC_CLANG NAMES clang clang-16 clang-15 clang-14)
  set(LAUEPROC_FUZZ_OK OFF)
  if(LAUEPROC_CLANGXX AND LAUEPROC_CLANG)
    set(probe ${CMAKE_BINARY_DIR}/fuzz-probe)
    file(WRITE ${probe}.cpp "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n")
    execute_process(COMMAND ${LAUEPROC_CLANGXX} -fsanitize=fuzzer,address,undefined ${probe}.cpp -o ${probe}
                    RESULT_VARIABLE probe_rc OUTPUT_QUIET ERROR_QUIET)
    if(probe_rc EQUAL 0)
      set(LAUEPROC_FUZZ_OK ON)
    endif()
  endif()
  if(LAUEPROC_FUZZ_OK)
    include(ExternalProject)
    ExternalProject_Add(laueproc_fuzz
      SOURCE_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz
      BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
      CMAKE_ARGS -DCMAKE_CXX_COMPILER=${LAUEPROC_CLANGXX} -DCMAKE_C_COMPILER=${LAUEPROC_CLANG}
                 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
      INSTALL_COMMAND ""
      BUILD_ALWAYS ON)
    # Inputs per target: about LAUEPROC_FUZZ_SECONDS on a loaded 2-core build machine.
    set(runs_h5_file 2000)
    set(runs_chunk_decoders 2000)
    set(runs_spectrum_text 4000)
    set(runs_journal 300000)
    foreach(target h5_file chunk_decoders spectrum_text journal)
      add_test(NAME fuzz_smoke.${target}
               COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/smoke.sh ${CMAKE_BINARY_DIR}/fuzz/fuzz_${target}
                       ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${target} ${CMAKE_BINARY_DIR}/fuzz/work/${target}
                       ${LAUEPROC_FUZZ_SECONDS} ${runs_${target}})
      set_tests_properties(fuzz_smoke.${target} PROPERTIES LABELS "cpu;fuzz" TIMEOUT 300)
    endforeach()
    message(STATUS "laueproc: fuzz targets ON (${LAUEPROC_CLANGXX}), smoke run ${LAUEPROC_FUZZ_SECONDS} s per target")
  elseif(LAUEPROC_FUZZ STREQUAL "ON")
    message(FATAL_ERROR "LAUEPROC_FUZZ=ON but clang++ cannot link -fsanitize=fuzzer (Debian: clang libclang-rt-14-dev)")
  else()
    message(STATUS "laueproc: fuzz targets OFF (no clang++ with libFuzzer)")
  endif()
endif()
