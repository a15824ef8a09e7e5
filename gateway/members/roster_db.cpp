// roster_db: the member database (DATA_DIR/members.db, SQLite in WAL mode) and
// roster_snapshot::attributed_group.
//
// Every table of the roster is named roster_*; the schema is created in one place (roster_schema
// below) and versioned by the `schema` row of roster_meta (not PRAGMA user_version: other parts of
// the gateway keep their own tables in this file). roster_meta's `version` row is bumped in the
// same transaction as any change, so a poller's cheap `SELECT` sees a new value exactly when there
// is something new to load, whichever process wrote it.
//
// An import is a diff against the source's previous snapshot, held in roster_source_members: one
// row per (source, member) with a hash of the member's content (demographics + identifiers) and a
// hash of its attributions in that source as last imported. The batch (sorted by member id) is
// merge-joined with those rows (read in primary-key order), so only members whose hashes differ
// are read further or written, and the first import of a million members is a run of appends.
#include "gateway/members/roster.hpp"
#include "gateway/members/roster_detail.hpp"
#include "gateway/members/sqlite_util.hpp"
#include "gateway/obs/log.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <tuple>
#include <unordered_set>

namespace carebridge::gateway::members {

const physician_group* roster_snapshot::attributed_group(std::string_view member_id,
                                                         std::string_view date) const {
  const auto it = attributions.find(std::string(member_id));
  if (it == attributions.end()) return nullptr;
  const attribution* best = nullptr;
  for (const attribution& a : it->second) {
    if (date < a.period_start) continue;
    if (!a.period_end.empty() && date > a.period_end) continue;
    // Overlapping periods: the latest start wins; on a tie, the smaller group id (deterministic).
    if (best == nullptr || a.period_start > best->period_start ||
        (a.period_start == best->period_start && a.group_id < best->group_id))
      best = &a;
  }
  if (best == nullptr) return nullptr;
  const auto g = groups.find(best->group_id);
  return g == groups.end() ? nullptr : &g->second;
}

namespace {

using sqlite::exec;
using sqlite::fail;
using sqlite::stmt;
using sqlite::transaction;

constexpr std::int64_t roster_schema_version = 1;

// The whole roster schema. Other tables (the pipeline's, the alert endpoints of issue 6) belong to
// their owners; a group's endpoints go in a table of their own keyed by roster_groups.id.
constexpr const char* roster_schema = R"sql(
CREATE TABLE IF NOT EXISTS roster_meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
-- Physician groups: identity (plan-assigned id, name, NPI, TIN) and alert settings.
CREATE TABLE IF NOT EXISTS roster_groups(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  npi TEXT NOT NULL DEFAULT '',
  tin TEXT NOT NULL DEFAULT '',
  risk_threshold TEXT NOT NULL DEFAULT 'moderate' CHECK (risk_threshold IN ('low','moderate','high')),
  alert_events INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;
-- Members as last imported (dropped ones stay: events dated within their old periods).
CREATE TABLE IF NOT EXISTS roster_members(
  member_id TEXT PRIMARY KEY,
  family TEXT NOT NULL DEFAULT '',
  given TEXT NOT NULL DEFAULT '',
  birth_date TEXT NOT NULL DEFAULT '',
  sex TEXT NOT NULL DEFAULT '',
  postal_code TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  content_hash INTEGER NOT NULL,
  import_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roster_member_identifiers(
  member_id TEXT NOT NULL,
  system TEXT NOT NULL,
  value TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(member_id, system, value)
) WITHOUT ROWID;
-- Each source's latest snapshot: who it lists (dropped_on set once it stops listing them) and
-- hashes of what it said, for the next import's diff.
CREATE TABLE IF NOT EXISTS roster_source_members(
  source TEXT NOT NULL,
  member_id TEXT NOT NULL,
  content_hash INTEGER NOT NULL,
  attributions_hash INTEGER NOT NULL,
  dropped_on TEXT,
  PRIMARY KEY(source, member_id)
) WITHOUT ROWID;
-- Attributions, inclusive dates; period_end '' is open-ended.
CREATE TABLE IF NOT EXISTS roster_attributions(
  member_id TEXT NOT NULL,
  source TEXT NOT NULL,
  group_id TEXT NOT NULL,
  period_start TEXT NOT NULL,
  period_end TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(member_id, source, group_id, period_start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roster_imports(
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  source TEXT NOT NULL,
  format TEXT NOT NULL DEFAULT '',
  origin TEXT NOT NULL DEFAULT '',
  as_of TEXT NOT NULL,
  rows_read INTEGER NOT NULL,
  rows_skipped INTEGER NOT NULL,
  members_new INTEGER NOT NULL,
  members_changed INTEGER NOT NULL,
  members_unchanged INTEGER NOT NULL,
  members_dropped INTEGER NOT NULL,
  attributions_new INTEGER NOT NULL,
  attributions_changed INTEGER NOT NULL,
  attributions_ended INTEGER NOT NULL,
  groups_new INTEGER NOT NULL,
  version INTEGER NOT NULL
);
)sql";

std::string now_iso() {
  return obs::utc_seconds_text(
      static_cast<std::int64_t>(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}


std::int64_t member_hash(const member_record& m, std::vector<const identifier*>& ids) {
  detail::content_hash h;
  h.add(m.family).add(m.given).add(m.birth_date).add(m.sex).add(m.postal_code).add(m.phone);
  for (const identifier* i : ids) h.add(i->system).add(i->value).add(i->type);
  return h.value();
}

// A member's identifiers sorted by (system, value), duplicates of that key dropped.
void sorted_identifiers(const member_record& m, std::vector<const identifier*>& out) {
  out.clear();
  for (const auto& i : m.identifiers)
    if (!i.system.empty() && !i.value.empty()) out.push_back(&i);
  std::sort(out.begin(), out.end(), [](const identifier* a, const identifier* b) {
    return std::tie(a->system, a->value, a->type) < std::tie(b->system, b->value, b->type);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const identifier* a, const identifier* b) {
                          return a->system == b->system && a->value == b->value;
                        }),
            out.end());
}

struct period {
  std::string group_id, start, end;
};

// What one member's attributions in a source become.
struct attribution_diff {
  std::vector<period> insert;
  std::vector<period> update_end;  // (group, start) kept, end replaced
  std::vector<period> erase;       // (group, start)
  std::size_t added = 0, changed = 0, ended = 0;
};

bool ends_before(const period& p, std::string_view date) {
  return !p.end.empty() && p.end < date;
}

// Ends `old` the day before as_of (or erases it if it had not started by then), unless it ended
// before as_of already (then it is history and stays).
void end_period(const period& old, std::string_view as_of, std::string_view day_before,
                attribution_diff& d) {
  if (ends_before(old, as_of)) return;
  ++d.ended;
  if (old.start > day_before)
    d.erase.push_back(old);
  else
    d.update_end.push_back({old.group_id, old.start, std::string(day_before)});
}

// `now`: the batch's periods of the member (sorted by group, start; one per (group, start));
// `old`: what the database holds for it in this source.
attribution_diff diff_attributions(std::vector<period> old, const std::vector<period>& now,
                                   std::string_view as_of, std::string_view day_before) {
  attribution_diff d;
  std::vector<const period*> fresh;
  for (const period& n : now) {
    auto same = std::find_if(old.begin(), old.end(), [&](const period& o) {
      return o.group_id == n.group_id && o.start == n.start;
    });
    if (same == old.end()) {
      fresh.push_back(&n);
      continue;
    }
    if (same->end != n.end) {
      ++d.changed;
      d.update_end.push_back(n);
    }
    old.erase(same);
  }
  // A period of the same group that moved its start: one change, not an end and a start. History
  // (periods that ended before as_of) is never paired.
  for (const period* n : fresh) {
    auto moved = std::find_if(old.begin(), old.end(), [&](const period& o) {
      return o.group_id == n->group_id && !ends_before(o, as_of);
    });
    if (moved != old.end()) {
      ++d.changed;
      d.erase.push_back(*moved);
      d.insert.push_back(*n);
      old.erase(moved);
    } else {
      ++d.added;
      d.insert.push_back(*n);
    }
  }
  for (const period& o : old) end_period(o, as_of, day_before, d);
  return d;
}

class sqlite_roster_db final : public roster_db {
 public:
  explicit sqlite_roster_db(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + file.string() + ": " + msg);
    }
    try {
      // An import holds the write lock for seconds: other writers wait rather than fail.
      sqlite3_busy_timeout(db_, 60000);
      exec(db_, "PRAGMA journal_mode=WAL");
      exec(db_, "PRAGMA synchronous=NORMAL");
      exec(db_, "PRAGMA cache_size=-65536");  // KiB
      exec(db_, "PRAGMA journal_size_limit=67108864");
      create_schema();
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~sqlite_roster_db() override { sqlite3_close(db_); }

  import_summary apply(const roster_batch& batch, std::string_view source,
                       std::string_view as_of) override {
    return run(batch, source, as_of, true);
  }
  import_summary plan(const roster_batch& batch, std::string_view source,
                      std::string_view as_of) override {
    return run(batch, source, as_of, false);
  }

  std::int64_t version() override {
    stmt q(db_, "SELECT value FROM roster_meta WHERE key = 'version'");
    return q.row() ? q.column_int(0) : 0;
  }

  std::shared_ptr<const roster_snapshot> load() override;
  std::vector<physician_group> groups() override;
  std::optional<physician_group> group(std::string_view id) override;
  void put_group(const physician_group& g) override;
  roster_stats stats(std::string_view date, std::size_t imports) override;

 private:
  void create_schema() {
    transaction t(db_, true);
    exec(db_, roster_schema);
    stmt q(db_, "SELECT value FROM roster_meta WHERE key = 'schema'");
    if (q.row()) {
      if (q.column_int(0) > roster_schema_version)
        throw std::runtime_error("members.db: written by a newer CareBridge (roster schema " +
                                 std::to_string(q.column_int(0)) + ")");
      // Migrations from older roster schemas go here.
    } else {
      q.reset();
      stmt ins(db_, "INSERT INTO roster_meta(key, value) VALUES ('schema', ?1), ('version', 0)");
      ins.int64(1, roster_schema_version).run();
    }
    q.reset();
    t.commit();
  }

  std::int64_t bump_version() {
    stmt up(db_, "UPDATE roster_meta SET value = value + 1 WHERE key = 'version' RETURNING value");
    const std::int64_t v = up.row() ? up.column_int(0) : 0;
    up.reset();
    return v;
  }

  std::vector<period> source_periods(stmt& q, std::string_view member_id, std::string_view source) {
    std::vector<period> out;
    q.text(1, member_id).text(2, source);
    while (q.row())
      out.push_back({std::string(q.column(0)), std::string(q.column(1)), std::string(q.column(2))});
    q.reset();
    return out;
  }

  import_summary run(const roster_batch& batch, std::string_view source, std::string_view as_of,
                     bool write);

  sqlite3* db_ = nullptr;
};

import_summary sqlite_roster_db::run(const roster_batch& batch, std::string_view source,
                                     std::string_view as_of, bool write) {
  if (source.empty()) source = "default";
  const std::string as_of_text = as_of.empty() ? detail::today_utc() : std::string(as_of);
  if (!is_valid_date(as_of_text)) throw std::invalid_argument("as_of is not a YYYY-MM-DD date");
  const std::string day_before = detail::day_before(as_of_text);
  const std::string started = now_iso();

  // The batch in member-id order, one record per id (the readers give that; others may not).
  std::vector<const member_record*> members;
  members.reserve(batch.members.size());
  for (const auto& m : batch.members)
    if (!m.member_id.empty()) members.push_back(&m);
  const auto by_id = [](const member_record* a, const member_record* b) {
    return a->member_id < b->member_id;
  };
  if (!std::is_sorted(members.begin(), members.end(), by_id))
    std::stable_sort(members.begin(), members.end(), by_id);
  members.erase(std::unique(members.begin(), members.end(),
                            [](const member_record* a, const member_record* b) {
                              return a->member_id == b->member_id;
                            }),
                members.end());
  // Attributions grouped per member, one per (group, start): a repeated period takes the later
  // end (open beats any date).
  std::vector<const attribution*> attrs;
  attrs.reserve(batch.attributions.size());
  for (const auto& a : batch.attributions)
    if (!a.group_id.empty() && is_valid_date(a.period_start)) attrs.push_back(&a);
  const auto attr_less = [](const attribution* a, const attribution* b) {
    return std::tie(a->member_id, a->group_id, a->period_start) <
           std::tie(b->member_id, b->group_id, b->period_start);
  };
  if (!std::is_sorted(attrs.begin(), attrs.end(), attr_less))
    std::stable_sort(attrs.begin(), attrs.end(), attr_less);
  std::vector<period> periods;  // parallel to `members`, ranges in period_at
  std::vector<std::pair<std::uint32_t, std::uint32_t>> period_at(members.size(), {0, 0});
  periods.reserve(attrs.size());
  {
    std::size_t ai = 0;
    for (std::size_t mi = 0; mi < members.size(); ++mi) {
      const std::string& id = members[mi]->member_id;
      while (ai < attrs.size() && attrs[ai]->member_id < id) ++ai;  // no such member: ignored
      const auto begin = static_cast<std::uint32_t>(periods.size());
      for (; ai < attrs.size() && attrs[ai]->member_id == id; ++ai) {
        const attribution& a = *attrs[ai];
        if (periods.size() > begin && periods.back().group_id == a.group_id &&
            periods.back().start == a.period_start) {
          period& p = periods.back();
          if (!p.end.empty() && (a.period_end.empty() || a.period_end > p.end))
            p.end = a.period_end;
          continue;
        }
        periods.push_back({a.group_id, a.period_start, a.period_end});
      }
      period_at[mi] = {begin, static_cast<std::uint32_t>(periods.size())};
    }
  }
  std::vector<std::string_view> skipped_ids(batch.skipped_member_ids.begin(),
                                            batch.skipped_member_ids.end());
  if (!std::is_sorted(skipped_ids.begin(), skipped_ids.end()))
    std::sort(skipped_ids.begin(), skipped_ids.end());
  const auto skipped = [&](std::string_view id) {
    return std::binary_search(skipped_ids.begin(), skipped_ids.end(), id);
  };

  transaction tx(db_, write);
  import_summary sum;
  sum.rows_skipped = batch.rows_skipped;

  // Phase 1, reads: the merge-join with the source's snapshot.
  enum op_kind : std::uint8_t { op_new, op_readded, op_changed, op_unchanged };
  struct op {
    std::uint32_t member;
    op_kind kind;
    bool attributions_differ;
    std::int64_t content, attrs;
  };
  std::vector<op> ops;
  ops.reserve(members.size());
  std::vector<std::string> dropped;
  std::vector<const identifier*> ids;
  {
    stmt scan(db_,
              "SELECT member_id, content_hash, attributions_hash, dropped_on IS NOT NULL "
              "FROM roster_source_members WHERE source = ?1 ORDER BY member_id");
    scan.text(1, source);
    bool more = scan.row();
    for (std::uint32_t mi = 0; mi < members.size(); ++mi) {
      const member_record& m = *members[mi];
      while (more && scan.column(0) < m.member_id) {
        if (scan.column_int(3) == 0 && !skipped(scan.column(0)))
          dropped.emplace_back(scan.column(0));
        more = scan.row();
      }
      sorted_identifiers(m, ids);
      const std::int64_t content = member_hash(m, ids);
      detail::content_hash ah;
      for (std::uint32_t p = period_at[mi].first; p < period_at[mi].second; ++p)
        ah.add(periods[p].group_id).add(periods[p].start).add(periods[p].end);
      const std::int64_t attrs_hash = ah.value();
      if (more && scan.column(0) == m.member_id) {
        const bool was_dropped = scan.column_int(3) != 0;
        const op_kind kind = was_dropped                     ? op_readded
                             : scan.column_int(1) != content ? op_changed
                                                             : op_unchanged;
        ops.push_back(
            {mi, kind, was_dropped || scan.column_int(2) != attrs_hash, content, attrs_hash});
        more = scan.row();
      } else {
        ops.push_back({mi, op_new, true, content, attrs_hash});
      }
    }
    for (; more; more = scan.row())
      if (scan.column_int(3) == 0 && !skipped(scan.column(0))) dropped.emplace_back(scan.column(0));
  }

  // The attribution changes of members that were in the source before.
  stmt periods_of(db_,
                  "SELECT group_id, period_start, period_end FROM roster_attributions "
                  "WHERE member_id = ?1 AND source = ?2");
  struct member_diff {
    std::uint32_t op;
    attribution_diff diff;
  };
  std::vector<member_diff> diffs;
  for (std::uint32_t oi = 0; oi < ops.size(); ++oi) {
    op& o = ops[oi];
    switch (o.kind) {
      case op_new:
        ++sum.members_new;
        break;
      case op_readded:
        ++sum.members_new;
        break;
      case op_changed:
        ++sum.members_changed;
        break;
      case op_unchanged:
        ++sum.members_unchanged;
        break;
    }
    const auto [pb, pe] = period_at[o.member];
    if (o.kind == op_new) {  // nothing of this source to compare with
      sum.attributions_new += pe - pb;
      continue;
    }
    if (!o.attributions_differ) continue;
    std::vector<period> now(periods.begin() + pb, periods.begin() + pe);
    auto d = diff_attributions(source_periods(periods_of, members[o.member]->member_id, source),
                               now, as_of_text, day_before);
    sum.attributions_new += d.added;
    sum.attributions_changed += d.changed;
    sum.attributions_ended += d.ended;
    diffs.push_back({oi, std::move(d)});
  }
  std::vector<std::pair<std::string, attribution_diff>> dropped_diffs;
  for (const std::string& id : dropped) {
    ++sum.members_dropped;
    attribution_diff d;
    for (const period& p : source_periods(periods_of, id, source))
      end_period(p, as_of_text, day_before, d);
    sum.attributions_ended += d.ended;
    dropped_diffs.emplace_back(id, std::move(d));
  }

  // Groups: new ones, and those whose name/NPI/TIN the batch changes (an empty value changes
  // nothing).
  std::vector<physician_group> new_groups, changed_groups;
  {
    std::vector<physician_group> named;
    std::unordered_set<std::string_view> seen;
    for (const auto& g : batch.groups)
      if (!g.id.empty() && seen.insert(g.id).second) named.push_back(g);
    for (const period& p : periods)  // groups a hand-made batch names only in its periods
      if (seen.insert(p.group_id).second) {
        physician_group g;
        g.id = p.group_id;
        named.push_back(std::move(g));
      }
    stmt q(db_, "SELECT name, npi, tin FROM roster_groups WHERE id = ?1");
    for (const auto& g : named) {
      q.text(1, g.id);
      if (!q.row()) {
        ++sum.groups_new;
        new_groups.push_back(g);
      } else if ((!g.name.empty() && g.name != q.column(0)) ||
                 (!g.npi.empty() && g.npi != q.column(1)) ||
                 (!g.tin.empty() && g.tin != q.column(2))) {
        changed_groups.push_back(g);
      }
      q.reset();
    }
  }

  const bool changes = sum.members_new + sum.members_changed + sum.members_dropped +
                           sum.attributions_new + sum.attributions_changed +
                           sum.attributions_ended + sum.groups_new + changed_groups.size() >
                       0;
  if (!write) {
    sum.version = version() + (changes ? 1 : 0);
    return sum;
  }

  // Phase 2, writes.
  {
    const std::string now = now_iso();
    stmt ins_group(db_,
                   "INSERT INTO roster_groups(id, name, npi, tin, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
    for (const auto& g : new_groups)
      ins_group.text(1, g.id).text(2, g.name).text(3, g.npi).text(4, g.tin).text(5, now).run();
    stmt up_group(db_,
                  "UPDATE roster_groups SET name = iif(?2 = '', name, ?2), npi = iif(?3 = '', npi, "
                  "?3), tin = iif(?4 = '', tin, ?4), updated_at = ?5 WHERE id = ?1");
    for (const auto& g : changed_groups)
      up_group.text(1, g.id).text(2, g.name).text(3, g.npi).text(4, g.tin).text(5, now).run();
  }
  std::int64_t import_id = 0;
  {
    stmt q(db_, "SELECT coalesce(max(id), 0) + 1 FROM roster_imports");
    if (q.row()) import_id = q.column_int(0);
  }
  bool roster_empty = true;
  {
    stmt q(db_, "SELECT EXISTS(SELECT 1 FROM roster_members)");
    roster_empty = q.row() && q.column_int(0) == 0;
  }
  stmt existing(db_, "SELECT content_hash FROM roster_members WHERE member_id = ?1");
  stmt ins_member(db_,
                  "INSERT INTO roster_members(member_id, family, given, birth_date, sex, "
                  "postal_code, phone, content_hash, import_id) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                  "ON CONFLICT(member_id) DO UPDATE SET family = excluded.family, "
                  "given = excluded.given, birth_date = excluded.birth_date, sex = excluded.sex, "
                  "postal_code = excluded.postal_code, phone = excluded.phone, "
                  "content_hash = excluded.content_hash, import_id = excluded.import_id");
  stmt del_ids(db_, "DELETE FROM roster_member_identifiers WHERE member_id = ?1");
  stmt ins_id(db_,
              "INSERT INTO roster_member_identifiers(member_id, system, value, type) "
              "VALUES (?1, ?2, ?3, ?4)");
  stmt put_source(db_,
                  "INSERT INTO roster_source_members(source, member_id, content_hash, "
                  "attributions_hash, dropped_on) VALUES (?1, ?2, ?3, ?4, NULL) "
                  "ON CONFLICT(source, member_id) DO UPDATE SET content_hash = "
                  "excluded.content_hash, attributions_hash = excluded.attributions_hash, "
                  "dropped_on = NULL");
  stmt ins_period(db_,
                  "INSERT INTO roster_attributions(member_id, source, group_id, period_start, "
                  "period_end) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET "
                  "period_end = excluded.period_end");
  stmt up_period(db_,
                 "UPDATE roster_attributions SET period_end = ?5 WHERE member_id = ?1 AND "
                 "source = ?2 AND group_id = ?3 AND period_start = ?4");
  stmt del_period(db_,
                  "DELETE FROM roster_attributions WHERE member_id = ?1 AND source = ?2 AND "
                  "group_id = ?3 AND period_start = ?4");
  const auto write_diff = [&](std::string_view member_id, const attribution_diff& d) {
    for (const auto& p : d.erase)
      del_period.text(1, member_id).text(2, source).text(3, p.group_id).text(4, p.start).run();
    for (const auto& p : d.update_end)
      up_period.text(1, member_id)
          .text(2, source)
          .text(3, p.group_id)
          .text(4, p.start)
          .text(5, p.end)
          .run();
    for (const auto& p : d.insert)
      ins_period.text(1, member_id)
          .text(2, source)
          .text(3, p.group_id)
          .text(4, p.start)
          .text(5, p.end)
          .run();
  };

  std::size_t next_diff = 0;
  for (std::uint32_t oi = 0; oi < ops.size(); ++oi) {
    const op& o = ops[oi];
    const member_record& m = *members[o.member];
    if (o.kind != op_unchanged) {
      bool write_member = true, had_row = false;
      if (o.kind != op_changed && !roster_empty) {  // it may be there from another source
        existing.text(1, m.member_id);
        if (existing.row()) {
          had_row = true;
          write_member = existing.column_int(0) != o.content;
        }
        existing.reset();
      } else if (o.kind == op_changed) {
        had_row = true;
      }
      if (write_member) {
        ins_member.text(1, m.member_id)
            .text(2, m.family)
            .text(3, m.given)
            .text(4, m.birth_date)
            .text(5, m.sex)
            .text(6, m.postal_code)
            .text(7, m.phone)
            .int64(8, o.content)
            .int64(9, import_id)
            .run();
        if (had_row) del_ids.text(1, m.member_id).run();
        sorted_identifiers(m, ids);
        for (const identifier* i : ids)
          ins_id.text(1, m.member_id).text(2, i->system).text(3, i->value).text(4, i->type).run();
      }
    }
    if (o.kind != op_unchanged || o.attributions_differ)
      put_source.text(1, source).text(2, m.member_id).int64(3, o.content).int64(4, o.attrs).run();
    if (o.kind == op_new) {
      for (std::uint32_t p = period_at[o.member].first; p < period_at[o.member].second; ++p)
        ins_period.text(1, m.member_id)
            .text(2, source)
            .text(3, periods[p].group_id)
            .text(4, periods[p].start)
            .text(5, periods[p].end)
            .run();
    } else if (next_diff < diffs.size() && diffs[next_diff].op == oi) {
      write_diff(m.member_id, diffs[next_diff].diff);
      ++next_diff;
    }
  }
  {
    stmt drop(
        db_,
        "UPDATE roster_source_members SET dropped_on = ?3 WHERE source = ?1 AND member_id = ?2");
    for (const auto& [id, d] : dropped_diffs) {
      drop.text(1, source).text(2, id).text(3, as_of_text).run();
      write_diff(id, d);
    }
  }
  sum.version = changes ? bump_version() : version();
  {
    stmt log(db_,
             "INSERT INTO roster_imports(id, started_at, finished_at, source, format, origin, "
             "as_of, rows_read, rows_skipped, members_new, members_changed, members_unchanged, "
             "members_dropped, attributions_new, attributions_changed, attributions_ended, "
             "groups_new, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
             "?13, ?14, ?15, ?16, ?17, ?18)");
    const std::string finished = now_iso();
    const auto n = [](std::size_t v) { return static_cast<std::int64_t>(v); };
    log.int64(1, import_id)
        .text(2, started)
        .text(3, finished)
        .text(4, source)
        .text(5, batch.format)
        .text(6, batch.origin)
        .text(7, as_of_text)
        .int64(8, n(batch.rows_read))
        .int64(9, n(batch.rows_skipped))
        .int64(10, n(sum.members_new))
        .int64(11, n(sum.members_changed))
        .int64(12, n(sum.members_unchanged))
        .int64(13, n(sum.members_dropped))
        .int64(14, n(sum.attributions_new))
        .int64(15, n(sum.attributions_changed))
        .int64(16, n(sum.attributions_ended))
        .int64(17, n(sum.groups_new))
        .int64(18, sum.version)
        .run();
  }
  tx.commit();
  return sum;
}

physician_group read_group_row(const stmt& q) {
  physician_group g;
  g.id = std::string(q.column(0));
  g.name = std::string(q.column(1));
  g.npi = std::string(q.column(2));
  g.tin = std::string(q.column(3));
  g.risk_threshold = std::string(q.column(4));
  g.alert_events = static_cast<std::uint8_t>(q.column_int(5));
  return g;
}

constexpr const char* group_columns =
    "SELECT id, name, npi, tin, risk_threshold, alert_events FROM roster_groups";

std::shared_ptr<const roster_snapshot> sqlite_roster_db::load() {
  auto snap = std::make_shared<roster_snapshot>();
  std::vector<member_record> members;
  {
    transaction tx(db_, false);  // one read snapshot for every table
    snap->version = version();
    {
      stmt q(db_, "SELECT count(*) FROM roster_members");
      if (q.row()) members.reserve(static_cast<std::size_t>(q.column_int(0)));
    }
    {
      stmt q(db_,
             "SELECT member_id, family, given, birth_date, sex, postal_code, phone "
             "FROM roster_members ORDER BY member_id");
      while (q.row()) {
        member_record& m = members.emplace_back();
        m.member_id = std::string(q.column(0));
        m.family = std::string(q.column(1));
        m.given = std::string(q.column(2));
        m.birth_date = std::string(q.column(3));
        m.sex = std::string(q.column(4));
        m.postal_code = std::string(q.column(5));
        m.phone = std::string(q.column(6));
      }
    }
    {
      // Both in member-id order: a merge.
      stmt q(db_,
             "SELECT member_id, system, value, type FROM roster_member_identifiers "
             "ORDER BY member_id");
      std::size_t mi = 0;
      while (q.row()) {
        const std::string_view id = q.column(0);
        while (mi < members.size() && members[mi].member_id < id) ++mi;
        if (mi == members.size() || members[mi].member_id != id) continue;
        members[mi].identifiers.push_back(
            {std::string(q.column(1)), std::string(q.column(2)), std::string(q.column(3))});
      }
    }
    {
      stmt q(db_,
             "SELECT member_id, group_id, period_start, period_end FROM roster_attributions "
             "ORDER BY member_id");
      snap->attributions.reserve(members.size());
      std::vector<attribution>* current = nullptr;
      std::string_view current_id;
      while (q.row()) {
        const std::string_view id = q.column(0);
        if (current == nullptr || id != current_id) {
          current = &snap->attributions[std::string(id)];
          current_id = snap->attributions.find(std::string(id))->first;
        }
        current->push_back({std::string(id), std::string(q.column(1)), std::string(q.column(2)),
                            std::string(q.column(3))});
      }
    }
    {
      stmt q(db_, group_columns);
      while (q.row()) {
        physician_group g = read_group_row(q);
        std::string id = g.id;
        snap->groups.emplace(std::move(id), std::move(g));
      }
    }
    tx.commit();
  }
  snap->index = std::make_unique<roster_index>(std::move(members));
  return snap;
}

std::vector<physician_group> sqlite_roster_db::groups() {
  std::vector<physician_group> out;
  stmt q(db_, (std::string(group_columns) + " ORDER BY id").c_str());
  while (q.row()) out.push_back(read_group_row(q));
  return out;
}

std::optional<physician_group> sqlite_roster_db::group(std::string_view id) {
  stmt q(db_, (std::string(group_columns) + " WHERE id = ?1").c_str());
  q.text(1, id);
  if (!q.row()) return std::nullopt;
  return read_group_row(q);
}

void sqlite_roster_db::put_group(const physician_group& g) {
  if (g.id.empty()) throw std::invalid_argument("group id is empty");
  if (!is_valid_risk_threshold(g.risk_threshold))
    throw std::invalid_argument("risk threshold is not low, moderate or high");
  if (!g.npi.empty() && !is_valid_npi(g.npi)) throw std::invalid_argument("NPI is not valid");
  if (!g.tin.empty() && !is_valid_tin(g.tin)) throw std::invalid_argument("TIN is not 9 digits");
  if ((g.alert_events & ~(alert_discharge | alert_ed_visit | alert_admission)) != 0)
    throw std::invalid_argument("unknown alert event");
  transaction tx(db_, true);
  const std::string now = now_iso();
  stmt q(db_,
         "INSERT INTO roster_groups(id, name, npi, tin, risk_threshold, alert_events, created_at, "
         "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(id) DO UPDATE SET "
         "name = excluded.name, npi = excluded.npi, tin = excluded.tin, "
         "risk_threshold = excluded.risk_threshold, alert_events = excluded.alert_events, "
         "updated_at = excluded.updated_at");
  q.text(1, g.id)
      .text(2, g.name)
      .text(3, g.npi)
      .text(4, g.tin)
      .text(5, g.risk_threshold)
      .int64(6, g.alert_events)
      .text(7, now)
      .run();
  bump_version();
  tx.commit();
}

roster_stats sqlite_roster_db::stats(std::string_view date, std::size_t imports) {
  roster_stats s;
  transaction tx(db_, false);
  s.version = version();
  const auto count = [&](const char* sql, bool bind_date = false) -> std::size_t {
    stmt q(db_, sql);
    if (bind_date) q.text(1, date);
    return q.row() ? static_cast<std::size_t>(q.column_int(0)) : 0;
  };
  s.members = count("SELECT count(*) FROM roster_members");
  s.members_current =
      count("SELECT count(DISTINCT member_id) FROM roster_source_members WHERE dropped_on IS NULL");
  s.attributions_active = count(
      "SELECT count(*) FROM roster_attributions WHERE period_start <= ?1 AND "
      "(period_end = '' OR period_end >= ?1)",
      true);
  s.groups = count("SELECT count(*) FROM roster_groups");
  stmt q(db_,
         "SELECT finished_at, source, origin, as_of, rows_read, rows_skipped, members_new, "
         "members_changed, members_dropped FROM roster_imports ORDER BY id DESC LIMIT ?1");
  q.int64(1, static_cast<std::int64_t>(imports));
  while (q.row()) {
    roster_stats::import_run r;
    r.finished_at = std::string(q.column(0));
    r.source = std::string(q.column(1));
    r.origin = std::string(q.column(2));
    r.as_of = std::string(q.column(3));
    r.rows_read = static_cast<std::size_t>(q.column_int(4));
    r.rows_skipped = static_cast<std::size_t>(q.column_int(5));
    r.members_new = static_cast<std::size_t>(q.column_int(6));
    r.members_changed = static_cast<std::size_t>(q.column_int(7));
    r.members_dropped = static_cast<std::size_t>(q.column_int(8));
    s.last_imports.push_back(std::move(r));
  }
  q.reset();
  tx.commit();
  return s;
}

}  // namespace

std::unique_ptr<roster_db> roster_db::open(const std::filesystem::path& file) {
  std::filesystem::path f = file;
  std::error_code ec;
  if (std::filesystem::is_directory(f, ec)) f /= "members.db";
  if (f.has_parent_path()) {
    std::filesystem::create_directories(f.parent_path(), ec);
    if (ec)
      throw std::runtime_error("cannot create " + f.parent_path().string() + ": " + ec.message());
  }
  return std::make_unique<sqlite_roster_db>(f);
}

}  // namespace carebridge::gateway::members
