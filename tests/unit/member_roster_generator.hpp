// A synthetic plan roster and synthetic hospital patients for the member-matching quality test
// (member_matching_quality_test.cpp) and benchmark (tests/bench/member_match_bench.cpp). Fixed
// seed, no PHI: names are drawn from lists of common US names with a skew (so that namesakes,
// shared birth dates and shared addresses are frequent), members come in households (couples,
// children, twins) that share a family name, a postal code and a phone; patients are members seen
// by a hospital with realistic noise, or people who are not in the roster at all (random people,
// unenrolled relatives, unenrolled twins, namesakes, a Jr./Sr. of the same name and address).
//
// Header-only on purpose: not a test (no *_test.cpp), shared by the two executables.
#pragma once

#include "gateway/members/member_matcher.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::test::members {

namespace gm = carebridge::gateway::members;

inline constexpr std::string_view k_mbi_system = "http://hl7.org/fhir/sid/us-mbi";
inline constexpr std::string_view k_mrn_system = "urn:oid:2.16.840.1.113883.3.1001";  // hospital A
inline constexpr std::string_view k_other_mrn = "urn:oid:2.16.840.1.113883.3.2002";   // hospital B

// Given names with the variants a registrar or a patient uses for them (the generator's own
// list; not all are in the matcher's table, as in life).
struct given_name {
  std::string_view name;
  bool male;
  std::array<std::string_view, 3> nicknames;
};
inline constexpr given_name k_given[] = {
    {"James", true, {"Jim", "Jimmy", "Jamie"}},
    {"Mary", false, {"Molly", "Mae", ""}},
    {"Robert", true, {"Bob", "Rob", "Bobby"}},
    {"Patricia", false, {"Pat", "Patty", "Trish"}},
    {"John", true, {"Jack", "Johnny", "Jon"}},
    {"Jennifer", false, {"Jen", "Jenny", ""}},
    {"Michael", true, {"Mike", "Mikey", ""}},
    {"Linda", false, {"Lindy", "", ""}},
    {"David", true, {"Dave", "Davey", ""}},
    {"Elizabeth", false, {"Liz", "Beth", "Betty"}},
    {"William", true, {"Bill", "Will", "Billy"}},
    {"Barbara", false, {"Barb", "Babs", ""}},
    {"Richard", true, {"Rick", "Rich", "Dick"}},
    {"Susan", false, {"Sue", "Susie", ""}},
    {"Joseph", true, {"Joe", "Joey", ""}},
    {"Jessica", false, {"Jess", "Jessie", ""}},
    {"Thomas", true, {"Tom", "Tommy", ""}},
    {"Sarah", false, {"Sally", "Sadie", ""}},
    {"Charles", true, {"Charlie", "Chuck", ""}},
    {"Karen", false, {"", "", ""}},
    {"Christopher", true, {"Chris", "", ""}},
    {"Lisa", false, {"", "", ""}},
    {"Daniel", true, {"Dan", "Danny", ""}},
    {"Nancy", false, {"Nan", "", ""}},
    {"Matthew", true, {"Matt", "", ""}},
    {"Betty", false, {"", "", ""}},
    {"Anthony", true, {"Tony", "", ""}},
    {"Margaret", false, {"Peggy", "Maggie", "Meg"}},
    {"Mark", true, {"", "", ""}},
    {"Sandra", false, {"Sandy", "", ""}},
    {"Donald", true, {"Don", "Donnie", ""}},
    {"Ashley", false, {"", "", ""}},
    {"Steven", true, {"Steve", "", ""}},
    {"Kimberly", false, {"Kim", "", ""}},
    {"Paul", true, {"", "", ""}},
    {"Emily", false, {"Em", "Emmy", ""}},
    {"Andrew", true, {"Andy", "Drew", ""}},
    {"Donna", false, {"", "", ""}},
    {"Joshua", true, {"Josh", "", ""}},
    {"Michelle", false, {"Shelly", "", ""}},
    {"Kenneth", true, {"Ken", "Kenny", ""}},
    {"Carol", false, {"", "", ""}},
    {"Kevin", true, {"", "", ""}},
    {"Amanda", false, {"Mandy", "", ""}},
    {"Brian", true, {"", "", ""}},
    {"Dorothy", false, {"Dot", "Dottie", ""}},
    {"George", true, {"", "", ""}},
    {"Melissa", false, {"Missy", "Mel", ""}},
    {"Timothy", true, {"Tim", "Timmy", ""}},
    {"Deborah", false, {"Deb", "Debbie", ""}},
    {"Ronald", true, {"Ron", "Ronnie", ""}},
    {"Stephanie", false, {"Steph", "", ""}},
    {"Edward", true, {"Ed", "Eddie", "Ted"}},
    {"Rebecca", false, {"Becky", "Becca", ""}},
    {"Jason", true, {"", "", ""}},
    {"Sharon", false, {"", "", ""}},
    {"Jeffrey", true, {"Jeff", "", ""}},
    {"Laura", false, {"", "", ""}},
    {"Ryan", true, {"", "", ""}},
    {"Cynthia", false, {"Cindy", "", ""}},
    {"Jacob", true, {"Jake", "", ""}},
    {"Kathleen", false, {"Kathy", "Kate", ""}},
    {"Gary", true, {"", "", ""}},
    {"Amy", false, {"", "", ""}},
    {"Nicholas", true, {"Nick", "", ""}},
    {"Angela", false, {"Angie", "", ""}},
    {"Eric", true, {"", "", ""}},
    {"Anna", false, {"Annie", "", ""}},
    {"Jonathan", true, {"Jon", "", ""}},
    {"Katherine", false, {"Kate", "Katie", "Kathy"}},
    {"Stephen", true, {"Steve", "", ""}},
    {"Christine", false, {"Chris", "Tina", ""}},
    {"Larry", true, {"", "", ""}},
    {"Christina", false, {"Chris", "Tina", ""}},
    {"Justin", true, {"", "", ""}},
    {"Virginia", false, {"Ginny", "", ""}},
    {"Scott", true, {"", "", ""}},
    {"Victoria", false, {"Vicky", "Tori", ""}},
    {"Brandon", true, {"", "", ""}},
    {"Maria", false, {"", "", ""}},
    {"Benjamin", true, {"Ben", "Benny", ""}},
    {"José", false, {"", "", ""}},
    {"Samuel", true, {"Sam", "Sammy", ""}},
    {"Samantha", false, {"Sam", "", ""}},
    {"Gregory", true, {"Greg", "", ""}},
    {"Helen", false, {"Nell", "", ""}},
    {"Frank", true, {"", "", ""}},
    {"Frances", false, {"Fran", "", ""}},
    {"Raymond", true, {"Ray", "", ""}},
    {"Judith", false, {"Judy", "", ""}},
    {"Alexander", true, {"Alex", "Al", ""}},
    {"Alexandra", false, {"Alex", "Sandra", ""}},
    {"Patrick", true, {"Pat", "", ""}},
    {"Theresa", false, {"Terry", "Tess", ""}},
    {"Jack", true, {"", "", ""}},
    {"Joan", false, {"", "", ""}},
    {"Dennis", true, {"", "", ""}},
    {"Jean", false, {"", "", ""}},
    {"Jerry", true, {"", "", ""}},
    {"Diane", false, {"", "", ""}},
    {"Tyler", true, {"", "", ""}},
    {"Olivia", false, {"Liv", "", ""}},
    {"Aaron", true, {"", "", ""}},
    {"Julie", false, {"", "", ""}},
    {"Luis", true, {"", "", ""}},
    {"Lucía", false, {"", "", ""}},
    {"Minh", true, {"", "", ""}},
    {"Mei", false, {"", "", ""}},
};
// US family names, most common first; some double, accented or punctuated.
inline constexpr std::string_view k_family[] = {
    "Smith",        "Johnson",      "Williams",  "Brown",     "Jones",     "Garcia",
    "Miller",       "Davis",        "Rodriguez", "Martinez",  "Hernandez", "Lopez",
    "Gonzalez",     "Wilson",       "Anderson",  "Thomas",    "Taylor",    "Moore",
    "Jackson",      "Martin",       "Lee",       "Perez",     "Thompson",  "White",
    "Harris",       "Sanchez",      "Clark",     "Ramirez",   "Lewis",     "Robinson",
    "Walker",       "Young",        "Allen",     "King",      "Wright",    "Scott",
    "Torres",       "Nguyen",       "Hill",      "Flores",    "Green",     "Adams",
    "Nelson",       "Baker",        "Hall",      "Rivera",    "Campbell",  "Mitchell",
    "Carter",       "Roberts",      "Gomez",     "Phillips",  "Evans",     "Turner",
    "Diaz",         "Parker",       "Cruz",      "Edwards",   "Collins",   "Reyes",
    "Stewart",      "Morris",       "Morales",   "Murphy",    "Cook",      "Rogers",
    "Gutierrez",    "Ortiz",        "Morgan",    "Cooper",    "Peterson",  "Bailey",
    "Reed",         "Kelly",        "Howard",    "Ramos",     "Kim",       "Cox",
    "Ward",         "Richardson",   "Watson",    "Brooks",    "Chavez",    "Wood",
    "James",        "Bennett",      "Gray",      "Mendoza",   "Ruiz",      "Hughes",
    "Price",        "Alvarez",      "Castillo",  "Sanders",   "Patel",     "Myers",
    "Long",         "Ross",         "Foster",    "Jimenez",   "Powell",    "Jenkins",
    "Perry",        "Russell",      "Sullivan",  "Bell",      "Coleman",   "Butler",
    "Henderson",    "Barnes",       "Gonzales",  "Fisher",    "Vasquez",   "Simmons",
    "Romero",       "Jordan",       "Patterson", "Alexander", "Hamilton",  "Graham",
    "Reynolds",     "Griffin",      "Wallace",   "Moreno",    "West",      "Cole",
    "Hayes",        "Bryant",       "Herrera",   "Gibson",    "Ellis",     "Tran",
    "Medina",       "Aguilar",      "Stevens",   "Murray",    "Ford",      "Castro",
    "Marshall",     "Owens",        "Harrison",  "Fernandez", "McDonald",  "Woods",
    "Washington",   "Kennedy",      "Wells",     "Vargas",    "Henry",     "Chen",
    "Freeman",      "Webb",         "Tucker",    "Guzman",    "Burns",     "Crawford",
    "Olson",        "Simpson",      "Porter",    "Hunter",    "Gordon",    "Mendez",
    "Silva",        "Shaw",         "Snyder",    "Mason",     "Dixon",     "Muñoz",
    "Hunt",         "Hicks",        "Holmes",    "Palmer",    "Wagner",    "Black",
    "Robertson",    "Boyd",         "Rose",      "Stone",     "Salazar",   "Fox",
    "Warren",       "Mills",        "Meyer",     "Rice",      "Schmidt",   "Garza",
    "Daniels",      "Ferguson",     "Nichols",   "Stephens",  "Soto",      "Weaver",
    "Ryan",         "Gardner",      "Payne",     "Grant",     "Dunn",      "Kelley",
    "Spencer",      "Hawkins",      "Arnold",    "Pierce",    "Vazquez",   "Hansen",
    "Peters",       "Santos",       "Hart",      "Bradley",   "Knight",    "Elliott",
    "Cunningham",   "Duncan",       "Armstrong", "Hudson",    "Carroll",   "Lane",
    "Riley",        "Andrews",      "Alvarado",  "Ray",       "Delgado",   "Berry",
    "Perkins",      "Hoffman",      "Johnston",  "Matthews",  "Peña",      "Richards",
    "Contreras",    "Willis",       "Carpenter", "Lawrence",  "Sandoval",  "O'Brien",
    "García-López", "Van der Berg", "St. John",  "Nowak",     "Kowalski",  "Müller",
    "Nuñez",
};

