// The store port of FHIR Subscriptions: the physician groups' subscriptions and their numbered
// events — the durable event log behind the R4 Backport notifications, `$status` and `$events`.
//
// The outbox (message_store::alerts_after) holds what the care stage decided, once per event. The
// fan-out reads it in order, decides which subscriptions each entry concerns (gateway/alerts:
// owner group, topic, filters) and records those as the next events of each subscription
// (record_events): numbered per subscription from 1, counted whether or not they are ever
// delivered, and the fan-out's position in the outbox moves in the same transaction — so a crash
// never numbers an entry twice nor skips one. Delivery reads a subscription's events after what
// its endpoint acknowledged (delivered_through) and moves that on (mark_delivered).
//
// Writes go through the store's single writer and are answered once committed (done(true)), or
// done(false) when the transaction failed; reads see what is committed. Any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::gateway::store {

struct subscription_row {
  std::string id;        // server-assigned
  std::string group_id;  // the owner: the only group that may read it or receive its events
  std::string topic;     // canonical URL
  std::string status;    // requested | active | error | off
  std::string error;     // why it is in error (a subscription-error code and detail), else empty
  std::string json;      // the Subscription as accepted (gateway/alerts reads it again)
  std::int64_t events_since_start = 0;  // events numbered for it (delivered or not)
  std::int64_t delivered_through = 0;   // the highest event number its endpoint acknowledged
  std::int64_t start_seq = 0;           // outbox entries after this one can be its events
  std::int64_t created_us = 0;
  std::int64_t updated_us = 0;
  bool operator==(const subscription_row&) const = default;
};

struct subscription_event {
  std::string subscription_id;
  std::int64_t event_number = 0;  // from 1, per subscription
  std::int64_t alert_seq = 0;     // the outbox entry (message_store::alerts_after)
  std::int64_t created_us = 0;
  bool operator==(const subscription_event&) const = default;
};

/// Operators' view of a subscription's undelivered events (sqlite_store::delivery_backlogs).
struct delivery_backlog {
  std::string subscription_id;
  std::int64_t highest_event = 0;  // the highest event number recorded (0: none)
  /// When the first event after delivered_through was numbered (Unix µs); nullopt: none waiting.
  std::optional<std::int64_t> oldest_undelivered_us;
};

/// What sqlite_store::retry_subscriptions() did.
struct retry_result {
  std::vector<std::string> retried;  // set back to requested
  /// Ids asked for and left as they were, with why ("not found", "active (not in error)"…).
  std::vector<std::pair<std::string, std::string>> skipped;
};

class subscription_store {
 public:
  using done_fn = std::function<void(bool ok)>;
  virtual ~subscription_store() = default;

  /// Creates a subscription (its start: the newest outbox entry now, so only later ones are its
  /// events) or replaces the definition, topic, status and error of an existing one (its counts
  /// and start stay; the owner never changes: a save for another group fails).
  virtual void save_subscription(subscription_row s, done_fn done) = 0;
  /// Deletes a subscription and its events.
  virtual void delete_subscription(std::string id, done_fn done) = 0;
  virtual std::optional<subscription_row> subscription(std::string_view id) = 0;
  /// Every subscription, or one group's, by id.
  virtual std::vector<subscription_row> subscriptions(std::string_view group_id = {}) = 0;

  /// The last outbox entry the fan-out has handled (0: none).
  virtual std::int64_t fanned_out_through() = 0;
  /// Numbers each (subscription id, outbox seq) pair, in the order given, as the next event of its
  /// subscription, and moves the fan-out position to `through_seq`, in one transaction. Pairs of
  /// unknown subscriptions, or of entries not after a subscription's start, are skipped.
  virtual void record_events(std::int64_t through_seq,
                             std::vector<std::pair<std::string, std::int64_t>> events,
                             done_fn done) = 0;
  /// A subscription's events numbered from `from` to `to` (0: no upper bound), in order, at most
  /// `limit`.
  virtual std::vector<subscription_event> events_of(std::string_view subscription_id,
                                                    std::int64_t from, std::int64_t to,
                                                    std::size_t limit) = 0;
  /// Its endpoint acknowledged the events through `event_number` (never moves back).
  virtual void mark_delivered(std::string id, std::int64_t event_number, done_fn done) = 0;
  /// The server's lifecycle moves (handshake done, delivery failing, off).
  virtual void set_status(std::string id, std::string status, std::string error,
                          done_fn done) = 0;
};

}  // namespace carebridge::gateway::store
