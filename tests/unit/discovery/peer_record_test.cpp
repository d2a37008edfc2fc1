#include "discovery/peer_record.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::discovery {
namespace {

PeerRecord sample() {
  PeerRecord r;
  r.id = "node-1.a_b";
  r.url = "http://127.0.0.1:8001";
  r.version = "0.1.0";
  r.key_hash = peer_key_hash("secret");
  r.updated_ms = 1700000000123;
  r.ttl_s = 10;
  r.seq = 42;
  r.roles = {"aggregated", "prefill"};
  ModelLoad m;
  m.name = "demo";
  m.aliases = {"demo-alias"};
  m.max_context = 2048;
  m.capacity = 64;
  m.max_queue = 256;
  m.waiting = 3;
  m.running = 7;
  m.kv_usage = 0.25;
  r.models = {m};
  return r;
}

// A hand-written record (not produced by encode_record), with an extra field.
const char* kHandWritten = R"({"schema": 1, "id": "b", "url": "http://[::1]:9000/", "version": "9.9",
  "key_hash": "HASH", "updated_ms": 5000, "ttl_s": 3, "seq": 0, "roles": [], "future_field": {"x": 1},
  "models": [{"name": "m", "max_context": 1, "capacity": 2, "max_queue": 3, "waiting": 4, "running": 5,
              "kv_usage": 1}]})";

std::string hand_written(const std::string& hash) {
  std::string s = kHandWritten;
  s.replace(s.find("HASH"), 4, hash);
  return s;
}

TEST(PeerRecord, EncodeThenParseGivesTheSameRecord) {
  const PeerRecord r = sample();
  auto back = parse_record(encode_record(r), r.key_hash);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->url, r.url);
  EXPECT_EQ(back->version, r.version);
  EXPECT_EQ(back->updated_ms, r.updated_ms);
  EXPECT_EQ(back->ttl_s, 10);
  EXPECT_EQ(back->seq, 42);
  EXPECT_EQ(back->roles, r.roles);
  ASSERT_EQ(back->models.size(), 1u);
  const ModelLoad& m = back->models[0];
  EXPECT_EQ(m.name, "demo");
  EXPECT_EQ(m.aliases, std::vector<std::string>{"demo-alias"});
  EXPECT_EQ(m.max_context, 2048);
  EXPECT_EQ(m.capacity, 64);
  EXPECT_EQ(m.max_queue, 256);
  EXPECT_EQ(m.waiting, 3);
  EXPECT_EQ(m.running, 7);
  EXPECT_DOUBLE_EQ(m.kv_usage, 0.25);
}

