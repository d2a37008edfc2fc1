// Compiler: the LRU cache, limits, and JSON Schema refusals that name the keyword and its pointer.
#include <gtest/gtest.h>

#include <thread>

#include "grammar/grammar.h"
#include "unit/grammar/test_vocab.h"

namespace tandem::grammar {
namespace {

TEST(Compiler, CachesByKindAndText) {
  Compiler c(testing::small_table());
  EXPECT_EQ(c.vocab_size(), 294);
  EXPECT_EQ(c.mask_words(), (294u + 31) / 32);
  auto a = c.json_schema(R"({"type":"string"})");
  auto b = c.json_schema(R"({"type":"string"})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(c.cache_hits(), 1u);
  auto lax = c.json_schema(R"({"type":"string"})", false);  // strictness is part of the key
  ASSERT_TRUE(lax.ok());
  EXPECT_NE(lax->get(), a->get());
  auto re = c.regex(R"({"type":"string"})");  // the kind is part of the key
  ASSERT_TRUE(re.ok());
  EXPECT_NE(re->get(), a->get());
  EXPECT_EQ(c.cache_hits(), 1u);
  EXPECT_EQ(c.cache_size(), 3u);
}

TEST(Compiler, IsThreadSafe) {
  Compiler c(testing::small_table());
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto g =
            c.json_schema(R"({"type":"array","items":{"type":"integer","maximum":)" + std::to_string(i % 5) + "}}");
        if (!g.ok()) continue;
        Matcher m(*g);
        std::vector<uint32_t> mask(c.mask_words());
        ok[t] += m.fill_next_token_mask(mask) && m.accept('[') && m.fill_next_token_mask(mask);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 20);
  EXPECT_EQ(c.cache_size(), 5u);
}

TEST(Compiler, LimitsRefuseLargeGrammars) {
  Limits l;
  l.max_states = 1000;
  Compiler c(testing::small_table(), l);
  auto g = c.json_schema(R"({"type":"string","maxLength":5000})");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(g.status().message().find("max_states"), std::string::npos) << g.status().message();
  auto r = c.regex("(a{100}){100}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_states"), std::string::npos);
  Limits t;
  t.max_compile_seconds = 0;
  Compiler slow(testing::small_table(), t);
  auto s = slow.regex("(ab|cd){2000}");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("max_compile_seconds"), std::string::npos) << s.status().message();
}

