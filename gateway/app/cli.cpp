#include "gateway/app/cli.hpp"

#include "gateway/alerts/subscription.hpp"

#include <filesystem>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace carebridge::app {
namespace {

constexpr std::string_view usage =
    "usage: carebridge <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--data-dir DIR] [--mllp-listen HOST:PORT] [--http-listen HOST:PORT]\n"
    "      run the gateway: MLLP (TLS optional) in, durable store, ACK after commit; /healthz,\n"
    "      /readyz and /metrics on the HTTP address. Defaults: data dir ./carebridge-data,\n"
    "      MLLP 127.0.0.1:2575, HTTP 127.0.0.1:8080. SIGTERM/SIGINT stop it gracefully;\n"
    "      SIGHUP makes the listeners read their TLS certificate, key and client CA again.\n"
    "  send HOST:PORT FILE... [--tls] [--ca FILE] [--cert FILE --key FILE] [--server-name N]\n"
    "       [--timeout SECONDS]\n"
    "      send the messages in FILE(s) over MLLP, one at a time, and print each ACK; exit 0 when\n"
    "      every message was accepted (AA/CA)\n"
    "  store stats --data-dir DIR [--json]\n"
    "      counts by state and sending facility, oldest pending age\n"
    "  store alerts --data-dir DIR [--group ID] [--after SEQ] [--limit N] [--json]\n"
    "      the alert outbox, oldest first: alerts (with their follow-up Task), notices of\n"
    "      attributed discharges and retractions, by physician group\n"
    "  store messages --data-dir DIR [--state errored|rejected|pending|processed] [--facility F]\n"
    "       [--since TIME] [--until TIME] [--limit N] [--json]\n"
    "      stored messages, oldest first (100 unless --limit): id, received time, facility (MSH-4),\n"
    "      type, control id, state and the reason it errored or was rejected; never a body.\n"
    "      TIME: YYYY-MM-DD (UTC) or YYYY-MM-DDThh:mm:ssZ (or +hh:mm); --until is exclusive\n"
    "  store reprocess --data-dir DIR (--id N [--id N]... [--force] | --errored [--facility F]\n"
    "       [--since TIME] [--until TIME] | --since TIME [--until TIME] [--facility F]\n"
    "       [--state errored|processed|rejected]... [--force]) [--dry-run [--limit N]] [--json]\n"
    "      set errored messages back to pending and clear their reason; safe while serve runs on\n"
    "      DIR, which processes them again within seconds (a stopped gateway at its next start).\n"
    "      --force also takes processed messages and rejected ones (refused with AR/CR: only\n"
    "      when the sender did not resend them). --since without --errored replays a time range\n"
    "      (received time): errored and processed messages unless --state names others; counts\n"
    "      per state. --dry-run lists what would be reprocessed and changes nothing. Exit 1 when\n"
    "      an id was not found or messages need --force (the others are reprocessed)\n"
    "  store replay FILE... [--to HOST:PORT] [--tls] [--ca FILE] [--cert FILE --key FILE]\n"
    "       [--server-name N] [--timeout S] [--facility F] [--data-dir DIR] [--dry-run] [--json]\n"
    "      send a file of HL7 v2 messages (one or several, blank lines between them, MLLP-framed\n"
    "      dumps, FHS/BHS batches) to the running gateway at HOST:PORT (127.0.0.1:2575), which\n"
    "      stores them as received (unparseable ones rejected with their reason, resends answered\n"
    "      as duplicates) and processes them. --facility sends only that MSH-4's messages;\n"
    "      --data-dir (the gateway's) reports duplicates. Per message: control id, ACK, outcome.\n"
    "      Exit 1 when one was not accepted\n"
    "  subscriptions list --data-dir DIR [--group ID] [--json]\n"
    "      the groups' FHIR Subscriptions: topic, status, last error, events numbered and\n"
    "      delivered (backlog), endpoint origin only (never its path or header values)\n"
    "  subscriptions deliveries --data-dir DIR [--id SUB] [--status S] [--json]\n"
    "      per subscription: status, error, delivered through, highest event, backlog, age of\n"
    "      the oldest undelivered event (--status error: the dead deliveries)\n"
    "  subscriptions retry --data-dir DIR (--id SUB [--id SUB]... | --errored) [--json]\n"
    "      set subscriptions in error back to requested: a running gateway handshakes with the\n"
    "      endpoint again within a second and then sends every event after the last delivered\n"
    "  audit list [--since T] [--until T] [--client ID] [--group ID] [--entity Type[/id]]\n"
    "       [--limit N] [--json] [--data-dir DIR]\n"
    "      the audit trail (DATA_DIR/audit.db), oldest first: who (client id, role, group,\n"
    "      address), what (interaction, resource type/id, search parameter names), outcome\n"
    "  audit export --since T --until T [--format ndjson] [--data-dir DIR]\n"
    "      the records of an interval as FHIR AuditEvents, one per line (SIEM import)\n"
    "  audit prune --before T [--data-dir DIR]\n"
    "      delete older records (serve also deletes those past audit.retention_days)\n"
    "  roster import FILE [--data-dir DIR] [--source NAME] [--as-of YYYY-MM-DD] [--dry-run]\n"
    "      import the member roster (CSV, or Da Vinci ATR FHIR: a Bundle, or a directory or file\n"
    "      of Bulk NDJSON) into DATA_DIR/members.db; a running gateway picks it up. Bad rows are\n"
    "      reported (roster: FILE:LINE: ...) and skipped: exit 3 when some were, 1 when nothing\n"
    "      could be read\n"
    "  roster stats [--data-dir DIR]\n"
    "      members, active attributions today, groups, last imports\n"
    "  group list [--data-dir DIR]\n"
    "  group set ID [--name N] [--npi NPI] [--tin TIN] [--risk-threshold low|moderate|high]\n"
    "            [--events discharge,ed_visit,admission] [--data-dir DIR]\n"
    "      physician groups and their alert settings\n"
    "  clients register --id ID --role group|sender|ops [--group G] [--facility F]...\n"
    "       --scope \"system/*.rs ...\" (--jwks FILE | --jwks-url URL) [--certificate-name CN]...\n"
    "       [--replace] [--data-dir DIR]\n"
    "  clients list [--json] | show ID | enable ID | disable ID | remove ID [--data-dir DIR]\n"
    "      the SMART backend clients of DATA_DIR/clients.db: what each acts for (a physician\n"
    "      group, a sender's facilities, ops), the scopes it may be granted, its public keys (a\n"
    "      JWK Set, or the https URL it is published at) and the certificate its connections must\n"
    "      present; a running gateway picks changes up within seconds (disable revokes tokens)\n"
    "  clients keygen --alg RS384|ES384 --kid KID --out PREFIX\n"
    "      a client key pair: PREFIX.key.pem (private, mode 0600) and PREFIX.jwks.json (public)\n"
    "  clients assertion --id ID --key KEY.pem --kid KID --aud TOKEN_URL [--lifetime SECONDS]\n"
    "      print a signed client assertion (JWT, 240 s unless --lifetime, at most 300) for\n"
    "      POST /auth/token\n"
    "  inspect [--get PATH]... [--er7] [--compact] [--fallback-charset NAME] FILE|-\n"
    "      parse HL7 v2 message(s) (single, concatenated or FHS/BHS batch) and print them as\n"
    "      JSON, the decoded value at each PATH (one per line), or the ER7 text written back.\n"
    "      PATH: SEG[n].F[r].C.S, 1-based, e.g. PID.5.1, PID.3[2].1, DG1[2].3.1, PV1.45\n"
    "  convert [--config FILE] [--compact] [--event] [--verbose] FILE|-\n"
    "      HL7 v2 message(s) to FHIR R4 transaction Bundles (PUT by deterministic id): one pretty\n"
    "      Bundle for one message, one compact Bundle per line for several. --config takes the\n"
    "      facilities' time zones, identifier systems and local codes; --event prints the clinical\n"
    "      event instead; --verbose lists unmapped codes and notes on stderr\n"
    "  members stats|reviews|show|link|dismiss|outcome|encounter ... [--data-dir DIR]\n"
    "      what the care stage decided: visits, links, open match reviews with their candidate\n"
    "      members and scores (link PATIENT_ID MEMBER_ID resolves one by hand, dismiss\n"
    "      PATIENT_ID closes it), a member's attributions, linked patients, match and\n"
    "      attribution outcomes and reviews (show MEMBER_ID), the outcome of a message (outcome\n"
    "      MESSAGE_ID) or of every event of a stay (encounter ENCOUNTER_ID). reviews and show\n"
    "      take --json\n"
    "  help\n"
    "      this text\n"
    "\n"
    "exit status: 0 success, 1 usage or input error, 2 internal failure (roster import: 3 when\n"
    "rows were skipped)\n";

}  // namespace

