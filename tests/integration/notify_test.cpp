// The rest-hook sender over real loopback sockets (port 0) and real TLS with the dev CA: what a
// subscriber (our own Beast server) receives, how each answer is classified, retries in order,
// Retry-After, permanent failures, timeouts, refused connections and certificates, mutual TLS,
// connection reuse and the per-host limit, and that a slow subscriber does not hold up another.
// Timing is only ever asserted from below (a wait was not shorter than asked) — or, for the
// request timeout, as "ended before a 60 s deadline that must not have applied"; orderings are
// asserted with explicit hand-offs, never with wall-clock upper bounds.
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/notify/delivery_worker.hpp"
#include "adapters/notify/rest_hook_client.hpp"
#include "gateway/obs/metrics.hpp"
#include "tests/integration/subscriber.hpp"

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace notify = carebridge::adapters::notify;
using namespace std::chrono_literals;

using namespace carebridge::test_http;

rest::http_response status(unsigned s, rest::header_list h = {}) {
  return {s, "application/fhir+json", s == 204 ? "" : "{}", std::move(h)};
}

// Answers from a script, then 200 for ever.
subscriber::answer_fn script(std::vector<rest::http_response> answers) {
  return [answers = std::move(answers)](const seen&,
                                        std::size_t n) -> std::optional<rest::http_response> {
    if (n < answers.size()) return answers[n];
    return status(200);
  };
}

// A bare HTTP/1.1 server (plain, blocking, one connection at a time) for what our own server will
// not do: close a kept-alive connection just as the next request arrives, without answering it —
// the race a peek at an idle connection cannot see.
class closing_server {
 public:
  closing_server() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { run(); });
  }
  ~closing_server() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // ends the blocking accept()
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  int connections() const {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  void run() {
    for (int conn = 0;; ++conn) {
      boost::system::error_code ec;
      asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        ++connections_;
      }
      asio::streambuf buf;
      for (int req = 0;; ++req) {
        const std::size_t n = asio::read_until(s, buf, "\r\n\r\n", ec);
        if (ec) break;
        std::string head(asio::buffers_begin(buf.data()),
                         asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
        buf.consume(n);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto at = head.find("content-length:");
        const std::size_t len = at == std::string::npos ? 0 : std::stoul(head.substr(at + 15));
        if (buf.size() < len) asio::read(s, buf, asio::transfer_exactly(len - buf.size()), ec);
        if (ec) break;
        std::string body(asio::buffers_begin(buf.data()),
                         asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(len));
        buf.consume(len);
        {
          std::lock_guard lock(mu_);
          bodies_.push_back(body);
        }
        if (conn == 0 && req == 1) break;  // the second request on the first connection: hang up
        asio::write(
            s, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), ec);
        if (ec) break;
      }
    }
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  int connections_ = 0;
};

notify::client_options trusting_dev_ca() {
  notify::client_options o;
  o.ca_file = cert("ca.crt");
  o.attempt_timeout = 20s;
  return o;
}

// The sending side: the client (and a worker when asked for) on an io_context of their own.
class sender : public notify::delivery_events {
 public:
  explicit sender(notify::client_options co = trusting_dev_ca(),
                  std::optional<notify::worker_options> wo = std::nullopt)
      : client_(ioc_, std::move(co)) {
    if (wo) worker_ = std::make_unique<notify::delivery_worker>(client_, *this, *wo);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~sender() override {
    if (worker_) worker_->stop();
    client_.shutdown();
    guard_.reset();
    thread_.join();
  }

  notify::delivery_result post(notify::delivery_request r) {
    return client_.async_post(std::move(r), asio::use_future).get();
  }
  notify::rest_hook_client& client() { return client_; }
  notify::delivery_worker& worker() { return *worker_; }

  notify::enqueue_result enqueue(const std::string& sub, std::uint64_t seq, const std::string& url,
                                 std::vector<std::string> headers = {}) {
    notify::delivery d;
    d.subscription_id = sub;
    d.sequence = seq;
    d.request.endpoint = url;
    d.request.body = body(sub, seq);
    d.request.headers = std::move(headers);
    return worker_->enqueue(std::move(d));
  }
  static std::string body(const std::string& sub, std::uint64_t seq) {
    return R"({"resourceType":"Bundle","type":"history","id":")" + sub + "-" + std::to_string(seq) +
           "\"}";
  }

