#include "gateway/ingest/ingest_service.hpp"

#include "gateway/obs/log.hpp"
#include "mappings/hl7v2/message.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace carebridge::gateway::ingest {

namespace hl7 = mappings::hl7v2;
using store::message_state;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string base36(std::uint64_t v, std::size_t width) {
  static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v != 0);
  while (s.size() < width) s.insert(s.begin(), '0');
  return s;
}

std::string_view disposition_name(hl7::disposition d) {
  switch (d) {
    case hl7::disposition::accepted: return "accepted";
    case hl7::disposition::errored: return "errored";
    case hl7::disposition::rejected: return "rejected";
  }
  return "errored";
}

// The store state a disposition is kept in.
message_state state_of(hl7::disposition d) {
  switch (d) {
    case hl7::disposition::accepted: return message_state::pending;
    case hl7::disposition::errored: return message_state::errored;
    case hl7::disposition::rejected: return message_state::rejected;
  }
  return message_state::errored;
}

hl7::error_condition condition_for(const hl7::parse_error& e) {
  if (e.code == hl7::error::bad_delimiters) return hl7::error_condition::data_type_error;
  if (e.code == hl7::error::too_large) return hl7::error_condition::application_internal_error;
  return hl7::error_condition::segment_sequence_error;  // no MSH, truncated MSH, empty
}

}  // namespace

std::string hl7_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  // The date and time to the second change once a second: formatted then, per thread.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[16];
  thread_local std::size_t cached_len = 0;
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    cached_len = std::strftime(cached, sizeof cached, "%Y%m%d%H%M%S", &tm);
    cached_secs = secs;
  }
  const auto milli = static_cast<int>(ms % 1000);
  std::string out;
  out.reserve(cached_len + 9);
  out.append(cached, cached_len);
  out += '.';
  out += static_cast<char>('0' + milli / 100);
  out += static_cast<char>('0' + milli / 10 % 10);
  out += static_cast<char>('0' + milli % 10);
  out += "+0000";
  return out;
}

control_id_generator::control_id_generator() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  prefix_ = "CB" + base36(static_cast<std::uint64_t>(ms), 8);
}

std::string control_id_generator::next() {
  return prefix_ + base36(counter_.fetch_add(1, std::memory_order_relaxed), 6);
}

ingest_metrics::ingest_metrics(obs::registry& r)
    : messages(r.counters("carebridge_ingest_messages_total",
                          "Inbound HL7 v2 messages by disposition (accepted, rejected, errored)")),
      acks(r.counters("carebridge_ingest_acks_total", "ACKs sent, by MSA-1 code")),
      duplicates(r.counters("carebridge_ingest_duplicates_total",
                            "Resent messages answered with the stored ACK")
                     .series()),
      store_failures(r.counters("carebridge_store_commit_failures_total",
                                "Records the store could not commit (answered AE/CE)")
                         .series()),
      commit_seconds(r.histograms("carebridge_store_commit_seconds",
                                  "Time from submitting a message to the store to its commit",
                                  obs::latency_bounds())
                         .series()),
      sender_messages(r.counters("carebridge_ingest_sender_messages_total",
                                 "Inbound HL7 v2 messages by sender rule and outcome (accepted, "
                                 "rejected, errored, duplicate)")),
      sender_last(r.gauges("carebridge_ingest_sender_last_message_timestamp_seconds",
                           "When the sender's last message arrived (unix seconds)")) {}

ingest_metrics::sender_series& ingest_metrics::sender(std::string_view name) {
  if (name.empty()) name = "(none)";
  if (sender_series* last = last_sender_.load(std::memory_order_acquire);
      last != nullptr && last->name == name)
    return *last;
  std::lock_guard lock(senders_mu_);
  auto it = senders_.find(name);
  if (it == senders_.end()) {
    const auto of = [&](std::string_view outcome) -> obs::counter& {
      return sender_messages.series(obs::labels({{"sender", name}, {"outcome", outcome}}));
    };
    auto s = std::make_unique<sender_series>(sender_series{
        std::string(name), of("accepted"), of("rejected"), of("errored"), of("duplicate"),
        sender_last.series(obs::labels({{"sender", name}}))});
    it = senders_.emplace(std::string(name), std::move(s)).first;
  }
  last_sender_.store(it->second.get(), std::memory_order_release);
  return *it->second;
}

