#include "gateway/store/message_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace carebridge::gateway::store {

namespace {

// Record layout (little-endian): a 16-byte header — magic, payload length, CRC32C of the payload,
// zero — then the payload: id, received_at_us (8 bytes each), state (1 byte), and ten
// length-prefixed (4 bytes) strings: sending application, sending facility, control id, message
// type, sender, peer, reason, ACK code, ACK, raw message.
constexpr std::uint32_t record_magic = 0x314C4243;  // "CBL1"
constexpr std::size_t header_bytes = 16;
constexpr std::uint32_t max_payload = 1u << 30;
constexpr const char* segment_suffix = ".cblog";

// --- CRC32C --------------------------------------------------------------------------------------

std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

std::uint32_t crc32c_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  static const auto table = make_table();
  crc = ~crc;
  while (n-- > 0) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc,
                                                             const unsigned char* p,
                                                             std::size_t n) noexcept {
  std::uint64_t c = ~crc;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#endif

// --- encoding ------------------------------------------------------------------------------------

void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian hosts only (x86-64, aarch64)
  out.append(b, 4);
}
void put_i64(std::string& out, std::int64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

class reader {
 public:
  explicit reader(std::string_view data) : d_(data) {}
  bool u8(std::uint8_t& v) {
    if (d_.size() < 1) return false;
    v = static_cast<std::uint8_t>(d_[0]);
    d_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (d_.size() < 4) return false;
    std::memcpy(&v, d_.data(), 4);
    d_.remove_prefix(4);
    return true;
  }
  bool i64(std::int64_t& v) {
    if (d_.size() < 8) return false;
    std::memcpy(&v, d_.data(), 8);
    d_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || d_.size() < n) return false;
    s.assign(d_.data(), n);
    d_.remove_prefix(n);
    return true;
  }
  bool done() const { return d_.empty(); }

 private:
  std::string_view d_;
};

std::optional<logged_record> decode(std::string_view payload) {
  reader r(payload);
  logged_record out;
  std::uint8_t state = 0;
  inbound_record& rec = out.record;
  if (!r.i64(out.id) || !r.i64(rec.received_at_us) || !r.u8(state) ||
      !r.str(rec.sending_application) || !r.str(rec.sending_facility) || !r.str(rec.control_id) ||
      !r.str(rec.message_type) || !r.str(rec.sender) || !r.str(rec.peer) || !r.str(rec.reason) ||
      !r.str(rec.ack_code) || !r.str(rec.ack) || !r.str(rec.raw) || !r.done() || state > 3)
    return std::nullopt;
  rec.state = static_cast<message_state>(state);
  return out;
}

struct header {
  std::uint32_t magic = 0, length = 0, crc = 0;
};

// decode() without copies: views into `payload`.
bool decode_view(std::string_view payload, record_view& out) {
  auto i64 = [&](std::int64_t& v) {
    if (payload.size() < 8) return false;
    std::memcpy(&v, payload.data(), 8);
    payload.remove_prefix(8);
    return true;
  };
  auto str = [&](std::string_view& v) {
    std::uint32_t n = 0;
    if (payload.size() < 4) return false;
    std::memcpy(&n, payload.data(), 4);
    payload.remove_prefix(4);
    if (payload.size() < n) return false;
    v = payload.substr(0, n);
    payload.remove_prefix(n);
    return true;
  };
  if (!i64(out.id) || !i64(out.received_at_us) || payload.empty()) return false;
  const auto state = static_cast<std::uint8_t>(payload[0]);
  payload.remove_prefix(1);
  if (state > 3) return false;
  out.state = static_cast<message_state>(state);
  return str(out.sending_application) && str(out.sending_facility) && str(out.control_id) &&
         str(out.message_type) && str(out.sender) && str(out.peer) && str(out.reason) &&
         str(out.ack_code) && str(out.ack) && str(out.raw) && payload.empty();
}

