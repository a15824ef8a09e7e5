#include "gateway/app/mllp_client.hpp"

#include "adapters/mllp/mllp_framer.hpp"
#include "adapters/tls/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <exception>
#include <memory>
#include <ostream>

namespace carebridge::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using adapters::mllp::mllp_framer;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One exchange: what it sends, and how it ended. Lives on send_mllp_messages()'s stack, which
// outlives the io_context run.
struct exchange_state {
  const mllp_client_options* options = nullptr;
  const std::vector<std::string_view>* messages = nullptr;
  const std::function<void(std::size_t, std::string_view)>* on_ack = nullptr;
  std::string_view connect_hint;
  asio::ssl::context* tls = nullptr;  // null: plain TCP
  mllp_send_result result;
};

template <typename Stream>
asio::awaitable<void> async_exchange(Stream& stream, beast::tcp_stream& lowest, exchange_state& s) {
  mllp_framer framer(64u << 20);
  std::string buf(8192, '\0');
  const auto timeout = s.options->timeout;
  for (std::size_t index = 0; index < s.messages->size(); ++index) {
    const std::string_view msg = (*s.messages)[index];
    std::string frame;
    frame.reserve(msg.size() + 3);
    frame += adapters::mllp::start_block;
    frame += msg;
    frame += adapters::mllp::end_block;
    frame += adapters::mllp::carriage_return;
    lowest.expires_after(timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(frame), use_tuple);
    if (wec) {
      s.result.failure = "write failed: " + wec.message();
      co_return;
    }
    while (true) {
      auto ev = framer.next();
      if (ev.what == mllp_framer::kind::frame) {
        (*s.on_ack)(index, ev.payload);
        ++s.result.answered;
        break;
      }
      lowest.expires_after(timeout);
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
      if (rec) {
        s.result.failure = rec == beast::error::timeout ? "no ACK within the timeout"
                                                        : "connection closed: " + rec.message();
        co_return;
      }
      framer.feed({buf.data(), n});
    }
  }
}

// Takes its state by pointer (a value), as a coroutine handed to co_spawn should.
asio::awaitable<void> async_connect_and_exchange(exchange_state* s) {
  const mllp_client_options& o = *s->options;
  const auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(o.endpoint.host, std::to_string(o.endpoint.port), use_tuple);
  if (rec) {
    s->result.connect_error = "cannot resolve " + o.endpoint.host + ": " + rec.message();
    co_return;
  }
  beast::tcp_stream tcp(ex);
  tcp.expires_after(o.timeout);
  auto [cec, ep] = co_await tcp.async_connect(results, use_tuple);
  if (cec) {
    s->result.connect_error =
        "cannot connect to " + o.target + ": " + cec.message() + std::string(s->connect_hint);
    co_return;
  }
  if (s->tls == nullptr) {
    co_await async_exchange(tcp, tcp, *s);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *s->tls);
  const std::string sni = o.server_name.empty() ? o.endpoint.host : o.server_name;
  SSL_set_tlsext_host_name(tls.native_handle(), sni.c_str());
  tls.set_verify_callback(asio::ssl::host_name_verification(sni));
  auto& lowest = beast::get_lowest_layer(tls);
  lowest.expires_after(o.timeout);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) {
    s->result.connect_error = "TLS handshake with " + o.target + " failed: " + hec.message();
    co_return;
  }
  co_await async_exchange(tls, lowest, *s);
  lowest.expires_after(std::chrono::seconds(2));
  co_await tls.async_shutdown(use_tuple);
}

}  // namespace

client_option parse_mllp_client_option(const std::vector<std::string>& args, std::size_t& i,
                                       mllp_client_options& options, std::string_view command,
                                       std::ostream& err) {
  const std::string& a = args[i];
  if (a == "--tls") {
    options.tls = true;
    return client_option::taken;
  }
  if (a != "--ca" && a != "--cert" && a != "--key" && a != "--server-name" && a != "--timeout")
    return client_option::not_mine;
  if (i + 1 == args.size()) {
    err << command << ": " << a << " needs a value\n";
    return client_option::bad_value;
  }
  const std::string& v = args[++i];
  if (a == "--ca") {
    options.ca = v;
  } else if (a == "--cert") {
    options.cert = v;
  } else if (a == "--key") {
    options.key = v;
  } else if (a == "--server-name") {
    options.server_name = v;
  } else {
    double seconds = -1;
    try {
      seconds = std::stod(v);
    } catch (...) {
      seconds = -1;
    }
    if (!(seconds > 0)) {
      err << command << ": --timeout needs a number of seconds\n";
      return client_option::bad_value;
    }
    options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  return client_option::taken;
}

bool check_mllp_client_options(mllp_client_options& options, std::string_view command,
                               std::ostream& err) {
  if (options.cert.empty() != options.key.empty()) {
    err << command << ": --cert and --key go together\n";
    return false;
  }
  try {
    options.endpoint = gateway::config::parse_host_port(options.target, std::string(command));
  } catch (const std::exception& e) {
    err << e.what() << '\n';
    return false;
  }
  return true;
}

mllp_send_result send_mllp_messages(
    const mllp_client_options& options, const std::vector<std::string_view>& messages,
    const std::function<void(std::size_t, std::string_view)>& on_ack,
    std::string_view connect_hint) {
  exchange_state state;
  state.options = &options;
  state.messages = &messages;
  state.on_ack = &on_ack;
  state.connect_hint = connect_hint;
  std::shared_ptr<asio::ssl::context> ctx;
  if (options.tls) {
    // Certificates are read here, at start-up: a bad file ends the command with one line.
    try {
      ctx = adapters::tls::make_client_context(options.ca, options.cert, options.key);
    } catch (const std::exception& e) {
      state.result.connect_error = e.what();
      return state.result;
    }
    state.tls = ctx.get();
  }
  asio::io_context ioc;
  asio::co_spawn(ioc, async_connect_and_exchange(&state), asio::detached);
  ioc.run();
  return state.result;
}

}  // namespace carebridge::app
