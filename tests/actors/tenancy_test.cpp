// Multi-tenancy (SPEC §4, R-MT): one runtime, many tenants, each with its
// own streams, versions and snapshots, each storage actor spawned on first use.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace sourcery;
using test_events::cart_snapshot;
using test_events::item_added;

namespace {

std::vector<std::string> names_in(const std::vector<wrapped_event<>>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(e.event.is<item_added>() ? e.event.as<item_added>().name : "snapshot");
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tenancy_suite, backend_fixture)

BOOST_AUTO_TEST_CASE(one_stream_id_in_three_tenants_holds_three_histories) { // R-MT
  auto id = stream_id::named("cart-1", "cart");
  auto home = store();
  auto acme = backend.in_tenant_mode("acme").event_store();
  auto globex = backend.in_tenant_mode("globex").event_store();

  home.append(id, {added("apple")});
  acme.append(id, {added("bolt"), added("nut")});
  globex.append(id, {added("cheese")}, no_versioning);
  acme.append(id, {added("washer")}, 2);

  using names = std::vector<std::string>;
  BOOST_TEST(names_in(home.load_stream(id)) == (names{"apple"}), boost::test_tools::per_element());
  BOOST_TEST(names_in(acme.load_stream(id)) == (names{"bolt", "nut", "washer"}),
             boost::test_tools::per_element());
  BOOST_TEST(names_in(globex.load_stream(id)) == (names{"cheese"}),
             boost::test_tools::per_element());
  // Versions are per tenant: the default tenant's stream is at 1, acme's at 3,
  // and globex's is versionless.
  BOOST_TEST(home.append(id, {added("pear")}, 1).version == std::optional<version>(2));
  BOOST_TEST(!globex.load_stream(id).front().version.has_value());
}

BOOST_AUTO_TEST_CASE(a_tenant_never_sees_another_tenants_stream) { // R-MT
  auto acme = backend.in_tenant_mode("acme").event_store();
  auto globex = backend.in_tenant_mode("globex").event_store();
  auto id = given_stream_with(3, acme);

  BOOST_TEST(globex.load_stream(id).empty());
  BOOST_TEST(store().load_stream(id).empty()); // nor does the default tenant
  // The stream is absent for globex, so expected version 0 is right there.
  BOOST_TEST(globex.append(id, {added("mine")}, 0).version == std::optional<version>(1));
  BOOST_TEST(acme.load_stream(id).size() == 3u);
}

BOOST_AUTO_TEST_CASE(snapshots_and_deletes_stay_in_their_tenant) { // R-MT
  auto acme = backend.in_tenant_mode("acme").event_store();
  auto globex = backend.in_tenant_mode("globex").event_store();
  auto id = stream_id::named("shared name");
  acme.append(id, {added("a1"), added("a2")});
  globex.append(id, {added("g1"), added("g2")});
  auto globex_before = contents(globex, id);

  acme.save_snapshot(id, wrap(cart_snapshot{{"a1", "a2"}}));
  BOOST_TEST(contents(globex, id) == globex_before, boost::test_tools::per_element());

  acme.delete_stream(id);
  BOOST_TEST(acme.load_stream(id).empty());
  BOOST_TEST(contents(globex, id) == globex_before, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_same_tenant_through_two_views_is_one_tenant) { // R-MT
  auto first = backend.in_tenant_mode("acme").event_store();
  auto second = backend.in_tenant_mode("acme").event_store();
  auto id = given_stream_with(2, first);
  BOOST_TEST(second.load_stream(id).size() == 2u);
  BOOST_CHECK_THROW(second.append(id, {added("x")}, 0), concurrent_stream_write_error);
}

BOOST_AUTO_TEST_CASE(tenant_storage_is_spawned_on_first_use) { // R-MT
  BOOST_TEST(backend.stats().tenants == 0u); // nothing spawned yet

  auto acme = backend.in_tenant_mode("acme");
  auto globex = backend.in_tenant_mode("globex");
  BOOST_TEST(backend.stats().tenants == 0u); // a view alone spawns nothing

  auto acme_store = acme.event_store();
  BOOST_TEST(backend.stats().tenants == 1u);
  acme.event_store();                                    // the same tenant again
  backend.in_tenant_mode("acme").event_store();          // through another view
  BOOST_TEST(backend.stats().tenants == 1u);

  globex.event_store();
  store(); // the default tenant
  BOOST_TEST(backend.stats().tenants == 3u);
  BOOST_TEST(acme.stats().tenants == 3u); // the count is the runtime's
}

BOOST_AUTO_TEST_CASE(many_tenants_each_keep_their_own_stream) { // R-MT
  auto id = stream_id::named("per-tenant counter");
  constexpr int tenants = 50;
  for (int t = 0; t < tenants; ++t) {
    auto s = backend.in_tenant_mode("tenant-" + std::to_string(t)).event_store();
    std::vector<wrapped_event<>> events;
    for (int i = 0; i <= t % 5; ++i)
      events.push_back(added("t" + std::to_string(t)));
    s.append(id, std::move(events));
  }
  BOOST_TEST(backend.stats().tenants == std::size_t{tenants});
  for (int t = 0; t < tenants; ++t) {
    auto tenant = backend.in_tenant_mode("tenant-" + std::to_string(t));
    auto loaded = tenant.event_store().load_stream(id);
    BOOST_TEST_CONTEXT("tenant " << t) {
      BOOST_REQUIRE_EQUAL(loaded.size(), std::size_t(t % 5 + 1));
      for (const auto& e : loaded)
        BOOST_TEST(e.event.as<item_added>().name == "t" + std::to_string(t));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
