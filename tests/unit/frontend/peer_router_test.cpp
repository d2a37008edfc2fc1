#include "frontend/peer_router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::frontend {
namespace {

using discovery::ModelLoad;
using discovery::PeerRecord;
using Kind = PeerChoice::Kind;

PeerRecord peer(const std::string& id, const std::string& model, int64_t waiting, int64_t running = 0,
                int64_t capacity = 4) {
  PeerRecord p;
  p.id = id;
  p.url = "http://127.0.0.1:" + std::to_string(9000 + id[0]);
  p.models.push_back(ModelLoad{model, {model + "-alias"}, 1024, capacity, 64, waiting, running, 0.0});
  return p;
}

RoutingPolicy policy(int threshold, int max_hops = 1) {
  RoutingPolicy p;
  p.self_id = "self";
  p.queue_threshold = threshold;
  p.max_hops = max_hops;
  p.affinity_capacity = 2;
  return p;
}

RoutingKey key(const std::string& model, uint64_t affinity = 0) { return RoutingKey{model, affinity}; }

TEST(PeerRouter, AModelServedOnlyByPeersGoesToTheLeastLoadedOfThem) {
  PeerRouter r(policy(8));
  const std::vector<PeerRecord> peers = {peer("a", "m", 3), peer("b", "m", 1), peer("c", "other", 0)};
  PeerChoice c = r.choose(key("m"), 0, false, 0, peers, {});
  ASSERT_EQ(c.kind, Kind::kForward);
  EXPECT_EQ(c.peer_id, "b");
  EXPECT_EQ(c.url, peers[1].url);
  EXPECT_EQ(c.reason, "model");
  // Aliases count; requests this appliance sent and that are still open count as load.
  r.forward_started("b");
  r.forward_started("b");
  r.forward_started("b");
  EXPECT_EQ(r.choose(key("m-alias"), 0, false, 0, peers, {}).peer_id, "a");
  r.forward_ended("b");
  r.forward_ended("b");
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, peers, {}).peer_id, "b");
  // A peer that failed this request is skipped; with none left it is served (or refused) here.
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, peers, {"b"}).peer_id, "a");
  PeerChoice none_left = r.choose(key("m"), 0, false, 0, peers, {"a", "b"});
  ASSERT_EQ(none_left.kind, Kind::kRefuse);
  EXPECT_EQ(none_left.refusal.kind(), ErrorKind::kUnavailable);
  EXPECT_NE(none_left.refusal.message().find("a, b, which did not answer"), std::string::npos);
  EXPECT_EQ(r.choose(key("unknown"), 0, false, 0, peers, {}).kind, Kind::kLocal);
}

TEST(PeerRouter, APeerThatDidNotAnswerIsSkippedUntilItsRecordChanges) {
  PeerRouter r(policy(8));
  std::vector<PeerRecord> peers = {peer("a", "m", 0), peer("b", "m", 3)};
  peers[0].seq = 5;
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, peers, {}).peer_id, "a");
  r.peer_unreachable("a", peers);
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, peers, {}).peer_id, "b");
  // With no other peer serving it: 503, naming the peer, not the 404 of a model nobody serves.
  PeerChoice down = r.choose(key("m"), 0, false, 0, {peers[0]}, {});
  ASSERT_EQ(down.kind, Kind::kRefuse);
  EXPECT_EQ(down.refusal.kind(), ErrorKind::kUnavailable);
  EXPECT_NE(down.refusal.message().find("peer appliance(s) a, which did not answer"), std::string::npos);
  peers[0].seq = 6;  // a heartbeat: it is alive
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, peers, {}).peer_id, "a");
  // A peer that left the table is forgotten.
  r.peer_unreachable("b", peers);
  r.peer_unreachable("a", {peers[0]});
  EXPECT_EQ(r.choose(key("m"), 0, false, 0, {peers[1]}, {}).peer_id, "b");
}

TEST(PeerRouter, AtTheHopLimitARequestIsNeverForwardedAgain) {
  PeerRouter r(policy(1, 1));
  const std::vector<PeerRecord> peers = {peer("a", "m", 0)};
  PeerChoice c = r.choose(key("m"), 1, false, 0, peers, {});
  ASSERT_EQ(c.kind, Kind::kRefuse);
  EXPECT_EQ(c.refusal.kind(), ErrorKind::kLoopDetected);
  EXPECT_NE(c.refusal.message().find("max_hops = 1"), std::string::npos);
  EXPECT_NE(c.refusal.message().find("`m`"), std::string::npos);
  // Served here: served here, however saturated.
  EXPECT_EQ(r.choose(key("m"), 1, true, 100, peers, {}).kind, Kind::kLocal);
  // max_hops = 0: nothing is ever forwarded.
  PeerRouter none(policy(1, 0));
  EXPECT_EQ(none.choose(key("m"), 0, false, 0, peers, {}).kind, Kind::kRefuse);
  // max_hops = 2: a request forwarded once may go on once more.
  PeerRouter two(policy(1, 2));
  EXPECT_EQ(two.choose(key("m"), 1, false, 0, peers, {}).kind, Kind::kForward);
  EXPECT_EQ(two.choose(key("m"), 2, false, 0, peers, {}).kind, Kind::kRefuse);
}

