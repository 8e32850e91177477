// Aggregates and the repository (issue #6, items 1, 2 and 4): a light switch
// that turns on and off, stored through the repository.
#include "fixtures.hpp"

#include <sourcery/es/aggregate.hpp>
#include <sourcery/es/repository.hpp>

#include <boost/test/unit_test.hpp>

#include <stdexcept>

using namespace sourcery;

namespace light {

struct turned_on {};
BOOST_DESCRIBE_STRUCT(turned_on, (), ())

struct turned_off {};
BOOST_DESCRIBE_STRUCT(turned_off, (), ())

/// The switch's state, as a snapshot.
struct switch_state {
  bool on = false;
  int flips = 0;
};
BOOST_DESCRIBE_STRUCT(switch_state, (), (on, flips))

struct already_turned_on : std::logic_error {
  already_turned_on() : std::logic_error("the switch is already on") {}
};
struct already_turned_off : std::logic_error {
  already_turned_off() : std::logic_error("the switch is already off") {}
};

class light_switch : public aggregate<light_switch, turned_on, turned_off> {
public:
  static constexpr std::string_view category = "light_switch";
  using snapshot_type = switch_state;

  void turn_on() {
    if (on_)
      throw already_turned_on();
    emit(turned_on{});
  }
  void turn_off() {
    if (!on_)
      throw already_turned_off();
    emit(turned_off{});
  }

  bool is_on() const { return on_; }
  int flips() const { return flips_; }
  /// Events applied to this instance, emitted or replayed (not restored).
  int applied() const { return applied_; }

private:
  friend aggregate_access;
  void apply(const turned_on&) { flip(true); }
  void apply(const turned_off&) { flip(false); }
  void flip(bool on) {
    on_ = on;
    ++flips_;
    ++applied_;
  }
  switch_state snapshot() const { return {on_, flips_}; }
  void restore(const switch_state& s) {
    on_ = s.on;
    flips_ = s.flips;
  }

  bool on_ = false;
  int flips_ = 0;
  int applied_ = 0;
};

/// Who asked for a change; attached to every event as a typed context.
struct request_context {
  std::optional<uuid> correlation_id;
  std::string user;
  int attempt = 0;
  friend bool operator==(const request_context&, const request_context&) = default;
};
BOOST_DESCRIBE_STRUCT(request_context, (), (correlation_id, user, attempt))

/// An aggregate without snapshots.
class cart : public aggregate<cart, test_events::item_added, test_events::item_removed> {
public:
  static constexpr std::string_view category = "cart";
  void apply(const test_events::item_added&) {}
  void apply(const test_events::item_removed&) {}
};

} // namespace light

using light::light_switch;

struct light_switch_fixture : backend_fixture {
  light_switch_fixture() {
    backend.registry().add<light::turned_on>("turned_on");
    backend.registry().add<light::turned_off>("turned_off");
    backend.registry().add<light::switch_state>("switch_state");
  }

  repository<light_switch> switches{store()};

  static stream_id stream_of(const uuid& id) { return stream_id(id, "light_switch"); }

  /// Given a switch that was turned on in an earlier session.
  uuid given_a_switch_turned_on() {
    auto id = random_uuid();
    auto sw = switches.load(id);
    sw->turn_on();
    switches.commit(sw);
    return id;
  }

  /// The switch's stored events, one line each.
  std::vector<std::string> stored(const uuid& id) { return contents(store(), stream_of(id)); }
};

BOOST_FIXTURE_TEST_SUITE(aggregate_suite, light_switch_fixture)

BOOST_AUTO_TEST_CASE(emitting_applies_and_records_a_change_while_replaying_only_applies) { // #6.1
  light_switch sw;
  sw.turn_on();
  BOOST_TEST(sw.is_on());
  BOOST_REQUIRE_EQUAL(sw.pending().size(), 1u);
  BOOST_TEST(std::holds_alternative<light::turned_on>(sw.pending()[0]));

  light_switch replayed;
  replayed.replay(any_event(light::turned_on{}));
  BOOST_TEST(replayed.is_on());
  BOOST_TEST(replayed.pending().empty());
  BOOST_TEST(light_switch::stream_category() == "light_switch");
}

