// Error mapping, routes, API keys, HTTP framing and JSON text helpers.
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "frontend/api_key_auth.h"
#include "frontend/http_errors.h"
#include "frontend/http_response.h"
#include "frontend/json_text.h"
#include "frontend/request_id.h"
#include "frontend/route.h"

namespace tandem::frontend {
namespace {

TEST(HttpErrorsTest, KindsMapToStatusAndType) {
  struct Case {
    ErrorKind kind;
    int status;
    std::string type;
    bool retry;
  };
  const Case cases[] = {
      {ErrorKind::kInvalidRequest, 400, "invalid_request_error", false},
      {ErrorKind::kContextLengthExceeded, 400, "invalid_request_error", false},
      {ErrorKind::kTemplateError, 400, "invalid_request_error", false},
      {ErrorKind::kUnsupported, 400, "invalid_request_error", false},
      {ErrorKind::kUnauthorized, 401, "authentication_error", false},
      {ErrorKind::kNotFound, 404, "invalid_request_error", false},
      {ErrorKind::kMethodNotAllowed, 405, "invalid_request_error", false},
      {ErrorKind::kPayloadTooLarge, 413, "invalid_request_error", false},
      {ErrorKind::kQueueFull, 429, "rate_limit_error", true},
      {ErrorKind::kUnavailable, 503, "service_unavailable_error", true},
      {ErrorKind::kInternal, 500, "server_error", false},
      {ErrorKind::kDevice, 500, "server_error", false},
  };
  for (const auto& c : cases) {
    const HttpError e = http_error_for(c.kind);
    EXPECT_EQ(e.status, c.status) << error_kind_name(c.kind);
    EXPECT_EQ(e.type, c.type) << error_kind_name(c.kind);
    EXPECT_EQ(e.retry_after, c.retry) << error_kind_name(c.kind);
  }
  EXPECT_STREQ(http_error_for(ErrorKind::kContextLengthExceeded).code, "context_length_exceeded");
}

TEST(HttpErrorsTest, ErrorObjectShape) {
  const auto v = boost::json::parse(error_json(Status(ErrorKind::kInvalidRequest, "bad \"x\"", "top_p")));
  const auto& e = v.at("error").as_object();
  EXPECT_EQ(e.at("message").as_string(), "bad \"x\"");
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("param").as_string(), "top_p");
  EXPECT_TRUE(e.at("code").is_null());
  const auto v2 = boost::json::parse(error_json(Status(ErrorKind::kContextLengthExceeded, "long")));
  EXPECT_TRUE(v2.at("error").at("param").is_null());
  EXPECT_EQ(v2.at("error").at("code").as_string(), "context_length_exceeded");
}

TEST(RouteTest, MatchesMethodsAndPaths) {
  EXPECT_EQ(match_route("POST", "/v1/chat/completions").route, Route::kChatCompletions);
  EXPECT_TRUE(match_route("POST", "/v1/chat/completions").method_allowed);
  EXPECT_EQ(match_route("POST", "/v1/completions?x=1").route, Route::kCompletions);
  const auto wrong = match_route("GET", "/v1/completions");
  EXPECT_EQ(wrong.route, Route::kCompletions);
  EXPECT_FALSE(wrong.method_allowed);
  EXPECT_STREQ(wrong.allow, "POST");
  EXPECT_EQ(match_route("GET", "/v1/models/").route, Route::kModels);
  const auto model = match_route("GET", "/v1/models/org%2Fname");
  EXPECT_EQ(model.route, Route::kModel);
  EXPECT_EQ(model.model_id, "org/name");
  EXPECT_EQ(match_route("GET", "/v1/models/a/b").model_id, "a/b");
  EXPECT_EQ(match_route("GET", "/nope").route, Route::kNotFound);
  EXPECT_EQ(match_route("GET", "/health").route, Route::kHealth);
  EXPECT_FALSE(match_route("DELETE", "/health").method_allowed);
  EXPECT_TRUE(match_route("HEAD", "/health").method_allowed);
  EXPECT_TRUE(match_route("HEAD", "/metrics").method_allowed);
  EXPECT_TRUE(match_route("HEAD", "/v1/models/x").method_allowed);
  EXPECT_FALSE(match_route("HEAD", "/v1/completions").method_allowed);
  EXPECT_STREQ(match_route("PUT", "/ping").allow, "GET, HEAD, POST");
  EXPECT_TRUE(match_route("POST", "/ping").method_allowed);
  EXPECT_EQ(match_route("GET", "/version").route, Route::kVersion);
  EXPECT_FALSE(route_needs_auth(Route::kVersion));
  EXPECT_FALSE(route_needs_auth(Route::kHealth));
  EXPECT_TRUE(route_needs_auth(Route::kCompletions));
}

TEST(RouteTest, DashboardPageFilesAndData) {
  const auto page = match_route("GET", "/dashboard");
  EXPECT_EQ(page.route, Route::kDashboard);
  EXPECT_EQ(page.asset, "");
  EXPECT_EQ(match_route("GET", "/dashboard/").route, Route::kDashboard);
  const auto js = match_route("GET", "/dashboard/dashboard.js?v=1");
  EXPECT_EQ(js.route, Route::kDashboard);
  EXPECT_EQ(js.asset, "dashboard.js");
  EXPECT_EQ(match_route("GET", "/dashboard/data?since=12").route, Route::kDashboardData);
  EXPECT_TRUE(match_route("HEAD", "/dashboard/data").method_allowed);
  EXPECT_FALSE(match_route("POST", "/dashboard").method_allowed);
  EXPECT_FALSE(match_route("POST", "/dashboard/x.css").method_allowed);
  EXPECT_EQ(match_route("GET", "/dashboardx").route, Route::kNotFound);
  EXPECT_TRUE(route_needs_auth(Route::kDashboard));
  EXPECT_TRUE(route_needs_auth(Route::kDashboardData));
  EXPECT_TRUE(is_dashboard_route(Route::kDashboardData));
  EXPECT_FALSE(is_dashboard_route(Route::kMetrics));
  EXPECT_STREQ(route_label(Route::kDashboardData), "/dashboard/data");
}

TEST(RouteTest, QueryUint) {
  EXPECT_EQ(query_uint("/dashboard/data?since=42", "since"), 42u);
  EXPECT_EQ(query_uint("/dashboard/data?a=1&since=7&b=2", "since"), 7u);
  EXPECT_EQ(query_uint("/dashboard/data", "since"), 0u);
  EXPECT_EQ(query_uint("/dashboard/data?since=", "since"), 0u);
  EXPECT_EQ(query_uint("/dashboard/data?since=-3", "since"), 0u);
  EXPECT_EQ(query_uint("/dashboard/data?since=4x", "since"), 0u);
  EXPECT_EQ(query_uint("/dashboard/data?since=99999999999999999999999", "since"), 0u);
  EXPECT_EQ(query_uint("/dashboard/data?sincere=5", "since"), 0u);
}

TEST(ApiKeyAuthTest, BasicCredentialsCarryTheKeyForBrowsers) {
  ApiKeyAuth auth({"sk-one"});
  // base64("admin:sk-one") and base64(":sk-one"), from Python's base64.b64encode.
  EXPECT_TRUE(auth.check_bearer_or_basic("Basic YWRtaW46c2stb25l"));
  EXPECT_TRUE(auth.check_bearer_or_basic("basic OnNrLW9uZQ=="));
  EXPECT_TRUE(auth.check_bearer_or_basic("Bearer sk-one"));
  EXPECT_FALSE(auth.check("Basic YWRtaW46c2stb25l")) << "the API takes bearer keys only";
  EXPECT_FALSE(auth.check_bearer_or_basic("Basic YWRtaW46c2stb24="));  // admin:sk-on
  EXPECT_FALSE(auth.check_bearer_or_basic("Basic c2stb25l"));          // sk-one: no colon
  EXPECT_FALSE(auth.check_bearer_or_basic("Basic !!!!"));
  EXPECT_FALSE(auth.check_bearer_or_basic(""));
  EXPECT_TRUE(ApiKeyAuth({}).check_bearer_or_basic(""));
}

TEST(ApiKeyAuthTest, Base64DecodesRfc4648Vectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_EQ(*base64_decode("Zg=="), "f");
  EXPECT_EQ(*base64_decode("Zm8="), "fo");
  EXPECT_EQ(*base64_decode("Zm9v"), "foo");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(base64_decode("Zm9vY").has_value());
  EXPECT_FALSE(base64_decode("Zm 9v").has_value());
}

TEST(ApiKeyAuthTest, BearerKeys) {
  ApiKeyAuth none({});
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.check(""));
  ApiKeyAuth auth({"sk-one", "sk-two"});
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.check("Bearer sk-one"));
  EXPECT_TRUE(auth.check("bearer sk-two"));
  EXPECT_FALSE(auth.check(""));
  EXPECT_FALSE(auth.check("sk-one"));
  EXPECT_FALSE(auth.check("Bearer sk-on"));
  EXPECT_FALSE(auth.check("Bearer sk-one1"));
  EXPECT_FALSE(auth.check("Basic sk-one"));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(HttpResponseTest, HeadAndChunks) {
  std::string out;
  ResponseHead head;
  head.status = 503;
  head.content_length = 2;
  head.keep_alive = false;
  head.headers.emplace_back("Retry-After", "1");
  append_response_head(out, head);
  EXPECT_EQ(out,
            "HTTP/1.1 503 Service Unavailable\r\nServer: tandem\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nConnection: close\r\nRetry-After: 1\r\n\r\n");
  out.clear();
  append_chunk(out, std::string(26, 'x'));
  append_chunk(out, "");
  append_last_chunk(out);
  EXPECT_EQ(out, "1a\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n");
}

TEST(JsonTextTest, StringsRoundTripThroughAParser) {
  const std::string samples[] = {"plain",
                                 "quote\" back\\slash",
                                 "nl\n tab\t cr\r",
                                 std::string("nul\0x", 5),
                                 "\x01\x1f ctl",
                                 "utf8 \xE2\x82\xAC \xF0\x9F\x98\x80",
                                 ""};
  for (const auto& s : samples) {
    std::string out;
    append_json_string(out, s);
    EXPECT_EQ(boost::json::parse(out).as_string(), s) << out;
  }
  std::string num;
  append_json_number(num, -0.25);
  EXPECT_EQ(num, "-0.25");
  num.clear();
  append_json_number(num, 1.0 / 0.0);
  EXPECT_EQ(num, "null");
}

TEST(RequestIdTest, PrefixedAndUnique) {
  const std::string a = make_request_id("chatcmpl");
  const std::string b = make_request_id("chatcmpl");
  EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(a.size(), std::string("chatcmpl-").size() + 24);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tandem::frontend
