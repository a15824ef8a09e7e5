// Ingest: what happens to one inbound HL7 v2 frame between its arrival and its ACK.
//
//   parse (MSH delimiters, MSH-18) ─► authorize (MSH-4 against the connection's grant)
//   ─► decide the disposition (accepted / rejected) ─► build the ACK ─► store (group commit)
//   ─► after the commit: `done` with the ACK to write (the stored one again for a duplicate)
//
// Every frame is stored, rejected ones too, with their reason: nothing that reached the gateway is
// lost. When the store cannot commit, the outcome is errored (AE/CE), nothing is claimed, and the
// sender resends. `done` runs on the store's writer thread; adapters post back to their strand.
// Thread-safe: one service serves every connection.
#pragma once

#include "gateway/ingest/sender_policy.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"
#include "mappings/hl7v2/ack.hpp"
#include "mappings/hl7v2/message.hpp"

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::gateway::ingest {

/// The outcome of one frame, as the adapter needs it.
struct ingest_result {
  mappings::hl7v2::disposition disposition = mappings::hl7v2::disposition::errored;
  std::optional<std::string> ack;  // the ACK message to send; nullopt when MSH-15 asks for none
  std::string ack_code;            // "AA", "CR"…; empty when no ACK
  bool duplicate = false;          // answered with the ACK stored for an earlier copy
  bool stored = false;             // the frame is durably in the store
  std::int64_t id = 0;             // its row id
};

/// Makes unique message control ids for ACKs: a per-process prefix (start time) and a counter,
/// at most 20 characters (the v2.5 length of MSH-10).
class control_id_generator {
 public:
  control_id_generator();
  std::string next();

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

/// Counts what ingest does; registered once in the process registry. The labelled series of the
/// usual dispositions and ACK codes are looked up once and then cached (no lock per message).
struct ingest_metrics {
  explicit ingest_metrics(obs::registry& r);
  obs::counter& message(mappings::hl7v2::disposition d);
  obs::counter& ack(std::string_view code);

  /// One sender's series (the sender rule's name; "(none)" when no rule granted the connection:
  /// an open policy, or a peer no rule names). Made on first use, then kept; the last one used is
  /// found without a lock (one feed at a time is the usual case).
  struct sender_series {
    std::string name;
    obs::counter& accepted;
    obs::counter& rejected;
    obs::counter& errored;    // accepted, then not stored (answered AE/CE)
    obs::counter& duplicate;  // resent, answered with the stored ACK
    obs::gauge& last_message;  // unix seconds of the last message received
  };
  sender_series& sender(std::string_view name);

  obs::registry::family<obs::counter>& messages;    // by disposition
  obs::registry::family<obs::counter>& acks;        // by code
  obs::counter& duplicates;
  obs::counter& store_failures;
  obs::histogram& commit_seconds;
  obs::registry::family<obs::counter>& sender_messages;  // by sender and outcome
  obs::registry::family<obs::gauge>& sender_last;        // by sender

 private:
  std::mutex senders_mu_;
  std::map<std::string, std::unique_ptr<sender_series>, std::less<>> senders_;
  std::atomic<sender_series*> last_sender_{nullptr};
  std::array<std::atomic<obs::counter*>, 3> by_disposition_{};
  std::array<std::atomic<obs::counter*>, 6> by_code_{};  // AA AE AR CA CE CR
};

class ingest_service {
 public:
  using handler = std::function<void(ingest_result)>;

  struct options {
    mappings::hl7v2::charset fallback_charset = mappings::hl7v2::charset::none;
    std::size_t max_frame_bytes = 16u << 20;
    /// After an accepted message is durably committed, on the store's writer thread: the message
    /// as stored (its body moved, not copied), for the pipeline. Must not block.
    std::function<void(store::stored_message)> on_accepted;
  };

  ingest_service(store::message_store& store, const sender_policy& policy, obs::registry& metrics,
                 options opts);

  /// Handles one complete frame received on a connection with grant `grant`.
  void ingest(std::string frame, const connection_info& conn, const sender_grant& grant,
              handler done);
  /// Handles a frame that passed max_frame_bytes: rejected with an ERR, stored truncated to its
  /// first `prefix` bytes. The adapter closes the connection after sending the ACK.
  void reject_oversize(std::string prefix, std::size_t size_so_far, const connection_info& conn,
                       const sender_grant& grant, handler done);

  const sender_policy& policy() const { return policy_; }
  store::message_store& store() { return store_; }

 private:
  void commit(store::inbound_record rec, ingest_result result,
              std::optional<mappings::hl7v2::parse_options> reparse_if_failed, handler done);

  store::message_store& store_;
  const sender_policy& policy_;
  ingest_metrics metrics_;
  options opts_;
  control_id_generator ids_;
};

/// The current UTC time as an HL7 DTM with milliseconds: "20261122143005.123+0000".
std::string hl7_now();

}  // namespace carebridge::gateway::ingest
