// The backend container (SPEC §9, R-B): providers keyed by type, copies,
// tenant views and configuration.
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

using namespace sourcery;

namespace {

struct widget {
  int serial = 0;
};

struct gadget {
  std::string label;
};

struct gizmo {};

bool message_is(const std::exception& e, const std::string& text) {
  return std::string(e.what()) == text;
}

bool mentions(const std::exception& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(container_suite)

BOOST_AUTO_TEST_CASE(a_value_provider_returns_that_value_every_time) { // R-B
  container c;
  c.provide<gadget>(gadget{"lamp"});
  auto a = c.get<gadget>();
  auto b = c.get<gadget>();
  BOOST_TEST(a->label == "lamp");
  BOOST_TEST(a.get() == b.get()); // one shared instance
}

BOOST_AUTO_TEST_CASE(a_shared_pointer_provider_hands_out_that_object) { // R-B
  container c;
  auto mine = std::make_shared<gadget>(gadget{"mine"});
  c.provide<gadget>(mine);
  BOOST_TEST(c.get<gadget>().get() == mine.get());
}

BOOST_AUTO_TEST_CASE(a_factory_builds_a_new_instance_on_every_resolution) { // R-B
  container c;
  int made = 0;
  c.provide<widget>(factory([&](container&) { return widget{++made}; }));
  BOOST_TEST(made == 0); // nothing built before it is asked for
  auto a = c.get<widget>();
  auto b = c.get<widget>();
  BOOST_TEST(made == 2);
  BOOST_TEST(a.get() != b.get());
  BOOST_TEST(a->serial == 1);
  BOOST_TEST(b->serial == 2);
}

BOOST_AUTO_TEST_CASE(a_factory_can_resolve_other_providers) { // R-B
  container c;
  c.provide<gadget>(gadget{"base"});
  c.provide<widget>(factory([](container& c) {
    return widget{static_cast<int>(c.get<gadget>()->label.size())};
  }));
  BOOST_TEST(c.get<widget>()->serial == 4);
}

BOOST_AUTO_TEST_CASE(a_singleton_is_built_once_on_first_use) { // R-B
  container c;
  int made = 0;
  c.provide<widget>(singleton([&](container&) { return widget{++made}; }));
  BOOST_TEST(made == 0);
  auto a = c.get<widget>();
  auto b = c.get<widget>();
  BOOST_TEST(made == 1);
  BOOST_TEST(a.get() == b.get());
}

BOOST_AUTO_TEST_CASE(a_singleton_may_return_a_shared_pointer) { // R-B
  container c;
  c.provide<widget>(singleton([](container&) { return std::make_shared<widget>(widget{7}); }));
  BOOST_TEST(c.get<widget>()->serial == 7);
  BOOST_TEST(c.get<widget>().get() == c.get<widget>().get());
}

BOOST_AUTO_TEST_CASE(a_singleton_that_needs_itself_is_an_error_not_a_hang) { // R-B
  container c;
  c.provide<widget>(singleton([](container& c) { return widget{c.get<widget>()->serial}; }));
  BOOST_CHECK_THROW(c.get<widget>(), sourcery::invalid_argument);
}

BOOST_AUTO_TEST_CASE(not_configured_throws_its_message_when_resolved) { // R-B
  container c;
  c.provide<gadget>(not_configured{"gadgets need a licence key"});
  BOOST_TEST(c.has<gadget>());
  BOOST_CHECK_EXCEPTION(c.get<gadget>(), no_provider_configured,
                        [](const no_provider_configured& e) {
                          return e.code() == errc::no_provider_configured
                                 && message_is(e, "gadgets need a licence key");
                        });
}

BOOST_AUTO_TEST_CASE(resolving_a_missing_type_names_it) { // R-B
  container c;
  BOOST_TEST(!c.has<gizmo>());
  BOOST_CHECK_EXCEPTION(c.get<gizmo>(), missing_provider, [](const missing_provider& e) {
    return e.code() == errc::missing_provider && mentions(e, "gizmo");
  });
}

BOOST_AUTO_TEST_CASE(find_returns_nullptr_for_a_missing_type) { // R-B
  container c;
  BOOST_TEST(c.find<gizmo>() == nullptr);
  c.provide<gadget>(gadget{"x"});
  BOOST_TEST(c.find<gadget>()->label == "x");
}

BOOST_AUTO_TEST_CASE(a_later_provider_replaces_an_earlier_one) { // R-B
  container c;
  c.provide<gadget>(gadget{"first"});
  c.provide<gadget>(gadget{"second"});
  BOOST_TEST(c.get<gadget>()->label == "second");
}

BOOST_AUTO_TEST_CASE(a_copy_shares_built_singletons_and_builds_unbuilt_ones_anew) { // R-B
  container c;
  int widgets = 0;
  int gadgets = 0;
  c.provide<widget>(singleton([&](container&) { return widget{++widgets}; }));
  c.provide<gadget>(singleton([&](container&) {
    return gadget{"gadget " + std::to_string(++gadgets)};
  }));
  auto built = c.get<widget>(); // built before the copy; gadget is not

  auto copy = c.copy();
  BOOST_TEST(copy.get<widget>().get() == built.get());
  BOOST_TEST(widgets == 1);

  auto theirs = copy.get<gadget>();
  auto ours = c.get<gadget>();
  BOOST_TEST(gadgets == 2);
  BOOST_TEST(theirs.get() != ours.get());
  BOOST_TEST(copy.get<gadget>().get() == theirs.get()); // still a singleton in the copy
}

BOOST_AUTO_TEST_CASE(a_copy_is_independent_of_the_original) { // R-B
  container c;
  c.provide<gadget>(gadget{"original"});
  auto copy = c.copy();
  copy.provide<gadget>(gadget{"changed"});
  copy.provide<widget>(widget{1});
  BOOST_TEST(c.get<gadget>()->label == "original");
  BOOST_TEST(!c.has<widget>());
  BOOST_TEST(copy.get<gadget>()->label == "changed");
}

BOOST_FIXTURE_TEST_CASE(a_backend_defaults_to_the_default_tenant_and_a_registry,
                        backend_fixture) { // R-B
  BOOST_TEST(backend.tenant_id() == default_tenant);
  BOOST_TEST(store().tenant_id() == default_tenant);
  BOOST_TEST(backend.registry().find("item_added") != nullptr);
}

BOOST_FIXTURE_TEST_CASE(in_tenant_mode_is_a_view_bound_to_the_tenant, backend_fixture) { // R-B
  auto acme = backend.in_tenant_mode("acme");
  BOOST_TEST(acme.tenant_id() == "acme");
  BOOST_TEST(acme.event_store().tenant_id() == "acme");
  BOOST_TEST(backend.tenant_id() == default_tenant); // the original is unchanged
  // Same runtime: the registry is shared and positions are global.
  BOOST_TEST(&acme.registry() == &backend.registry());
  auto id = given_stream_with(3, acme.event_store());
  BOOST_TEST(store().position() == std::optional<position>(3));
  BOOST_TEST(store().load_stream(id).empty()); // but the stream is acme's
  // A view of a view is bound to the new tenant.
  BOOST_TEST(acme.in_tenant_mode("globex").tenant_id() == "globex");
}

BOOST_FIXTURE_TEST_CASE(configure_returns_the_backend_and_applies_the_settings,
                        backend_fixture) { // R-B, R-OB
  BOOST_TEST(backend.current_settings().outbox_attempts == 3); // the default
  auto& same = backend.configure(settings{.outbox_attempts = 5});
  BOOST_TEST(&same == &backend);
  BOOST_TEST(backend.current_settings().outbox_attempts == 5);
  BOOST_TEST(backend.in_tenant_mode("acme").current_settings().outbox_attempts == 5);
}

BOOST_FIXTURE_TEST_CASE(configure_rejects_zero_or_negative_outbox_attempts,
                        backend_fixture) { // R-B, R-OB
  // A negative count assigned to the unsigned setting wraps round to a huge one.
  for (std::uint32_t attempts : {0u, static_cast<std::uint32_t>(-1)}) {
    BOOST_TEST_CONTEXT("outbox_attempts = " << attempts) {
      BOOST_CHECK_EXCEPTION(backend.configure(settings{.outbox_attempts = attempts}),
                            sourcery::invalid_argument, [](const sourcery::invalid_argument& e) {
                              return mentions(e, "outbox_attempts");
                            });
      BOOST_TEST(backend.current_settings().outbox_attempts == 3); // unchanged
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
