# One ctest per public scenario: `rmaplab sim --scheme linux` must equal the recorded
# real-kernel observation. Plus `rmaplab check` over every scenario folder.
file(GLOB SHARED_SCENARIOS "${RMAPLAB_SHARED_DIR}/scenarios/*.rmap")
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
file(GLOB OWN_SCENARIOS "${CMAKE_SOURCE_DIR}/tests/scenarios/*.rmap" "${CMAKE_SOURCE_DIR}/tests/regress/*.rmap")
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
add_test(NAME check.own COMMAND rmaplab check ${CMAKE_SOURCE_DIR}/tests/scenarios ${CMAKE_SOURCE_DIR}/tests/regress --scheme all)
