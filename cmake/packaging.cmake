# Install rules and CPack settings for the .deb and .rpm (packaging/README.md).
# scripts/package configures with -DCMAKE_INSTALL_PREFIX=/usr and runs
# `cpack -G DEB` and `cpack -G RPM` on one build.
#
# Layout (prefix /usr):
#   /usr/bin/tandem                          (install rule in src/main/CMakeLists.txt)
#   /etc/tandem/tandem.toml                  conffile / %config(noreplace)
#   /usr/lib/systemd/system/tandem.service   Type=notify unit, not enabled on install
#   /usr/lib/sysusers.d/tandem.conf          the tandem system user
#   /var/lib/tandem                          state, 0750 tandem:tandem
#   /usr/share/man/man1/tandem.1.gz, /usr/share/doc/tandem/{README.md,copyright,changelog.Debian.gz}

include(GNUInstallDirs)

set(_pkg ${PROJECT_SOURCE_DIR}/packaging)
set(_gen ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_gen})

# Compressed man page and changelog, made reproducibly (gzip -n: no name or time stamp).
foreach(pair "common/tandem.1:tandem.1.gz" "deb/changelog:changelog.Debian.gz")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 _src)
  list(GET pair 1 _dst)
  execute_process(COMMAND gzip -9nc ${_pkg}/${_src} OUTPUT_FILE ${_gen}/${_dst}
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "packaging: gzip of ${_src} failed")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pkg}/${_src})
endforeach()

# With prefix /usr, GNUInstallDirs puts sysconfdir at /etc and localstatedir at /var.
set(TANDEM_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tandem)
set(TANDEM_STATEDIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/tandem)

install(FILES ${PROJECT_SOURCE_DIR}/etc/tandem.toml DESTINATION ${TANDEM_SYSCONFDIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${_pkg}/systemd/tandem.service DESTINATION lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${_pkg}/systemd/tandem.sysusers DESTINATION lib/sysusers.d RENAME tandem.conf
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY DESTINATION ${TANDEM_STATEDIR}
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
install(FILES ${_gen}/tandem.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${_pkg}/common/copyright ${_gen}/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# Debian only (excluded from the RPM below): the reasons for lintian's accepted findings.
install(FILES ${_pkg}/deb/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
        RENAME tandem PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PROJECT_SOURCE_DIR}/docs/install.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME README.md PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# ---- common package metadata -------------------------------------------------------------
set(CPACK_PACKAGE_NAME tandem)
set(CPACK_PACKAGE_VENDOR "The Tandem authors")
set(CPACK_PACKAGE_CONTACT "Tandem maintainers <maintainers@tandem.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OpenAI-compatible LLM server for GPU machines")
set(CPACK_PACKAGE_DESCRIPTION
  "Tandem serves large language models over an OpenAI-compatible HTTP API
from one process: tokenization and chat templates, continuous batching, a
paged KV cache with prefix caching, KV-aware routing over the GPUs of the
machine and disaggregated prefill and decode. It runs on NVIDIA GPUs when
the CUDA libraries are installed and on its CPU backend otherwise.
The systemd service is installed but not enabled: set the model in
/etc/tandem/tandem.toml, then run systemctl enable --now tandem.")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://tandem.invalid/")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)

# ---- Debian --------------------------------------------------------------------------------
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Library dependencies from the binary (dpkg-shlibdeps: libc6, libstdc++6, libsystemd0, ...),
# plus adduser, the postinst's fallback when systemd-sysusers is absent.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# CUDA (NVIDIA's repository names for CUDA 13): recommended, not required, so the package
# installs on CPU-only hosts and serves with the CPU backend there.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cuda-cudart-13-0, libcublas-13-0, libnccl2")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-persistenced")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_pkg}/deb/conffiles ${_pkg}/deb/postinst ${_pkg}/deb/prerm ${_pkg}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# ---- RPM -----------------------------------------------------------------------------------
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE "LicenseRef-Proprietary")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_URL ${CPACK_PACKAGE_HOMEPAGE_URL})
set(CPACK_RPM_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
# Library requirements are generated from the binary's sonames (rpm autoreq:
# libsystemd.so.0, libstdc++.so.6, ...), which every RPM distribution
# resolves; the scripts need these tools:
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PACKAGE_REQUIRES "systemd")
# Weak dependencies: CPack 3.25 has no Recommends variable, but this text is placed in the
# spec preamble, where rpmbuild reads it as tags.
set(CPACK_RPM_SPEC_MORE_DEFINE "Packager: ${CPACK_PACKAGE_CONTACT}
Recommends: cuda-cudart-13-0
Recommends: libcublas-13-0
Recommends: libnccl
Suggests: nvidia-persistenced")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${_pkg}/rpm/pre)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${_pkg}/rpm/post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${_pkg}/rpm/preun)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${_pkg}/rpm/postun)
set(CPACK_RPM_USER_FILELIST
  "%config(noreplace) ${TANDEM_SYSCONFDIR}/tandem.toml"
  "%attr(0750,tandem,tandem) %dir ${TANDEM_STATEDIR}"
  "%doc ${CMAKE_INSTALL_FULL_DOCDIR}/README.md"
  "%license ${CMAKE_INSTALL_FULL_DOCDIR}/copyright"
  "%exclude ${CMAKE_INSTALL_FULL_DOCDIR}/changelog.Debian.gz"
  "%exclude ${CMAKE_INSTALL_FULL_DATAROOTDIR}/lintian/overrides/tandem")
# Directories the distribution owns (filesystem/systemd packages) stay out of the file list.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d /var /var/lib
  /usr/share/man /usr/share/man/man1 /usr/share/doc /usr/share/lintian
  /usr/share/lintian/overrides)
set(CPACK_RPM_SPEC_CHANGELOG
  "* Sat Nov 21 2026 Tandem maintainers <maintainers@tandem.invalid> - 0.1.0-1\n- First package")
set(CPACK_RPM_COMPRESSION_TYPE xz)

set(CPACK_GENERATOR DEB RPM)
include(CPack)