class roster_generator {
 public:
  explicit roster_generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t next() { return rng_(); }
  std::size_t uniform(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  // Skewed towards the start of a list (common names first): the square of a uniform.
  std::size_t skewed(std::size_t n) {
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return std::min(n - 1, static_cast<std::size_t>(u * u * static_cast<double>(n)));
  }

  std::size_t pick_given(bool male) {
    for (;;) {
      const std::size_t i = skewed(std::size(k_given));
      if (k_given[i].male == male) return i;
    }
  }
  std::string_view pick_family() { return k_family[skewed(std::size(k_family))]; }
  std::string postal() { return std::to_string(60000 + uniform(900)); }  // a metropolitan area
  std::string phone() {
    return std::to_string(200 + uniform(800)) + "-555-" + std::to_string(1000 + uniform(9000));
  }
  static std::string date(int y, int m, int d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    return buf;
  }
  std::string birth_date(int from_year, int to_year) {
    return date(
        from_year + static_cast<int>(uniform(static_cast<std::size_t>(to_year - from_year + 1))),
        1 + static_cast<int>(uniform(12)), 1 + static_cast<int>(uniform(28)));
  }

  /// `n` members in households. `given_index` (parallel to the result) is the k_given entry of
  /// each member, for the patients' nicknames.
  std::vector<gm::member_record> roster(std::size_t n, std::vector<std::size_t>& given_index) {
    std::vector<gm::member_record> out;
    out.reserve(n);
    given_index.clear();
    given_index.reserve(n);
    const auto add = [&](std::string_view family, std::size_t g, std::string dob,
                         const std::string& zip, const std::string& tel) {
      gm::member_record r;
      char id[16];
      std::snprintf(id, sizeof id, "M%08zu", out.size() + 1);
      r.member_id = id;
      r.family = std::string(family);
      r.given = std::string(k_given[g].name);
      r.birth_date = std::move(dob);
      r.sex = chance(0.01) ? "unknown" : k_given[g].male ? "male" : "female";
      r.postal_code = chance(0.03) ? "" : zip;
      r.phone = tel;
      if (r.birth_date < "1960" && chance(0.6))
        r.identifiers.push_back({std::string(k_mbi_system), mbi(), ""});
      if (chance(0.3))
        r.identifiers.push_back(
            {std::string(k_mrn_system), "A" + std::to_string(1000000 + out.size()), "MR"});
      out.push_back(std::move(r));
      given_index.push_back(g);
    };
    while (out.size() < n) {
      const std::string_view family = pick_family();
      const std::string zip = postal();
      const std::string tel = chance(0.8) ? phone() : "";
      const bool male = chance(0.5);
      const int year = 1935 + static_cast<int>(uniform(60));
      const std::size_t g1 = pick_given(male);
      add(family, g1, birth_date(year, year), zip, tel);
      if (out.size() < n && chance(0.55)) {  // a partner
        std::size_t g2 = pick_given(!male);
        add(family, g2, birth_date(year - 3, year + 3), zip, tel);
      }
      if (chance(0.45)) {  // children
        const std::size_t kids = 1 + uniform(3);
        for (std::size_t k = 0; k < kids && out.size() < n; ++k) {
          const int born = std::min(2024, year + 20 + static_cast<int>(uniform(20)));
          std::string dob = birth_date(born, born);
          const bool kid_male = chance(0.5);
          const std::size_t g = pick_given(kid_male);
          if (given_of_household_taken(out, family, zip, g)) continue;
          add(family, g, dob, zip, tel);
          if (out.size() < n && chance(0.06)) {  // a twin: same birth date, another given name
            const bool twin_male = chance(0.5) ? kid_male : !kid_male;
            std::size_t t = pick_given(twin_male);
            if (t != g) add(family, t, dob, zip, tel);
          }
        }
      }
    }
    return out;
  }

  std::string mbi() {
    static constexpr std::string_view letters = "ACDEFGHJKMNPQRTUVWXY";
    std::string s;
    for (int i = 0; i < 11; ++i)
      s.push_back(i % 3 == 1 ? letters[uniform(letters.size())]
                             : static_cast<char>('0' + uniform(10)));
    return s;
  }

  // --- Noise ------------------------------------------------------------------------------------

  std::string typo(std::string_view s) {
    std::string t(s);
    if (t.size() < 4) return t;
    const std::size_t i = 1 + uniform(t.size() - 2);
    switch (uniform(4)) {
      case 0:
        std::swap(t[i], t[i + 1 < t.size() ? i + 1 : i - 1]);
        break;  // transposition
      case 1:
        t.erase(i, 1);
        break;  // deletion
      case 2:
        t.insert(i, 1, t[i]);
        break;  // doubled letter
      default:
        t[i] = static_cast<char>('a' + uniform(26));
        break;  // substitution
    }
    return t;
  }

  std::string date_typo(const std::string& d) {
    if (d.size() != 10) return d;
    std::string t = d;
    switch (uniform(3)) {
      case 0: {  // one digit of the month or day
        const std::size_t pos = uniform(2) == 0 ? 9 : 6;
        const auto digit = static_cast<std::size_t>(t[pos] - '0');
        t[pos] = static_cast<char>('0' + (digit + 1 + uniform(8)) % 10);
        break;
      }
      case 1:  // day digits transposed
        std::swap(t[8], t[9]);
        break;
      default:  // month and day exchanged (when the day can be a month)
        if (std::stoi(d.substr(8, 2)) <= 12)
          t = d.substr(0, 5) + d.substr(8, 2) + "-" + d.substr(5, 2);
        break;
    }
    return t;
  }

  /// A hospital's record of `r` (`g`: its k_given entry): names, dates, addresses with noise; no
  /// identifiers (the caller adds them).
  gm::patient_facts observe(const gm::member_record& r, std::size_t g) {
    gm::patient_facts p;
    p.family = r.family;
    p.given = r.given;
    const double roll = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    if (roll < 0.12) {
      std::vector<std::string_view> nicks;
      for (auto n : k_given[g].nicknames)
        if (!n.empty()) nicks.push_back(n);
      if (!nicks.empty()) p.given = std::string(nicks[uniform(nicks.size())]);
    } else if (roll < 0.16) {
      p.given = typo(p.given);
    } else if (roll < 0.18) {
      p.given = p.given.substr(0, 1);
    } else if (roll < 0.20) {
      p.given.clear();
    } else if (roll < 0.23) {
      p.given += " " + std::string(k_given[pick_given(k_given[g].male)].name);  // middle name
    }
    const double froll = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    if (froll < 0.04)
      p.family = typo(p.family);
    else if (froll < 0.06)
      p.family += "-" + std::string(pick_family());  // a double name
    else if (froll < 0.07)
      p.family.clear();
    if (chance(0.02)) std::swap(p.family, p.given);
    if (chance(0.2)) {
      for (char& c : p.family) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
      for (char& c : p.given) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    p.birth_date = chance(0.04) ? date_typo(r.birth_date) : chance(0.02) ? "" : r.birth_date;
    p.sex = chance(0.05) ? "unknown" : r.sex;
    p.postal_code = chance(0.12) ? postal() : chance(0.08) ? "" : r.postal_code;
    p.phone = chance(0.25) ? phone() : chance(0.2) ? "" : r.phone;
    return p;
  }

 private:
  static bool given_of_household_taken(const std::vector<gm::member_record>& out,
                                       std::string_view family, const std::string& zip,
                                       std::size_t g) {
    // Parents do not give two children one name; look at the household just written.
    for (std::size_t i = out.size(), seen = 0; i-- > 0 && seen < 8; ++seen)
      if (out[i].family == family && out[i].postal_code == zip && out[i].given == k_given[g].name)
        return true;
    return false;
  }

  std::mt19937_64 rng_;
};

}  // namespace carebridge::test::members