TEST(PeerRouter, AServedModelGoesToAPeerOnlyOverTheThresholdAndWhenThePeerHasRoom) {
  PeerRouter r(policy(2));
  const std::vector<PeerRecord> busy = {peer("a", "m", 2), peer("b", "m", 5)};
  const std::vector<PeerRecord> idle = {peer("a", "m", 2), peer("b", "m", 0)};
  EXPECT_EQ(r.choose(key("m"), 0, true, 2, idle, {}).kind, Kind::kLocal);  // at the threshold: here
  PeerChoice c = r.choose(key("m"), 0, true, 3, idle, {});
  ASSERT_EQ(c.kind, Kind::kForward);
  EXPECT_EQ(c.peer_id, "b");
  EXPECT_EQ(c.reason, "queue");
  EXPECT_EQ(r.choose(key("m"), 0, true, 3, busy, {}).kind, Kind::kLocal);  // no peer has room
  // Threshold 0: never for load.
  PeerRouter off(policy(0));
  EXPECT_EQ(off.choose(key("m"), 0, true, 1000, idle, {}).kind, Kind::kLocal);
}

TEST(PeerRouter, RepeatTurnsFollowTheirConversation) {
  PeerRouter r(policy(2));
  const std::vector<PeerRecord> peers = {peer("a", "m", 0), peer("b", "m", 1)};
  // A model served only by peers: the conversation stays with the peer that had it, not the least loaded.
  r.remember(11, "b");
  PeerChoice c = r.choose(key("m", 11), 0, false, 0, peers, {});
  ASSERT_EQ(c.kind, Kind::kForward);
  EXPECT_EQ(c.peer_id, "b");
  EXPECT_EQ(c.reason, "affinity");
  EXPECT_EQ(r.choose(key("m", 12), 0, false, 0, peers, {}).peer_id, "a");
  // Served here too: a conversation held by a peer with room goes there, even with no queue here.
  EXPECT_EQ(r.choose(key("m", 11), 0, true, 0, peers, {}).peer_id, "b");
  // ... unless that peer is full.
  const std::vector<PeerRecord> full = {peer("a", "m", 0), peer("b", "m", 9)};
  EXPECT_EQ(r.choose(key("m", 11), 0, true, 0, full, {}).kind, Kind::kLocal);
  // One held here stays here until the queue passes the threshold.
  r.remember(11, "self");
  EXPECT_EQ(r.choose(key("m", 11), 0, true, 2, peers, {}).kind, Kind::kLocal);
  EXPECT_EQ(r.choose(key("m", 11), 0, true, 3, peers, {}).peer_id, "a");
}

TEST(PeerRouter, TheAffinityMapIsBounded) {
  PeerRouter r(policy(2));  // capacity 2
  const std::vector<PeerRecord> peers = {peer("a", "m", 0), peer("b", "m", 5)};
  r.remember(1, "b");
  r.remember(2, "b");
  r.remember(1, "b");  // refreshes 1
  r.remember(3, "b");  // evicts 2, the least recently used
  EXPECT_EQ(r.choose(key("m", 1), 0, false, 0, peers, {}).peer_id, "b");
  EXPECT_EQ(r.choose(key("m", 3), 0, false, 0, peers, {}).peer_id, "b");
  EXPECT_EQ(r.choose(key("m", 2), 0, false, 0, peers, {}).peer_id, "a");
}

TEST(PeerRouter, RoutingKeyReadsTheModelAndTheConversationStart) {
  const auto turn1 = routing_key(Route::kChatCompletions, R"({"model": "m", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})");
  const auto turn2 = routing_key(Route::kChatCompletions, R"({"model": "m", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "More?"}], "stream": true})");
  const auto other = routing_key(Route::kChatCompletions, R"({"model": "m", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Bye"}]})");
  const auto other_model = routing_key(Route::kChatCompletions, R"({"model": "n", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})");
  ASSERT_TRUE(turn1 && turn2 && other && other_model);
  EXPECT_EQ(turn1->model, "m");
  EXPECT_NE(turn1->affinity, 0u);
  EXPECT_EQ(turn1->affinity, turn2->affinity);
  EXPECT_NE(turn1->affinity, other->affinity);
  EXPECT_NE(turn1->affinity, other_model->affinity);

  const std::string long_prompt(300, 'x');
  const auto c1 = routing_key(Route::kCompletions, R"({"model": "m", "prompt": ")" + long_prompt + R"("})");
  const auto c2 = routing_key(Route::kCompletions, R"({"model": "m", "prompt": ")" + long_prompt + R"(yz"})");
  const auto short_prompt = routing_key(Route::kCompletions, R"({"prompt": "short"})");
  ASSERT_TRUE(c1 && c2 && short_prompt);
  EXPECT_NE(c1->affinity, 0u);
  EXPECT_EQ(c1->affinity, c2->affinity);
  EXPECT_EQ(short_prompt->affinity, 0u);
  EXPECT_EQ(short_prompt->model, "");

  EXPECT_FALSE(routing_key(Route::kChatCompletions, "not json"));
  EXPECT_FALSE(routing_key(Route::kChatCompletions, "[1]"));
  const auto no_user = routing_key(Route::kChatCompletions, R"({"model": 5, "messages": [{"role": "system"}]})");
  ASSERT_TRUE(no_user);
  EXPECT_EQ(no_user->model, "");
  EXPECT_EQ(no_user->affinity, 0u);
}

TEST(PeerRouter, RemoteModelsListWhatOnlyPeersServe) {
  ServedModel here;
  here.name = "m";
  here.aliases = {"m2"};
  PeerRecord a = peer("a", "m", 0);  // also served here: not listed (its alias is)
  PeerRecord b = peer("b", "n", 0);
  PeerRecord c = peer("c", "n", 0);
  c.models[0].aliases.clear();
  const std::vector<RemoteModel> remote = remote_models({a, b, c}, here);
  ASSERT_EQ(remote.size(), 3u);
  EXPECT_EQ(remote[0].id, "m-alias");
  EXPECT_EQ(remote[0].root, "m");
  EXPECT_EQ(remote[1].id, "n");
  EXPECT_EQ(remote[1].peers, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(remote[2].id, "n-alias");
  EXPECT_EQ(remote[2].peers, std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace tandem::frontend