  // delivery_events
  void delivered(const notify::delivery& d, const notify::delivery_result&) override {
    std::lock_guard lock(mu_);
    delivered_.emplace_back(d.subscription_id, d.sequence);
    cv_.notify_all();
  }
  void subscription_failed(const std::string& id, const notify::delivery_failure& f) override {
    std::lock_guard lock(mu_);
    failed_.emplace_back(id, f);
    cv_.notify_all();
  }
  void attempted(const notify::delivery&, const notify::delivery_result& r,
                 std::optional<std::chrono::milliseconds> retry_in) override {
    std::lock_guard lock(mu_);
    results_.push_back(r);
    retry_ins_.push_back(retry_in);
  }

  bool wait_delivered(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return delivered_.size() >= n; });
  }
  bool wait_failed(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return failed_.size() >= n; });
  }
  std::vector<std::pair<std::string, std::uint64_t>> delivered_list() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  std::vector<std::pair<std::string, notify::delivery_failure>> failed_list() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  std::vector<std::optional<std::chrono::milliseconds>> retry_ins() {
    std::lock_guard lock(mu_);
    return retry_ins_;
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  notify::rest_hook_client client_;
  std::unique_ptr<notify::delivery_worker> worker_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::uint64_t>> delivered_;
  std::vector<std::pair<std::string, notify::delivery_failure>> failed_;
  std::vector<notify::delivery_result> results_;
  std::vector<std::optional<std::chrono::milliseconds>> retry_ins_;
};

notify::worker_options fast_retries(unsigned threshold = 10) {
  notify::worker_options o;
  o.backoff.base = 1ms;
  o.backoff.cap = 5ms;
  o.failure_threshold = threshold;
  return o;
}

notify::delivery_request to(const std::string& url, std::string body = "{}") {
  notify::delivery_request r;
  r.endpoint = url;
  r.body = std::move(body);
  return r;
}

// A loopback port nobody listens on (bound, then released).
std::uint16_t closed_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const auto p = a.local_endpoint().port();
  a.close();
  return p;
}

TEST(NotifyClient, DeliveredOn200And202And204) {
  subscriber sub({}, [](const seen& s, std::size_t) -> std::optional<rest::http_response> {
    return status(static_cast<unsigned>(std::stoi(s.target.substr(s.target.find('=') + 1))));
  });
  sender out;
  for (unsigned code : {200u, 202u, 204u}) {
    const auto r = out.post(to(sub.url("/hook?status=" + std::to_string(code))));
    EXPECT_EQ(r.status, code);
    EXPECT_FALSE(r.error) << r.error_text;
    EXPECT_EQ(r.classified.outcome, notify::outcome::delivered);
    EXPECT_EQ(r.classified.error, notify::subscription_error::none);
  }
}

TEST(NotifyClient, HeadersAndBodyArriveAsSent) {
  subscriber sub;
  sender out;
  auto req = to(sub.url("/hook?topic=discharge&x=1"), R"({"resourceType":"Bundle"})");
  req.headers = {"Authorization: Bearer group-7-token", "X-Care-Group:  g7  "};
  req.content_type = "application/fhir+json; fhirVersion=4.0";
  const auto r = out.post(req);
  ASSERT_EQ(r.status, 200u) << r.error_text;
  const auto got = sub.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/hook?topic=discharge&x=1");
  EXPECT_EQ(got[0].body, R"({"resourceType":"Bundle"})");
  EXPECT_EQ(got[0].header("content-type"), "application/fhir+json; fhirVersion=4.0");
  EXPECT_EQ(got[0].header("authorization"), "Bearer group-7-token");
  EXPECT_EQ(got[0].header("x-care-group"), "g7");
  EXPECT_EQ(got[0].header("host"), "127.0.0.1:" + std::to_string(sub.port()));
  EXPECT_EQ(got[0].header("content-length"), "25");

  // The default type is FHIR JSON.
  out.post(to(sub.url()));
  EXPECT_EQ(sub.requests().at(1).header("content-type"), "application/fhir+json");
}

