// Schema evolution (SPEC §17): R-UP1 versioned types and upcasters on every
// read path, R-UP2 renames, R-UP3 typed errors. Events "written by an older
// build" are stored straight through the storage interface in their old
// form (old name, old JSON, old schema version), then read back through the
// public API.
#include "fixtures.hpp"

#include <sourcery/es/projector.hpp>

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

using namespace sourcery;
using namespace std::chrono_literals;

namespace evolution {

/// Version 3 of an order. Version 1 was stored as "purchase_made"
/// {"buyer", "qty"}; version 2 as "order_placed" {"customer", "quantity"};
/// version 3 added "currency".
struct order_placed {
  std::string customer;
  int quantity = 0;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (customer, quantity, currency))

/// Version 2 of a profile change, with an encrypted email; version 1 called
/// "display" "name".
struct profile_changed {
  std::string user_id;
  std::string email;
  std::string display;
};
BOOST_DESCRIBE_STRUCT(profile_changed, (), (user_id, email, display))

/// Registers the current build's types: order_placed at v3 with two
/// upcasters and the old name as an alias.
void register_current(event_registry& r) {
  r.add<order_placed>("order_placed", 3);
  r.add_upcaster("order_placed", 1, [](boost::json::object v1) {
    boost::json::object v2;
    v2["customer"] = v1.at("buyer");
    v2["quantity"] = v1.at("qty");
    return v2;
  });
  r.add_upcaster("order_placed", 2, [](boost::json::object v2) {
    v2["currency"] = "EUR";
    return v2;
  });
  r.add_alias<order_placed>("purchase_made");
}

} // namespace evolution

namespace {

using evolution::order_placed;

const std::string v1_order = R"({"buyer":"ann","qty":2})";
const std::string v2_order = R"({"customer":"bob","quantity":3})";
const std::string v3_order = R"({"customer":"cat","quantity":4,"currency":"GBP"})";

raw_event old_event(std::string name, std::string data, std::uint32_t schema) {
  return raw_event{random_uuid(), timestamp::now(), std::move(name), std::move(data), {},
                   std::nullopt, schema};
}

struct upcasting_fixture {
  backend b = make();

  static backend make() {
    auto b = backend::on(test_engine::make());
    evolution::register_current(b.registry());
    return b;
  }

  event_store store() { return b.event_store(); }

  /// Given `events` stored by an older build after `expected` (through the
  /// storage interface: nothing is encoded by this build), optionally with
  /// outbox entries.
  void given_stored(const stream_id& id, expected_version expected, std::vector<raw_event> events,
                    bool to_outbox = false) {
    std::vector<char> flags(to_outbox ? events.size() : 0, 1);
    b.engine()->streams(default_tenant)->append(id, expected, events, flags, {});
  }

  /// Given a stream with one order of each schema version: v1 under the old
  /// name, v2, v3.
  stream_id given_orders_of_every_version(bool to_outbox = false) {
    auto id = stream_id::random("order");
    given_stored(id, 0,
                 {old_event("purchase_made", v1_order, 1), old_event("order_placed", v2_order, 2),
                  old_event("order_placed", v3_order, 3)},
                 to_outbox);
    return id;
  }

  /// The stored form of the stream: "name schema data" per event.
  std::vector<std::string> stored(const stream_id& id) {
    std::vector<std::string> out;
    auto read = b.engine()->streams(default_tenant)->read(id, std::nullopt, std::nullopt);
    for (const auto& r : read.events.records)
      out.push_back(std::string(r.type) + " " + std::to_string(r.schema) + " "
                    + std::string(r.data));
    return out;
  }

  /// Checks the three orders of given_orders_of_every_version at v3.
  static void check_current(const std::vector<any_event>& events) {
    BOOST_REQUIRE_EQUAL(events.size(), 3u);
    const auto& a = events[0].as<order_placed>();
    BOOST_TEST(a.customer == "ann");
    BOOST_TEST(a.quantity == 2);
    BOOST_TEST(a.currency == "EUR");
    const auto& b = events[1].as<order_placed>();
    BOOST_TEST(b.customer == "bob");
    BOOST_TEST(b.quantity == 3);
    BOOST_TEST(b.currency == "EUR");
    const auto& c = events[2].as<order_placed>();
    BOOST_TEST(c.customer == "cat");
    BOOST_TEST(c.currency == "GBP");
    for (const auto& e : events)
      BOOST_TEST(e.name() == "order_placed");
  }
  static std::vector<any_event> of(const std::vector<wrapped_event<>>& ws) {
    std::vector<any_event> out;
    for (const auto& w : ws)
      out.push_back(w.event);
    return out;
  }
  static std::vector<any_event> of(const std::vector<recorded_event>& rs) {
    std::vector<any_event> out;
    for (const auto& r : rs)
      out.push_back(r.event);
    return out;
  }

