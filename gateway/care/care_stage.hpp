// The care stage of the pipeline: after conversion, each clinical event goes through the care
// engine (match → attribute → history → risk), what it changed is written to the member database
// (care_db) and the RiskAssessment it made joins the message's resources. Care writes are grouped:
// committed every `commit_every` messages or `commit_after` after the group began (the watcher
// thread commits an idle group), since one SQLite commit per message cost more than the scoring.
// A crash can lose the uncommitted group; at start the stage replays the clinical events the
// message store committed after the care database's last message, so the history, links and
// outcomes catch up (the RiskAssessments are already in the message store: settled with them). A new roster (`carebridge roster import` in another process) is noticed by
// a watcher thread polling the roster version every `poll` and loaded beside the running one, then
// swapped in between two messages; a manual link (`carebridge members link`) is picked up the same
// way.
//
// Threads: operator() runs on the pipeline thread only; the watcher only builds snapshots.
#pragma once

#include "gateway/care/care_db.hpp"
#include "gateway/care/care_engine.hpp"
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/ingest/stage_metrics.hpp"
#include "gateway/members/roster.hpp"
#include "gateway/obs/metrics.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

namespace carebridge::gateway::care {

struct care_stage_options {
  std::chrono::milliseconds poll{1000};       // roster version and manual links
  std::size_t commit_every = 128;             // messages per care transaction, at most
  std::chrono::milliseconds commit_after{20};  // age of a group before it is committed
};

class care_stage {
 public:
  using options = care_stage_options;
  /// Opens DATA_DIR/members.db (roster and care tables), loads the roster and the care state, and
  /// starts the roster watcher. Throws std::runtime_error when the database cannot be opened.
  /// `store`, when given, is read at start for the events to replay.
  care_stage(const std::filesystem::path& members_db, obs::registry& metrics,
             store::message_store* store = nullptr, care_settings settings = {},
             options opts = {});
  ~care_stage();
  care_stage(const care_stage&) = delete;
  care_stage& operator=(const care_stage&) = delete;

  /// The events converted from `m` (conversion_stage::events()); appends RiskAssessments to `out`.
  ingest::stage_outcome operator()(const store::stored_message& m,
                                   std::span<const mappings::event::clinical_event> events,
                                   store::processing_result& out);

  /// The roster version in use (metrics, tests).
  std::int64_t roster_version() const noexcept { return version_in_use_.load(); }
  /// Asks the watcher to look now (tests).
  void check_roster_now();
  /// Commits the open care group now (tests, shutdown).
  void flush();
  /// Events replayed from the message store at start.
  std::size_t replayed() const noexcept { return replayed_; }

 private:
  void watch();
  void take_new_roster();
  void replay(store::message_store& store);
  void commit_locked();

  std::unique_ptr<members::roster_db> roster_db_;  // the watcher's connection
  std::unique_ptr<care_db> db_;  // the pipeline thread's connection; db_mu_ (the watcher commits)
  std::mutex db_mu_;
  std::atomic<bool> group_open_{false};  // the watcher wakes every commit_after only while true
  std::chrono::steady_clock::time_point group_began_{};
  std::size_t replayed_ = 0;
  care_engine engine_;
  std::vector<care_outcome> outcomes_;
  std::vector<care_changes> changes_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool check_now_ = false;
  bool rearm_ = false;  // a care group opened: recompute the watcher's timeout
  std::shared_ptr<const members::roster_snapshot> next_;  // loaded by the watcher, not yet in use
  std::atomic<std::int64_t> version_in_use_{0};
  std::atomic<std::int64_t> members_in_use_{0};
  options opts_;
  std::chrono::steady_clock::time_point next_link_check_{};

  obs::registry::family<obs::counter>& events_;
  obs::registry::family<obs::counter>& alerts_;
  obs::registry::family<obs::counter>& assessments_;
  obs::registry::family<obs::counter>& matches_;       // by outcome and rule
  obs::registry::family<obs::counter>& risk_alerts_;   // alerts wanted, by kind and risk band
  ingest::stage_metrics stage_metrics_;
  obs::counter& roster_reloads_;
  obs::counter& roster_failures_;
  obs::counter& commit_failures_;
  std::thread watcher_;
};

}  // namespace carebridge::gateway::care
