#include "gateway/care/care_stage.hpp"

#include "gateway/obs/log.hpp"

namespace carebridge::gateway::care {

care_stage::care_stage(const std::filesystem::path& members_db, obs::registry& metrics,
                       store::message_store* store, care_settings settings, options opts)
    : roster_db_(members::roster_db::open(members_db)),
      db_(care_db::open(members_db)),
      engine_(std::move(settings)),
      opts_(opts),
      events_(metrics.counters("carebridge_care_events_total",
                               "Clinical events through the care stage, by match outcome and "
                               "attribution")),
      alerts_(metrics.counters("carebridge_care_alert_decisions_total",
                               "Alertable events (discharge, ED visit, admission), by kind and "
                               "decision (wanted, or why not)")),
      assessments_(metrics.counters("carebridge_care_risk_assessments_total",
                                    "RiskAssessments made, by overall band; retracted ones as "
                                    "band=\"retracted\"")),
      matches_(metrics.counters("carebridge_care_matches_total",
                                "Member matches of clinical events, by outcome (linked, review, "
                                "no_match, not_applicable) and the rule that decided")),
      risk_alerts_(metrics.counters("carebridge_care_alerts_total",
                                    "Alerts the groups want, by kind and risk band (low, moderate, "
                                    "high; none when the event is not scored)")),
      stage_metrics_(metrics, "care"),
      roster_reloads_(metrics
                          .counters("carebridge_roster_reloads_total",
                                    "New rosters loaded by the running gateway (used from the next message on)")
                          .series()),
      roster_failures_(metrics
                           .counters("carebridge_roster_reload_failures_total",
                                     "Roster loads that failed (the previous roster stays in use)")
                           .series()),
      commit_failures_(metrics
                           .counters("carebridge_care_commit_failures_total",
                                     "Care groups the member database refused (replayed from "
                                     "the message store at the next start)")
                           .series()) {
  auto snapshot = roster_db_->load();
  version_in_use_ = snapshot->version;
  members_in_use_ = snapshot->index ? static_cast<std::int64_t>(snapshot->index->size()) : 0;
  engine_.set_roster(std::move(snapshot));
  db_->load_into(engine_);
  if (store) replay(*store);
  metrics.callback_gauge("carebridge_roster_version", "The roster version the pipeline uses",
                         [this] { return static_cast<double>(version_in_use_.load()); });
  metrics.callback_gauge("carebridge_roster_members", "Members in the roster the pipeline uses",
                         [this] { return static_cast<double>(members_in_use_.load()); });
  obs::info("care stage ready", {{"roster_version", std::to_string(version_in_use_.load())},
                                 {"members", std::to_string(members_in_use_.load())},
                                 {"visits", std::to_string(engine_.history().size())},
                                 {"replayed_events", std::to_string(replayed_)}});
  watcher_ = std::thread([this] { watch(); });
}

care_stage::~care_stage() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  try {
    flush();
  } catch (const std::exception& e) {
    obs::error("care group not committed at stop", {{"error", e.what()}});
  }
}

void care_stage::replay(store::message_store& store) {
  std::int64_t after = db_->last_message_id();
  store::processing_result scratch;  // the RiskAssessments are in the store already
  care_changes changes;
  while (true) {
    const auto batch = store.events_after(after, 1000);
    if (batch.empty()) break;
    for (const auto& e : batch) {
      after = e.message_id;
      auto ev = mappings::event::from_json(e.json);
      if (!ev) continue;
      scratch.resources.clear();
      const care_outcome o = engine_.process(*ev, e.message_id, scratch, changes);
      const care_db::event_write w{e.seq, &o, &changes};
      db_->write(e.message_id, std::span(&w, 1));
      ++replayed_;
    }
    db_->commit();
  }
}

void care_stage::check_roster_now() {
  {
    std::lock_guard lock(mu_);
    check_now_ = true;
  }
  cv_.notify_all();
}

void care_stage::flush() {
  std::lock_guard lock(db_mu_);
  commit_locked();
}

void care_stage::commit_locked() {
  if (db_->uncommitted() == 0) return;
  try {
    db_->commit();
  } catch (const std::exception& e) {
    commit_failures_.inc();
    obs::error("care group not committed", {{"error", e.what()}});
  }
}

