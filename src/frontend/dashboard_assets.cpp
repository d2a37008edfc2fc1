#include "frontend/dashboard_assets.h"

#include <cstddef>
#include <vector>

#include "frontend/embedded_file.h"

namespace tandem::frontend {

// Generated (cmake/embed_files.cmake).
extern const EmbeddedFile kDashboardFiles[];
extern const size_t kDashboardFiles_count;

namespace {

std::string_view content_type_for(std::string_view name) {
  const auto ends_with = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

struct Table {
  std::vector<std::string_view> names;
  std::vector<DashboardAsset> assets;
  Table() {
    for (size_t i = 0; i < kDashboardFiles_count; ++i) {
      names.push_back(kDashboardFiles[i].name);
      assets.push_back({content_type_for(kDashboardFiles[i].name), kDashboardFiles[i].data});
    }
  }
};

}  // namespace

const DashboardAsset* find_dashboard_asset(std::string_view name) {
  static const Table table;
  if (name.empty()) name = "index.html";
  for (size_t i = 0; i < table.names.size(); ++i) {
    if (table.names[i] == name) return &table.assets[i];
  }
  return nullptr;
}

HeaderList dashboard_headers(bool data) {
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"Cache-Control", data ? "no-store" : "no-cache"}};
}

}  // namespace tandem::frontend