  /// Runs `read` and returns the deserialization_error it throws.
  template <class F>
  static std::string failure_of(F&& read) {
    try {
      read();
    } catch (const deserialization_error& e) {
      BOOST_TEST(e.event_name() == "order_placed");
      return e.what();
    }
    BOOST_FAIL("no deserialization_error");
    return {};
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(upcasting_suite, upcasting_fixture)

// -- every read path (R-UP1, R-UP2) ----------------------------------------------------

BOOST_AUTO_TEST_CASE(load_stream_yields_old_versions_and_old_names_at_the_current_version) {
  // R-UP1, R-UP2
  auto id = given_orders_of_every_version();
  auto loaded = store().load_stream(id);
  check_current(of(loaded));
  BOOST_TEST(*loaded[0].version == 1u);
  BOOST_TEST(*loaded[2].version == 3u);
}

BOOST_AUTO_TEST_CASE(a_pull_subscription_yields_the_current_version) { // R-UP1
  given_orders_of_every_version();
  auto sub = b.subscriber().start_from(0).build_batch(3, 5s);
  check_current(of(sub.next()));
}

BOOST_AUTO_TEST_CASE(a_push_subscription_yields_the_current_version) { // R-UP1
  given_orders_of_every_version();
  std::mutex m;
  std::condition_variable cv;
  std::vector<recorded_event> got;
  auto sub = b.subscriber().start_from(0).build_push([&](std::span<const recorded_event> batch) {
    std::lock_guard l(m);
    got.insert(got.end(), batch.begin(), batch.end());
    cv.notify_all();
  });
  std::unique_lock l(m);
  BOOST_REQUIRE(cv.wait_for(l, 60s, [&] { return got.size() >= 3; }));
  check_current(of(got));
}

BOOST_AUTO_TEST_CASE(the_outbox_publishes_the_current_version) { // R-UP1
  std::vector<recorded_event> published;
  b.with_outbox();
  given_orders_of_every_version(true);
  BOOST_TEST(b.outbox().run([&](const recorded_event& r) { published.push_back(r); }) == 3u);
  check_current(of(published));
}

BOOST_AUTO_TEST_CASE(a_projector_catching_up_from_the_store_sees_the_current_version) {
  // R-UP1: the projector catches versions 1 and 2 up through load_stream.
  std::vector<recorded_event> seen;
  projector p{"orders", b, [&](const recorded_event& r) { seen.push_back(r); }};
  auto id = given_orders_of_every_version();
  auto sub = b.subscriber().start_from(0).build_batch(3, 5s);
  auto all = sub.next();
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  BOOST_TEST(p.project(all[2]) == 3u);
  check_current(of(seen));
  BOOST_TEST(seen[0].stream_id == id);
}

BOOST_AUTO_TEST_CASE(a_snapshot_stored_at_an_older_version_loads_at_the_current_one) {
  // R-UP1: snapshots are stored events too.
  auto id = stream_id::random("order");
  given_stored(id, 0, {old_event("order_placed", v2_order, 2)});
  auto snapshot = old_event("purchase_made", v1_order, 1);
  snapshot.version = 1;
  b.engine()->streams(default_tenant)->save_snapshot(id, snapshot);
  auto loaded = store().load_stream(id);
  BOOST_REQUIRE_EQUAL(loaded.size(), 1u);
  BOOST_TEST(loaded[0].event.as<order_placed>().customer == "ann");
  BOOST_TEST(loaded[0].event.as<order_placed>().currency == "EUR");
}

BOOST_AUTO_TEST_CASE(events_written_by_this_build_carry_the_current_version) { // R-UP1
  auto id = stream_id::random("order");
  store().append(id, {wrap(order_placed{"dan", 1, "USD"})});
  BOOST_TEST(stored(id) == (std::vector<std::string>{
                             R"(order_placed 3 {"customer":"dan","quantity":1,"currency":"USD"})"}));
  BOOST_TEST(store().load_stream(id)[0].event.as<order_placed>().currency == "USD");
}

BOOST_AUTO_TEST_CASE(reading_never_rewrites_the_stored_events) { // R-UP1
  auto id = given_orders_of_every_version(true);
  auto before = stored(id);
  BOOST_TEST(before == (std::vector<std::string>{"purchase_made 1 " + v1_order,
                                                 "order_placed 2 " + v2_order,
                                                 "order_placed 3 " + v3_order}));
  b.with_outbox();
  store().load_stream(id);
  b.subscriber().start_from(0).build_batch(3, 5s).next();
  b.outbox().run([](const recorded_event&) {});
  BOOST_TEST(stored(id) == before);
}

// -- registration errors (R-UP3) -------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_upcaster_leaving_a_gap_is_refused_at_registration) { // R-UP3
  event_registry r;
  r.add_upcaster("shipped", 1, [](boost::json::object o) { return o; });
  BOOST_CHECK_THROW(r.add_upcaster("shipped", 3, [](boost::json::object o) { return o; }),
                    invalid_argument);
  // With 2 in between the chain is whole.
  r.add_upcaster("shipped", 2, [](boost::json::object o) { return o; });
  r.add_upcaster("shipped", 3, [](boost::json::object o) { return o; });
  BOOST_CHECK_NO_THROW(r.add<order_placed>("shipped", 4));
}

BOOST_AUTO_TEST_CASE(a_type_version_the_upcasters_do_not_end_at_is_refused) { // R-UP3
  event_registry r;
  r.add_upcaster("shipped", 1, [](boost::json::object o) { return o; });
  try {
    r.add<order_placed>("shipped", 4); // none from 2 nor 3
    BOOST_FAIL("no invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(contains(e.what(), "gap"));
  }
  BOOST_TEST(r.find("shipped") == nullptr);
}

BOOST_AUTO_TEST_CASE(an_upcaster_at_or_above_the_current_version_is_refused) { // R-UP3
  event_registry r;
  r.add<order_placed>("shipped", 2);
  BOOST_CHECK_THROW(r.add_upcaster("shipped", 2, [](boost::json::object o) { return o; }),
                    invalid_argument);
  BOOST_CHECK_THROW(r.add_upcaster("shipped", 0, [](boost::json::object o) { return o; }),
                    invalid_argument);
  r.add_upcaster("shipped", 1, [](boost::json::object o) { return o; });
  BOOST_CHECK_THROW(r.add_upcaster("shipped", 1, [](boost::json::object o) { return o; }),
                    invalid_argument);
}

BOOST_AUTO_TEST_CASE(an_alias_needs_a_registered_type_and_a_free_name) { // R-UP2
  event_registry r;
  BOOST_CHECK_THROW(r.alias("old", "missing"), invalid_argument);
  r.add<order_placed>("order_placed");
  r.add<test_events::item_added>("item_added");
  BOOST_CHECK_THROW(r.alias("item_added", "order_placed"), duplicated_event);
  r.alias("old", "order_placed");
  BOOST_CHECK_THROW(r.add_alias<order_placed>("old"), duplicated_event);
  BOOST_TEST(r.find("old") == r.find("order_placed"));
}

// -- read errors (R-UP3): typed, naming event, stored version and stream; nothing changes

BOOST_AUTO_TEST_CASE(a_version_no_chain_reaches_is_a_deserialization_error) { // R-UP3
  event_registry& r = b.registry();
  r.add<test_events::item_removed>("item_removed", 3);
  r.add_upcaster("item_removed", 2, [](boost::json::object o) { return o; });
  auto id = stream_id::random("cart");
  given_stored(id, 0, {old_event("item_removed", R"({"name":"x"})", 1)});
  auto before = stored(id);
  try {
    store().load_stream(id);
    BOOST_FAIL("no deserialization_error");
  } catch (const deserialization_error& e) {
    std::string what = e.what();
    BOOST_TEST(e.event_name() == "item_removed");
    BOOST_TEST(e.stream() == id.to_string());
    BOOST_TEST(contains(what, "stored at schema version 1"), what);
    BOOST_TEST(contains(what, "no upcaster chain"), what);
  }
  BOOST_TEST(stored(id) == before);
}

BOOST_AUTO_TEST_CASE(a_version_above_the_current_one_is_a_deserialization_error) { // R-UP3
  auto id = stream_id::random("order");
  given_stored(id, 0, {old_event("order_placed", v3_order, 4)});
  auto what = failure_of([&] { store().load_stream(id); });
  BOOST_TEST(contains(what, "stored at schema version 4, above the current version 3"), what);
  BOOST_TEST(contains(what, id.to_string()), what);
  auto sub = b.subscriber().start_from(0).build_batch(1, 1s);
  failure_of([&] { sub.next(); });
}

BOOST_AUTO_TEST_CASE(an_upcaster_that_throws_is_a_deserialization_error) { // R-UP3
  auto id = stream_id::random("order");
  // Version 1 without "qty": the upcaster's `at` throws.
  given_stored(id, 0, {old_event("purchase_made", R"({"buyer":"ann"})", 1)});
  auto before = stored(id);
  auto what = failure_of([&] { store().load_stream(id); });
  BOOST_TEST(contains(what, "stored at schema version 1"), what);
  BOOST_TEST(contains(what, "upcaster from version 1 failed"), what);
  BOOST_TEST(contains(what, id.to_string()), what);
  BOOST_TEST(stored(id) == before);
}

BOOST_AUTO_TEST_CASE(upcast_json_that_does_not_fit_the_type_is_a_deserialization_error) {
  // R-UP3: "qty" of the wrong type passes the upcasters but not the decode.
  auto id = stream_id::random("order");
  given_stored(id, 0, {old_event("purchase_made", R"({"buyer":"ann","qty":"two"})", 1)});
  auto before = stored(id);
  try {
    store().load_stream(id);
    BOOST_FAIL("no deserialization_error");
  } catch (const deserialization_error& e) {
    std::string what = e.what();
    BOOST_TEST(e.field() == "quantity");
    BOOST_TEST(contains(what, "stored at schema version 1"), what);
    BOOST_TEST(contains(what, id.to_string()), what);
  }
  BOOST_TEST(stored(id) == before);
}

BOOST_AUTO_TEST_CASE(stored_data_that_is_not_an_object_is_a_deserialization_error) { // R-UP3
  auto id = stream_id::random("order");
  given_stored(id, 0, {old_event("purchase_made", "[1,2]", 1)});
  auto what = failure_of([&] { store().load_stream(id); });
  BOOST_TEST(contains(what, "not an object"), what);
}

// -- encrypted fields (R-UP1 with R-EN) ------------------------------------------------

BOOST_AUTO_TEST_CASE(upcasters_see_decrypted_data_and_shredded_fields_stay_masked) {
  // R-UP1, R-EN: version 1 (field "name") stored encrypted by an older build.
  using evolution::profile_changed;
  auto e = backend::on(test_engine::make());
  e.with_encryption();
  e.registry().add<profile_changed>(
    "profile_changed",
    encryption_spec_for<profile_changed>().subject("user_id").encrypt("email", std::string("<erased>")), 2);
  std::string seen_email;
  e.registry().add_upcaster("profile_changed", 1, [&](boost::json::object v1) {
    seen_email = v1.at("email").as_string().c_str();
    boost::json::value name = v1.at("name"); // a copy: inserting may move the object's storage
    v1["display"] = name;
    v1.erase("name");
    return v1;
  });
  BOOST_REQUIRE(e.encryption().create_key("ann"));
  auto id = stream_id::random("profile");
  e.event_store().append(id, {wrap(profile_changed{"ann", "ann@example.org", "Ann"})});
  // The older build's form of the same event: the encrypted email, "name".
  auto engine = e.engine()->streams(default_tenant);
  auto read = engine->read(id, std::nullopt, std::nullopt); // owns what its records view
  auto stored_v2 = read.events.records.at(0);
  auto json = serde::parse(stored_v2.data).as_object();
  BOOST_REQUIRE(!contains(std::string(stored_v2.data), "ann@example.org"));
  boost::json::value display = json.at("display"); // a copy, as above
  json["name"] = display;
  json.erase("display");
  engine->append(id, 1,
                 std::vector<raw_event>{old_event("profile_changed", serde::encode(json), 1)}, {},
                 {});

  auto loaded = e.event_store().load_stream(id);
  BOOST_REQUIRE_EQUAL(loaded.size(), 2u);
  BOOST_TEST(seen_email == "ann@example.org");
  BOOST_TEST(loaded[1].event.as<profile_changed>().email == "ann@example.org");
  BOOST_TEST(loaded[1].event.as<profile_changed>().display == "Ann");

  e.encryption().shred("ann");
  auto shredded = e.event_store().load_stream(id);
  BOOST_REQUIRE_EQUAL(shredded.size(), 2u);
  BOOST_TEST(seen_email == "<erased>");
  BOOST_TEST(shredded[1].event.as<profile_changed>().email == "<erased>");
  BOOST_TEST(shredded[1].event.as<profile_changed>().display == "Ann");
}

BOOST_AUTO_TEST_SUITE_END()
