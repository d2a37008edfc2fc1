#include "frontend/response_store.h"

#include <gtest/gtest.h>

namespace tandem::frontend {
namespace {

boost::json::array conversation(const std::string& text) {
  return boost::json::array{boost::json::object{{"role", "user"}, {"content", text}}};
}

TEST(ResponseStoreTest, KeepsAndEvictsTheOldestFirst) {
  ResponseStore store(2, 1 << 20);
  store.put("a", conversation("1"));
  store.put("b", conversation("2"));
  ASSERT_NE(store.get("a"), nullptr);
  EXPECT_EQ((*store.get("a"))[0].at("content"), "1");
  store.put("c", conversation("3"));
  EXPECT_EQ(store.get("a"), nullptr);
  EXPECT_NE(store.get("b"), nullptr);
  EXPECT_NE(store.get("c"), nullptr);
  EXPECT_EQ(store.size(), 2u);
}

TEST(ResponseStoreTest, BoundedByBytes) {
  ResponseStore store(100, 200);
  store.put("big", conversation(std::string(500, 'x')));
  EXPECT_EQ(store.get("big"), nullptr);  // larger than the whole store
  store.put("a", conversation(std::string(80, 'x')));
  store.put("b", conversation(std::string(80, 'x')));
  store.put("c", conversation(std::string(80, 'x')));
  EXPECT_EQ(store.get("a"), nullptr);
  EXPECT_NE(store.get("c"), nullptr);
}

}  // namespace
}  // namespace tandem::frontend