header parse_header(const char* p) {
  header h;
  std::memcpy(&h.magic, p, 4);
  std::memcpy(&h.length, p + 4, 4);
  std::memcpy(&h.crc, p + 8, 4);
  return h;
}

bool pread_all(int fd, char* buf, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buf += got;
    n -= static_cast<std::size_t>(got);
    off += static_cast<std::uint64_t>(got);
  }
  return true;
}

bool pwrite_all(int fd, const char* buf, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t put = ::pwrite(fd, buf, n, static_cast<off_t>(off));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    buf += put;
    n -= static_cast<std::size_t>(put);
    off += static_cast<std::uint64_t>(put);
  }
  return true;
}

std::system_error sys_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

void sync_dir(const std::filesystem::path& dir) {
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) throw sys_error("cannot open " + dir.string());
  const int rc = ::fsync(d);
  ::close(d);
  if (rc != 0) throw sys_error("cannot sync " + dir.string());
}

// Segment numbers present in `dir`, in order.
std::vector<std::uint32_t> list_segments(const std::filesystem::path& dir) {
  std::vector<std::uint32_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 8 + std::strlen(segment_suffix) || !name.ends_with(segment_suffix)) continue;
    std::uint32_t n = 0;
    bool digits = true;
    for (std::size_t i = 0; i < 8; ++i) {
      if (name[i] < '0' || name[i] > '9') digits = false;
      n = n * 10 + static_cast<std::uint32_t>(name[i] - '0');
    }
    if (digits && n > 0) out.push_back(n);
  }
  if (ec) throw std::runtime_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Walks the records of one segment file from `offset`: calls f(offset, payload) for each valid
// one and returns where the valid records end.
template <typename F>
std::uint64_t walk_segment(int fd, std::uint64_t offset, F&& f) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw sys_error("cannot stat a log segment");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string buf;
  char head[header_bytes];
  while (offset + header_bytes <= size) {
    if (!pread_all(fd, head, header_bytes, offset)) break;
    const header h = parse_header(head);
    if (h.magic != record_magic || h.length > max_payload ||
        offset + header_bytes + h.length > size)
      break;
    buf.resize(h.length);
    if (!pread_all(fd, buf.data(), h.length, offset + header_bytes)) break;
    if (crc32c(0, buf.data(), buf.size()) != h.crc) break;
    f(offset, std::string_view(buf));
    offset += header_bytes + h.length;
  }
  return offset;
}

}  // namespace

// Whether bytes [from, to) of a file are all zero.
static bool all_zero(int fd, std::uint64_t from, std::uint64_t to) {
  std::vector<char> buf(std::size_t{1} << 20);
  while (from < to) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), to - from));
    if (!pread_all(fd, buf.data(), n, from)) return false;
    if (std::any_of(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n),
                    [](char c) { return c != 0; }))
      return false;
    from += n;
  }
  return true;
}

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return crc32c_sse42(crc, p, size);
#endif
  return crc32c_portable(crc, p, size);
}

std::filesystem::path message_log::segment_path(std::uint32_t segment) const {
  char name[32];
  std::snprintf(name, sizeof name, "%08u%s", segment, segment_suffix);
  return dir_ / name;
}

