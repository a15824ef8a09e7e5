// carebridge members: what the care stage decided, for the people who check it.
// (--data-dir defaults to ./carebridge-data, as for serve)
//   members stats --data-dir DIR                      visits, links, reviews, assessments, outcomes
//   members reviews --data-dir DIR [--status S] [--limit N]
//                                                     patients the matcher could not decide on
//   members link PATIENT_ID MEMBER_ID --data-dir DIR  resolve a review: link by hand
//   members dismiss PATIENT_ID --data-dir DIR         close a review without a link
//   members outcome MESSAGE_ID --data-dir DIR         the care outcome of one stored message
//   members encounter ENCOUNTER_ID --data-dir DIR     the outcomes of every event of one stay
//   members show MEMBER_ID --data-dir DIR [--json]    a member's attributions, linked patients,
//                                                     the outcomes that linked or considered it
//                                                     and the reviews that list it
// (reviews and show take --json.)
// Prints ids (Patient resource ids, member ids, group ids), codes and counts — never names, birth
// dates or addresses. A running gateway picks up a manual link within a second.
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/care/care_db.hpp"
#include "gateway/config/config.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <cstdio>
#include <ostream>

namespace carebridge::app {

namespace {

constexpr std::string_view members_usage =
    "usage: carebridge members stats|reviews|show|link|dismiss|outcome|encounter ... "
    "[--data-dir DIR]\n"
    "  members stats [--data-dir DIR]\n"
    "  members reviews [--data-dir DIR] [--status open|resolved|dismissed|all] [--limit N] "
    "[--json]\n"
    "  members show MEMBER_ID [--data-dir DIR] [--json]\n"
    "  members link PATIENT_ID MEMBER_ID [--data-dir DIR]\n"
    "  members dismiss PATIENT_ID [--data-dir DIR]\n"
    "  members outcome MESSAGE_ID [--data-dir DIR]\n"
    "  members encounter ENCOUNTER_ID [--data-dir DIR]\n";

void print_pairs(std::ostream& out, std::string_view title,
                 const std::vector<std::pair<std::string, std::int64_t>>& v) {
  out << title << ':';
  if (v.empty()) out << " none";
  for (const auto& [k, n] : v) out << ' ' << (k.empty() ? "-" : k) << '=' << n;
  out << '\n';
}

void print_outcome(std::ostream& out, std::int64_t message_id, const gateway::care::care_outcome& o) {
  auto dash = [](const std::string& s) -> const std::string& {
    static const std::string d = "-";
    return s.empty() ? d : s;
  };
  out << "message=" << message_id << " event=" << o.event_kind << " date=" << dash(o.event_date)
      << " patient=" << dash(o.patient_id) << " encounter=" << dash(o.encounter_id)
      << "\n  match=" << o.match << " rule=" << o.rule << " member=" << dash(o.member_id)
      << " reasons=" << dash(o.reasons) << "\n  attribution=" << o.attribution
      << " group=" << dash(o.group_id) << "\n  risk=" << dash(o.risk_band)
      << (o.risk_band.empty() ? "" : o.risk_complete ? " (complete)" : " (incomplete)")
      << " readmission=" << (o.readmission ? "yes" : "no")
      << " assessment=" << dash(o.risk_assessment_id) << (o.retracted ? " (retracted)" : "")
      << "\n  alert=" << dash(o.alert_kind)
      << (o.alert_kind.empty() ? "" : o.alert_wanted ? " wanted" : " not wanted: " + o.alert_reason)
      << '\n';
}

using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_review(json_writer& w, const gateway::care::review_row& r) {
  w.StartObject();
  string_members(w, {{"patient_id", &r.review.patient_id},
                     {"status", &r.status},
                     {"rule", &r.review.rule},
                     {"reasons", &r.review.reasons}});
  w.Key("message_id");
  w.Int64(r.review.message_id);
  w.Key("opened_at_us");
  w.Int64(r.opened_at_us);
  w.Key("candidates");
  w.StartArray();
  for (const auto& [member, score] : r.review.candidates) {
    w.StartObject();
    w.Key("member_id");
    w.String(member.c_str());
    w.Key("score");
    w.Double(score);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void write_outcome(json_writer& w, std::int64_t message_id, const gateway::care::care_outcome& o) {
  w.StartObject();
  w.Key("message_id");
  w.Int64(message_id);
  string_members(w, {{"event", &o.event_kind},
                     {"date", &o.event_date},
                     {"patient_id", &o.patient_id},
                     {"encounter_id", &o.encounter_id},
                     {"match", &o.match},
                     {"rule", &o.rule},
                     {"member_id", &o.member_id},
                     {"reasons", &o.reasons},
                     {"attribution", &o.attribution},
                     {"group_id", &o.group_id},
                     {"risk_band", &o.risk_band},
                     {"risk_assessment_id", &o.risk_assessment_id},
                     {"alert_kind", &o.alert_kind},
                     {"alert_reason", &o.alert_reason}});
  w.Key("score");
  w.Double(o.score);
  w.Key("risk_complete");
  w.Bool(o.risk_complete);
  w.Key("readmission");
  w.Bool(o.readmission);
  w.Key("retracted");
  w.Bool(o.retracted);
  w.Key("alert_wanted");
  w.Bool(o.alert_wanted);
  w.EndObject();
}

std::string candidates_text(const gateway::care::review_row& r) {
  std::string t;
  for (const auto& [member, score] : r.review.candidates) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", score);
    t += (t.empty() ? "" : ",") + member + ':' + buf;
  }
  return t.empty() ? "-" : t;
}

int show_member(gateway::care::care_db& db, const std::string& member_id, bool json,
                std::ostream& out, std::ostream& err) {
  const auto v = db.member(member_id);
  if (!v.in_roster && v.attributions.empty() && v.links.empty() && v.outcomes.empty() &&
      v.reviews.empty()) {
    err << "carebridge members show: no member " << member_id
        << " in the roster, and no care outcome or review names it\n";
    return exit_input;
  }
  if (json) {
    rapidjson::StringBuffer buf;
    json_writer w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("member_id");
    w.String(member_id.c_str());
    w.Key("in_roster");
    w.Bool(v.in_roster);
    w.Key("attributions");
    w.StartArray();
    for (const auto& a : v.attributions) {
      w.StartObject();
      string_members(w, {{"group_id", &a.group_id},
                         {"period_start", &a.period_start},
                         {"period_end", &a.period_end},
                         {"source", &a.source}});
      w.EndObject();
    }
    w.EndArray();
    w.Key("linked_patients");
    w.StartArray();
    for (const auto& l : v.links) {
      w.StartObject();
      string_members(w, {{"patient_id", &l.patient_id}, {"rule", &l.rule}});
      w.Key("score");
      w.Double(l.score);
      w.Key("message_id");
      w.Int64(l.message_id);
      w.EndObject();
    }
    w.EndArray();
    w.Key("outcomes");
    w.StartArray();
    for (const auto& [id, o] : v.outcomes) write_outcome(w, id, o);
    w.EndArray();
    w.Key("reviews");
    w.StartArray();
    for (const auto& r : v.reviews) write_review(w, r);
    w.EndArray();
    w.EndObject();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  out << "member " << member_id << (v.in_roster ? "" : " (not in the roster)") << '\n';
  out << "attributions:" << (v.attributions.empty() ? " none" : "") << '\n';
  for (const auto& a : v.attributions)
    out << "  group=" << a.group_id << " period=" << a.period_start << ".."
        << (a.period_end.empty() ? "open" : a.period_end) << " source=" << a.source << '\n';
  out << "linked patients:" << (v.links.empty() ? " none" : "") << '\n';
  for (const auto& l : v.links) {
    char score[32];
    std::snprintf(score, sizeof score, "%.1f", l.score);
    out << "  " << l.patient_id << " rule=" << l.rule << " score=" << score
        << " message=" << l.message_id << '\n';
  }
  out << "reviews listing this member:" << (v.reviews.empty() ? " none" : "") << '\n';
  for (const auto& r : v.reviews)
    out << "  " << r.review.patient_id << ' ' << r.status << " message=" << r.review.message_id
        << " rule=" << r.review.rule
        << " reasons=" << (r.review.reasons.empty() ? "-" : r.review.reasons)
        << " candidates=" << candidates_text(r) << '\n';
  out << "care outcomes:" << (v.outcomes.empty() ? " none" : "") << '\n';
  for (const auto& [id, o] : v.outcomes) print_outcome(out, id, o);
  return exit_ok;
}

}  // namespace

int cmd_members(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << members_usage;
    return exit_input;
  }
  const std::string& sub = args[0];
  std::string dir, status = "open";
  std::size_t limit = 50;
  bool json = false;
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--data-dir" && i + 1 < args.size()) {
      dir = args[++i];
    } else if (args[i] == "--status" && i + 1 < args.size()) {
      status = args[++i];
    } else if (args[i] == "--limit" && i + 1 < args.size()) {
      const std::string& v = args[++i];
      if (std::from_chars(v.data(), v.data() + v.size(), limit).ec != std::errc{} || limit == 0) {
        err << "carebridge members: --limit needs a positive number\n";
        return exit_input;
      }
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i].starts_with("--")) {
      err << "carebridge members: unexpected option " << args[i] << '\n';
      return exit_input;
    } else {
      positional.push_back(args[i]);
    }
  }
  const std::size_t wanted =
      sub == "link"                                                                   ? 2
      : (sub == "dismiss" || sub == "outcome" || sub == "encounter" || sub == "show") ? 1
                                                                                      : 0;
  if ((sub != "stats" && sub != "reviews" && sub != "link" && sub != "dismiss" &&
       sub != "outcome" && sub != "encounter" && sub != "show") ||
      positional.size() != wanted) {
    err << members_usage;
    return exit_input;
  }
  if (json && sub != "reviews" && sub != "show") {
    err << "carebridge members " << sub << ": --json goes with reviews and show\n";
    return exit_input;
  }
  if (dir.empty()) dir = gateway::config::config{}.data_dir.string();  // the built-in default
  if (status != "open" && status != "resolved" && status != "dismissed" && status != "all") {
    err << "carebridge members reviews: --status is open, resolved, dismissed or all\n";
    return exit_input;
  }
  const std::filesystem::path file = std::filesystem::path(dir) / "members.db";
  if (!std::filesystem::exists(file)) {
    err << "carebridge members " << sub << ": no member database in " << dir << '\n';
    return exit_input;
  }
  try {
    auto db = gateway::care::care_db::open(file);
    if (sub == "stats") {
      const auto c = db->counts();
      out << "visits: " << c.encounters << "\nlinked patients: " << c.links
          << "\nopen reviews: " << c.open_reviews << "\nrisk assessments: " << c.assessments
          << " standing, " << c.retracted << " retracted\n";
      print_pairs(out, "events by match", c.match);
      print_pairs(out, "events by attribution", c.attribution);
      print_pairs(out, "alert decisions", c.alerts);
      return exit_ok;
    }
    if (sub == "show") return show_member(*db, positional[0], json, out, err);
    if (sub == "reviews") {
      const auto rows = db->reviews(status == "all" ? "" : status, limit);
      if (json) {
        rapidjson::StringBuffer buf;
        json_writer w(buf);
        w.SetIndent(' ', 2);
        w.StartArray();
        for (const auto& r : rows) write_review(w, r);
        w.EndArray();
        out << buf.GetString() << '\n';
        return exit_ok;
      }
      for (const auto& r : rows)
        out << r.review.patient_id << ' ' << r.status << " message=" << r.review.message_id
            << " rule=" << r.review.rule
            << " reasons=" << (r.review.reasons.empty() ? "-" : r.review.reasons)
            << " candidates=" << candidates_text(r) << '\n';
      if (rows.empty()) out << "no " << (status == "all" ? "" : status + " ") << "reviews\n";
      return exit_ok;
    }
    if (sub == "link") {
      if (!db->resolve_review(positional[0], positional[1])) {
        err << "carebridge members link: no review for patient " << positional[0] << '\n';
        return exit_input;
      }
      out << "linked " << positional[0] << " to member " << positional[1] << '\n';
      return exit_ok;
    }
    if (sub == "dismiss") {
      if (!db->dismiss_review(positional[0])) {
        err << "carebridge members dismiss: no open review for patient " << positional[0] << '\n';
        return exit_input;
      }
      out << "dismissed the review of " << positional[0] << '\n';
      return exit_ok;
    }
    if (sub == "encounter") {
      const auto rows = db->outcomes_for_encounter(positional[0]);
      if (rows.empty()) {
        err << "carebridge members encounter: no care outcome for encounter " << positional[0]
            << '\n';
        return exit_input;
      }
      for (const auto& [message_id, o] : rows) print_outcome(out, message_id, o);
      return exit_ok;
    }
    // outcome
    std::int64_t id = 0;
    const std::string& v = positional[0];
    if (std::from_chars(v.data(), v.data() + v.size(), id).ec != std::errc{} || id <= 0) {
      err << "carebridge members outcome: MESSAGE_ID is a stored message's number\n";
      return exit_input;
    }
    const auto outcomes = db->outcomes(id);
    if (outcomes.empty()) {
      err << "carebridge members outcome: no care outcome for message " << id << '\n';
      return exit_input;
    }
    for (const auto& o : outcomes) print_outcome(out, id, o);
    return exit_ok;
  } catch (const std::exception& e) {
    err << "carebridge members " << sub << ": " << e.what() << '\n';
    return exit_internal;
  }
}

}  // namespace carebridge::app
