// frontend::EmbeddedFile: a file compiled into the binary (the dashboard's
// HTML, JavaScript and CSS), generated at build time by cmake/embed_files.cmake
// from the files under src/frontend/dashboard/.
#pragma once

#include <cstddef>
#include <string_view>

namespace tandem::frontend {

struct EmbeddedFile {
  std::string_view name;  // path relative to the embedded folder ("index.html")
  std::string_view data;  // the file's bytes
};

}  // namespace tandem::frontend