std::unique_ptr<message_log> message_log::open(const std::filesystem::path& dir, bool create,
                                               std::uint64_t segment_bytes) {
  std::unique_ptr<message_log> log(new message_log());
  log->dir_ = dir;
  log->segment_bytes_ = segment_bytes;
  std::error_code ec;
  if (create) {
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  } else if (!std::filesystem::is_directory(dir)) {
    return log;  // a read-only store from before the log: every body is in SQLite
  }
  const auto segments = list_segments(dir);
  if (segments.empty()) {
    if (create) {
      log->start_segment(1);
      sync_dir(dir.parent_path());  // the log directory itself
    }
    return log;
  }
  if (!create) return log;
  const std::uint32_t last = segments.back();
  const int fd = ::open(log->segment_path(last).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw sys_error("cannot open " + log->segment_path(last).string());
  log->fd_ = fd;
  log->segment_ = last;
  // A crash during a write can leave a torn record at the end of the last segment: it was never
  // acknowledged (the ACK follows the fdatasync). Zeros after the records are the preallocated
  // room; anything else is that torn end.
  log->end_ = walk_segment(fd, 0, [](std::uint64_t, std::string_view) {});
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw sys_error("cannot stat " + log->segment_path(last).string());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size != log->end_ && !all_zero(fd, log->end_, size)) {
    log->torn_ = size - log->end_;  // cut by cut_torn_tail(), once the caller agrees
    log->allocated_ = log->end_.load();
  } else {
    log->allocated_ = size;
  }
  log->filled_ = log->allocated_;
  return log;
}

message_log::~message_log() {
  if (fd_ >= 0) ::close(fd_);
  for (const auto& [seg, fd] : read_fds_) ::close(fd);
}

void message_log::start_segment(std::uint32_t segment) {
  const auto path = segment_path(segment);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw sys_error("cannot create " + path.string());
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segment_ = segment;
  end_ = 0;
  allocated_ = 0;
  filled_ = 0;
  sync_dir(dir_);  // the new file's name must survive a crash before any record in it counts
}

std::int64_t message_log::next_position() const {
  return make_position(segment_, end_ + batch_.size());
}

std::int64_t message_log::append(std::int64_t id, const inbound_record& r) {
  const std::int64_t pos = next_position();
  const std::size_t at = batch_.size();
  batch_.append(header_bytes, '\0');
  put_i64(batch_, id);
  put_i64(batch_, r.received_at_us);
  batch_.push_back(static_cast<char>(r.state));
  for (const std::string* s :
       {&r.sending_application, &r.sending_facility, &r.control_id, &r.message_type, &r.sender,
        &r.peer, &r.reason, &r.ack_code, &r.ack, &r.raw})
    put_str(batch_, *s);
  const std::size_t payload = batch_.size() - at - header_bytes;
  const std::uint32_t h[4] = {record_magic, static_cast<std::uint32_t>(payload),
                              crc32c(0, batch_.data() + at + header_bytes, payload), 0};
  std::memcpy(batch_.data() + at, h, header_bytes);
  return pos;
}

bool message_log::flush(bool sync, std::error_code& ec, int injected_errno) {
  if (batch_.empty()) return true;
  const std::uint64_t start = end_;
  const std::uint64_t stop = start + batch_.size();
  // Past the synced zero-filled room (the helper is behind): grow the file, with the helper kept
  // out for as long as that takes (its zero-filling is short; its fdatasync is outside the lock).
  std::unique_lock<std::mutex> grow;
  if (stop > allocated_.load(std::memory_order_acquire)) grow = std::unique_lock(alloc_mu_);
  bool ok = pwrite_all(fd_, batch_.data(), batch_.size(), start);
  if (ok && sync) {
    ok = injected_errno == 0 && ::fdatasync(fd_) == 0;
    if (injected_errno != 0) errno = injected_errno;
  }
  if (!ok) {
    ec = std::error_code(errno, std::generic_category());
    // Nothing of this batch may count: overwrite it with zeros (what the kernel kept of it is
    // unknown), or cut the file there.
    static const std::string zeros(std::size_t{64} << 10, '\0');
    bool undone = true;
    for (std::uint64_t at = start; at < stop && undone; at += zeros.size())
      undone = pwrite_all(
          fd_, zeros.data(),
          static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), stop - at)), at);
    if (!undone && ::ftruncate(fd_, static_cast<off_t>(start)) == 0) {
      if (!grow.owns_lock()) grow = std::unique_lock(alloc_mu_);
      allocated_ = filled_ = start;
    }
    (void)::fdatasync(fd_);
    batch_.clear();
    return false;
  }
  if (grow.owns_lock()) {
    filled_ = std::max(filled_, stop);
    if (stop > allocated_.load(std::memory_order_relaxed)) allocated_ = stop;
  }
  end_ = stop;
  batch_.clear();
  return true;
}

