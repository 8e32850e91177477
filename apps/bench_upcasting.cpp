// bench_upcasting: reads of events stored at an old schema version beside
// reads of events stored at the current one (issue #13, item 6; R-UP1).
//
//   bench_upcasting --events=1000000 --stream-size=1000 --pull-batch=1000
//
// Two in-memory backends hold --events events each, written "by an older
// build" straight through the storage interface in streams of
// --stream-size: one at schema version 1 (old field names), one at version 3
// (the current form, as this build writes it). Both register the type at
// version 3 with two upcasters (1 → 2 renames fields, 2 → 3 adds one). Each
// is read twice: load_stream of every stream, and a pull subscription
// catching up from position 0. The v1 rates are compared with the v3 rates
// of the same run; target ≥ 50%.
#include "bench_common.hpp"

using namespace sourcery;
using bench::clock_type;
using bench::number;
using bench::seconds_since;
using bench::with_commas;

namespace {

/// Version 1 of the event, as an older build stored it.
struct order_v1 {
  std::string buyer;
  std::string sku;
  int qty = 0;
  double price = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(order_v1, (), (buyer, sku, qty, price, note))

/// Version 3, as this build reads and writes it.
struct order_v3 {
  std::string customer;
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::string note;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(order_v3, (), (customer, sku, quantity, price, note, currency))

struct bench_config : bench::config {
  std::size_t events = 1'000'000;
  std::size_t stream_size = 1'000;
  std::size_t pull_batch = 1'000;

