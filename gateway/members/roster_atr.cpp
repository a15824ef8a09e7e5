// read_atr_bundle / read_atr_ndjson / read_roster_path: the roster as Da Vinci ATR FHIR resources
// (hl7.fhir.us.davinci-atr 2.1.0: Group with its Patients and Coverages, and the attributed
// providers' Organizations / PractitionerRoles when sent).
//
// One Group.member is one row. Its member id is the Coverage's member identifier (type MB of
// v2-0203), else the Patient's MB identifier, else Coverage.subscriberId; the Coverage is the
// member's coverageReference extension, else a Coverage whose beneficiary is the Patient. Its
// physician group is the attributed provider's Organization (ext-attributedProvider → Organization,
// or → PractitionerRole.organization) when there is one, else the Group itself: a Group per
// contract usually names one settlement entity, and a provider reference to a lone Practitioner
// has no organization to alert. The group id is that resource's id. Inactive members: changeType
// `cancelled`, or inactive without a period end, carry no attribution (the member is kept);
// inactive with an end keep the ended period. SSNs (type SB/SS) are not kept.
#include "gateway/members/roster.hpp"
#include "gateway/members/roster_detail.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace carebridge::gateway::members {

namespace {

namespace rj = rapidjson;
using detail::trim;

constexpr std::string_view ext_attributed_provider =
    "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-attributedProvider";
constexpr std::string_view ext_coverage_reference =
    "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-coverageReference";
constexpr std::string_view ext_change_type =
    "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-changeType";
constexpr std::string_view ext_contract_validity =
    "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-contractValidityPeriod";
constexpr std::string_view v2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";

std::string_view str(const rj::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const rj::Value* obj(const rj::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

const rj::Value* arr(const rj::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

const rj::Value* extension(const rj::Value& v, std::string_view url) {
  if (const auto* exts = arr(v, "extension"))
    for (const auto& e : exts->GetArray())
      if (str(e, "url") == url) return &e;
  return nullptr;
}

// A FHIR date or dateTime's date, if it is a full valid date; "" for empty/absent; nullopt when
// the text is present but no full date (partial dates included).
std::optional<std::string> full_date(std::string_view s) {
  if (s.empty()) return std::string();
  const std::string_view d = s.substr(0, 10);
  if (s.size() > 10 && s[10] != 'T') return std::nullopt;
  if (!is_valid_date(d)) return std::nullopt;
  return std::string(d);
}

// The v2-0203 code of an Identifier's type ("" if none).
std::string_view type_code(const rj::Value& ident) {
  if (const auto* type = obj(ident, "type"))
    if (const auto* codings = arr(*type, "coding"))
      for (const auto& c : codings->GetArray()) {
        const auto system = str(c, "system");
        if (system.empty() || system == v2_0203) return str(c, "code");
      }
  return {};
}

struct located {
  const rj::Value* resource = nullptr;
  std::size_t line = 0;  // 1-based entry or NDJSON line
  std::string file;      // NDJSON file name, else ""
};

// What a Patient gives a member (parsed once, however many Groups name it).
struct patient_facts_cache {
  bool done = false;
  std::string error;  // a failed check, PHI-free
  member_record record;
  std::string mb_id;  // its member identifier (type MB), if any
};

class atr_reader {
 public:
  void add(const rj::Value& resource, std::size_t line, const std::string& file) {
    const std::string_view type = str(resource, "resourceType");
    const std::string_view id = str(resource, "id");
    located loc{&resource, line, file};
    if (type == "Group") groups_.push_back(loc);
    if (type == "Coverage") coverages_.push_back(loc);
    if (!type.empty() && !id.empty())
      by_key_.emplace(std::string(type) + "/" + std::string(id), loc);
  }
  void add_full_url(std::string_view url, const rj::Value& resource, std::size_t line) {
    if (!url.empty()) by_key_.emplace(std::string(url), located{&resource, line, {}});
  }
  void problem(std::size_t line, const std::string& file, std::string message) {
    b_.problem(line, file, std::move(message));
  }

  roster_batch run(std::string format) && {
    // Coverages by beneficiary.
    for (const auto& c : coverages_) {
      const auto* ben = obj(*c.resource, "beneficiary");
      if (ben == nullptr) continue;
      if (const located* p = resolve(str(*ben, "reference"), "Patient"))
        coverage_of_.emplace(p->resource, c.resource);
    }
    for (const auto& g : groups_) read_group(g);
    auto batch = std::move(b_).finish();
    batch.format = std::move(format);
    return batch;
  }

 private:
  // A reference as the resource it names, if it is in the file: exactly (fullUrl, Type/id), or by
  // the trailing Type/id of an absolute URL (history stripped).
  const located* resolve(std::string_view ref, std::string_view want_type) const {
    if (ref.empty()) return nullptr;
    const auto check = [&](const located& l) -> const located* {
      return want_type.empty() || str(*l.resource, "resourceType") == want_type ? &l : nullptr;
    };
    if (auto it = by_key_.find(std::string(ref)); it != by_key_.end()) return check(it->second);
    if (const auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
    const auto slash = ref.rfind('/');
    if (slash == std::string_view::npos || slash == 0) return nullptr;
    const auto slash2 = ref.rfind('/', slash - 1);
    const std::string_view tail = slash2 == std::string_view::npos ? ref : ref.substr(slash2 + 1);
    if (auto it = by_key_.find(std::string(tail)); it != by_key_.end()) return check(it->second);
    return nullptr;
  }

  static std::string reference_id(std::string_view ref) {
    if (const auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
    const auto slash = ref.rfind('/');
    return std::string(slash == std::string_view::npos ? ref : ref.substr(slash + 1));
  }

  patient_facts_cache& patient(const located& p) {
    patient_facts_cache& f = patients_[p.resource];
    if (f.done) return f;
    f.done = true;
    const rj::Value& r = *p.resource;
    member_record& m = f.record;
    // Name: official, else usual, else the first.
    if (const auto* names = arr(r, "name")) {
      const rj::Value* best = nullptr;
      for (const char* use : {"official", "usual", ""})
        for (const auto& n : names->GetArray())
          if (best == nullptr && n.IsObject() && (*use == 0 || str(n, "use") == use)) best = &n;
      if (best != nullptr) {
        m.family = std::string(trim(str(*best, "family")));
        if (const auto* given = arr(*best, "given"))
          if (!given->Empty() && (*given)[0].IsString())
            m.given = std::string(trim((*given)[0].GetString()));
      }
    }
    const auto dob = full_date(str(r, "birthDate"));
    if (dob)
      m.birth_date = *dob;
    else if (str(r, "birthDate").size() != 4 && str(r, "birthDate").size() != 7)
      f.error = "birthDate is not a valid date";  // a partial date (year, year-month) reads as none
    const auto sex = detail::normalize_sex(str(r, "gender"));
    if (!sex)
      f.error = "gender is not male, female, other or unknown";
    else
      m.sex = *sex;
    if (const auto* addresses = arr(r, "address")) {
      const rj::Value* best = nullptr;
      for (const auto& a : addresses->GetArray())
        if (a.IsObject() &&
            (best == nullptr || (str(a, "use") == "home" && str(*best, "use") != "home")))
          best = &a;
      if (best != nullptr) m.postal_code = std::string(trim(str(*best, "postalCode")));
    }
    if (const auto* telecom = arr(r, "telecom")) {
      for (const auto& t : telecom->GetArray())
        if (str(t, "system") == "phone" && !str(t, "value").empty()) {
          m.phone = std::string(trim(str(t, "value")));
          if (str(t, "use") == "home" || str(t, "use") == "mobile") break;
        }
    }
    if (const auto* ids = arr(r, "identifier"))
      for (const auto& ident : ids->GetArray()) {
        const std::string_view type = type_code(ident);
        const std::string_view system = trim(str(ident, "system")),
                               value = trim(str(ident, "value"));
        if (type == "SB" || type == "SS" || value.empty()) continue;  // no SSNs kept
        if (type == "MB" && f.mb_id.empty()) f.mb_id = std::string(value);
        if (system.empty()) continue;  // links nothing
        m.identifiers.push_back({std::string(system), std::string(value), std::string(type)});
      }
    return f;
  }

  // The member id for a Group.member: Coverage MB identifier, Patient MB identifier, subscriberId.
  std::string member_id_for(const rj::Value& member, const located* patient_loc,
                            const patient_facts_cache* facts) {
    const rj::Value* coverage = nullptr;
    if (const auto* ext = extension(member, ext_coverage_reference))
      if (const auto* ref = obj(*ext, "valueReference"))
        if (const located* c = resolve(str(*ref, "reference"), "Coverage")) coverage = c->resource;
    if (coverage == nullptr && patient_loc != nullptr) {
      const auto range = coverage_of_.equal_range(patient_loc->resource);
      for (auto it = range.first; it != range.second && coverage == nullptr; ++it)
        coverage = it->second;
    }
    if (coverage != nullptr)
      if (const auto* ids = arr(*coverage, "identifier"))
        for (const auto& ident : ids->GetArray())
          if (type_code(ident) == "MB" && !trim(str(ident, "value")).empty())
            return std::string(trim(str(ident, "value")));
    if (facts != nullptr && !facts->mb_id.empty()) return facts->mb_id;
    if (coverage != nullptr) return std::string(trim(str(*coverage, "subscriberId")));
    return {};
  }

  // The physician group of a member: its attributed provider's Organization, else the Group.
  std::string group_for(const rj::Value& member, const std::string& group_id) {
    const auto* ext = extension(member, ext_attributed_provider);
    const auto* ref = ext != nullptr ? obj(*ext, "valueReference") : nullptr;
    if (ref == nullptr) return group_id;
    std::string_view target = str(*ref, "reference");
    if (const located* role = resolve(target, "PractitionerRole")) {
      const auto* org = obj(*role->resource, "organization");
      if (org == nullptr) return group_id;
      target = str(*org, "reference");
    }
    if (const located* org = resolve(target, "Organization")) {
      const rj::Value& o = *org->resource;
      const std::string id(str(o, "id"));
      add_group_from(o, id);
      return id;
    }
    // A bare reference to an Organization not in the file: its id, details unknown.
    if (target.find("Organization/") != std::string_view::npos) {
      std::string id = reference_id(target);
      if (!id.empty()) return id;
    }
    return group_id;
  }

  void add_group_from(const rj::Value& r, const std::string& id) {
    std::string_view npi, tin;
    if (const auto* ids = arr(r, "identifier"))
      for (const auto& ident : ids->GetArray()) {
        const auto system = str(ident, "system"), value = trim(str(ident, "value"));
        if (system == npi_system && npi.empty() && is_valid_npi(value)) npi = value;
        if (system == tin_system && tin.empty() && is_valid_tin(value)) tin = value;
      }
    b_.add_group(id, trim(str(r, "name")), npi, tin);
  }

  void read_group(const located& g) {
    const rj::Value& group = *g.resource;
    const std::string group_id(str(group, "id"));
    const auto* members = arr(group, "member");
    if (group_id.empty()) {
      b_.problem(g.line, g.file, "Group without an id: its members were not read");
      if (members != nullptr)
        for (std::size_t i = 0; i < members->Size(); ++i) b_.count_row();
      return;
    }
    add_group_from(group, group_id);
    std::string contract_start, contract_end;
    if (const auto* ext = extension(group, ext_contract_validity))
      if (const auto* p = obj(*ext, "valuePeriod")) {
        contract_start = full_date(str(*p, "start")).value_or("");
        contract_end = full_date(str(*p, "end")).value_or("");
      }
    if (members == nullptr) return;
    std::size_t index = 0;
    for (const auto& member : members->GetArray()) {
      b_.count_row();
      const std::string which = "Group member[" + std::to_string(index++) + "]: ";
      const auto* entity = obj(member, "entity");
      const located* p =
          entity != nullptr ? resolve(str(*entity, "reference"), "Patient") : nullptr;
      patient_facts_cache* facts = p != nullptr ? &patient(*p) : nullptr;
      std::string member_id = member_id_for(member, p, facts);
      if (p == nullptr) {
        b_.bad_row(g.line, g.file, member_id, which + "entity is not a Patient in the file");
        continue;
      }
      if (!facts->error.empty()) {
        b_.bad_row(g.line, g.file, member_id,
                   which + "its Patient (" +
                       (p->file.empty() || p->file == g.file ? "" : p->file + " ") + "line " +
                       std::to_string(p->line) + ") failed a check: " + facts->error);
        continue;
      }
      if (member_id.empty()) {
        b_.bad_row(g.line, g.file, {},
                   which +
                       "no member id (Coverage identifier type MB, Patient identifier type MB "
                       "or Coverage.subscriberId)");
        continue;
      }
      std::string start, end;
      if (const auto* period = obj(member, "period")) {
        const auto s = full_date(str(*period, "start")), e = full_date(str(*period, "end"));
        if (!s || !e) {
          b_.bad_row(g.line, g.file, member_id, which + "period is not made of valid dates");
          continue;
        }
        start = *s;
        end = *e;
      }
      if (start.empty()) start = contract_start;
      if (end.empty() && !obj(member, "period")) end = contract_end;
      if (start.empty()) {
        b_.bad_row(g.line, g.file, member_id,
                   which + "no period.start (and the Group has no contract validity period)");
        continue;
      }
      if (!end.empty() && end < start) {
        b_.bad_row(g.line, g.file, member_id, which + "period.end before period.start");
        continue;
      }
      std::string_view change;
      if (const auto* ext = extension(member, ext_change_type)) change = str(*ext, "valueCode");
      const bool inactive = member.IsObject() && member.HasMember("inactive") &&
                            member["inactive"].IsBool() && member["inactive"].GetBool();
      const bool attributed =
          change != "cancelled" && !((inactive || change == "dropped") && end.empty());
      member_record m = facts->record;
      m.member_id = member_id;
      std::string physician_group = attributed ? group_for(member, group_id) : std::string();
      b_.add_row(g.line, g.file, std::move(m), std::move(physician_group), std::move(start),
                 std::move(end));
    }
  }

  detail::batch_builder b_;
  std::vector<located> groups_, coverages_;
  std::unordered_map<std::string, located> by_key_;
  std::unordered_multimap<const rj::Value*, const rj::Value*> coverage_of_;
  std::unordered_map<const rj::Value*, patient_facts_cache> patients_;
};

std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + p.string());
  return std::move(s).str();
}

}  // namespace

roster_batch read_atr_bundle(std::string_view json) {
  atr_reader reader;
  rj::Document doc;
  doc.Parse<rj::kParseValidateEncodingFlag | rj::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    reader.problem(1, {},
                   "not a JSON object (" + std::string(rj::GetParseError_En(doc.GetParseError())) +
                       " at offset " + std::to_string(doc.GetErrorOffset()) + ")");
    return std::move(reader).run("atr-bundle");
  }
  if (str(doc, "resourceType") != "Bundle") {
    reader.problem(1, {}, "not a FHIR Bundle (resourceType)");
    return std::move(reader).run("atr-bundle");
  }
  if (const auto* entries = arr(doc, "entry")) {
    std::size_t line = 0;
    for (const auto& e : entries->GetArray()) {
      ++line;
      const auto* resource = obj(e, "resource");
      if (resource == nullptr) {
        reader.problem(line, {}, "entry without a resource");
        continue;
      }
      reader.add(*resource, line, {});
      reader.add_full_url(str(e, "fullUrl"), *resource, line);
    }
  }
  return std::move(reader).run("atr-bundle");
}

roster_batch read_atr_ndjson(const std::vector<std::filesystem::path>& files) {
  atr_reader reader;
  std::vector<std::unique_ptr<rj::Document>> docs;  // the resources live as long as the reader
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    const std::string name = path.filename().string();
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (trim(line).empty()) continue;
      auto doc = std::make_unique<rj::Document>();
      doc->Parse<rj::kParseValidateEncodingFlag | rj::kParseIterativeFlag>(line.data(),
                                                                           line.size());
      if (doc->HasParseError() || !doc->IsObject() || str(*doc, "resourceType").empty()) {
        reader.problem(n, name, "not a FHIR resource (JSON object with resourceType)");
        continue;
      }
      reader.add(*doc, n, name);
      docs.push_back(std::move(doc));
    }
    if (in.bad()) throw std::runtime_error("cannot read " + path.string());
  }
  return std::move(reader).run("atr-ndjson");
}

roster_batch read_roster_path(const std::filesystem::path& path) {
  std::error_code ec;
  roster_batch b;
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.is_regular_file() && e.path().extension() == ".ndjson") files.push_back(e.path());
    if (ec) throw std::runtime_error("cannot list " + path.string() + ": " + ec.message());
    if (files.empty()) throw std::runtime_error(path.string() + " holds no *.ndjson files");
    std::sort(files.begin(), files.end());
    b = read_atr_ndjson(files);
  } else if (path.extension() == ".ndjson") {
    b = read_atr_ndjson({path});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    // The first non-blank byte (after a BOM) decides: '{' is a Bundle, anything else CSV.
    char first = 0;
    std::size_t skipped = 0;
    for (char c; in.get(c);) {
      if (skipped < 3 && static_cast<unsigned char>(c) >= 0x80) {
        ++skipped;
        continue;
      }
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
        first = c;
        break;
      }
    }
    in.clear();
    in.seekg(0);
    if (first == '{')
      b = read_atr_bundle(file_text(path));
    else
      b = read_roster_csv(in);
    if (in.bad()) throw std::runtime_error("cannot read " + path.string());
  }
  b.origin = path.string();
  return b;
}

}  // namespace carebridge::gateway::members