BOOST_AUTO_TEST_CASE(a_switch_never_stored_is_new_and_off) { // #6.2
  auto sw = switches.load(random_uuid());
  BOOST_TEST(sw.is_new());
  BOOST_TEST(!sw->is_on());
  BOOST_TEST(sw.stored_version() == 0u);
  BOOST_TEST(sw.current_version() == 0u);
  BOOST_TEST(!sw.created_at().has_value());
  BOOST_TEST(sw.stream_id().category() == std::optional<std::string>("light_switch"));
}

BOOST_AUTO_TEST_CASE(turning_on_is_pending_until_committed) { // #6.2
  auto id = random_uuid();
  auto sw = switches.load(id);
  sw->turn_on();
  BOOST_TEST(sw.stored_version() == 0u);
  BOOST_TEST(sw.current_version() == 1u);
  BOOST_TEST(stored(id).empty());

  auto receipt = switches.commit(sw);

  BOOST_REQUIRE(receipt.has_value());
  BOOST_TEST(receipt->version == std::optional<version>(1));
  BOOST_TEST(stored(id) == std::vector<std::string>{"v1 turned_on {}"});
  BOOST_TEST(sw.stored_version() == 1u);
  BOOST_TEST(sw->pending().empty());
  BOOST_TEST(!sw.is_new());
}

BOOST_AUTO_TEST_CASE(turning_on_twice_is_refused) { // #6.4
  auto id = given_a_switch_turned_on();
  auto sw = switches.load(id);
  BOOST_CHECK_THROW(sw->turn_on(), light::already_turned_on);
  BOOST_TEST(sw->pending().empty());
  BOOST_TEST(!switches.commit(sw).has_value());
  BOOST_TEST(stored(id) == std::vector<std::string>{"v1 turned_on {}"});
}

BOOST_AUTO_TEST_CASE(turning_off_twice_is_refused) { // #6.4
  auto sw = switches.load(given_a_switch_turned_on());
  sw->turn_off();
  BOOST_CHECK_THROW(sw->turn_off(), light::already_turned_off);
  BOOST_TEST(sw->pending().size() == 1u);
  BOOST_TEST(!sw->is_on());
}

BOOST_AUTO_TEST_CASE(changes_are_preserved_across_repository_sessions) { // #6.2, #6.4
  auto id = given_a_switch_turned_on();

  auto second = switches.load(id);
  BOOST_TEST(second->is_on());
  BOOST_TEST(second.stored_version() == 1u);
  second->turn_off();
  switches.commit(second);

  auto third = switches.load(id);
  BOOST_TEST(!third->is_on());
  BOOST_TEST(third->flips() == 2);
  BOOST_TEST(third.stored_version() == 2u);
  BOOST_TEST(stored(id) == (std::vector<std::string>{"v1 turned_on {}", "v2 turned_off {}"}));
}

BOOST_AUTO_TEST_CASE(committing_without_changes_appends_nothing) { // #6.2, #6.4
  auto id = given_a_switch_turned_on();
  auto before = store().position();

  auto sw = switches.load(id);
  auto fresh = switches.load(random_uuid());

  BOOST_TEST(!switches.commit(sw).has_value());
  BOOST_TEST(!switches.commit(fresh).has_value());
  BOOST_TEST(store().position() == before);
  BOOST_TEST(stored(id) == std::vector<std::string>{"v1 turned_on {}"});
  BOOST_TEST(store().load_stream(fresh.stream_id()).empty());
}

BOOST_AUTO_TEST_CASE(two_sessions_on_one_switch_conflict_and_the_later_commit_writes_nothing) { // #6.2, #6.4, R-ES1
  auto id = given_a_switch_turned_on();
  auto first = switches.load(id);
  auto second = switches.load(id);
  first->turn_off();
  second->turn_off();
  switches.commit(first);
  auto after_first = stored(id);

  try {
    switches.commit(second);
    BOOST_FAIL("the second commit should conflict");
  } catch (const concurrent_stream_write_error& e) {
    BOOST_TEST(e.expected() == 1u);
    BOOST_TEST(e.actual() == 2u);
  }

  BOOST_TEST(stored(id) == after_first);
  BOOST_TEST(second->pending().size() == 1u); // kept, to retry or report
  BOOST_TEST(second.stored_version() == 1u);
}

