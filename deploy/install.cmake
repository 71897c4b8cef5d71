# Install-time script (deploy/CMakeLists.txt): the parts of `make install` that depend on
# the prefix chosen at install time. file(INSTALL) adds DESTDIR to absolute destinations.
set(prefix "${CMAKE_INSTALL_PREFIX}")
# GNUInstallDirs' rule for sysconfdir: /etc for the /usr prefix, PREFIX/etc otherwise.
if(prefix STREQUAL "/usr" OR prefix STREQUAL "/")
  set(sysconfdir "/etc")
else()
  set(sysconfdir "${prefix}/etc")
endif()
file(MAKE_DIRECTORY "${OTPD_WORK_DIR}")

# The systemd unit, naming the installed binary and config.
file(READ "${OTPD_SOURCE_DIR}/systemd/otpd.service" unit)
string(REPLACE "/usr/local/bin/otpd" "${prefix}/${OTPD_BINDIR}/otpd" unit "${unit}")
string(REPLACE "/etc/otpd/otpd.toml" "${sysconfdir}/otpd/otpd.toml" unit "${unit}")
string(REPLACE "//" "/" unit "${unit}")
file(WRITE "${OTPD_WORK_DIR}/otpd.service" "${unit}")
file(INSTALL "${OTPD_WORK_DIR}/otpd.service" DESTINATION "${prefix}/lib/systemd/system")

# The default config, only when there is none: an upgrade keeps the operator's. 0640: it
# will hold channel credentials (chgrp otpd it).
set(config "$ENV{DESTDIR}${sysconfdir}/otpd/otpd.toml")
if(EXISTS "${config}")
  message(STATUS "Kept (exists): ${config}")
else()
  file(INSTALL "${OTPD_SOURCE_DIR}/systemd/otpd.toml" DESTINATION "${sysconfdir}/otpd"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endif()

# Man pages from the binaries' own --help and --version (help2man), with every subcommand's
# --help as a section, so they can never disagree with the programs.
find_program(HELP2MAN help2man)
if(NOT HELP2MAN)
  message(STATUS "help2man not found: no man pages (scripts/install-deps --install adds it)")
  return()
endif()

function(otpd_commands_section binary out)
  set(text "[COMMANDS]\n")
  foreach(command IN LISTS ARGN)
    string(REPLACE " " ";" words "${command}")
    execute_process(COMMAND "${binary}" ${words} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${binary} ${command} --help failed (${rc})")
    endif()
    # roff: '\' escapes, and a line starting with '.' or "'" is a request.
    string(REPLACE "\\" "\\e" help "${help}")
    string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
    string(APPEND text ".SS \"${command}\"\n.nf\n${help}.fi\n")
  endforeach()
  file(WRITE "${out}" "${text}")
endfunction()

otpd_commands_section("${OTPD_BIN}" "${OTPD_WORK_DIR}/otpd.h2m" "serve" "store init" "key new"
                      "version")
otpd_commands_section("${OTP_BIN}" "${OTPD_WORK_DIR}/otp.h2m" "send" "verify" "status" "login")

foreach(name otpd otp)
  if(name STREQUAL "otpd")
    set(binary "${OTPD_BIN}")
    set(what "one-time-code verification service")
  else()
    set(binary "${OTP_BIN}")
    set(what "command-line client of otpd")
  endif()
  execute_process(
    COMMAND "${HELP2MAN}" --no-info --section=1 "--name=${what}"
            "--include=${OTPD_WORK_DIR}/${name}.h2m" "--output=${OTPD_WORK_DIR}/${name}.1"
            "${binary}"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "help2man failed for ${name} (${rc})")
  endif()
  file(INSTALL "${OTPD_WORK_DIR}/${name}.1" DESTINATION "${prefix}/${OTPD_MANDIR}/man1")
endforeach()