void message_log::discard() {
  batch_.clear();
}

void message_log::cut_torn_tail() {
  if (torn_ == 0) return;
  if (::ftruncate(fd_, static_cast<off_t>(end_.load())) != 0 || ::fdatasync(fd_) != 0)
    throw sys_error("cannot cut the torn end off " + segment_path(segment_).string());
  torn_ = 0;
}

void message_log::rotate_if_full() {
  if (fd_ < 0 || end_ < segment_bytes_) return;
  std::scoped_lock lock(sync_mu_, alloc_mu_);  // no zero-filling nor its fdatasync meanwhile
  // A finished segment keeps no zeros: its records end where the file does.
  if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0 || ::fdatasync(fd_) != 0)
    throw sys_error("cannot finish " + segment_path(segment_).string());
  start_segment(segment_ + 1);
}

bool message_log::wants_preallocation() const {
  return fd_ >= 0 && end_ + preallocate_margin > allocated_.load(std::memory_order_acquire);
}

void message_log::preallocate() {
  // Page by page: a larger write would fill the page cache with large folios, and every record
  // written into one later would make the fdatasync write all of it (1 MiB for a 30 KB batch).
  static constexpr std::size_t page = 4096;
  static const std::string zeros(page, '\0');
  std::lock_guard syncing(sync_mu_);  // the segment (and fd_) stay while this runs
  std::uint64_t at = 0;
  {
    std::lock_guard lock(alloc_mu_);
    const std::uint64_t from = std::max(filled_, end_.load());  // never over a record
    if (fd_ < 0 || from >= end_ + preallocate_margin + preallocate_bytes) return;
    at = from;
    // The first write may start mid-page (a file cut back to its records).
    if (at % page != 0) {
      if (!pwrite_all(fd_, zeros.data(), page - at % page, at)) return;
      at += page - at % page;
    }
    while (at < from + preallocate_bytes) {
      if (!pwrite_all(fd_, zeros.data(), page, at)) break;
      at += page;
    }
    filled_ = at;
  }
  // Synced before it counts (an fdatasync of the writer must find nothing of it left to write),
  // without the lock: a writer that outruns this grows the file meanwhile, and its own fdatasync
  // writes these zeros too, once.
  if (::fdatasync(fd_) != 0) return;
  std::lock_guard lock(alloc_mu_);
  if (at > allocated_.load(std::memory_order_relaxed))
    allocated_.store(at, std::memory_order_release);
}

int message_log::read_fd(std::uint32_t segment) const {
  std::lock_guard lock(read_mu_);
  if (auto it = read_fds_.find(segment); it != read_fds_.end()) return it->second;
  const int fd = ::open(segment_path(segment).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) read_fds_.emplace(segment, fd);
  return fd;
}

std::optional<logged_record> message_log::read(std::int64_t pos, std::string* error) const {
  auto fail = [&](const char* why) -> std::optional<logged_record> {
    if (error) *error = why;
    return std::nullopt;
  };
  const int fd = read_fd(segment_of(pos));
  if (fd < 0) return fail("log segment missing");
  const std::uint64_t off = offset_of(pos);
  char head[header_bytes];
  if (!pread_all(fd, head, header_bytes, off)) return fail("log record missing");
  const header h = parse_header(head);
  if (h.magic != record_magic || h.length > max_payload) return fail("not a log record");
  std::string payload(h.length, '\0');
  if (!pread_all(fd, payload.data(), h.length, off + header_bytes))
    return fail("log record cut short");
  if (crc32c(0, payload.data(), payload.size()) != h.crc) return fail("log record corrupted");
  auto r = decode(payload);
  if (!r) return fail("log record malformed");
  return r;
}