BOOST_AUTO_TEST_CASE(the_context_is_attached_to_every_saved_event_and_reads_as_a_typed_context) { // #6.2, #6.4, R-C1
  light::request_context request{random_uuid(), "ada", 2};
  auto id = random_uuid();

  auto sw = switches.load(id, light_switch{}, request);
  sw->turn_on();
  sw->turn_off();
  switches.commit(sw);

  auto events = store().load_stream(stream_of(id));
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  for (const auto& e : events) {
    BOOST_TEST((e.context.correlation_id == request.correlation_id));
    BOOST_TEST(e.context.extra.at("user").as_string() == "ada");
    BOOST_TEST((from_context<light::request_context>(e.context) == request));
  }
  BOOST_TEST((sw.context_as<light::request_context>() == request));
}

BOOST_AUTO_TEST_CASE(a_context_that_does_not_fit_the_typed_context_is_a_typed_error) { // #6.2
  context ctx;
  ctx.extra["user"] = 42;
  BOOST_CHECK_THROW(from_context<light::request_context>(ctx), sourcery::invalid_argument);
}

BOOST_AUTO_TEST_CASE(timestamps_are_those_of_the_first_and_last_stored_events) { // #6.2
  auto id = given_a_switch_turned_on();
  auto sw = switches.load(id);
  sw->turn_off();
  switches.commit(sw);

  auto events = store().load_stream(stream_of(id));
  auto loaded = switches.load(id);
  BOOST_TEST((loaded.created_at() == events.front().created_at));
  BOOST_TEST((loaded.updated_at() == events.back().created_at));
  BOOST_TEST((sw.created_at() == loaded.created_at()));
  BOOST_TEST((sw.updated_at() == loaded.updated_at()));
}

BOOST_AUTO_TEST_CASE(a_snapshot_policy_snapshots_every_n_events_and_loading_starts_there) { // #6.2, R-ES3
  repository<light_switch> snapshotting(store(), snapshot_policy::every(2));
  auto id = random_uuid();
  auto sw = snapshotting.load(id);
  sw->turn_on();
  snapshotting.commit(sw); // v1: no snapshot yet
  auto created = sw.created_at();
  BOOST_TEST(store().load_stream(stream_of(id)).front().event.is<light::turned_on>());
  sw->turn_off();
  snapshotting.commit(sw); // v2: snapshot
  sw->turn_on();
  snapshotting.commit(sw); // v3

  auto events = store().load_stream(stream_of(id));
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].event.is<light::switch_state>());
  BOOST_TEST(events[0].version == std::optional<version>(2));

  auto loaded = snapshotting.load(id);
  BOOST_TEST(loaded->is_on());
  BOOST_TEST(loaded->flips() == 3);
  BOOST_TEST(loaded->applied() == 1); // only the event after the snapshot
  BOOST_TEST(loaded.stored_version() == 3u);
  BOOST_TEST((loaded.created_at() == created));
  BOOST_TEST((loaded.updated_at() == events[1].created_at));
}

BOOST_AUTO_TEST_CASE(a_snapshot_of_uncommitted_changes_is_refused) { // #6.2
  auto sw = switches.load(random_uuid());
  sw->turn_on();
  BOOST_CHECK_THROW(switches.save_snapshot(sw), sourcery::invalid_argument);
  BOOST_TEST(store().load_stream(sw.stream_id()).empty());
}

BOOST_AUTO_TEST_CASE(a_snapshot_policy_for_an_aggregate_without_snapshots_is_refused) { // #6.2
  BOOST_CHECK_THROW(repository<light::cart>(store(), snapshot_policy::every(10)),
                    sourcery::invalid_argument);
}

BOOST_AUTO_TEST_CASE(an_event_that_is_not_the_aggregates_is_a_typed_error) { // #6.1
  auto id = random_uuid();
  store().append(stream_of(id), {added("not a switch event")});
  BOOST_CHECK_THROW(switches.load(id), wrong_event_type);
  BOOST_TEST(stored(id).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_named_switch_lives_in_the_stream_of_that_name) { // #6.2, R-S1
  auto kitchen = switches.load_named("kitchen");
  kitchen->turn_on();
  switches.commit(kitchen);

  BOOST_TEST(kitchen.stream_id() == stream_id::named("kitchen", "light_switch"));
  BOOST_TEST(switches.load(kitchen.stream_id().id())->is_on());
}

BOOST_AUTO_TEST_SUITE_END()
