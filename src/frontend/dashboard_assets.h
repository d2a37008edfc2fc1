// The dashboard's static files (src/frontend/dashboard/), compiled into the
// binary: GET /dashboard is index.html, GET /dashboard/NAME the file NAME.
// Threading: pure functions over constant data.
#pragma once

#include <string_view>

#include "frontend/http_response.h"

namespace tandem::frontend {

struct DashboardAsset {
  std::string_view content_type;  // from the name's extension
  std::string_view body;
};

// `name` as in the URL after "/dashboard/" ("" or "index.html": the page).
// Nothing when no such file is embedded.
const DashboardAsset* find_dashboard_asset(std::string_view name);

// The headers every dashboard answer carries: a Content-Security-Policy that
// lets the page load nothing from elsewhere nor be framed, nosniff, and
// Cache-Control (`data`: /dashboard/data, never stored; files: revalidated).
HeaderList dashboard_headers(bool data);

}  // namespace tandem::frontend
