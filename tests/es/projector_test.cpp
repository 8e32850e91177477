// Projectors (issue #6, items 3 and 4): a bank-account balance read model fed
// with recorded events, here collected by an in-transaction listener (which
// only records them: a listener must not call the store back).
#include "fixtures.hpp"

#include <sourcery/es/aggregate.hpp>
#include <sourcery/es/projector.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <mutex>
#include <stdexcept>

using namespace sourcery;

namespace bank {

struct account_opened {
  std::string owner;
};
BOOST_DESCRIBE_STRUCT(account_opened, (), (owner))

struct deposited {
  int amount = 0;
};
BOOST_DESCRIBE_STRUCT(deposited, (), (amount))

struct withdrawn {
  int amount = 0;
};
BOOST_DESCRIBE_STRUCT(withdrawn, (), (amount))

/// The read model: each account's balance and the versions projected.
struct balances {
  std::map<std::string, int> balance; // by owner
  std::vector<version> versions;
  std::vector<position> positions;
  std::map<std::string, std::string> owner_of; // stream → owner

  void project(const recorded_event& r) {
    auto stream = r.stream_id.to_string();
    visit_event<account_opened, deposited, withdrawn>(r.event, [&](const auto& e) {
      using E = std::decay_t<decltype(e)>;
      if constexpr (std::is_same_v<E, account_opened>) {
        owner_of[stream] = e.owner;
        balance[e.owner] = 0;
      } else if constexpr (std::is_same_v<E, deposited>) {
        balance[owner_of.at(stream)] += e.amount;
      } else {
        balance[owner_of.at(stream)] -= e.amount;
      }
    });
    versions.push_back(*r.version);
    positions.push_back(r.position);
  }
};

} // namespace bank

struct projector_fixture : backend_fixture {
  projector_fixture() {
    backend.registry().add<bank::account_opened>("account_opened");
    backend.registry().add<bank::deposited>("deposited");
    backend.registry().add<bank::withdrawn>("withdrawn");
    backend.in_transaction().add_for_category("account", recorder);
  }
  ~projector_fixture() { backend.in_transaction().remove(recorder); }

  bank::balances model;
  std::shared_ptr<in_memory_cursor_storage> cursors = std::make_shared<in_memory_cursor_storage>();
  projector balances{"balances", backend, [this](const recorded_event& r) { model.project(r); },
                     cursors};

  std::mutex mutex;
  std::vector<recorded_event> recorded; // everything appended to "account" streams
  listener recorder = make_listener([this](const recorded_event& r) {
    std::lock_guard lock(mutex);
    recorded.push_back(r);
  });

  /// Given Ada's account: opened, 100 deposited, 30 withdrawn (versions 1–3).
  stream_id given_adas_account(event_store s) {
    auto id = stream_id::random("account");
    s.append(id, {wrap(bank::account_opened{"ada"}), wrap(bank::deposited{100}),
                  wrap(bank::withdrawn{30})});
    return id;
  }
  stream_id given_adas_account() { return given_adas_account(store()); }

  /// The recorded event of `stream` at version `v`.
  const recorded_event& record(const stream_id& stream, version v) {
    std::lock_guard lock(mutex);
    for (const auto& r : recorded)
      if (r.stream_id == stream && r.version == v)
        return r;
    throw std::logic_error("no recorded event at version " + std::to_string(v));
  }
};

BOOST_FIXTURE_TEST_SUITE(projector_suite, projector_fixture)

BOOST_AUTO_TEST_CASE(events_are_projected_in_order_and_advance_the_cursor) { // #6.3, #6.4
  auto ada = given_adas_account();

  for (version v = 1; v <= 3; ++v)
    BOOST_TEST(balances.project(record(ada, v)) == 1u);

  BOOST_TEST(model.balance.at("ada") == 70);
  BOOST_TEST(model.versions == (std::vector<version>{1, 2, 3}));
  BOOST_TEST(balances.cursor(ada) == std::optional<version>(3));
}

BOOST_AUTO_TEST_CASE(missed_events_are_caught_up_from_the_store_before_the_event) { // #6.3, #6.4
  auto ada = given_adas_account();
  balances.project(record(ada, 1));

  BOOST_TEST(balances.project(record(ada, 3)) == 2u);

  BOOST_TEST(model.versions == (std::vector<version>{1, 2, 3}));
  BOOST_TEST(model.balance.at("ada") == 70);
  BOOST_TEST(balances.cursor(ada) == std::optional<version>(3));
  // Version 2 came from the store, which does not know its position.
  BOOST_TEST(model.positions[1] == 0u);
  BOOST_TEST(model.positions[2] == record(ada, 3).position);
}