  /// The command line: what it parses, what --help prints.
  cli::options options() {
    using namespace bench::limits;
    cli::options o("bench_upcasting",
                   "Reads of events stored at schema version 1 through two upcasters, beside "
                   "reads of events stored at version 3 (in memory); one table on stdout.");
    o.count(events, "events", "events stored at each version", 1, stored)
      .count(stream_size, "stream-size", "events per stream", 1, stored)
      .count(pull_batch, "pull-batch", "catch-up build_batch size", 1, in_flight);
    add_scheduler_options(o);
    return o;
  }
};

/// A backend with order_v3 registered at version 3 and its two upcasters.
backend make_backend(const bench_config& cfg) {
  auto b = backend::in_memory(cfg.runtime());
  b.registry().add<order_v3>("order_placed", 3);
  b.registry().add_upcaster("order_placed", 1, [](boost::json::object v1) {
    boost::json::object v2(v1.storage());
    v2.reserve(v1.size());
    for (auto& [key, value] : v1) {
      if (key == "buyer")
        v2["customer"] = std::move(value);
      else if (key == "qty")
        v2["quantity"] = std::move(value);
      else
        v2[key] = std::move(value);
    }
    return v2;
  });
  b.registry().add_upcaster("order_placed", 2, [](boost::json::object v2) {
    v2["currency"] = "EUR";
    return v2;
  });
  return b;
}

/// Stores `cfg.events` events at `schema` through the storage interface;
/// returns the streams.
std::vector<stream_id> given_stored(backend& b, const bench_config& cfg, std::uint32_t schema) {
  auto streams = b.engine()->streams(default_tenant);
  std::vector<stream_id> ids;
  std::vector<raw_event> batch;
  for (std::size_t i = 0; i < cfg.events;) {
    auto id = stream_id::random("orders");
    batch.clear();
    for (std::size_t k = 0; k < cfg.stream_size && i < cfg.events; ++k, ++i) {
      auto e = bench::make_event(i);
      std::string data =
        schema == 1 ? serde::encode(order_v1{e.customer, e.sku, e.quantity, e.price, e.note})
                    : serde::encode(order_v3{e.customer, e.sku, e.quantity, e.price, e.note,
                                             "EUR"});
      batch.push_back(raw_event{random_uuid(), timestamp::now(), "order_placed", std::move(data),
                                {}, std::nullopt, schema});
    }
    streams->append(id, 0, batch, {}, {});
    ids.push_back(id);
  }
  return ids;
}

/// Checks event `e` came out at version 3.
void check(const any_event& e, const char* where) {
  const auto* v3 = e.get_if<order_v3>();
  if (!v3 || v3->currency != "EUR" || !v3->customer.starts_with("customer-")
      || v3->quantity < 1)
    bench::fail("%s: an event did not come out at version 3", where);
}

/// load_stream of every stream; events/s.
double load_rate(backend& b, const std::vector<stream_id>& ids, const bench_config& cfg) {
  auto store = b.event_store();
  std::size_t got = 0;
  auto start = clock_type::now();
  for (const auto& id : ids) {
    auto events = store.load_stream(id);
    got += events.size();
    check(events.back().event, "load_stream");
  }
  auto s = seconds_since(start);
  if (got != cfg.events)
    bench::fail("load_stream: %zu of %zu events", got, cfg.events);
  return got / s;
}

/// A pull subscription from position 0 to the end; events/s.
double catch_up_rate(backend& b, const bench_config& cfg) {
  std::size_t got = 0;
  auto start = clock_type::now();
  auto sub = b.subscriber().start_from(0).build_batch(cfg.pull_batch, std::chrono::seconds(1));
  while (got < cfg.events) {
    auto batch = sub.next();
    if (batch.empty()) {
      bench::fail("catch-up: an empty batch after %zu records", got);
      break;
    }
    check(batch.back().event, "catch-up");
    got += batch.size();
  }
  auto s = seconds_since(start);
  return got / s;
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  return cli::run_main(argc, argv, cfg.options(), [&] {
    bench::machine_watch machine;

    std::fprintf(stderr, "  storing 2 x %s events …\n", with_commas(cfg.events).c_str());
    auto old_backend = make_backend(cfg);
    auto current_backend = make_backend(cfg);
    auto old_ids = given_stored(old_backend, cfg, 1);
    auto current_ids = given_stored(current_backend, cfg, 3);

    std::vector<bench::table_row> rows;
    auto row = [&](const std::string& what, double rate, const std::string& note) {
      bench::print_progress(58, what, number(rate), "events/s");
      rows.push_back({what, number(rate), "events/s", "", "", note});
    };
    auto ratio_row = [&](const std::string& what, double old_rate, double current_rate) {
      auto ratio = old_rate / current_rate;
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.0f", 100 * ratio);
      rows.push_back({what, pct, "%", ">= 50", ratio >= 0.5 ? "yes" : "no",
                      bench::times(ratio, "the v3-stored read")});
    };

    // The v3 reads first, then v1: each pair runs back to back in one process.
    auto load_v3 = load_rate(current_backend, current_ids, cfg);
    row("load_stream, stored as v3 (no upcast)", load_v3,
        with_commas(static_cast<double>(current_ids.size())) + " streams of "
          + with_commas(static_cast<double>(cfg.stream_size)));
    auto load_v1 = load_rate(old_backend, old_ids, cfg);
    row("load_stream, stored as v1, read as v3 (2 upcasters)", load_v1, "");
    ratio_row("load_stream v1 / v3", load_v1, load_v3);

    auto catch_v3 = catch_up_rate(current_backend, cfg);
    row("catch-up from 0, stored as v3 (no upcast)", catch_v3,
        "pull build_batch(" + with_commas(static_cast<double>(cfg.pull_batch)) + ")");
    auto catch_v1 = catch_up_rate(old_backend, cfg);
    row("catch-up from 0, stored as v1, read as v3 (2 upcasters)", catch_v1, "");
    ratio_row("catch-up v1 / v3", catch_v1, catch_v3);

    bench::print_title("upcasting", cfg);
    std::printf("%s events at each version; %s %s\n\n", with_commas(cfg.events).c_str(),
                machine.load_averages().c_str(), machine.others_cpu().c_str());
    bench::print_table({56, 10, 8, 6, 3, 40},
                       {"measurement", "value", "unit", "target", "met", "note"}, rows);
    return bench::exit_code("bench_upcasting");  });
  }
