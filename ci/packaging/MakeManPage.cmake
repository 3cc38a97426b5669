# cmake -DPROGRAM=... -DNAME=... -DSECTION=... -DSOURCE=... -DAWK=... \
#   -DGZIP=... -DSCRIPT=help-to-man.awk -DOUTPUT=NAME.SECTION.gz -P this
# Runs `PROGRAM --help`, turns it into a man page, NAME.SECTION next to
# OUTPUT, and gzips that into OUTPUT (-n: no name or time stamp, so the same
# binary gives the same bytes).
get_filename_component(dir ${OUTPUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
set(page ${dir}/${NAME}.${SECTION})
execute_process(COMMAND ${PROGRAM} --help
  OUTPUT_FILE ${OUTPUT}.help RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --help exited with ${result}")
endif()
execute_process(
  COMMAND ${AWK} -v name=${NAME} -v section=${SECTION} "-v" "source=${SOURCE}"
          -f ${SCRIPT}
  INPUT_FILE ${OUTPUT}.help OUTPUT_FILE ${page}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "help-to-man.awk failed for ${NAME}: ${result}")
endif()
execute_process(COMMAND ${GZIP} -9 -n -c ${page}
  OUTPUT_FILE ${OUTPUT} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "gzip failed for ${NAME}: ${result}")
endif()
file(REMOVE ${OUTPUT}.help)
