# SPDX-License-Identifier: MIT
# Installing ocrpc (`cmake --install`) and its Debian package (`make
# package` / cpack): the three programs, man pages generated from their
# --help by help2man at build time, the systemd unit and an example
# /etc/default/ocrpc. Included from the top-level CMakeLists.txt.
include(GNUInstallDirs)

install(TARGETS ocrpc-server ocrpc ocrpc-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: help2man runs each built program with --help and --version,
# so the pages can never disagree with the programs.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(OCRPC_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  set(OCRPC_MAN_PAGES "")
  foreach(prog_desc "ocrpc-server|gRPC OCR server (Tesseract)"
                    "ocrpc|command-line client of the ocrpc OCR server"
                    "ocrpc-bench|load generator for the ocrpc OCR server")
    string(REPLACE "|" ";" pd "${prog_desc}")
    list(GET pd 0 prog)
    list(GET pd 1 desc)
    set(page ${OCRPC_MAN_DIR}/${prog}.1.gz)
    add_custom_command(
      OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${OCRPC_MAN_DIR}
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --name=${desc}
              --output=${OCRPC_MAN_DIR}/${prog}.1 $<TARGET_FILE:${prog}>
      COMMAND gzip -9nf ${OCRPC_MAN_DIR}/${prog}.1
      DEPENDS ${prog}
      COMMENT "help2man: ${prog}.1"
      VERBATIM)
    list(APPEND OCRPC_MAN_PAGES ${page})
  endforeach()
  add_custom_target(ocrpc_man ALL DEPENDS ${OCRPC_MAN_PAGES})
  install(FILES ${OCRPC_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found: no man pages (scripts/install-deps.sh installs it)")
endif()

# The unit names the installed server, whose prefix is known only at
# install time (cmake --install --prefix, or /usr inside the package).
install(CODE "set(OCRPC_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
configure_file(\"${CMAKE_CURRENT_LIST_DIR}/ocrpc.service.in\"
  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/ocrpc.service\" @ONLY)
message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/ocrpc.service\")")
# /etc/default/ocrpc for the /usr prefix (the package), PREFIX/etc/default
# otherwise, as GNUInstallDirs places sysconfdir (decided at install time
# too: cmake --install --prefix never writes to the real /etc).
install(CODE "if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
  set(etc \"/etc\")
else()
  set(etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
endif()
file(INSTALL \"${CMAKE_CURRENT_LIST_DIR}/ocrpc.default\" DESTINATION \"\${etc}/default\"
     RENAME ocrpc)")

# ---- Debian package: make package -> ocrpc_VERSION_amd64.deb ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ocrpc)
set(CPACK_PACKAGE_VENDOR ocrpc)
set(CPACK_PACKAGE_CONTACT "ocrpc maintainers <ocrpc@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gRPC OCR server (Tesseract), its client and load generator")
set(CPACK_PACKAGE_DESCRIPTION
    "ocrpc serves Tesseract OCR over gRPC (ocr.OCRService), with batches, a job\n store shared through Redis, health checking and reflection. The package holds\n ocrpc-server, the ocrpc command-line client, ocrpc-bench and a systemd unit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# DESTDIR staging, so the unit's install-time prefix is /usr and /etc/default
# lands in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION graphics)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries from dpkg-shlibdeps (libuv1, libnghttp2-14,
# libhiredis0.14, libtesseract5, liblept5, libcjson1, libhttp-parser2.9,
# libssl3, zlib1g, libc6), plus the
# Tesseract data the server reads at run time: tesseract-ocr brings the
# English and orientation models; the default language (Korean) and the
# others the README names are recommended.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tesseract-ocr")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "tesseract-ocr-kor, tesseract-ocr-eng, tesseract-ocr-osd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "redis-server, tesseract-ocr-jpn, tesseract-ocr-chi-sim")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://localhost/ocrpc")
# The example settings are the admin's once installed: dpkg keeps local edits.
file(WRITE ${CMAKE_BINARY_DIR}/deb-control/conffiles "/etc/default/ocrpc\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/deb-control/conffiles)
include(CPack)
