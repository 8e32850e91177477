# Every C++ sample in docs/*.md is compiled, linked against every engine's
# library and, unless its first line is `// docs: compile-only`, run as a test
# (doc_sample_<page>_<n>, n counting the page's ```cpp blocks from 1).
# The README's example is tested apart (readme_example). Samples are extracted
# when CMake configures; editing a page re-runs it.
file(GLOB doc_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${doc_pages})
set(doc_samples_dir ${CMAKE_CURRENT_BINARY_DIR}/doc_samples)
execute_process(COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/extract_doc_samples.sh
                        ${doc_samples_dir} ${doc_pages}
                RESULT_VARIABLE extracted)
if(NOT extracted EQUAL 0)
  message(FATAL_ERROR "could not extract the C++ samples of docs/*.md")
endif()
file(GLOB doc_samples ${doc_samples_dir}/*.cpp)
foreach(sample IN LISTS doc_samples)
  get_filename_component(name ${sample} NAME_WE)
  add_executable(doc_sample_${name} ${sample})
  target_link_libraries(doc_sample_${name} PRIVATE sourcery)
  foreach(engine IN ITEMS sourcery_rocksdb sourcery_postgres)
    if(TARGET ${engine})
      target_link_libraries(doc_sample_${name} PRIVATE ${engine})
    endif()
  endforeach()
  file(STRINGS ${sample} first_lines LIMIT_COUNT 2)
  if(NOT first_lines MATCHES "// docs: compile-only")
    add_test(NAME doc_sample_${name} COMMAND doc_sample_${name})
    set_tests_properties(doc_sample_${name} PROPERTIES TIMEOUT 120 ENVIRONMENT "${test_environment}")
  endif()
endforeach()