void care_stage::watch() {
  std::int64_t seen = version_in_use_.load();
  auto next_roster_check = std::chrono::steady_clock::now() + opts_.poll;
  std::unique_lock lock(mu_);
  while (!stop_) {
    // Wake for the roster, and for an idle care group old enough to commit.
    cv_.wait_for(lock, group_open_.load() ? std::min(opts_.poll, opts_.commit_after) : opts_.poll,
                 [this] { return stop_ || check_now_ || rearm_; });
    if (stop_) break;
    if (rearm_) {  // a group opened while waiting for the roster poll: wait for its age instead
      rearm_ = false;
      continue;
    }
    const bool asked = check_now_;
    check_now_ = false;
    lock.unlock();
    {
      std::lock_guard db_lock(db_mu_);
      if (db_->uncommitted() > 0 &&
          std::chrono::steady_clock::now() - group_began_ >= opts_.commit_after)
        commit_locked();
      group_open_ = db_->uncommitted() > 0;
    }
    const auto now = std::chrono::steady_clock::now();
    if (asked || now >= next_roster_check) {
      next_roster_check = now + opts_.poll;
      try {
        const std::int64_t v = roster_db_->version();
        if (v != seen) {
          auto snapshot = roster_db_->load();  // beside the running one: the pipeline goes on
          seen = snapshot->version;
          roster_reloads_.inc();
          obs::info("roster loaded", {{"version", std::to_string(seen)},
                                      {"members", std::to_string(snapshot->index
                                                                     ? snapshot->index->size()
                                                                     : 0)}});
          std::lock_guard relock(mu_);
          next_ = std::move(snapshot);  // the pipeline takes it before its next message
        }
      } catch (const std::exception& e) {
        roster_failures_.inc();
        obs::warn("roster reload failed", {{"error", e.what()}});
      }
    }
    lock.lock();
  }
}

void care_stage::take_new_roster() {
  std::shared_ptr<const members::roster_snapshot> next;
  {
    std::lock_guard lock(mu_);
    next = std::move(next_);
  }
  if (!next) return;
  version_in_use_ = next->version;
  members_in_use_ = next->index ? static_cast<std::int64_t>(next->index->size()) : 0;
  engine_.set_roster(std::move(next));
}

ingest::stage_outcome care_stage::operator()(
    const store::stored_message& m, std::span<const mappings::event::clinical_event> events,
    store::processing_result& out) {
  ingest::stage_metrics::timer timer(stage_metrics_, m.sender);
  take_new_roster();
  std::lock_guard db_lock(db_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_link_check_) {  // manual links made by `carebridge members link`
    next_link_check_ = now + opts_.poll;
    try {
      for (auto& l : db_->new_links()) engine_.load_link(std::move(l));
    } catch (const std::exception& e) {
      obs::warn("member links not read", {{"error", e.what()}});
    }
  }
  if (events.empty()) return timer.done({});
  outcomes_.resize(events.size());
  changes_.resize(events.size());
  std::vector<care_db::event_write> writes;
  writes.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    outcomes_[i] = engine_.process(events[i], m.id, out, changes_[i]);
    writes.push_back({static_cast<int>(i), &outcomes_[i], &changes_[i]});
  }
  try {
    if (db_->uncommitted() == 0) group_began_ = now;
    db_->write(m.id, writes);
    if (db_->uncommitted() >= opts_.commit_every) db_->commit();
    if (db_->uncommitted() > 0 && !group_open_.exchange(true)) {  // the watcher times it
      {
        std::lock_guard lock(mu_);
        rearm_ = true;
      }
      cv_.notify_all();
    }
  } catch (const std::exception& e) {
    // The group is rolled back: its messages are settled (or will be) in the message store, and
    // their events are replayed into the care tables at the next start.
    commit_failures_.inc();
    obs::error("member database write failed",
               {{"message_id", std::to_string(m.id)}, {"error", e.what()}});
  }
  for (const auto& o : outcomes_) {
    events_.series(obs::labels({{"match", o.match}, {"attribution", o.attribution}})).inc();
    matches_.series(obs::labels({{"outcome", o.match}, {"rule", o.rule.empty() ? "none" : o.rule}}))
        .inc();
    if (!o.alert_kind.empty() && o.alert_wanted)
      risk_alerts_
          .series(obs::labels(
              {{"kind", o.alert_kind}, {"risk", o.risk_band.empty() ? "none" : o.risk_band}}))
          .inc();
    if (!o.alert_kind.empty())
      alerts_
          .series(obs::labels({{"kind", o.alert_kind},
                               {"decision", o.alert_wanted ? std::string("wanted") : o.alert_reason}}))
          .inc();
    if (o.retracted)
      assessments_.series(obs::labels({{"band", "retracted"}})).inc();
    else if (!o.risk_band.empty())
      assessments_.series(obs::labels({{"band", o.risk_band}})).inc();
  }
  return timer.done({});
}

}  // namespace carebridge::gateway::care