obs::counter& ingest_metrics::message(hl7::disposition d) {
  auto& slot = by_disposition_[static_cast<std::size_t>(d) % by_disposition_.size()];
  obs::counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = &messages.series(obs::labels({{"disposition", disposition_name(d)}}));
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

obs::counter& ingest_metrics::ack(std::string_view code) {
  static constexpr std::array<std::string_view, 6> known{"AA", "AE", "AR", "CA", "CE", "CR"};
  const auto it = std::find(known.begin(), known.end(), code);
  if (it == known.end()) return acks.series(obs::labels({{"code", code}}));
  auto& slot = by_code_[static_cast<std::size_t>(it - known.begin())];
  obs::counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = &acks.series(obs::labels({{"code", code}}));
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

ingest_service::ingest_service(store::message_store& store, const sender_policy& policy,
                               obs::registry& metrics, options opts)
    : store_(store), policy_(policy), metrics_(metrics), opts_(opts) {}

void ingest_service::ingest(std::string frame, const connection_info& conn,
                            const sender_grant& grant, handler done) {
  store::inbound_record rec;
  rec.received_at_us = now_us();
  rec.peer = conn.describe();
  rec.sender = std::string(grant.sender_name());
  const std::string ack_id = ids_.next();
  const std::string ts = hl7_now();
  const hl7::ack_context ctx{ack_id, ts};

  hl7::parse_options po;
  po.fallback_charset = grant.fallback_charset() != hl7::charset::none ? grant.fallback_charset()
                                                                       : opts_.fallback_charset;
  po.max_bytes = opts_.max_frame_bytes;
  auto parsed = hl7::parse(frame, po);
  ingest_result result;

  if (!parsed) {
    const hl7::parse_error& e = parsed.error();
    const std::string text = "not an HL7 v2 message: " + e.describe();
    const hl7::ack_error err{condition_for(e), text, "MSH", 1, 0};
    hl7::built_ack ack = hl7::build_reject_for_unparseable(ctx, err);
    result.disposition = hl7::disposition::rejected;
    result.ack_code = std::string(ack.code);
    result.ack = std::move(ack.text);
    rec.state = message_state::rejected;
    rec.reason = text;
    rec.ack_code = result.ack_code;
    rec.ack = *result.ack;
    rec.raw = std::move(frame);
    obs::warn("ingest.unparseable", {{"peer", rec.peer}, {"reason", e.describe()}});
    commit(std::move(rec), std::move(result), std::nullopt, std::move(done));
    return;
  }

  const hl7::message& m = *parsed;
  rec.sending_application = std::string(m.sending_application());
  rec.sending_facility = std::string(m.sending_facility());
  rec.control_id = std::string(m.control_id());
  rec.message_type = std::string(m.message_type());
  if (!m.trigger_event().empty()) rec.message_type += "^" + std::string(m.trigger_event());

  hl7::disposition d = hl7::disposition::accepted;
  hl7::ack_error err{};
  std::string reason;
  if (rec.control_id.empty()) {
    d = hl7::disposition::rejected;
    reason = "MSH-10 (message control id) is empty";
    err = {hl7::error_condition::required_field_missing, reason, "MSH", 1, 10};
  } else if (m.message_type().empty()) {
    d = hl7::disposition::rejected;
    reason = "MSH-9 (message type) is empty";
    err = {hl7::error_condition::required_field_missing, reason, "MSH", 1, 9};
  } else if (!grant.allows(rec.sending_facility)) {
    d = hl7::disposition::rejected;
    reason = "sending facility (MSH-4) not allowed on this connection";
    err = {hl7::error_condition::application_internal_error, reason, "MSH", 1, 4};
  }
  // The text sent to the peer is `reason` (built from field names only, never field values).

  auto ack = hl7::build_ack(m, d, ctx, d == hl7::disposition::accepted ? nullptr : &err);
  result.disposition = d;
  if (ack) {
    result.ack_code = std::string(ack->code);
    result.ack = std::move(ack->text);
  }
  rec.state = state_of(d);
  rec.reason = reason;
  rec.ack_code = result.ack_code;
  rec.ack = result.ack.value_or(std::string());
  if (d != hl7::disposition::accepted) {
    // Rejected messages are kept but never count as "the" copy of a control id.
    obs::warn("ingest.rejected", {{"peer", rec.peer},
                                  {"sending_facility", rec.sending_facility},
                                  {"control_id", rec.control_id},
                                  {"reason", reason}});
  }
  // Should the commit fail, an accepted message is answered AE/CE instead, so the sender resends
  // (built then, from the record the store hands back: failures are rare, ACKs are not cheap).
  std::optional<hl7::parse_options> reparse_if_failed;
  if (d == hl7::disposition::accepted) reparse_if_failed = po;
  rec.raw = std::move(frame);
  commit(std::move(rec), std::move(result), reparse_if_failed, std::move(done));
}

void ingest_service::reject_oversize(std::string prefix, std::size_t size_so_far,
                                     const connection_info& conn, const sender_grant& grant,
                                     handler done) {
  store::inbound_record rec;
  rec.received_at_us = now_us();
  rec.peer = conn.describe();
  rec.sender = std::string(grant.sender_name());
  const std::string ack_id = ids_.next();
  const std::string ts = hl7_now();
  const hl7::ack_context ctx{ack_id, ts};
  const std::string reason = "message larger than the maximum of " +
                             std::to_string(opts_.max_frame_bytes) + " bytes (" +
                             std::to_string(size_so_far) + " bytes received)";
  hl7::ack_error err{hl7::error_condition::application_internal_error, reason, "MSH", 1, 0};
  ingest_result result;
  result.disposition = hl7::disposition::rejected;
  // Answer in the sender's own mode and delimiters when the MSH segment is complete.
  const std::size_t eol = prefix.find_first_of("\r\n");
  std::optional<hl7::built_ack> ack;
  if (eol != std::string::npos) {
    if (auto m = hl7::parse(std::string_view(prefix).substr(0, eol))) {
      rec.sending_application = std::string(m->sending_application());
      rec.sending_facility = std::string(m->sending_facility());
      rec.message_type = std::string(m->message_type());
      // Not a duplicate key: the message was not accepted, and is kept only in part.
      ack = hl7::build_ack(*m, hl7::disposition::rejected, ctx, &err);
    }
  }
  if (!ack) {
    hl7::built_ack b = hl7::build_reject_for_unparseable(ctx, err);
    ack = std::move(b);
  }
  result.ack_code = std::string(ack->code);
  result.ack = std::move(ack->text);
  rec.state = message_state::rejected;
  rec.reason = reason;
  rec.ack_code = result.ack_code;
  rec.ack = *result.ack;
  rec.raw = std::move(prefix);
  obs::warn("ingest.oversize", {{"peer", rec.peer},
                                {"sending_facility", rec.sending_facility},
                                {"bytes", static_cast<std::uint64_t>(size_so_far)}});
  commit(std::move(rec), std::move(result), std::nullopt, std::move(done));
}

void ingest_service::commit(store::inbound_record rec, ingest_result result,
                            std::optional<hl7::parse_options> reparse_if_failed, handler done) {
  const auto started = std::chrono::steady_clock::now();
  auto& sender = metrics_.sender(rec.sender);
  sender.last_message.set(rec.received_at_us / 1'000'000);
  store_.submit(std::move(rec), [this, started, &sender, result = std::move(result),
                                 reparse_if_failed,
                                 done = std::move(done)](store::commit_result r) mutable {
    metrics_.commit_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    switch (r.what) {
      case store::commit_result::outcome::stored:
        result.stored = true;
        result.id = r.id;
        if (result.disposition == hl7::disposition::accepted && opts_.on_accepted) {
          opts_.on_accepted(store::take_stored(r));
        }
        break;
      case store::commit_result::outcome::duplicate:
        // The earlier copy was accepted: answer exactly as then, process nothing again.
        metrics_.duplicates.inc();
        result.duplicate = true;
        result.stored = true;
        result.id = r.id;
        result.disposition = hl7::disposition::accepted;
        if (r.ack.empty()) {
          result.ack.reset();
          result.ack_code.clear();
        } else {
          result.ack = std::move(r.ack);
          result.ack_code = std::move(r.ack_code);
        }
        obs::info("ingest.duplicate", {{"control_id", r.record.control_id}, {"id", r.id}});
        break;
      case store::commit_result::outcome::failed:
        metrics_.store_failures.inc();
        obs::error("store.commit_failed",
                   {{"control_id", r.record.control_id}, {"error", r.error}});
        result.stored = false;
        if (reparse_if_failed) {
          // It was accepted: answer AE/CE ("please resend") in the sender's own mode, or nothing
          // when MSH-15 asks for no such ACK. Never the AA already built.
          result.disposition = hl7::disposition::errored;
          result.ack.reset();
          result.ack_code.clear();
          if (auto m = hl7::parse(r.record.raw, *reparse_if_failed)) {
            const std::string ack_id = ids_.next();
            const std::string ts = hl7_now();
            const hl7::ack_error store_err{hl7::error_condition::application_internal_error,
                                           "the message could not be stored; please resend", {},
                                           1, 0};
            if (auto e = hl7::build_ack(*m, hl7::disposition::errored, {ack_id, ts}, &store_err)) {
              result.ack = std::move(e->text);
              result.ack_code = std::string(e->code);
            }
          }
        }
        break;
    }
    metrics_.message(result.disposition).inc();
    if (result.duplicate) {
      sender.duplicate.inc();
    } else {
      switch (result.disposition) {
        case hl7::disposition::accepted:
          sender.accepted.inc();
          break;
        case hl7::disposition::rejected:
          sender.rejected.inc();
          break;
        case hl7::disposition::errored:
          sender.errored.inc();
          break;
      }
    }
    if (!result.ack_code.empty()) metrics_.ack(result.ack_code).inc();
    done(std::move(result));
  });
}

}  // namespace carebridge::gateway::ingest
