// The MLLP listener over real loopback sockets: framing, limits, timeouts, duplicates, sender
// authorization, enhanced mode, MLLP release 2, and TLS with and without client certificates.
#include "adapters/mllp/mllp_listener.hpp"
#include "gateway/ingest/ingest_service.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "mappings/hl7v2/message.hpp"
#include "tests/e2e/process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace hl7 = carebridge::mappings::hl7v2;
using namespace carebridge;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;

std::filesystem::path certs_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / "carebridge-test-certs";
    const std::string cmd = "bash " CAREBRIDGE_SOURCE_DIR "/certs/make-dev-certs.sh " + d.string() +
                            " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-dev-certs.sh failed");
    return d;
  }();
  return dir;
}

std::string message(const std::string& facility, const std::string& control_id,
                    const std::string& msh_tail = "") {
  return "MSH|^~\\&|EPIC|" + facility + "|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|" +
         control_id + "|P|2.5.1" + msh_tail + "\rPID|1||12345^^^" + facility +
         "^MR||Secretname^Mary||19500101|F\rPV1|1|I\r";
}

std::string frame(const std::string& m) { return "\x0B" + m + "\x1C\x0D"; }

// A gateway slice: real store, ingest and listener, the io_context on a background thread.
class server {
 public:
  explicit server(adapters::mllp::options opts, std::vector<gateway::ingest::sender_rule> rules = {})
      : policy_(std::move(rules)) {
    store_ = gateway::store::sqlite_store::open(dir_.path(), {});
    gateway::ingest::ingest_service::options io;
    io.max_frame_bytes = opts.max_frame_bytes;
    ingest_ = std::make_unique<gateway::ingest::ingest_service>(*store_, policy_, metrics_, io);
    opts.host = "127.0.0.1";
    opts.port = 0;
    listener_ = std::make_unique<adapters::mllp::mllp_listener>(ioc_, *ingest_, metrics_, opts);
    port_ = listener_->bind().port();
    listener_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server() {
    stop();
    store_->close();
  }
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(500)) {
    if (!thread_.joinable()) return;
    listener_->stop(grace);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  gateway::store::sqlite_store& store() { return *store_; }
  std::string metrics() { return metrics_.expose(); }
  std::size_t open_connections() const { return listener_->open_connections(); }
  void reload_tls() { listener_->reload_tls(); }

 private:
  test::temp_dir dir_;
  gateway::obs::registry metrics_;
  gateway::ingest::sender_policy policy_;
  std::unique_ptr<gateway::store::sqlite_store> store_;
  std::unique_ptr<gateway::ingest::ingest_service> ingest_;
  asio::io_context ioc_;
  std::unique_ptr<adapters::mllp::mllp_listener> listener_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

void set_read_timeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A blocking MLLP client over any stream; reads with a socket timeout so no test can hang.
template <typename Stream>
class client_of {
 public:
  template <typename... A>
  explicit client_of(A&&... a) : stream_(std::forward<A>(a)...) {}
  Stream& stream() { return stream_; }

  void send_raw(const std::string& bytes) { asio::write(stream_, asio::buffer(bytes)); }

  /// The next frame's payload, or "" on close/timeout (error() says which).
  std::string read_frame() {
    while (true) {
      const auto start = pending_.find('\x0B');
      const auto end = pending_.find('\x1C', start == std::string::npos ? 0 : start);
      if (start != std::string::npos && end != std::string::npos) {
        std::string payload = pending_.substr(start + 1, end - start - 1);
        std::size_t next = end + 1;
        if (next < pending_.size() && pending_[next] == '\r') ++next;
        pending_.erase(0, next);
        return payload;
      }
      char buf[4096];
      const std::size_t n = stream_.read_some(asio::buffer(buf), ec_);
      if (ec_) return "";
      pending_.append(buf, n);
    }
  }
  /// True when the server closed the connection (within the socket timeout).
  bool closed_by_server() {
    char c;
    stream_.read_some(asio::buffer(&c, 1), ec_);
    return ec_ == asio::error::eof || ec_ == asio::error::connection_reset ||
           ec_ == asio::ssl::error::stream_truncated;
  }
  boost::system::error_code error() const { return ec_; }

 private:
  Stream stream_;
  std::string pending_;
  boost::system::error_code ec_;
};

struct plain_client : client_of<tcp::socket> {
  inline static asio::io_context ioc;
  explicit plain_client(std::uint16_t port, int timeout_ms = 5000) : client_of(ioc) {
    stream().connect({asio::ip::make_address("127.0.0.1"), port});
    set_read_timeout(stream().native_handle(), timeout_ms);
  }
};

// Waits (at most 3 s) until `pred` holds: for state the server updates just after the client sees
// the effect (a timeout closes the socket before the session counts it).
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 300; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string msa(const std::string& ack, const char* path = "MSA.1") {
  auto m = hl7::parse(ack);
  return m ? m->get(path).value() : "<not HL7>";
}

TEST(MllpListener, SplitAndPipelinedFramesAreAnsweredInOrder) {
  server s({});
  plain_client c(s.port());
  // One frame across three writes.
  const std::string f1 = frame(message("MERCY", "S1"));
  c.send_raw(f1.substr(0, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  c.send_raw(f1.substr(10, 50));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  c.send_raw(f1.substr(60));
  const std::string a1 = c.read_frame();
  EXPECT_EQ(msa(a1), "AA");
  EXPECT_EQ(msa(a1, "MSA.2"), "S1");
  // Five frames in one write.
  std::string five;
  for (int i = 0; i < 5; ++i) five += frame(message("MERCY", "P" + std::to_string(i)));
  c.send_raw(five);
  for (int i = 0; i < 5; ++i) {
    const std::string a = c.read_frame();
    EXPECT_EQ(msa(a), "AA");
    EXPECT_EQ(msa(a, "MSA.2"), "P" + std::to_string(i));
  }
  EXPECT_EQ(s.store().stats().accepted, 6u);
}

TEST(MllpListener, AcksThatDoNotFitTheSocketAreWrittenWholeAndInOrder) {
  server s({});
  // A client that sends without reading for a while, through a small receive buffer: the
  // server's ACK writes stop fitting and must go on later, from where they stopped.
  tcp::socket sock(plain_client::ioc);
  sock.open(tcp::v4());
  sock.set_option(asio::socket_base::receive_buffer_size(2048));
  sock.connect({asio::ip::make_address("127.0.0.1"), s.port()});
  set_read_timeout(sock.native_handle(), 10000);
  constexpr int n = 1500;
  // Long control ids make long ACKs (MSA-2 echoes them): more than the socket can hold.
  const std::string pad(3000, 'x');
  auto id = [&](int i) { return "W" + std::to_string(i) + "-" + pad; };
  std::thread sender([&] {
    std::string all;
    for (int i = 0; i < n; ++i) all += frame(message("MERCY", id(i)));
    boost::system::error_code ec;
    asio::write(sock, asio::buffer(all), ec);
  });
  // Until the server is stuck on a full socket (or done): no new message for a while.
  std::uint64_t seen = 0;
  for (int still = 0; still < 3 && seen < static_cast<std::uint64_t>(n);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    const std::uint64_t now = s.store().stats().accepted;
    still = now == seen ? still + 1 : 0;
    seen = now;
  }
  // Here (send buffers of at most 4 MiB) the server has had to wait for the client by now.
  RecordProperty("messages_before_the_client_read", static_cast<int>(seen));
  std::string pending;
  int got = 0;
  bool in_order = true;
  while (got < n) {
    char buf[4096];
    boost::system::error_code ec;
    const std::size_t k = sock.read_some(asio::buffer(buf), ec);
    if (ec) break;
    pending.append(buf, k);
    std::size_t end;
    while ((end = pending.find('\x1C')) != std::string::npos) {
      const std::size_t start = pending.find('\x0B');
      const std::string ack = pending.substr(start + 1, end - start - 1);
      pending.erase(0, end + 2 <= pending.size() ? end + 2 : end + 1);
      in_order = in_order && msa(ack) == "AA" && msa(ack, "MSA.2") == id(got);
      ++got;
    }
  }
  sender.join();
  EXPECT_EQ(got, n);
  EXPECT_TRUE(in_order);
}

TEST(MllpListener, AckComesOnlyAfterTheMessageIsInTheStore) {
  server s({});
  plain_client c(s.port());
  c.send_raw(frame(message("MERCY", "D1")));
  ASSERT_EQ(msa(c.read_frame()), "AA");
  // When the ACK is in hand, the message is readable from the store by another connection.
  const auto st = s.store().stats();
  EXPECT_EQ(st.accepted, 1u);
  EXPECT_THAT(s.metrics(), HasSubstr("carebridge_store_commit_seconds_count 1"));
}

TEST(MllpListener, JunkBeforeAFrameAndAFrameWithoutItsCarriageReturn) {
  server s({});
  plain_client c(s.port());
  c.send_raw("garbage!" + frame(message("MERCY", "J1")));
  EXPECT_EQ(msa(c.read_frame()), "AA");
  c.send_raw("\x0B" + message("MERCY", "J2") + "\x1C");  // no trailing CR; the ACK must still come
  EXPECT_EQ(msa(c.read_frame(), "MSA.2"), "J2");
  EXPECT_THAT(s.metrics(), HasSubstr("carebridge_mllp_framing_errors_total{kind=\"junk_bytes\"} 8"));
}

TEST(MllpListener, DuplicateGetsTheStoredAckAgain) {
  server s({});
  plain_client c(s.port());
  c.send_raw(frame(message("MERCY", "DUP")));
  const std::string first = c.read_frame();
  c.send_raw(frame(message("MERCY", "DUP")));
  const std::string second = c.read_frame();
  EXPECT_EQ(first, second);  // byte for byte, including the ACK's own control id
  const auto st = s.store().stats();
  EXPECT_EQ(st.total, 1u);
  EXPECT_EQ(st.duplicates, 1u);
}

TEST(MllpListener, GarbageFrameIsRejectedAndKept) {
  server s({});
  plain_client c(s.port());
  c.send_raw(frame("this is not HL7 Secretname"));
  const std::string ack = c.read_frame();
  EXPECT_EQ(msa(ack), "AR");
  EXPECT_THAT(ack, HasSubstr("ERR|"));
  EXPECT_THAT(ack, Not(HasSubstr("Secretname")));
  EXPECT_EQ(s.store().stats().rejected, 1u);
  // The connection stays usable.
  c.send_raw(frame(message("MERCY", "after")));
  EXPECT_EQ(msa(c.read_frame()), "AA");
}

TEST(MllpListener, OversizeFrameIsRejectedThenTheConnectionCloses) {
  adapters::mllp::options o;
  o.max_frame_bytes = 512;
  server s(o);
  plain_client c(s.port());
  c.send_raw(frame(message("MERCY", "BIG", "|||AL|AL") + "OBX|1|TX|||" + std::string(2000, 'x') + "\r"));
  const std::string ack = c.read_frame();
  EXPECT_EQ(msa(ack), "CR");  // enhanced mode asked for: commit reject
  EXPECT_THAT(ack, HasSubstr("larger than the maximum of 512 bytes"));
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(s.store().stats().rejected, 1u);
}

TEST(MllpListener, EnhancedModeAndNoAckWhenAskedForNone) {
  server s({});
  plain_client c(s.port(), 700);
  c.send_raw(frame(message("MERCY", "E1", "|||AL|NE")));
  EXPECT_EQ(msa(c.read_frame()), "CA");
  c.send_raw(frame(message("MERCY", "E2", "|||ER|NE")));  // ACKs only on error: none now
  c.send_raw(frame(message("MERCY", "E3", "|||AL|AL")));
  EXPECT_EQ(msa(c.read_frame(), "MSA.2"), "E3");
  EXPECT_EQ(s.store().stats().accepted, 3u);
}

TEST(MllpListener, FacilityNotAllowedForThisPeerIsRejectedAndKept) {
  server s({}, {{"mercy", {"MERCY"}, {}, {"127.0.0.1"}, {}}});
  plain_client c(s.port());
  c.send_raw(frame(message("STJOES", "W1")));
  EXPECT_EQ(msa(c.read_frame()), "AR");
  c.send_raw(frame(message("MERCY", "W2")));
  EXPECT_EQ(msa(c.read_frame()), "AA");
  const auto st = s.store().stats();
  EXPECT_EQ(st.rejected, 1u);
  EXPECT_EQ(st.by_sender.at("STJOES").rejected, 1u);
}

TEST(MllpListener, IdleAndInFrameTimeoutsCloseTheConnection) {
  adapters::mllp::options o;
  o.idle_timeout = std::chrono::milliseconds(200);
  o.frame_timeout = std::chrono::milliseconds(200);
  server s(o);
  plain_client idle(s.port(), 3000);
  EXPECT_TRUE(idle.closed_by_server());
  plain_client partial(s.port(), 3000);
  partial.send_raw("\x0B" "MSH|^~\\&|half a frame");
  EXPECT_TRUE(partial.closed_by_server());
  EXPECT_TRUE(eventually([&] {
    const std::string m = s.metrics();
    return m.find("carebridge_mllp_timeouts_total{kind=\"idle\"} 1") != std::string::npos &&
           m.find("carebridge_mllp_framing_errors_total{kind=\"frame_timeout\"} 1") !=
               std::string::npos;
  })) << s.metrics();
}

TEST(MllpListener, ConnectionLimitsPerPeer) {
  adapters::mllp::options o;
  o.max_connections_per_peer = 2;
  server s(o);
  plain_client a(s.port()), b(s.port());
  a.send_raw(frame(message("MERCY", "L1")));
  EXPECT_EQ(msa(a.read_frame()), "AA");
  plain_client third(s.port(), 3000);
  EXPECT_TRUE(third.closed_by_server());
  EXPECT_THAT(s.metrics(),
              HasSubstr("carebridge_mllp_connections_refused_total{reason=\"max_connections_per_peer\"} 1"));
  b.send_raw(frame(message("MERCY", "L2")));
  EXPECT_EQ(msa(b.read_frame()), "AA");
}

TEST(MllpListener, Release2CommitBytesPrecedeTheAck) {
  adapters::mllp::options o;
  o.release2_commit_bytes = true;
  server s(o);
  plain_client c(s.port());
  c.send_raw(frame(message("MERCY", "R2")));
  EXPECT_EQ(c.read_frame(), "\x06");  // <SB><ACK><EB><CR>: committed
  EXPECT_EQ(msa(c.read_frame()), "AA");
}

TEST(MllpListener, GracefulStopFinishesAndExits) {
  server s({});
  plain_client c(s.port());
  c.send_raw(frame(message("MERCY", "G1")));
  EXPECT_EQ(msa(c.read_frame()), "AA");
  const auto t0 = std::chrono::steady_clock::now();
  s.stop(std::chrono::seconds(5));  // the idle connection is closed at once, not after the grace
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_TRUE(c.closed_by_server());
}

// ---- TLS ---------------------------------------------------------------------------------------

struct tls_client : client_of<asio::ssl::stream<tcp::socket>> {
  inline static asio::io_context ioc;
  tls_client(asio::ssl::context& ctx, std::uint16_t port) : client_of(ioc, ctx) {
    stream().next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    set_read_timeout(stream().next_layer().native_handle(), 5000);
  }
  boost::system::error_code handshake() {
    boost::system::error_code ec;
    stream().handshake(asio::ssl::stream_base::client, ec);
    if (!ec) {
      // TLS 1.3 reports a rejected client certificate only on the first read: probe it.
      send_raw(frame(message("MERCY", "TLSPROBE")));
      if (read_frame().empty()) ec = error();
    }
    return ec;
  }
};

asio::ssl::context client_ctx(const std::string& cert, const std::string& key) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file((certs_dir() / "ca.crt").string());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (!cert.empty()) {
    ctx.use_certificate_chain_file((certs_dir() / cert).string());
    ctx.use_private_key_file((certs_dir() / key).string(), asio::ssl::context::pem);
  }
  return ctx;
}

adapters::mllp::options tls_options() {
  adapters::mllp::options o;
  o.tls = adapters::tls::server_options{(certs_dir() / "server.crt").string(),
                                        (certs_dir() / "server.key").string(),
                                        (certs_dir() / "ca.crt").string(), true};
  return o;
}

TEST(MllpListenerTls, MutualTlsAcceptedAndTheCertificateNamesTheSender) {
  server s(tls_options(), {{"mercy", {"MERCY"}, {"mercy-engine"}, {}, {}}});
  auto ctx = client_ctx("client-mercy.crt", "client-mercy.key");
  tls_client c(ctx, s.port());
  ASSERT_FALSE(c.handshake());
  c.send_raw(frame(message("MERCY", "T1")));
  EXPECT_EQ(msa(c.read_frame()), "AA");
  c.send_raw(frame(message("STJOES", "T2")));  // this certificate may not send for STJOES
  EXPECT_EQ(msa(c.read_frame()), "AR");
}

TEST(MllpListenerTls, OtherCertificateIsConnectedButItsFacilitiesAreRejected) {
  server s(tls_options(), {{"mercy", {"MERCY"}, {"mercy-engine"}, {}, {}}});
  auto ctx = client_ctx("client-other.crt", "client-other.key");
  tls_client c(ctx, s.port());
  boost::system::error_code ec;
  c.stream().handshake(asio::ssl::stream_base::client, ec);
  ASSERT_FALSE(ec) << ec.message();
  c.send_raw(frame(message("MERCY", "O1")));
  EXPECT_EQ(msa(c.read_frame()), "AR");
}

TEST(MllpListenerTls, MissingRogueOrExpiredClientCertificatesAreRefused) {
  server s(tls_options());
  for (const auto& [cert, key] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"client-rogue.crt", "client-rogue.key"},
           {"client-expired.crt", "client-expired.key"}}) {
    auto ctx = client_ctx(cert, key);
    tls_client c(ctx, s.port());
    EXPECT_TRUE(c.handshake()) << "a client with '" << cert << "' got in";
  }
  EXPECT_TRUE(eventually([&] {
    return s.metrics().find("carebridge_tls_handshake_failures_total{listener=\"mllp\"} 3") !=
           std::string::npos;
  })) << s.metrics();
  EXPECT_EQ(s.store().stats().total, 0u);
}

// Certificates renewed on disk are taken by reload_tls() without a restart: connections made
// afterwards get the new certificate, one that was open goes on working, and files that do not load
// change nothing (the error says which file).
TEST(MllpListenerTls, RenewedCertificatesAreTakenWithoutARestart) {
  test::temp_dir live, renewed;
  const auto renewed_certs = renewed.path() / "certs";
  ASSERT_EQ(std::system(("bash " CAREBRIDGE_SOURCE_DIR "/certs/make-dev-certs.sh " +
                         renewed_certs.string() + " >/dev/null")
                            .c_str()),
            0);
  const auto put = [&](const std::filesystem::path& from) {
    for (const char* f : {"server.crt", "server.key"})
      std::filesystem::copy_file(from / f, live.path() / f,
                                 std::filesystem::copy_options::overwrite_existing);
  };
  put(certs_dir());
  adapters::mllp::options o;
  o.tls = adapters::tls::server_options{(live.path() / "server.crt").string(),
                                        (live.path() / "server.key").string(), "", false};
  server s(o);
  const auto trusting = [](const std::filesystem::path& ca_dir) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file((ca_dir / "ca.crt").string());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    return ctx;
  };
  auto old_ca = trusting(certs_dir());
  auto new_ca = trusting(renewed_certs);
  tls_client before(old_ca, s.port());
  ASSERT_FALSE(before.handshake());
  {
    tls_client c(new_ca, s.port());
    EXPECT_TRUE(c.handshake()) << "the renewed certificate was served before the reload";
  }

