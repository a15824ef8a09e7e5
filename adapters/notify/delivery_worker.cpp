#include "adapters/notify/delivery_worker.hpp"

#include "gateway/obs/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <exception>
#include <map>
#include <mutex>

namespace carebridge::adapters::notify {

namespace asio = boost::asio;
namespace obs = gateway::obs;

namespace {

struct subscription_state {
  std::deque<delivery> queue;  // head = in flight or waiting for its retry
  bool has_last = false;
  std::uint64_t last_sequence = 0;
  bool running = false;  // a drain coroutine owns the head
  bool in_flight = false;
  bool held = false;
  failure_policy failures;
  std::shared_ptr<asio::steady_timer> backoff;  // while waiting for a retry
  subscription_stats stats;
};

}  // namespace

struct delivery_worker::impl : std::enable_shared_from_this<impl> {
  impl(rest_hook_client& c, delivery_events& e, worker_options o)
      : client(c), events(e), opts(std::move(o)) {
    if (!opts.random) opts.random = default_random_source();
  }

  rest_hook_client& client;
  delivery_events& events;
  worker_options opts;

  mutable std::mutex mu;  // guards everything below
  std::map<std::string, subscription_state, std::less<>> subs;
  bool stopped = false;
  worker_stats totals;  // the scalar counters; the rest is computed by snapshot()

  subscription_state& state(const std::string& id) {
    auto [it, added] = subs.try_emplace(id);
    if (added) {
      it->second.failures = failure_policy(opts.failure_threshold);
      it->second.stats.subscription_id = id;
    }
    return it->second;
  }

  // Called with `mu` held: whether the caller must start a drain (after unlocking: co_spawn may
  // run it inline when called on the strand, and the drain takes `mu`).
  bool claim_locked(subscription_state& s) {
    if (s.running || s.held || s.queue.empty() || stopped) return false;
    s.running = true;
    return true;
  }

  void start(const std::string& id) {
    asio::co_spawn(client.get_executor(), drain(shared_from_this(), id),
                   drain_done{shared_from_this(), id});
  }

  // The co_spawn completion: the only place an unexpected exception of the data path lands.
  struct drain_done {
    std::shared_ptr<impl> self;
    std::string id;
    void operator()(std::exception_ptr e) const {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        obs::error("notify.drain_failed", {{"subscription", id}, {"error", ex.what()}});
      }
      std::lock_guard lock(self->mu);
      auto& s = self->state(id);
      s.running = false;
      s.in_flight = false;
    }
  };

  static asio::awaitable<void> drain(std::shared_ptr<impl> self, std::string id) {
    for (;;) {
      delivery head;
      {
        std::lock_guard lock(self->mu);
        auto& s = self->state(id);
        if (self->stopped || s.held || s.queue.empty()) {
          s.running = false;
          co_return;
        }
        head = s.queue.front();  // a copy: the client consumes its request
        s.in_flight = true;
        ++s.stats.attempts;
        ++self->totals.attempts;
      }
      const delivery_result r = co_await self->client.async_post(head.request, asio::use_awaitable);

      std::optional<std::chrono::milliseconds> retry_in;
      std::optional<delivery_failure> failed;
      bool ok = false;
      std::shared_ptr<asio::steady_timer> timer;
      {
        std::lock_guard lock(self->mu);
        auto& s = self->state(id);
        s.in_flight = false;
        if (r.error == error::shut_down) {
          // The client is going away: not the subscriber's failure, and nothing more can be sent.
          s.running = false;
          co_return;
        }
        switch (r.classified.outcome) {
          case outcome::delivered:
            ok = true;
            s.queue.pop_front();
            s.failures.on_success();
            ++s.stats.delivered;
            ++self->totals.delivered;
            break;
          case outcome::retry:
          case outcome::permanent: {
            ++s.stats.failures;
            ++self->totals.failures;
            if (self->stopped) break;
            const bool permanent = r.classified.outcome == outcome::permanent;
            if (s.failures.on_failure() || permanent) {
              s.held = true;
              ++self->totals.subscriptions_failed;
              delivery_failure f;
              f.code = r.classified.error;
              f.http_status = r.classified.http_status;
              f.text = r.error ? r.error_text : "HTTP " + std::to_string(r.status);
              f.sequence = head.sequence;
              f.permanent = permanent;
              failed = std::move(f);
            } else {
              ++s.stats.retries;
              ++self->totals.retries;
              retry_in = retry_delay(s.failures.consecutive(), r.retry_after, self->opts.backoff,
                                     self->opts.random);
              timer = std::make_shared<asio::steady_timer>(self->client.get_executor(), *retry_in);
              s.backoff = timer;
            }
            break;
          }
        }
      }
      // Outside the lock: the callbacks may enqueue() or resume().
      self->events.attempted(head, r, retry_in);
      if (ok) self->events.delivered(head, r);
      if (failed) {
        obs::warn("notify.subscription_failed", {{"subscription", id},
                                                 {"sequence", failed->sequence},
                                                 {"code", code_of(failed->code)},
                                                 {"status", failed->http_status},
                                                 {"error", failed->text}});
        self->events.subscription_failed(id, *failed);
      }
      if (timer) {
        co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
        std::lock_guard lock(self->mu);
        self->state(id).backoff.reset();
      }
    }
  }
};

delivery_worker::delivery_worker(rest_hook_client& client, delivery_events& events,
                                 worker_options options)
    : impl_(std::make_shared<impl>(client, events, std::move(options))) {}

delivery_worker::~delivery_worker() {
  stop();
}

enqueue_result delivery_worker::enqueue(delivery d) {
  const std::string id = d.subscription_id;
  bool start = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return enqueue_result::stopped;
    auto& s = impl_->state(id);
    if (s.has_last && d.sequence <= s.last_sequence) return enqueue_result::out_of_order;
    if (s.queue.size() >= impl_->opts.max_backlog_per_subscription)
      return enqueue_result::backlog_full;
    s.has_last = true;
    s.last_sequence = d.sequence;
    s.queue.push_back(std::move(d));
    start = impl_->claim_locked(s);
  }
  if (start) impl_->start(id);
  return enqueue_result::accepted;
}

void delivery_worker::resume(const std::string& subscription_id) {
  bool start = false;
  {
    std::lock_guard lock(impl_->mu);
    const auto it = impl_->subs.find(subscription_id);
    if (it == impl_->subs.end() || !it->second.held) return;
    it->second.held = false;
    it->second.failures.reset();
    start = impl_->claim_locked(it->second);
  }
  if (start) impl_->start(subscription_id);
}

void delivery_worker::stop() {
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
    for (auto& [id, s] : impl_->subs)
      if (s.backoff) timers.push_back(s.backoff);
  }
  // Timers are only touched on the strand they wait on.
  for (auto& t : timers) asio::post(impl_->client.get_executor(), [t] { t->cancel(); });
}

worker_stats delivery_worker::snapshot() const {
  std::lock_guard lock(impl_->mu);
  worker_stats out = impl_->totals;
  out.in_flight = 0;
  out.backlog = 0;
  out.subscriptions.clear();
  for (const auto& [id, s] : impl_->subs) {
    subscription_stats st = s.stats;
    st.backlog = s.queue.size();
    st.in_flight = s.in_flight;
    st.held = s.held;
    st.consecutive_failures = s.failures.consecutive();
    if (s.in_flight) ++out.in_flight;
    out.backlog += st.backlog;
    out.subscriptions.push_back(std::move(st));
  }
  return out;
}

}  // namespace carebridge::adapters::notify
