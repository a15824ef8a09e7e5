// carebridge clients: the SMART backend clients of DATA_DIR/clients.db (gateway/auth/
// client_registry) — register, list, show, enable, disable, remove — and the two tools a client's
// IT team needs to try the token endpoint: keygen (a key pair: PEM private key, mode 0600, and its
// public JWK Set) and assertion (a signed client assertion JWT for curl).
//
// Nothing here prints a private key; assertion prints the assertion it was asked for, and only it.
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/auth/client_registry.hpp"
#include "gateway/auth/jose.hpp"
#include "gateway/config/config.hpp"
#include "gateway/members/roster.hpp"
#include "gateway/obs/log.hpp"

#include <openssl/rand.h>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <ostream>

namespace carebridge::app {

namespace {

namespace auth = gateway::auth;
namespace fs = std::filesystem;

constexpr std::string_view usage =
    "usage: carebridge clients register --id ID --role group|sender|ops [--group G]\n"
    "           [--facility F]... --scope \"system/*.rs ...\" (--jwks FILE | --jwks-url URL)\n"
    "           [--certificate-name CN]... [--replace] [--insecure-loopback] [--data-dir DIR]\n"
    "       carebridge clients list [--json] [--data-dir DIR]\n"
    "       carebridge clients show ID [--json] [--data-dir DIR]\n"
    "       carebridge clients enable|disable|remove ID [--data-dir DIR]\n"
    "       carebridge clients keygen --alg RS384|ES384 --kid KID --out PREFIX [--force]\n"
    "       carebridge clients assertion --id ID --key KEY.pem --kid KID --aud TOKEN_URL\n"
    "           [--lifetime SECONDS]\n";

// Options: --name value pairs (repeatable ones collect) and flags.
struct options {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> flags;
  std::vector<std::string> positional;

  std::string get(std::string_view name) const {
    for (const auto& [k, v] : values)
      if (k == name) return v;
    return {};
  }
  std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values)
      if (k == name) out.push_back(v);
    return out;
  }
  bool flag(std::string_view name) const {
    return std::find(flags.begin(), flags.end(), name) != flags.end();
  }
};

// Parses args[1..]: `takes_value` names the options with a value; others starting with -- are
// flags when listed in `known_flags`.
std::optional<options> parse(const std::vector<std::string>& args,
                             std::initializer_list<std::string_view> takes_value,
                             std::initializer_list<std::string_view> known_flags, std::ostream& err,
                             const std::string& command) {
  options o;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool valued = std::find(takes_value.begin(), takes_value.end(), a) != takes_value.end();
    const bool flag = std::find(known_flags.begin(), known_flags.end(), a) != known_flags.end();
    if (valued) {
      if (i + 1 == args.size()) {
        err << "carebridge clients " << command << ": " << a << " needs a value\n";
        return std::nullopt;
      }
      o.values.emplace_back(a, args[++i]);
    } else if (flag) {
      o.flags.push_back(a);
    } else if (a.starts_with("--")) {
      err << "carebridge clients " << command << ": unknown option " << a << '\n';
      return std::nullopt;
    } else {
      o.positional.push_back(a);
    }
  }
  return o;
}

std::optional<fs::path> data_dir(const options& o, std::ostream& err, const std::string& command) {
  gateway::config::config c;
  try {
    if (const auto f = o.get("--config"); !f.empty()) c = gateway::config::load_file(f);
  } catch (const std::exception& e) {
    err << "carebridge clients " << command << ": " << e.what() << '\n';
    return std::nullopt;
  }
  const auto d = o.get("--data-dir");
  return d.empty() ? fs::path(c.data_dir) : fs::path(d);
}

