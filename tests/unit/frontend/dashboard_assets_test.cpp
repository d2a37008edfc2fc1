#include "frontend/dashboard_assets.h"

#include <string>

#include <gtest/gtest.h>

namespace tandem::frontend {
namespace {

TEST(DashboardAssets, ThePageAndItsFilesAreCompiledIn) {
  const DashboardAsset* page = find_dashboard_asset("");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page, find_dashboard_asset("index.html"));
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<!doctype html>"), std::string_view::npos);
  // Everything the page names is compiled in, with its type.
  const DashboardAsset* js = find_dashboard_asset("dashboard.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(page->body.find("/dashboard/dashboard.js"), std::string_view::npos);
  const DashboardAsset* css = find_dashboard_asset("dashboard.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  EXPECT_NE(js->body.find("new URL(\"data\""), std::string_view::npos) << "the script polls /dashboard/data";
  EXPECT_EQ(find_dashboard_asset("missing.js"), nullptr);
  EXPECT_EQ(find_dashboard_asset("../index.html"), nullptr);
}

TEST(DashboardAssets, HeadersForbidOtherOriginsAndCachingOfData) {
  const auto find = [](const HeaderList& headers, std::string_view name) -> std::string {
    for (const auto& [n, v] : headers) {
      if (n == name) return std::string(v);
    }
    return "";
  };
  const HeaderList data = dashboard_headers(true);
  EXPECT_EQ(find(data, "Cache-Control"), "no-store");
  const std::string csp = find(data, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(find(data, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(find(dashboard_headers(false), "Cache-Control"), "no-cache");
}

}  // namespace
}  // namespace tandem::frontend
