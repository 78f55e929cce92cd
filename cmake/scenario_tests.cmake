# One ctest per public scenario: `rmaplab sim --scheme linux` must equal the recorded
# real-kernel observation. Plus `rmaplab check` over every scenario folder.
file(GLOB SHARED_SCENARIOS CONFIGURE_DEPENDS "${RMAPLAB_SHARED_DIR}/scenarios/*.rmap")
foreach(s ${SHARED_SCENARIOS})
  get_filename_component(base ${s} NAME_WE)
  get_filename_component(dir ${s} DIRECTORY)
  if(EXISTS "${dir}/${base}.native.json")
    add_test(NAME conform.sim.${base}
      COMMAND ${CMAKE_COMMAND} -DRMAPLAB=$<TARGET_FILE:rmaplab> -DSCENARIO=${s}
              -DEXPECTED=${dir}/${base}.native.json -DOUT=${CMAKE_BINARY_DIR}/scenario-out/${base}.sim.json
              -P ${CMAKE_SOURCE_DIR}/cmake/sim_equals.cmake)
  endif()
endforeach()
file(GLOB OWN_SCENARIOS CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/tests/scenarios/*.rmap" "${CMAKE_SOURCE_DIR}/tests/regress/*.rmap"
     "${CMAKE_SOURCE_DIR}/bench/workloads/*.rmap")
foreach(s ${OWN_SCENARIOS})
  get_filename_component(base ${s} NAME_WE)
  get_filename_component(dir ${s} DIRECTORY)
  get_filename_component(folder ${dir} NAME)
  if(EXISTS "${dir}/${base}.native.json")
    add_test(NAME conform.sim.${folder}.${base}
      COMMAND ${CMAKE_COMMAND} -DRMAPLAB=$<TARGET_FILE:rmaplab> -DSCENARIO=${s}
              -DEXPECTED=${dir}/${base}.native.json -DOUT=${CMAKE_BINARY_DIR}/scenario-out/${folder}.${base}.sim.json
              -P ${CMAKE_SOURCE_DIR}/cmake/sim_equals.cmake)
  endif()
endforeach()
add_test(NAME check.shared COMMAND rmaplab check ${RMAPLAB_SHARED_DIR}/scenarios --scheme all)
# The same with read faults allocating folios, as on a kernel without a zero page
# (docs/zero-page.md): every scheme must still find every mapping.
add_test(NAME check.no-zero-page COMMAND rmaplab check ${RMAPLAB_SHARED_DIR}/scenarios ${CMAKE_SOURCE_DIR}/tests/scenarios ${CMAKE_SOURCE_DIR}/tests/regress ${CMAKE_SOURCE_DIR}/bench/workloads --scheme all --zero-page no)
add_test(NAME check.own COMMAND rmaplab check ${CMAKE_SOURCE_DIR}/tests/scenarios ${CMAKE_SOURCE_DIR}/tests/regress ${CMAKE_SOURCE_DIR}/bench/workloads --scheme all)
# The incremental oracle (what each statement changed) over everything, every scheme.
add_test(NAME check.incremental COMMAND rmaplab check ${RMAPLAB_SHARED_DIR}/scenarios ${CMAKE_SOURCE_DIR}/tests/scenarios ${CMAKE_SOURCE_DIR}/tests/regress ${CMAKE_SOURCE_DIR}/bench/workloads --scheme all --oracle incremental)

# The real kernel: every shared scenario run natively equals its recorded observation,
# and `conform` holds the model to the kernel on every scenario folder. Skipped (exit 77,
# with the reason) where native runs are impossible (not root, no kpagecount).
foreach(s ${SHARED_SCENARIOS})
  get_filename_component(base ${s} NAME_WE)
  get_filename_component(dir ${s} DIRECTORY)
  if(EXISTS "${dir}/${base}.native.json")
    add_test(NAME native.${base}
      COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/native_equals.sh $<TARGET_FILE:rmaplab> ${s}
              ${dir}/${base}.native.json ${CMAKE_BINARY_DIR}/scenario-out/${base}.native.json)
    set_tests_properties(native.${base} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endforeach()
add_test(NAME conform.native.all
  COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/conform.sh $<TARGET_FILE:rmaplab>
          ${RMAPLAB_SHARED_DIR}/scenarios ${CMAKE_SOURCE_DIR}/tests/scenarios ${CMAKE_SOURCE_DIR}/tests/regress
          ${CMAKE_SOURCE_DIR}/bench/workloads)
set_tests_properties(conform.native.all PROPERTIES SKIP_RETURN_CODE 77)
# 60 rounds under the sanitizers, where a leak is what it looks for (cmake/conform_concurrent.sh).
if(RMAPLAB_SANITIZE)
  set(RMAPLAB_CONCURRENT_ROUNDS 60)
else()
  set(RMAPLAB_CONCURRENT_ROUNDS 5)
endif()
add_test(NAME conform.native.concurrent
  COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/conform_concurrent.sh $<TARGET_FILE:rmaplab>
          ${RMAPLAB_SHARED_DIR}/scenarios ${RMAPLAB_CONCURRENT_ROUNDS})
set_tests_properties(conform.native.concurrent PROPERTIES SKIP_RETURN_CODE 77)

# The HTML report renders in headless Chromium (no network, no console errors, charts
# with non-empty boxes, a screenshot): cmake/report_chromium.sh; skipped without chromium.
add_test(NAME report.chromium
         COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/report_chromium.sh $<TARGET_FILE:rmaplab>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/report-chromium-test)
set_tests_properties(report.chromium PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# The data-centre generator and measurement through the CLI, at a small size (the full
# 10,000-process fleet is `make bench`'s, never a test's).
add_test(NAME bench.datacentre
         COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/bench_datacentre.sh $<TARGET_FILE:rmaplab>
                 ${CMAKE_BINARY_DIR}/bench-datacentre-test)
