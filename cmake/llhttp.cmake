# llhttp, the HTTP/1.1 parser behind src/http/request_parser.cpp, as the target
# subcorn::llhttp.
#
# SUBCORN_LLHTTP selects where it comes from:
#   auto      (default) the system's libllhttp when pkg-config finds it, else
#             the released C sources below, downloaded and compiled in
#   system    the system's only (Debian's libllhttp-dev; the ./dev root has it)
#   download  the released C sources even when the system has a libllhttp
#
# Debian 12 and Ubuntu do not package llhttp, and llhttp's C sources are not on
# PyPI on their own. httptools (MagicStack's parser, uvicorn's) vendors the
# llhttp release it is built with in its sdist: vendor/llhttp holds exactly the
# released include/llhttp.h, src/api.c, src/http.c, src/llhttp.c (generated C)
# and LICENSE-MIT. httptools 0.9.0 vendors llhttp 9.4.3, byte for byte the
# sources of Debian's libllhttp 9.4.3 that the project is tested with. The file
# is pinned by its PyPI URL and SHA-256; any other content is refused.
# SUBCORN_LLHTTP_URL takes the same file from elsewhere (a mirror, or
# file:///path for a machine without network): the checksum still decides.

set(SUBCORN_LLHTTP "auto" CACHE STRING "where llhttp comes from: auto, system or download")
set_property(CACHE SUBCORN_LLHTTP PROPERTY STRINGS auto system download)

set(SUBCORN_LLHTTP_RELEASE "9.4.3")
set(SUBCORN_LLHTTP_SDIST "httptools-0.9.0")
set(SUBCORN_LLHTTP_SHA256 "d484ebb7e3a3f3597b0f645fbd1b85633674ca808c1f5ba11c2caf7c66f5c8b6")
set(SUBCORN_LLHTTP_URL
    "https://files.pythonhosted.org/packages/3a/ec/deed52912ab7ca6c0b12859330c571c60c61d7267b341b28951fcbf13694/${SUBCORN_LLHTTP_SDIST}.tar.gz"
    CACHE STRING "where to download ${SUBCORN_LLHTTP_SDIST}.tar.gz (llhttp's sources) from")

if(NOT SUBCORN_LLHTTP MATCHES "^(auto|system|download)$")
  subcorn_fail("SUBCORN_LLHTTP must be auto, system or download, not '${SUBCORN_LLHTTP}'")
endif()

if(NOT SUBCORN_LLHTTP STREQUAL "download")
  pkg_check_modules(LLHTTP QUIET IMPORTED_TARGET libllhttp>=9)
  if(LLHTTP_FOUND)
    message(STATUS "llhttp: the system's libllhttp ${LLHTTP_VERSION}")
    add_library(subcorn::llhttp ALIAS PkgConfig::LLHTTP)
    return()
  endif()
  if(SUBCORN_LLHTTP STREQUAL "system")
    subcorn_fail("subcorn needs llhttp: install libllhttp-dev, or configure with -DSUBCORN_LLHTTP=auto to download its sources")
  endif()
endif()

# Downloaded once per build folder, kept while its checksum holds. The check is
# ours (not file(DOWNLOAD)'s EXPECTED_HASH) so that a failure is one line.
set(archive "${CMAKE_BINARY_DIR}/_deps/${SUBCORN_LLHTTP_SDIST}.tar.gz")
set(sources "${CMAKE_BINARY_DIR}/_deps/llhttp-${SUBCORN_LLHTTP_RELEASE}")
set(have "")
if(EXISTS "${archive}")
  file(SHA256 "${archive}" have)
endif()
if(NOT have STREQUAL SUBCORN_LLHTTP_SHA256)
  if(SUBCORN_LLHTTP STREQUAL "download")
    set(why "SUBCORN_LLHTTP=download")
  else()
    set(why "no system libllhttp")
  endif()
  message(STATUS "llhttp: ${why}; downloading llhttp ${SUBCORN_LLHTTP_RELEASE}'s sources (${SUBCORN_LLHTTP_SDIST}.tar.gz) from ${SUBCORN_LLHTTP_URL}")
  file(DOWNLOAD "${SUBCORN_LLHTTP_URL}" "${archive}.part" STATUS status TLS_VERIFY ON)
  list(GET status 0 code)
  list(GET status 1 reason)
  if(NOT code EQUAL 0)
    subcorn_fail("could not download llhttp's sources from ${SUBCORN_LLHTTP_URL}: ${reason}. Install libllhttp-dev, or give the file with -DSUBCORN_LLHTTP_URL=file:///path/${SUBCORN_LLHTTP_SDIST}.tar.gz")
  endif()
  file(SHA256 "${archive}.part" have)
  if(NOT have STREQUAL SUBCORN_LLHTTP_SHA256)
    file(REMOVE "${archive}.part")
    subcorn_fail("${SUBCORN_LLHTTP_URL} has SHA-256 ${have}, not the pinned ${SUBCORN_LLHTTP_SHA256}: refused")
  endif()
  file(RENAME "${archive}.part" "${archive}")
  file(REMOVE_RECURSE "${sources}")
endif()
if(NOT EXISTS "${sources}/src/llhttp.c")
  file(ARCHIVE_EXTRACT INPUT "${archive}" DESTINATION "${sources}.tmp"
       PATTERNS "${SUBCORN_LLHTTP_SDIST}/vendor/llhttp/*")
  file(REMOVE_RECURSE "${sources}")
  file(RENAME "${sources}.tmp/${SUBCORN_LLHTTP_SDIST}/vendor/llhttp" "${sources}")
  file(REMOVE_RECURSE "${sources}.tmp")
endif()
message(STATUS "llhttp: compiling in llhttp ${SUBCORN_LLHTTP_RELEASE} from ${sources}")

enable_language(C)
add_library(subcorn_llhttp STATIC
  ${sources}/src/llhttp.c ${sources}/src/api.c ${sources}/src/http.c)
target_include_directories(subcorn_llhttp SYSTEM PUBLIC ${sources}/include)
# Generated code, not ours to warn about; hidden, so that the extension does
# not export llhttp's symbols.
target_compile_options(subcorn_llhttp PRIVATE -O2 -w -fvisibility=hidden)
add_library(subcorn::llhttp ALIAS subcorn_llhttp)