std::unique_ptr<auth::client_registry> open_registry(const fs::path& dir, bool create,
                                                     std::ostream& err,
                                                     const std::string& command) {
  const fs::path file = dir / "clients.db";
  std::error_code ec;
  if (!create && !fs::exists(file, ec)) {
    err << "carebridge clients " << command << ": no client registry at " << file.string() << '\n';
    return nullptr;
  }
  try {
    if (create) fs::create_directories(dir);
    return std::make_unique<auth::client_registry>(file);
  } catch (const std::exception& e) {
    err << "carebridge clients " << command << ": " << e.what() << '\n';
    return nullptr;
  }
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// "ES384 k1, RS384 k2" of a static JWK Set, or the URL.
std::string keys_summary(const auth::registered_client& c) {
  if (!c.jwks_url.empty()) return "JWKS URL " + c.jwks_url;
  const auto set = auth::parse_jwks(c.jwks);
  if (!set) return "unusable JWK Set";
  std::vector<std::string> parts;
  for (const auto& k : set->keys)
    parts.push_back(std::string(auth::alg_name(k.alg)) + " " +
                    (k.kid.empty() ? "(no kid)" : k.kid));
  return parts.empty() ? "no usable key" : join(parts, ", ");
}

std::string acts_for(const auth::registered_client& c) {
  switch (c.kind) {
    case auth::role::group:
      return "group " + c.group;
    case auth::role::sender:
      return "facilities " + join(c.facilities, ",");
    case auth::role::ops:
      return "ops";
  }
  return "";
}

template <typename Writer>
void client_json(Writer& w, const auth::registered_client& c) {
  const std::string role(auth::role_name(c.kind));
  const std::string created = gateway::obs::utc_seconds_text(c.created), updated = gateway::obs::utc_seconds_text(c.updated);
  w.StartObject();
  string_members(w, {{"client_id", &c.client_id}, {"role", &role}});
  if (c.kind == auth::role::group) string_members(w, {{"group", &c.group}});
  if (c.kind == auth::role::sender) {
    w.Key("facilities");
    w.StartArray();
    for (const auto& f : c.facilities)
      w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
    w.EndArray();
  }
  string_members(w, {{"scopes", &c.scopes}});
  if (!c.jwks_url.empty()) {
    string_members(w, {{"jwks_url", &c.jwks_url}});
  } else {
    w.Key("keys");
    w.StartArray();
    if (const auto set = auth::parse_jwks(c.jwks)) {
      for (const auto& k : set->keys) {
        const std::string alg(auth::alg_name(k.alg));
        w.StartObject();
        string_members(w, {{"kid", &k.kid}, {"alg", &alg}});
        w.Key("bits");
        w.Int(k.bits);
        w.EndObject();
      }
    }
    w.EndArray();
  }
  w.Key("certificate_names");
  w.StartArray();
  for (const auto& n : c.certificate_names)
    w.String(n.c_str(), static_cast<rapidjson::SizeType>(n.size()));
  w.EndArray();
  w.Key("enabled");
  w.Bool(c.enabled);
  w.Key("revision");
  w.Int64(c.revision);
  string_members(w, {{"created", &created}, {"updated", &updated}});
  w.EndObject();
}

int do_register(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto o = parse(args,
                       {"--id", "--role", "--group", "--facility", "--scope", "--jwks",
                        "--jwks-url", "--certificate-name", "--data-dir", "--config"},
                       {"--replace", "--insecure-loopback"}, err, "register");
  if (!o) return exit_input;
  if (!o->positional.empty()) {
    err << "carebridge clients register: unexpected argument " << o->positional[0] << '\n';
    return exit_input;
  }
  auth::registered_client c;
  c.client_id = o->get("--id");
  const auto r = auth::parse_role(o->get("--role"));
  if (c.client_id.empty() || !r) {
    err << "carebridge clients register: --id and --role group|sender|ops are required\n";
    return exit_input;
  }
  c.kind = *r;
  c.group = o->get("--group");
  c.facilities = o->all("--facility");
  c.scopes = join(o->all("--scope"), " ");
  c.certificate_names = o->all("--certificate-name");
  c.jwks_url = o->get("--jwks-url");
  if (const auto file = o->get("--jwks"); !file.empty()) {
    auto text = read_input(file, err, "clients register");
    if (!text) return exit_input;
    c.jwks = std::move(*text);
  }
  const auto problems = auth::validate(c, o->flag("--insecure-loopback"));
  for (const auto& p : problems) err << "carebridge clients register: " << p << '\n';
  if (!problems.empty()) return exit_input;
  if (!c.jwks.empty()) {
    const auto set = auth::parse_jwks(c.jwks);
    for (const auto& s : set->skipped)
      err << "carebridge clients register: warning: JWK Set: " << s << " (left out)\n";
  }
  const auto dir = data_dir(*o, err, "register");
  if (!dir) return exit_input;
  // A group client for a group the roster does not know yet: allowed (the roster may come
  // later), but said.
  if (c.kind == auth::role::group) {
    std::error_code ec;
    const fs::path members = *dir / "members.db";
    if (fs::exists(members, ec)) {
      try {
        auto db = gateway::members::roster_db::open(members);
        if (!db->group(c.group))
          err << "carebridge clients register: warning: group " << c.group
              << " is not in members.db (yet)\n";
      } catch (const std::exception& e) {
        err << "carebridge clients register: warning: cannot check the group: " << e.what() << '\n';
      }
    } else {
      err << "carebridge clients register: warning: no members.db in " << dir->string()
          << ": group " << c.group << " not checked\n";
    }
  }
  auto reg = open_registry(*dir, true, err, "register");
  if (!reg) return exit_internal;
  try {
    if (reg->find(c.client_id) && !o->flag("--replace")) {
      err << "carebridge clients register: client " << c.client_id
          << " exists (--replace to change it)\n";
      return exit_input;
    }
    reg->put(c, std::chrono::system_clock::now());
  } catch (const std::exception& e) {
    err << "carebridge clients register: " << e.what() << '\n';
    return exit_internal;
  }
  out << "registered " << c.client_id << ": " << auth::role_name(c.kind) << ", " << acts_for(c)
      << "; scopes " << c.scopes << "; keys: " << keys_summary(c);
  if (!c.certificate_names.empty()) out << "; certificate " << join(c.certificate_names, " or ");
  out << '\n';
  return exit_ok;
}

int do_list(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool show) {
  const std::string command = show ? "show" : "list";
  const auto o = parse(args, {"--data-dir", "--config"}, {"--json"}, err, command);
  if (!o) return exit_input;
  if (show != (o->positional.size() == 1) || o->positional.size() > 1) {
    err << usage;
    return exit_input;
  }
  const auto dir = data_dir(*o, err, command);
  if (!dir) return exit_input;
  std::vector<auth::registered_client> clients;
  {
    std::error_code ec;
    if (fs::exists(*dir / "clients.db", ec) || show) {
      auto reg = open_registry(*dir, false, err, command);
      if (!reg) return show ? exit_input : exit_internal;
      try {
        clients = reg->list();
      } catch (const std::exception& e) {
        err << "carebridge clients " << command << ": " << e.what() << '\n';
        return exit_internal;
      }
    }
  }
  if (show) {
    std::erase_if(clients, [&](const auto& c) { return c.client_id != o->positional[0]; });
    if (clients.empty()) {
      err << "carebridge clients show: no client " << o->positional[0] << '\n';
      return exit_input;
    }
  }
  if (o->flag("--json") || show) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    if (show) {
      client_json(w, clients[0]);
    } else {
      w.StartArray();
      for (const auto& c : clients) client_json(w, c);
      w.EndArray();
    }
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (clients.empty()) {
    out << "no clients registered\n";
    return exit_ok;
  }
  for (const auto& c : clients) {
    out << c.client_id << "  " << (c.enabled ? "enabled" : "DISABLED") << "  "
        << auth::role_name(c.kind) << "  " << acts_for(c) << "  scopes: " << c.scopes
        << "  keys: " << keys_summary(c);
    if (!c.certificate_names.empty()) out << "  certificate: " << join(c.certificate_names, ",");
    out << "  updated " << gateway::obs::utc_seconds_text(c.updated) << '\n';
  }
  return exit_ok;
}

int do_change(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string& command = args[0];
  const auto o = parse(args, {"--data-dir", "--config"}, {}, err, command);
  if (!o) return exit_input;
  if (o->positional.size() != 1) {
    err << "usage: carebridge clients " << command << " ID [--data-dir DIR]\n";
    return exit_input;
  }
  const std::string& id = o->positional[0];
  const auto dir = data_dir(*o, err, command);
  if (!dir) return exit_input;
  auto reg = open_registry(*dir, false, err, command);
  if (!reg) return exit_input;
  bool found = false;
  try {
    const auto now = std::chrono::system_clock::now();
    found = command == "remove" ? reg->remove(id) : reg->set_enabled(id, command == "enable", now);
  } catch (const std::exception& e) {
    err << "carebridge clients " << command << ": " << e.what() << '\n';
    return exit_internal;
  }
  if (!found) {
    err << "carebridge clients " << command << ": no client " << id << '\n';
    return exit_input;
  }
  out << (command == "remove"   ? "removed "
          : command == "enable" ? "enabled "
                                : "disabled ")
      << id << " (a running gateway stops or starts honouring its tokens within seconds)\n";
  return exit_ok;
}

// Writes `data` to a new file with `mode` (refusing to replace one unless `force`).
bool write_file(const fs::path& file, const std::string& data, mode_t mode, bool force,
                std::ostream& err) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  const int fd = ::open(file.c_str(), flags, mode);
  if (fd < 0) {
    err << "carebridge clients keygen: cannot create " << file.string() << ": "
        << std::strerror(errno) << (errno == EEXIST ? " (--force to replace it)" : "") << '\n';
    return false;
  }
  // An existing file keeps its mode through O_TRUNC: set ours.
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok) err << "carebridge clients keygen: cannot write " << file.string() << '\n';
  return ok;
}

