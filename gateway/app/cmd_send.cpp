// carebridge send: a small MLLP client. Sends the messages of each file (single, concatenated or
// batch), one frame each, waits for each ACK and prints it. Exit 0 when every message got AA/CA.
#include "adapters/mllp/mllp_framer.hpp"
#include "adapters/tls/tls.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/config/config.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <ostream>

namespace carebridge::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace hl7 = mappings::hl7v2;
using adapters::mllp::mllp_framer;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct send_job {
  std::vector<std::pair<std::string, std::string>> messages;  // (label, bytes)
  std::chrono::milliseconds timeout{10000};
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::size_t positive = 0;
  std::size_t negative = 0;
  std::string failure;  // set when the exchange broke off
};

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, beast::tcp_stream& lowest, send_job& job) {
  mllp_framer framer(64u << 20);
  std::string buf(8192, '\0');
  for (const auto& [label, msg] : job.messages) {
    std::string frame;
    frame.reserve(msg.size() + 3);
    frame += adapters::mllp::start_block;
    frame += msg;
    frame += adapters::mllp::end_block;
    frame += adapters::mllp::carriage_return;
    lowest.expires_after(job.timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(frame), use_tuple);
    if (wec) {
      job.failure = "write failed: " + wec.message();
      co_return;
    }
    while (true) {
      auto ev = framer.next();
      if (ev.what == mllp_framer::kind::frame) {
        std::string ack(ev.payload);
        for (char& c : ack)
          if (c == '\r') c = '\n';
        *job.out << "# " << label << '\n' << ack;
        if (!ack.empty() && ack.back() != '\n') *job.out << '\n';
        auto parsed = hl7::parse(ev.payload);
        const std::string code = parsed ? parsed->get("MSA.1").value() : "";
        if (code == "AA" || code == "CA") ++job.positive;
        else ++job.negative;
        break;
      }
      lowest.expires_after(job.timeout);
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
      if (rec) {
        job.failure = rec == beast::error::timeout ? "no ACK within the timeout"
                                                   : "connection closed: " + rec.message();
        co_return;
      }
      framer.feed({buf.data(), n});
    }
  }
}

}  // namespace

int cmd_send(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string target, ca, cert, key, server_name;
  bool use_tls = false;
  double timeout = 10;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& v) {
      if (i + 1 == args.size()) return false;
      v = args[++i];
      return true;
    };
    if (a == "--tls") {
      use_tls = true;
    } else if (a == "--ca" || a == "--cert" || a == "--key" || a == "--server-name" ||
               a == "--timeout") {
      std::string v;
      if (!value(v)) {
        err << "carebridge send: " << a << " needs a value\n";
        return exit_input;
      }
      if (a == "--ca") ca = v;
      else if (a == "--cert") cert = v;
      else if (a == "--key") key = v;
      else if (a == "--server-name") server_name = v;
      else {
        try {
          timeout = std::stod(v);
        } catch (...) {
          timeout = -1;
        }
        if (!(timeout > 0)) {
          err << "carebridge send: --timeout needs a number of seconds\n";
          return exit_input;
        }
      }
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      err << "carebridge send: unknown option " << a << '\n';
      return exit_input;
    } else if (target.empty()) {
      target = a;
    } else {
      files.push_back(a);
    }
  }
  if (target.empty() || files.empty()) {
    err << "carebridge send: usage: carebridge send HOST:PORT FILE... [--tls --ca FILE --cert FILE "
           "--key FILE]\n";
    return exit_input;
  }
  if (!cert.empty() != !key.empty()) {
    err << "carebridge send: --cert and --key go together\n";
    return exit_input;
  }
  gateway::config::host_port hp;
  try {
    hp = gateway::config::parse_host_port(target, "carebridge send");
  } catch (const std::exception& e) {
    err << e.what() << '\n';
    return exit_input;
  }

  send_job job;
  job.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
  job.out = &out;
  job.err = &err;
  std::vector<std::string> contents;
  contents.reserve(files.size());
  for (const auto& f : files) {
    auto data = read_input(f, err, "send");
    if (!data) return exit_input;
    contents.push_back(std::move(*data));
    auto split = hl7::split_batch(contents.back());
    if (!split) {
      err << "carebridge send: " << f << ": not HL7 v2: " << split.error().describe() << '\n';
      return exit_input;
    }
    const auto msgs = split->messages();
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      std::string m(msgs[i]);
      // Send with the canonical CR terminator, whatever the file used.
      for (std::size_t p = 0; (p = m.find("\r\n", p)) != std::string::npos;) m.erase(p + 1, 1);
      for (char& c : m)
        if (c == '\n') c = '\r';
      job.messages.emplace_back(f + (msgs.size() > 1 ? " #" + std::to_string(i + 1) : ""),
                                std::move(m));
    }
  }

  asio::io_context ioc;
  std::shared_ptr<asio::ssl::context> ctx;
  if (use_tls) {
    try {
      ctx = adapters::tls::make_client_context(ca, cert, key);
    } catch (const std::exception& e) {
      err << "carebridge send: " << e.what() << '\n';
      return exit_input;
    }
  }
  std::string connect_error;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::resolver resolver(ioc);
        auto [rec, results] =
            co_await resolver.async_resolve(hp.host, std::to_string(hp.port), use_tuple);
        if (rec) {
          connect_error = "cannot resolve " + hp.host + ": " + rec.message();
          co_return;
        }
        beast::tcp_stream tcp(ioc);
        tcp.expires_after(job.timeout);
        auto [cec, ep] = co_await tcp.async_connect(results, use_tuple);
        if (cec) {
          connect_error = "cannot connect to " + target + ": " + cec.message();
          co_return;
        }
        if (!ctx) {
          co_await exchange(tcp, tcp, job);
          co_return;
        }
        beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *ctx);
        const std::string sni = server_name.empty() ? hp.host : server_name;
        SSL_set_tlsext_host_name(tls.native_handle(), sni.c_str());
        tls.set_verify_callback(asio::ssl::host_name_verification(sni));
        auto& lowest = beast::get_lowest_layer(tls);
        lowest.expires_after(job.timeout);
        auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (hec) {
          connect_error = "TLS handshake with " + target + " failed: " + hec.message();
          co_return;
        }
        co_await exchange(tls, lowest, job);
        lowest.expires_after(std::chrono::seconds(2));
        co_await tls.async_shutdown(use_tuple);
      },
      asio::detached);
  ioc.run();
  if (!connect_error.empty()) {
    err << "carebridge send: " << connect_error << '\n';
    return exit_input;
  }
  if (!job.failure.empty()) {
    err << "carebridge send: " << job.failure << " (after " << job.positive + job.negative
        << " of " << job.messages.size() << " messages)\n";
    return exit_input;
  }
  if (job.negative != 0) {
    err << "carebridge send: " << job.negative << " of " << job.messages.size()
        << " messages were not accepted\n";
    return exit_input;
  }
  return exit_ok;
}

}  // namespace carebridge::app
