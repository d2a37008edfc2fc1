#include "frontend/readiness.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace tandem::frontend {

Readiness readiness(bool service_ready, const scheduler::ServiceStats& stats) {
  Readiness r;
  r.ready = service_ready;
  bool all_healthy = true;
  boost::json::array workers;
  std::string failed;
  for (const scheduler::WorkerStatus& w : stats.workers) {
    boost::json::object worker{{"name", w.name}, {"state", w.state}};
    if (!w.role.empty()) worker["role"] = w.role;
    workers.push_back(std::move(worker));
    if (!w.healthy) {
      all_healthy = false;
      failed += (failed.empty() ? "" : ", ") + w.name + " " + w.state;
    }
  }
  if (!service_ready) {
    r.message =
        failed.empty() ? "The model is not ready" : "The model is not ready: no healthy worker (" + failed + ")";
    return r;
  }
  boost::json::object body{{"status", all_healthy ? "ready" : "degraded"}};
  if (!stats.workers.empty()) body["workers"] = std::move(workers);
  r.body = boost::json::serialize(body);
  return r;
}

}  // namespace tandem::frontend