BOOST_AUTO_TEST_CASE(a_stream_seen_first_ahead_of_its_start_is_caught_up_from_version_one) { // #6.3
  auto ada = given_adas_account();
  BOOST_TEST(balances.project(record(ada, 3)) == 3u);
  BOOST_TEST(model.versions == (std::vector<version>{1, 2, 3}));
  BOOST_TEST(model.balance.at("ada") == 70);
}

BOOST_AUTO_TEST_CASE(events_at_or_behind_the_cursor_are_skipped) { // #6.3, #6.4
  auto ada = given_adas_account();
  for (version v = 1; v <= 3; ++v)
    balances.project(record(ada, v));

  BOOST_TEST(balances.project(record(ada, 3)) == 0u);
  BOOST_TEST(balances.project(record(ada, 2)) == 0u);

  BOOST_TEST(model.balance.at("ada") == 70);
  BOOST_TEST(model.versions.size() == 3u);
  BOOST_TEST(balances.cursor(ada) == std::optional<version>(3));
}

BOOST_AUTO_TEST_CASE(an_unversioned_event_is_refused) { // #6.3, #6.4, R-ES1
  auto ledger = stream_id::random("account");
  store().append(ledger, {wrap(bank::account_opened{"bob"})}, no_versioning);
  const auto& unversioned = recorded.back();
  BOOST_REQUIRE(!unversioned.version.has_value());

  BOOST_CHECK_THROW(balances.project(unversioned), sourcery::invalid_argument);

  BOOST_TEST(model.balance.empty());
  BOOST_TEST(!balances.cursor(ledger).has_value());
}

BOOST_AUTO_TEST_CASE(a_handler_that_throws_leaves_the_cursor_at_the_last_accepted_event) { // #6.3
  auto ada = given_adas_account();
  bool fail = true;
  projector flaky("flaky", backend, [&](const recorded_event& r) {
    if (fail && r.version == version(2))
      throw std::runtime_error("read model unavailable");
    model.project(r);
  });

  BOOST_CHECK_THROW(flaky.project(record(ada, 3)), std::runtime_error);
  BOOST_TEST(flaky.cursor(ada) == std::optional<version>(1));

  fail = false;
  BOOST_TEST(flaky.project(record(ada, 3)) == 2u);
  BOOST_TEST(model.versions == (std::vector<version>{1, 2, 3}));
  BOOST_TEST(model.balance.at("ada") == 70);
}

BOOST_AUTO_TEST_CASE(missed_events_the_store_no_longer_holds_are_a_typed_error) { // #6.3, R-ES3
  auto ada = given_adas_account();
  balances.project(record(ada, 1));
  store().save_snapshot(ada, wrap(bank::deposited{70})); // replaces versions 1–3
  store().append(ada, {wrap(bank::deposited{5})}, 3);

  BOOST_CHECK_THROW(balances.project(record(ada, 4)), versioning_mismatch);

  BOOST_TEST(model.versions == (std::vector<version>{1}));
  BOOST_TEST(balances.cursor(ada) == std::optional<version>(1));
}

BOOST_AUTO_TEST_CASE(cursors_are_kept_per_projection_tenant_and_stream) { // #6.3, R-MT
  auto ada = given_adas_account();
  auto acme = backend.in_tenant_mode("acme").event_store();
  acme.append(ada, {wrap(bank::account_opened{"ada at acme"})});
  balances.project(record(ada, 1));
  balances.project(record(ada, 2));

  projector audit("audit", backend, [](const recorded_event&) {}, cursors);
  const recorded_event* acme_opened = nullptr;
  for (const auto& r : recorded)
    if (r.tenant_id == "acme")
      acme_opened = &r;
  BOOST_REQUIRE(acme_opened);

  BOOST_TEST(balances.project(*acme_opened) == 1u);
  BOOST_TEST(balances.cursor(ada) == std::optional<version>(2));
  BOOST_TEST(balances.cursor(ada, "acme") == std::optional<version>(1));
  BOOST_TEST(!audit.cursor(ada).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