std::int64_t message_log::read_range(
    std::int64_t from, std::int64_t to,
    const std::function<bool(std::int64_t, const record_view&)>& f, std::string& buf) const {
  static constexpr std::size_t chunk = std::size_t{1} << 20;
  std::uint32_t seg = segment_of(from);
  std::uint64_t off = offset_of(from);
  const std::uint32_t last = segment_of(to);
  while (seg < last || (seg == last && off < offset_of(to))) {
    const int fd = read_fd(seg);
    if (fd < 0) throw std::runtime_error("the message log lost segment " + std::to_string(seg));
    std::uint64_t limit = offset_of(to);
    if (seg < last) {
      // A finished segment: cut back to its records when the next one began.
      struct stat st {};
      if (::fstat(fd, &st) != 0) throw sys_error("cannot stat a log segment");
      limit = static_cast<std::uint64_t>(st.st_size);
    }
    if (off >= limit) {
      ++seg;
      off = 0;
      continue;
    }
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(limit - off, chunk));
    if (buf.size() < want) buf.resize(want);
    if (!pread_all(fd, buf.data(), want, off))
      throw std::runtime_error("cannot read the message log at " + std::to_string(off));
    std::size_t at = 0;
    while (at + header_bytes <= want) {
      const header h = parse_header(buf.data() + at);
      if (h.magic != record_magic || h.length > max_payload)
        throw std::runtime_error("the message log is damaged in " + segment_path(seg).string() +
                                 " at byte " + std::to_string(off + at));
      if (at + header_bytes + h.length > want) {
        if (at == 0) {
          // One record larger than the buffer: read it whole.
          want = header_bytes + h.length;
          if (off + want > limit)
            throw std::runtime_error("the message log is damaged in " +
                                     segment_path(seg).string() + " at byte " +
                                     std::to_string(off));
          if (buf.size() < want) buf.resize(want);
          if (!pread_all(fd, buf.data(), want, off))
            throw std::runtime_error("cannot read the message log at " + std::to_string(off));
          continue;
        }
        break;
      }
      const std::string_view payload(buf.data() + at + header_bytes, h.length);
      record_view v;
      if (crc32c(0, payload.data(), payload.size()) != h.crc || !decode_view(payload, v))
        throw std::runtime_error("the message log is damaged in " + segment_path(seg).string() +
                                 " at byte " + std::to_string(off + at));
      if (!f(make_position(seg, off + at), v))
        return make_position(seg, off + at + header_bytes + h.length);
      at += header_bytes + h.length;
    }
    if (at == 0)  // a piece of a record at the end of what there is
      throw std::runtime_error("the message log is damaged in " + segment_path(seg).string() +
                               " at byte " + std::to_string(off));
    off += at;
  }
  return make_position(seg, off);
}

void message_log::scan(std::int64_t pos,
                       const std::function<void(std::int64_t, logged_record&&)>& f) const {
  const auto segments = list_segments(dir_);
  const std::uint32_t first = pos == 0 ? 0 : segment_of(pos);
  for (const std::uint32_t seg : segments) {
    if (seg < first) continue;
    const std::uint64_t from = seg == first ? offset_of(pos) : 0;
    const int fd = ::open(segment_path(seg).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw sys_error("cannot open " + segment_path(seg).string());
    struct closer {
      int fd;
      ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    const bool statted = ::fstat(fd, &st) == 0;
    std::string bad;
    const std::uint64_t end =
        walk_segment(fd, from, [&](std::uint64_t off, std::string_view payload) {
          auto r = decode(payload);
          if (!r) {
            bad = "malformed record";
            return;
          }
          f(make_position(seg, off), std::move(*r));
        });
    const auto size = statted ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (!bad.empty() || !statted || (end != size && !all_zero(fd, end, size)))
      throw std::runtime_error("the message log is damaged in " + segment_path(seg).string() +
                               " at byte " + std::to_string(end));
  }
}

}  // namespace carebridge::gateway::store
