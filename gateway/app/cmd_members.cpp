// carebridge members: what the care stage decided, for the people who check it.
// (--data-dir defaults to ./carebridge-data, as for serve)
//   members stats --data-dir DIR                      visits, links, reviews, assessments, outcomes
//   members reviews --data-dir DIR [--status S] [--limit N]
//                                                     patients the matcher could not decide on
//   members link PATIENT_ID MEMBER_ID --data-dir DIR  resolve a review: link by hand
//   members dismiss PATIENT_ID --data-dir DIR         close a review without a link
//   members outcome MESSAGE_ID --data-dir DIR         the care outcome of one stored message
//   members encounter ENCOUNTER_ID --data-dir DIR     the outcomes of every event of one stay
// Prints ids (Patient resource ids, member ids, group ids), codes and counts — never names, birth
// dates or addresses. A running gateway picks up a manual link within a second.
#include "gateway/app/cli.hpp"
#include "gateway/care/care_db.hpp"
#include "gateway/config/config.hpp"

#include <charconv>
#include <cstdio>
#include <ostream>

namespace carebridge::app {

namespace {

constexpr std::string_view members_usage =
    "usage: carebridge members stats|reviews|link|dismiss|outcome|encounter ... [--data-dir DIR]\n"
    "  members stats [--data-dir DIR]\n"
    "  members reviews [--data-dir DIR] [--status open|resolved|dismissed|all] [--limit N]\n"
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

}  // namespace

int cmd_members(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << members_usage;
    return exit_input;
  }
  const std::string& sub = args[0];
  std::string dir, status = "open";
  std::size_t limit = 50;
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
    } else if (args[i].starts_with("--")) {
      err << "carebridge members: unexpected option " << args[i] << '\n';
      return exit_input;
    } else {
      positional.push_back(args[i]);
    }
  }
  const std::size_t wanted =
      sub == "link" ? 2 : (sub == "dismiss" || sub == "outcome" || sub == "encounter") ? 1 : 0;
  if ((sub != "stats" && sub != "reviews" && sub != "link" && sub != "dismiss" &&
       sub != "outcome" && sub != "encounter") ||
      positional.size() != wanted) {
    err << members_usage;
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
    if (sub == "reviews") {
      const auto rows = db->reviews(status == "all" ? "" : status, limit);
      for (const auto& r : rows) {
        out << r.review.patient_id << ' ' << r.status << " message=" << r.review.message_id
            << " rule=" << r.review.rule << " reasons=" << (r.review.reasons.empty() ? "-" : r.review.reasons)
            << " candidates=";
        bool first = true;
        for (const auto& [member, score] : r.review.candidates) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.1f", score);
          out << (first ? "" : ",") << member << ':' << buf;
          first = false;
        }
        if (first) out << '-';
        out << '\n';
      }
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