int cmd_roster(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmd_group(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmd_clients(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

std::optional<std::string> read_input(const std::string& name, std::ostream& err,
                                      std::string_view command) {
  if (name == "-") {
    std::string data{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) {
      err << "carebridge " << command << ": cannot read standard input\n";
      return std::nullopt;
    }
    return data;
  }
  std::ifstream in(name, std::ios::binary);
  if (!in) {
    err << "carebridge " << command << ": cannot open " << name << '\n';
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    err << "carebridge " << command << ": cannot read " << name << '\n';
    return std::nullopt;
  }
  return std::move(buf).str();
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << usage;
    return exit_input;
  }
  const std::string& command = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "inspect") return cmd_inspect(rest, out, err);
  if (command == "convert") return cmd_convert(rest, out, err);
  if (command == "serve") return cmd_serve(rest, out, err);
  if (command == "send") return cmd_send(rest, out, err);
  if (command == "store") return cmd_store(rest, out, err);
  if (command == "members") return cmd_members(rest, out, err);
  if (command == "subscriptions") return cmd_subscriptions(rest, out, err);
  if (command == "roster") return cmd_roster(rest, out, err);
  if (command == "audit") return cmd_audit(rest, out, err);
  if (command == "group") return cmd_group(rest, out, err);
  if (command == "clients") return cmd_clients(rest, out, err);
  if (command == "help" || command == "--help" || command == "-h") {
    out << usage;
    return exit_ok;
  }
  err << "carebridge: unknown command '" << command << "' (try: carebridge help)\n";
  return exit_input;
}

bool store_exists(const std::string& dir, std::string_view command, std::ostream& err) {
  if (dir.empty()) {
    err << "carebridge " << command << ": --data-dir DIR is needed\n";
    return false;
  }
  if (!std::filesystem::exists(std::filesystem::path(dir) / "carebridge.db")) {
    err << "carebridge " << command << ": no store in " << dir << " (carebridge.db not found)\n";
    return false;
  }
  return true;
}

std::optional<std::int64_t> time_us(std::string_view text) {
  if (text.size() == 10) return time_us(std::string(text) + "T00:00:00Z");
  const auto t = gateway::alerts::instant_seconds(text);
  if (!t) return std::nullopt;
  return static_cast<std::int64_t>(t->time_since_epoch().count()) * 1'000'000;
}

}  // namespace carebridge::app