TEST(PeerRecord, ParsesAHandWrittenRecordAndIgnoresUnknownFields) {
  auto r = parse_record(hand_written(peer_key_hash("k")), peer_key_hash("k"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->id, "b");
  EXPECT_EQ(r->url, "http://[::1]:9000/");
  EXPECT_TRUE(r->roles.empty());
  ASSERT_EQ(r->models.size(), 1u);
  EXPECT_TRUE(r->models[0].aliases.empty());
  EXPECT_EQ(r->models[0].running, 5);
  EXPECT_DOUBLE_EQ(r->models[0].kv_usage, 1.0);
}

TEST(PeerRecord, FindModelByNameOrAlias) {
  const PeerRecord r = sample();
  EXPECT_EQ(r.find_model("demo"), &r.models[0]);
  EXPECT_EQ(r.find_model("demo-alias"), &r.models[0]);
  EXPECT_EQ(r.find_model("other"), nullptr);
}

TEST(PeerRecord, ExpiresAfterItsTtl) {
  const PeerRecord r = sample();
  EXPECT_FALSE(r.expired(r.updated_ms));
  EXPECT_FALSE(r.expired(r.updated_ms + 10000));
  EXPECT_TRUE(r.expired(r.updated_ms + 10001));
}

TEST(PeerRecord, ForeignKeyIsUnauthorized) {
  const PeerRecord r = sample();
  auto other = parse_record(encode_record(r), peer_key_hash("another key"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().kind(), ErrorKind::kUnauthorized);
}

TEST(PeerRecord, OtherSchemaIsUnsupported) {
  std::string text = hand_written("h");
  text.replace(text.find("\"schema\": 1"), 11, "\"schema\": 2");
  auto r = parse_record(text, "h");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(r.status().message().find("schema 2"), std::string::npos);
}

TEST(PeerRecord, KeyHashDependsOnTheKeyAndHidesIt) {
  EXPECT_EQ(peer_key_hash("a"), peer_key_hash("a"));
  EXPECT_NE(peer_key_hash("a"), peer_key_hash("b"));
  EXPECT_EQ(peer_key_hash("secret").size(), 16u);
  EXPECT_EQ(peer_key_hash("secret").find("secret"), std::string::npos);
  // FNV-1a 64 of "tandem-peer-key/1:" + key, as computed by a few lines of Python
  // (the same function writes the fuzz corpus' seeds).
  EXPECT_EQ(peer_key_hash("secret"), "71b309c0a6440d0f");
  EXPECT_EQ(peer_key_hash(""), "f62c2a33db975177");
}

TEST(PeerRecord, EveryTruncationOfARecordIsRefusedAsMalformed) {
  const PeerRecord r = sample();
  const std::string text = encode_record(r);
  // Every proper prefix that is not the whole object (a partial write).
  const size_t whole = text.rfind('}') + 1;
  for (size_t n = 0; n < whole; ++n) {
    auto p = parse_record(text.substr(0, n), r.key_hash);
    ASSERT_FALSE(p.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(p.status().kind(), ErrorKind::kMalformedFile) << n;
  }
}

TEST(PeerRecord, MissingOrMistypedFieldsAreNamed) {
  const std::string hash = peer_key_hash("k");
  struct Case {
    std::string from, to, field;
  };
  const Case cases[] = {
      {"\"id\": \"b\"", "\"id\": 7", "\"id\""},
      {"\"id\": \"b\"", "\"id\": \"../etc\"", "\"id\""},
      {"\"url\": \"http://[::1]:9000/\"", "\"url\": \"https://x:1\"", "\"url\""},
      {"\"url\": \"http://[::1]:9000/\"", "\"url\": \"http://x:0\"", "\"url\""},
      {"\"ttl_s\": 3", "\"ttl_s\": 0", "\"ttl_s\""},
      {"\"updated_ms\": 5000", "\"updated_ms\": -1", "\"updated_ms\""},
      {"\"seq\": 0", "\"seq\": 1.5", "\"seq\""},
      {"\"roles\": []", "\"roles\": [3]", "\"roles\""},
      {"\"waiting\": 4", "\"waiting\": \"4\"", "\"waiting\""},
      {"\"kv_usage\": 1", "\"kv_usage\": 1.5", "\"kv_usage\""},
      {"\"name\": \"m\"", "\"name\": \"\"", "\"name\""},
      {"\"version\": \"9.9\",", "", "\"version\""},
  };
  for (const Case& c : cases) {
    std::string text = hand_written(hash);
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto r = parse_record(text, hash);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().kind(), ErrorKind::kMalformedFile) << text;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  for (const char* bad : {"", "null", "[]", "{}", "{\"schema\": \"1\"}", "\xff\xfe"}) {
    auto r = parse_record(bad, hash);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(PeerRecord, ParsesHttpUrls) {
  auto a = parse_http_url("http://10.0.0.5:8000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, "8000");
  auto b = parse_http_url("http://[::1]:9/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "9");
  auto c = parse_http_url("http://host");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, "80");
  for (const char* bad : {"https://h:1", "http://:80", "http://h:99999", "http://h:1/v1", "h:1", "http://u@h:1",
                          "http://[::1", "http://h:x"}) {
    EXPECT_FALSE(parse_http_url(bad).ok()) << bad;
  }
}

TEST(PeerRecord, ValidIds) {
  EXPECT_TRUE(valid_id("a"));
  EXPECT_TRUE(valid_id("host-1.example_2"));
  for (const char* bad : {"", ".hidden", "a/b", "a b", "..", "é"}) EXPECT_FALSE(valid_id(bad)) << bad;
  EXPECT_FALSE(valid_id(std::string(129, 'a')));
}

}  // namespace
}  // namespace tandem::discovery