int do_keygen(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto o = parse(args, {"--alg", "--kid", "--out"}, {"--force"}, err, "keygen");
  if (!o) return exit_input;
  const auto alg = auth::parse_alg(o->get("--alg"));
  const std::string kid = o->get("--kid");
  const std::string prefix = o->get("--out");
  if (!alg || kid.empty() || prefix.empty() || !o->positional.empty()) {
    err << "usage: carebridge clients keygen --alg RS384|ES384 --kid KID --out PREFIX [--force]\n";
    return exit_input;
  }
  const auto key = auth::generate_key(*alg);
  if (!key) {
    err << "carebridge clients keygen: " << key.error().message() << '\n';
    return exit_internal;
  }
  const auto pem = auth::private_key_pem(key->get());
  const auto jwk = auth::public_jwk_json(key->get(), kid);
  if (!pem || !jwk) {
    err << "carebridge clients keygen: cannot encode the key\n";
    return exit_internal;
  }
  const fs::path key_file = prefix + ".key.pem";
  const fs::path jwks_file = prefix + ".jwks.json";
  if (!write_file(key_file, *pem, 0600, o->flag("--force"), err)) return exit_input;
  if (!write_file(jwks_file, "{\"keys\":[" + *jwk + "]}\n", 0644, o->flag("--force"), err))
    return exit_input;
  out << "wrote " << key_file.string() << " (private key, mode 0600: keep it on the client) and "
      << jwks_file.string() << " (public JWK Set, kid " << kid << ", " << auth::alg_name(*alg)
      << ": register it, or publish it at the client's JWKS URL)\n";
  return exit_ok;
}