  put(renewed_certs);
  s.reload_tls();
  {
    tls_client c(new_ca, s.port());
    EXPECT_FALSE(c.handshake()) << "the renewed certificate is not served after the reload";
  }
  {
    tls_client c(old_ca, s.port());
    EXPECT_TRUE(c.handshake()) << "the replaced certificate is still served";
  }
  before.send_raw(frame(message("MERCY", "R1")));  // the connection made before goes on
  EXPECT_EQ(msa(before.read_frame()), "AA");

  test::write_file(live.path() / "server.crt", "not a certificate\n");
  try {
    s.reload_tls();
    ADD_FAILURE() << "a broken certificate file was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("server.crt"));
  }
  tls_client after(new_ca, s.port());
  EXPECT_FALSE(after.handshake()) << "a failed reload changed the certificate";
}

// The TLS baseline: protocol versions below 1.2, and TLS 1.2 suites without forward secrecy or
// without AEAD, are refused even from a client that offers nothing else (its own security level
// lowered to 0 so that it does offer them); what gets agreed is TLS 1.3, or TLS 1.2 with an ECDHE
// AEAD suite.
TEST(MllpListenerTls, OnlyTls12OrNewerWithForwardSecretAeadSuites) {
  adapters::mllp::options o;
  o.tls = adapters::tls::server_options{(certs_dir() / "server.crt").string(),
                                        (certs_dir() / "server.key").string(), "", false};
  server s(o);
  // The protocol and suite agreed, or "" when the handshake failed.
  const auto agreed = [&](int max_version, const char* ciphers) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX* c = ctx.native_handle();
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c, max_version);
    if (ciphers != nullptr) {
      EXPECT_EQ(SSL_CTX_set_cipher_list(c, ciphers), 1) << ciphers;
    }
    tls_client client(ctx, s.port());
    boost::system::error_code ec;
    client.stream().handshake(asio::ssl::stream_base::client, ec);
    if (ec) return std::string();
    SSL* ssl = client.stream().native_handle();
    return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
  };
  EXPECT_EQ(agreed(TLS1_VERSION, "ALL:@SECLEVEL=0"), "") << "TLS 1.0 was accepted";
  EXPECT_EQ(agreed(TLS1_1_VERSION, "ALL:@SECLEVEL=0"), "") << "TLS 1.1 was accepted";
  // TLS 1.2 without AEAD (CBC suites), or without forward secrecy (RSA key exchange).
  EXPECT_EQ(agreed(TLS1_2_VERSION,
                   "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:"
                   "ECDHE-ECDSA-AES256-SHA384:AES128-SHA:AES256-SHA:AES128-GCM-SHA256:"
                   "AES256-GCM-SHA384:@SECLEVEL=0"),
            "")
      << "a suite without forward secrecy or AEAD was accepted";
  EXPECT_EQ(agreed(TLS1_2_VERSION, "ECDHE+AESGCM:ECDHE+CHACHA20"),
            "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_THAT(agreed(TLS1_3_VERSION, nullptr), HasSubstr("TLSv1.3 TLS_"));
}

TEST(MllpListenerTls, PlainTcpToATlsListenerIsRefused) {
  server s(tls_options());
  plain_client c(s.port(), 3000);
  c.send_raw(frame(message("MERCY", "P1")));
  EXPECT_EQ(c.read_frame(), "");
  EXPECT_EQ(s.store().stats().total, 0u);
}

}  // namespace