TEST(NotifyClient, HeaderWithLineBreakIsRefusedBeforeAnythingIsSent) {
  subscriber sub;
  sender out;
  auto req = to(sub.url());
  req.headers = {"X-Ok: fine", "Authorization: Bearer s3cr3t\r\nX-Injected: yes"};
  const auto r = out.post(req);
  EXPECT_EQ(r.error, notify::error::bad_header);
  EXPECT_EQ(r.classified.outcome, notify::outcome::permanent);
  EXPECT_EQ(r.error_text.find("s3cr3t"), std::string::npos) << r.error_text;
  EXPECT_NE(r.error_text.find("channel.header[1]"), std::string::npos) << r.error_text;
  EXPECT_TRUE(sub.requests().empty());
}

TEST(NotifyClient, NoAnswerTimesOutAndIsRetryable) {
  subscriber sub({}, [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  auto co = trusting_dev_ca();
  co.attempt_timeout = 300ms;
  sender out(co);
  const auto r = out.post(to(sub.url()));
  EXPECT_EQ(r.error, notify::error::timeout) << r.error_text;
  EXPECT_EQ(r.status, 0u);
  EXPECT_EQ(r.classified.outcome, notify::outcome::retry);
  EXPECT_EQ(r.classified.error, notify::subscription_error::no_response);
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_TRUE(sub.wait_requests(1));  // it did arrive; the answer did not
  sub.release(status(200));
}

// The Subscription's backport-timeout bounds its attempts: a subscriber that never answers, a
// request timeout of 1 s and a client-wide one of 60 s — the attempt ends as a timeout, not before
// the request's second, and before the client's deadline could have ended it.
TEST(NotifyClient, RequestTimeoutBoundsTheAttemptBeforeTheClientWideOne) {
  subscriber sub({}, [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  auto co = trusting_dev_ca();
  co.attempt_timeout = 60s;
  sender out(co);
  auto req = to(sub.url());
  req.timeout = 1s;
  const auto r = out.post(req);
  EXPECT_EQ(r.error, notify::error::timeout) << r.error_text;
  EXPECT_EQ(r.status, 0u);
  EXPECT_EQ(r.classified.outcome, notify::outcome::retry);
  EXPECT_EQ(r.classified.error, notify::subscription_error::no_response);
  EXPECT_GE(r.elapsed, 1s);
  EXPECT_LT(r.elapsed, 60s);  // not a speed bound: the client-wide deadline did not end it
  EXPECT_TRUE(sub.wait_requests(1));
  sub.release(status(200));
}

// The client-wide timeout is the cap of a request's own: a request asking for 60 s on a client
// allowing 300 ms times out as the client says. A request timeout of zero means the default.
TEST(NotifyClient, ClientWideTimeoutCapsTheRequestTimeout) {
  subscriber sub({}, [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  auto co = trusting_dev_ca();
  co.attempt_timeout = 300ms;
  sender out(co);
  auto req = to(sub.url());
  req.timeout = 60s;
  auto r = out.post(req);
  EXPECT_EQ(r.error, notify::error::timeout) << r.error_text;
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_LT(r.elapsed, 60s);
  req.timeout = 0ms;
  r = out.post(req);
  EXPECT_EQ(r.error, notify::error::timeout) << r.error_text;
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_LT(r.elapsed, 60s);
  EXPECT_TRUE(sub.wait_requests(2));
  sub.release(status(200));
}

TEST(NotifyClient, ConnectionRefusedIsNoResponse) {
  sender out;
  const auto r = out.post(to("https://127.0.0.1:" + std::to_string(closed_port()) + "/hook"));
  EXPECT_EQ(r.error, notify::error::connect_failed);
  EXPECT_EQ(r.classified.outcome, notify::outcome::retry);
  EXPECT_EQ(r.classified.error, notify::subscription_error::no_response);
  EXPECT_NE(r.error_text.find("https://127.0.0.1:"), std::string::npos) << r.error_text;
  EXPECT_EQ(r.error_text.find("/hook"), std::string::npos) << r.error_text;
}

TEST(NotifyClient, UnresolvableHostIsDnsResolutionError) {
  sender out;
  // .invalid never resolves (RFC 6761).
  const auto r = out.post(to("https://no-such-subscriber.invalid/hook"));
  EXPECT_EQ(r.error, notify::error::resolve_failed) << r.error_text;
  EXPECT_EQ(r.classified.error, notify::subscription_error::dns_resolution_error);
  EXPECT_EQ(r.classified.outcome, notify::outcome::retry);
}

TEST(NotifyClient, UntrustedServerCertificateIsRefused) {
  subscriber sub;
  auto co = trusting_dev_ca();
  co.ca_file = cert("rogue-ca.crt");  // same CA name as the real one, another key
  sender out(co);
  const auto r = out.post(to(sub.url()));
  EXPECT_EQ(r.error, notify::error::certificate_rejected) << r.error_text;
  EXPECT_EQ(r.classified.outcome, notify::outcome::permanent);
  EXPECT_EQ(r.classified.error, notify::subscription_error::no_response);
  EXPECT_TRUE(sub.requests().empty());
}

TEST(NotifyClient, CertificateForAnotherNameIsRefused) {
  // server.crt names localhost, 127.0.0.1 and ::1; Linux routes all of 127/8 to loopback.
  std::unique_ptr<subscriber> sub;
  try {
    sub = std::make_unique<subscriber>(subscriber_options{true, false, "127.0.0.2"});
  } catch (const std::exception& e) {
    GTEST_SKIP() << "cannot listen on 127.0.0.2: " << e.what();
  }
  sender out;
  const auto r = out.post(to(sub->url()));
  EXPECT_EQ(r.error, notify::error::certificate_rejected) << r.error_text;
  EXPECT_EQ(r.classified.outcome, notify::outcome::permanent);
  EXPECT_TRUE(sub->requests().empty());
}

TEST(NotifyClient, MutualTlsPresentsTheClientCertificate) {
  subscriber sub(subscriber_options{true, true});
  auto co = trusting_dev_ca();
  co.certificate_file = cert("client-mercy.crt");
  co.private_key_file = cert("client-mercy.key");
  sender with_cert(co);
  const auto r = with_cert.post(to(sub.url()));
  ASSERT_EQ(r.status, 200u) << r.error_text;
  const auto got = sub.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(
      std::find(got[0].certificate_names.begin(), got[0].certificate_names.end(), "mercy-engine"),
      got[0].certificate_names.end());

  sender without(trusting_dev_ca());
  const auto refused = without.post(to(sub.url()));
  EXPECT_NE(refused.classified.outcome, notify::outcome::delivered);
  EXPECT_TRUE(refused.error) << refused.status;
  EXPECT_EQ(sub.requests().size(), 1u);
}

TEST(NotifyClient, PlainHttpOnlyToLoopbackWithTheOption) {
  subscriber sub(subscriber_options{false});
  sender strict;
  const auto refused = strict.post(to(sub.url()));
  EXPECT_EQ(refused.error, notify::error::bad_endpoint);
  EXPECT_EQ(refused.classified.outcome, notify::outcome::permanent);
  EXPECT_TRUE(sub.requests().empty());

  auto co = trusting_dev_ca();
  co.allow_insecure_loopback = true;
  sender demo(co);
  EXPECT_EQ(demo.post(to(sub.url())).status, 200u);
  EXPECT_EQ(demo.post(to("http://10.255.255.1/hook")).error, notify::error::bad_endpoint);
}

TEST(NotifyClient, ReusesOneConnectionForABurstToOneSubscriber) {
  subscriber sub;
  sender out;
  for (int i = 0; i < 5; ++i) {
    const auto r = out.post(to(sub.url(), std::to_string(i)));
    ASSERT_EQ(r.status, 200u) << r.error_text;
    EXPECT_EQ(r.reused_connection, i > 0);
  }
  EXPECT_EQ(sub.connections(), 1u);
  EXPECT_EQ(out.client().stats().connections_opened, 1u);
  EXPECT_EQ(out.client().stats().connections_reused, 4u);
}

TEST(NotifyClient, ConcurrentPostsToOneHostStayWithinTheConnectionLimit) {
  subscriber sub({}, [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  auto co = trusting_dev_ca();
  co.max_connections_per_host = 2;
  sender out(co);
  std::vector<std::future<notify::delivery_result>> pending;
  for (int i = 0; i < 6; ++i)
    pending.push_back(out.client().async_post(to(sub.url(), std::to_string(i)), asio::use_future));
  // Two connections, one request held on each; the other four wait for a free connection.
  ASSERT_TRUE(sub.wait_held(2));
  EXPECT_EQ(sub.requests().size(), 2u);
  for (int round = 0; round < 3; ++round) {
    sub.release(status(200));
    if (round < 2) {
      ASSERT_TRUE(sub.wait_held(2));
    }
  }
  for (auto& f : pending) EXPECT_EQ(f.get().status, 200u);
  EXPECT_EQ(sub.requests().size(), 6u);
  EXPECT_LE(sub.connections(), 2u);
}

TEST(NotifyClient, ReconnectsWhenTheSubscriberClosedAnIdleConnection) {
  for (bool use_tls : {true, false}) {
    SCOPED_TRACE(use_tls ? "https" : "http");
    subscriber sub(subscriber_options{use_tls, false, "127.0.0.1", 100ms});
    auto co = trusting_dev_ca();
    co.allow_insecure_loopback = true;
    sender out(co);
    ASSERT_EQ(out.post(to(sub.url(), "1")).status, 200u);
    // Long after the server's 100 ms idle timeout has closed the connection.
    std::this_thread::sleep_for(1s);
    const auto r = out.post(to(sub.url(), "2"));
    EXPECT_EQ(r.status, 200u) << r.error_text;
    EXPECT_FALSE(r.error);
    EXPECT_EQ(sub.bodies(), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(sub.connections(), 2u);
  }
}

TEST(NotifyClient, ResendsOnceWhenAReusedConnectionIsClosedUnderTheRequest) {
  closing_server sub;
  auto co = trusting_dev_ca();
  co.allow_insecure_loopback = true;
  sender out(co);
  ASSERT_EQ(out.post(to(sub.url(), "1")).status, 200u);
  const auto r = out.post(to(sub.url(), "2"));
  EXPECT_EQ(r.status, 200u) << r.error_text;
  EXPECT_FALSE(r.error);
  // "2" reached the server twice: the receiver's de-duplication on event numbers absorbs that.
  EXPECT_EQ(sub.bodies(), (std::vector<std::string>{"1", "2", "2"}));
  EXPECT_EQ(sub.connections(), 2);
  EXPECT_EQ(out.client().stats().stale_reconnects, 1u);
}

TEST(NotifyClient, LargeResponseBodyIsDroppedAndTheConnectionNotReused) {
  subscriber sub({}, [](const seen&, std::size_t) -> std::optional<rest::http_response> {
    return rest::http_response{200, "text/plain", std::string(200 * 1024, 'x')};
  });
  sender out;
  const auto first = out.post(to(sub.url()));
  EXPECT_EQ(first.status, 200u) << first.error_text;
  EXPECT_EQ(first.classified.outcome, notify::outcome::delivered);
  const auto second = out.post(to(sub.url()));
  EXPECT_EQ(second.status, 200u);
  EXPECT_FALSE(second.reused_connection);
}

TEST(NotifyClient, ThreeHundredsAreNotFollowed) {
  subscriber sub({}, script({status(307, {{"Location", "https://elsewhere.example/hook"}})}));
  sender out;
  const auto r = out.post(to(sub.url()));
  EXPECT_EQ(r.status, 307u);
  EXPECT_EQ(r.classified.outcome, notify::outcome::permanent);
  EXPECT_EQ(r.classified.error, notify::subscription_error::error_response);
  EXPECT_EQ(sub.requests().size(), 1u);
}

TEST(NotifyWorker, ServerErrorIsRetriedThenDeliveredInOrder) {
  subscriber sub({}, script({status(500)}));
  sender out(trusting_dev_ca(), fast_retries());
  for (std::uint64_t seq = 1; seq <= 3; ++seq)
    ASSERT_EQ(out.enqueue("sub-a", seq, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_delivered(3));
  EXPECT_EQ(sub.bodies(),
            (std::vector<std::string>{sender::body("sub-a", 1), sender::body("sub-a", 1),
                                      sender::body("sub-a", 2), sender::body("sub-a", 3)}));
  EXPECT_EQ(out.delivered_list(), (std::vector<std::pair<std::string, std::uint64_t>>{
                                      {"sub-a", 1}, {"sub-a", 2}, {"sub-a", 3}}));
  const auto st = out.worker().snapshot();
  EXPECT_EQ(st.attempts, 4u);
  EXPECT_EQ(st.delivered, 3u);
  EXPECT_EQ(st.failures, 1u);
  EXPECT_EQ(st.retries, 1u);
  EXPECT_EQ(st.backlog, 0u);
  ASSERT_EQ(st.subscriptions.size(), 1u);
  EXPECT_EQ(st.subscriptions[0].consecutive_failures, 0u);
  EXPECT_TRUE(out.failed_list().empty());
}

TEST(NotifyWorker, RetryAfterIsHonoured) {
  subscriber sub({}, script({status(429, {{"Retry-After", "1"}})}));
  sender out(trusting_dev_ca(), fast_retries());
  ASSERT_EQ(out.enqueue("sub-a", 1, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_delivered(1));
  const auto ins = out.retry_ins();
  ASSERT_EQ(ins.size(), 2u);
  ASSERT_TRUE(ins[0]);
  EXPECT_GE(*ins[0], 1000ms);  // the backoff alone would have been at most 1 ms
  EXPECT_FALSE(ins[1]);
  const auto got = sub.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, 1000ms);
}

TEST(NotifyWorker, BadRequestIsPermanentAndHoldsTheQueueUntilResumed) {
  subscriber sub({}, script({status(400)}));
  sender out(trusting_dev_ca(), fast_retries());
  ASSERT_EQ(out.enqueue("sub-a", 1, sub.url()), notify::enqueue_result::accepted);
  ASSERT_EQ(out.enqueue("sub-a", 2, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_failed(1));
  const auto failed = out.failed_list();
  EXPECT_EQ(failed[0].first, "sub-a");
  EXPECT_EQ(failed[0].second.code, notify::subscription_error::error_response);
  EXPECT_EQ(failed[0].second.http_status, 400u);
  EXPECT_EQ(failed[0].second.sequence, 1u);
  EXPECT_TRUE(failed[0].second.permanent);
  // Held: nothing more is sent, however long we look.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sub.requests().size(), 1u);
  auto st = out.worker().snapshot();
  ASSERT_EQ(st.subscriptions.size(), 1u);
  EXPECT_TRUE(st.subscriptions[0].held);
  EXPECT_EQ(st.subscriptions[0].backlog, 2u);
  EXPECT_EQ(st.retries, 0u);
  EXPECT_TRUE(out.delivered_list().empty());

  out.worker().resume("sub-a");  // the subscriber fixed its side; the script now answers 200
  ASSERT_TRUE(out.wait_delivered(2));
  EXPECT_EQ(out.delivered_list(),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"sub-a", 1}, {"sub-a", 2}}));
  st = out.worker().snapshot();
  EXPECT_FALSE(st.subscriptions[0].held);
  EXPECT_EQ(st.subscriptions_failed, 1u);
}

TEST(NotifyWorker, TimeoutIsRetried) {
  // The first request is never answered; the retry is.
  subscriber sub({}, [](const seen&, std::size_t n) -> std::optional<rest::http_response> {
    if (n == 0) return std::nullopt;
    return status(200);
  });
  auto co = trusting_dev_ca();
  co.attempt_timeout = 300ms;
  sender out(co, fast_retries());
  ASSERT_EQ(out.enqueue("sub-a", 1, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_delivered(1));
  const auto st = out.worker().snapshot();
  EXPECT_EQ(st.attempts, 2u);
  EXPECT_EQ(st.retries, 1u);
  ASSERT_FALSE(out.retry_ins().empty());
  EXPECT_TRUE(out.retry_ins().front());
  sub.release(status(200));
}

TEST(NotifyWorker, RepeatedFailuresPutTheSubscriptionInError) {
  sender out(trusting_dev_ca(), fast_retries(3));
  const std::string url = "https://127.0.0.1:" + std::to_string(closed_port()) + "/hook";
  ASSERT_EQ(out.enqueue("sub-dead", 1, url), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_failed(1));
  const auto failed = out.failed_list();
  EXPECT_EQ(failed[0].second.code, notify::subscription_error::no_response);
  EXPECT_FALSE(failed[0].second.permanent);
  const auto st = out.worker().snapshot();
  EXPECT_EQ(st.attempts, 3u);
  EXPECT_EQ(st.failures, 3u);
  EXPECT_EQ(st.retries, 2u);
  EXPECT_TRUE(st.subscriptions.at(0).held);
  EXPECT_EQ(st.subscriptions.at(0).consecutive_failures, 3u);
}

TEST(NotifyWorker, OrderIsPreservedAcrossRetries) {
  // Event 2 fails twice (503, then 502) before it gets through; 3 and 4 must wait for it.
  auto failures_of_2 = std::make_shared<int>(0);  // the server calls this under its lock
  subscriber sub({},
                 [failures_of_2](const seen& s, std::size_t) -> std::optional<rest::http_response> {
                   if (s.body == sender::body("sub-a", 2) && *failures_of_2 < 2)
                     return status((*failures_of_2)++ == 0 ? 503 : 502);
                   return status(200);
                 });
  sender out(trusting_dev_ca(), fast_retries());
  for (std::uint64_t seq = 1; seq <= 4; ++seq)
    ASSERT_EQ(out.enqueue("sub-a", seq, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_delivered(4));
  std::vector<std::string> expected;
  for (std::uint64_t seq : {1u, 2u, 2u, 2u, 3u, 4u}) expected.push_back(sender::body("sub-a", seq));
  EXPECT_EQ(sub.bodies(), expected);
  EXPECT_EQ(out.delivered_list(), (std::vector<std::pair<std::string, std::uint64_t>>{
                                      {"sub-a", 1}, {"sub-a", 2}, {"sub-a", 3}, {"sub-a", 4}}));
  EXPECT_EQ(sub.connections(), 1u);  // retries reuse the connection too
}

TEST(NotifyWorker, OutOfOrderAndOverflowingEnqueuesAreRefused) {
  subscriber sub({}, [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  auto wo = fast_retries();
  wo.max_backlog_per_subscription = 2;
  sender out(trusting_dev_ca(), wo);
  EXPECT_EQ(out.enqueue("sub-a", 5, sub.url()), notify::enqueue_result::accepted);
  EXPECT_EQ(out.enqueue("sub-a", 5, sub.url()), notify::enqueue_result::out_of_order);
  EXPECT_EQ(out.enqueue("sub-a", 4, sub.url()), notify::enqueue_result::out_of_order);
  EXPECT_EQ(out.enqueue("sub-a", 6, sub.url()), notify::enqueue_result::accepted);
  EXPECT_EQ(out.enqueue("sub-a", 7, sub.url()), notify::enqueue_result::backlog_full);
  EXPECT_EQ(out.enqueue("sub-b", 1, sub.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(sub.wait_held(2));  // sub-a's head and sub-b's: one in flight each
  sub.release(status(200));
  ASSERT_TRUE(sub.wait_held(1));  // sub-a's second
  sub.release(status(200));
  ASSERT_TRUE(out.wait_delivered(3));
  out.worker().stop();
  EXPECT_EQ(out.enqueue("sub-a", 8, sub.url()), notify::enqueue_result::stopped);
}

TEST(NotifyWorker, SlowSubscriberDoesNotDelayAnother) {
  subscriber slow({},
                  [](const seen&, std::size_t) { return std::optional<rest::http_response>(); });
  subscriber fast;
  sender out(trusting_dev_ca(), fast_retries());
  ASSERT_EQ(out.enqueue("slow", 1, slow.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(slow.wait_held(1));  // the slow one's delivery is in flight, unanswered
  ASSERT_EQ(out.enqueue("fast", 1, fast.url()), notify::enqueue_result::accepted);
  ASSERT_EQ(out.enqueue("fast", 2, fast.url()), notify::enqueue_result::accepted);
  ASSERT_TRUE(out.wait_delivered(2));
  EXPECT_EQ(out.delivered_list(),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"fast", 1}, {"fast", 2}}));
  auto st = out.worker().snapshot();
  EXPECT_EQ(st.in_flight, 1u);
  slow.release(status(200));
  ASSERT_TRUE(out.wait_delivered(3));
  EXPECT_EQ(out.delivered_list().back(), (std::pair<std::string, std::uint64_t>{"slow", 1}));
}

}  // namespace