int do_assertion(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto o =
      parse(args, {"--id", "--key", "--kid", "--aud", "--lifetime"}, {}, err, "assertion");
  if (!o) return exit_input;
  const std::string id = o->get("--id"), key_file = o->get("--key"), kid = o->get("--kid"),
                    aud = o->get("--aud");
  if (id.empty() || key_file.empty() || kid.empty() || aud.empty() || !o->positional.empty()) {
    err << "usage: carebridge clients assertion --id ID --key KEY.pem --kid KID --aud TOKEN_URL "
           "[--lifetime SECONDS]\n";
    return exit_input;
  }
  long lifetime = 240;
  if (const auto l = o->get("--lifetime"); !l.empty()) {
    char* end = nullptr;
    lifetime = std::strtol(l.c_str(), &end, 10);
    if (end == l.c_str() || *end != '\0' || lifetime < 1 || lifetime > 300) {
      err << "carebridge clients assertion: --lifetime is 1 to 300 seconds\n";
      return exit_input;
    }
  }
  const auto pem = read_input(key_file, err, "clients assertion");
  if (!pem) return exit_input;
  const auto key = auth::read_private_key_pem(*pem);
  if (!key) {
    err << "carebridge clients assertion: " << key_file
        << ": not an unencrypted RSA (2048+ bits) or EC P-384 private key\n";
    return exit_input;
  }
  std::array<unsigned char, 16> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    err << "carebridge clients assertion: no randomness\n";
    return exit_internal;
  }
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::string jti = auth::base64url_encode(
      std::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size()));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  string_members(w, {{"iss", &id}, {"sub", &id}, {"aud", &aud}, {"jti", &jti}});
  w.Key("iat");
  w.Int64(now);
  w.Key("exp");
  w.Int64(now + lifetime);
  w.EndObject();
  const auto jwt = auth::sign_jwt(key->get(), kid, {buf.GetString(), buf.GetSize()});
  if (!jwt) {
    err << "carebridge clients assertion: " << jwt.error().message() << '\n';
    return exit_internal;
  }
  out << *jwt << '\n';
  return exit_ok;
}

}  // namespace

int cmd_clients(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string sub = args.empty() ? "" : args[0];
  if (sub == "register") return do_register(args, out, err);
  if (sub == "list") return do_list(args, out, err, false);
  if (sub == "show") return do_list(args, out, err, true);
  if (sub == "enable" || sub == "disable" || sub == "remove") return do_change(args, out, err);
  if (sub == "keygen") return do_keygen(args, out, err);
  if (sub == "assertion") return do_assertion(args, out, err);
  err << usage;
  return exit_input;
}

}  // namespace carebridge::app