TEST(Compiler, SchemaRefusalsNameKeywordAndPointer) {
  Compiler c(testing::small_table());
  struct Case {
    const char* schema;
    const char* message;
  };
  for (const Case& k : {
           Case{R"({"type":"object","properties":{"a b":{"type":"integer","multipleOf":2}}})",
                "unsupported keyword 'multipleOf' at '#/properties/a b'"},
           Case{R"({"type":"object","properties":{"x/y":{"not":{}}}})",
                "unsupported keyword 'not' at '#/properties/x~1y'"},
           Case{R"({"type":"array","items":{"$ref":"#/$defs/nope"}})", "does not resolve at '#/items/$ref'"},
           Case{R"({"type":"string","pattern":"a(b"})", "regex: missing ')' at offset 3 at '#/pattern'"},
           Case{R"({"type":"string","format":"ipv6"})", "unsupported format 'ipv6' at '#/format'"},
           Case{R"({"allOf":[{},{}]})", "'allOf' is supported with exactly one schema at '#/allOf'"},
           Case{R"({"type":"integer","exclusiveMinimum":3,"exclusiveMaximum":4})", "no integer satisfies"},
           Case{R"({"enum":[]})", "'enum' must be a non-empty array at '#/enum'"},
           Case{R"([1,2])", "a schema must be an object or a boolean at '#'"},
           Case{R"({"type":"object",})", "invalid JSON at offset 17"},
           Case{R"({} x)", "extra text after the schema"},
           Case{R"(false)", "the grammar matches no string"},
       }) {
    auto g = c.json_schema(k.schema);
    ASSERT_FALSE(g.ok()) << k.schema;
    EXPECT_EQ(g.status().kind(), ErrorKind::kInvalidRequest);
    EXPECT_NE(g.status().message().find(k.message), std::string::npos) << k.schema << " -> " << g.status().message();
  }
  // Annotations are accepted in strict mode; unknown keywords only without it.
  EXPECT_TRUE(
      c.json_schema(
           R"({"title":"t","description":"d","$schema":"x","$id":"y","$comment":"c","examples":[],"default":1})")
          .ok());
  EXPECT_TRUE(c.json_schema(R"({"type":"integer","multipleOf":2})", false).ok());
}

TEST(Compiler, JsonSchemaLanguage) {
  Compiler c(testing::small_table());
  auto accepts = [&](const char* schema, const std::string& doc) {
    auto g = c.json_schema(schema);
    EXPECT_TRUE(g.ok()) << g.status().message();
    Matcher m(*g);
    return m.accept_bytes(doc) && m.can_end();
  };
  const char* person =
      R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["age"]})";
  EXPECT_TRUE(accepts(person, R"({"name": "Al", "age": 3})"));
  EXPECT_TRUE(accepts(person, "{\n  \"age\": -12\n}"));
  EXPECT_FALSE(accepts(person, R"({"name": "Al"})"));            // required
  EXPECT_FALSE(accepts(person, R"({"age": 3, "name": "Al"})"));  // properties in schema order
  EXPECT_FALSE(accepts(person, R"({"age": 3, "x": 1})"));        // strict: no additional properties
  EXPECT_FALSE(accepts(person, R"({"age": 03})"));
  EXPECT_FALSE(accepts(person, "{" + std::string(17, ' ') + R"("age": 1})"));  // whitespace bound 16
  const char* range = R"({"type":"integer","minimum":-15,"maximum":240})";
  for (int v = -20; v <= 250; ++v) EXPECT_EQ(accepts(range, std::to_string(v)), v >= -15 && v <= 240) << v;
  const char* num = R"({"type":"number","minimum":-2,"maximum":3})";
  EXPECT_TRUE(accepts(num, "-2.0"));
  EXPECT_TRUE(accepts(num, "2.999"));
  EXPECT_TRUE(accepts(num, "3.000"));
  EXPECT_FALSE(accepts(num, "3.001"));
  EXPECT_FALSE(accepts(num, "-2.5"));
  const char* str = R"({"type":"string","minLength":2,"maxLength":3})";
  EXPECT_TRUE(accepts(str, "\"\xc3\xa9\\n\""));
  EXPECT_TRUE(accepts(str, "\"\\u00e9ab\""));
  EXPECT_FALSE(accepts(str, "\"abcd\""));
  EXPECT_FALSE(accepts(str, "\"\\ud800a\""));  // no lone surrogate escapes
  const char* pat = R"({"type":"string","pattern":"^a\"b$"})";
  EXPECT_TRUE(accepts(pat, R"("a\"b")"));
  EXPECT_FALSE(accepts(pat, R"("a"b")"));
  const char* date = R"({"type":"string","format":"date"})";
  EXPECT_TRUE(accepts(date, R"("2024-02-28")"));
  EXPECT_FALSE(accepts(date, R"("2024-02-30")"));
  EXPECT_FALSE(accepts(date, R"("2024-13-01")"));
  const char* rec = R"({"$defs":{"t":{"type":"array","items":{"$ref":"#/$defs/t"}}},"$ref":"#/$defs/t"})";
  EXPECT_TRUE(accepts(rec, "[[], [[[]]]]"));
  EXPECT_FALSE(accepts(rec, "[[], [[[]]]"));
  auto obj = c.any_json_object();
  ASSERT_TRUE(obj.ok());
  Matcher m(*obj);
  EXPECT_TRUE(m.accept_bytes(R"({"a": [1, 2.5e3, {"b": null}], "c": "\u00e9"})") && m.can_end());
  Matcher n(*obj);
  EXPECT_FALSE(n.accept_bytes("[1]"));
}

}  // namespace
}  // namespace tandem::grammar
