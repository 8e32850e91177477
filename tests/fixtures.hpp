// Shared test fixtures: a fresh backend on the engine under test (see
// engine_under_test.hpp) with the test events registered, and
// given/when/then helpers.
#pragma once

#include <sourcery/sourcery.hpp>

#include "engine_under_test.hpp"

#include <boost/describe.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ostream>

// Lets BOOST_TEST print optionals.
namespace std {
template <class T>
std::ostream& boost_test_print_type(std::ostream& os, const std::optional<T>& o) {
  if (!o)
    return os << "none";
  if constexpr (std::is_same_v<T, sourcery::uuid>)
    return os << sourcery::to_string(*o);
  else
    return os << *o;
}
} // namespace std

// Lets BOOST_TEST print UUIDs.
namespace boost::uuids {
inline std::ostream& boost_test_print_type(std::ostream& os, const uuid& id) {
  return os << sourcery::to_string(id);
}
} // namespace boost::uuids

// Lets BOOST_TEST print error codes.
namespace sourcery {
inline std::ostream& boost_test_print_type(std::ostream& os, errc code) {
  return os << to_string(code);
}
} // namespace sourcery

namespace test_events {

struct item_added {
  std::string name;
  int quantity = 0;
};
BOOST_DESCRIBE_STRUCT(item_added, (), (name, quantity))

struct item_removed {
  std::string name;
};
BOOST_DESCRIBE_STRUCT(item_removed, (), (name))

struct cart_snapshot {
  std::vector<std::string> items;
};
BOOST_DESCRIBE_STRUCT(cart_snapshot, (), (items))

} // namespace test_events

struct backend_fixture {
  sourcery::backend backend = make();

  static sourcery::backend make() {
    auto b = sourcery::backend::on(test_engine::make());
    b.registry().add<test_events::item_added>("item_added");
    b.registry().add<test_events::item_removed>("item_removed");
    b.registry().add<test_events::cart_snapshot>("cart_snapshot");
    return b;
  }

  sourcery::event_store store() { return backend.event_store(); }

  static sourcery::wrapped_event<> added(std::string name, int quantity = 1) {
    return sourcery::wrap(test_events::item_added{std::move(name), quantity});
  }

  /// The stream as one line per event ("v1 item_added {...}"), to check
  /// that a rejected call left stored data as it was.
  std::vector<std::string> contents(sourcery::event_store s, const sourcery::stream_id& id) {
    std::vector<std::string> out;
    for (const auto& e : s.load_stream(id))
      out.push_back((e.version ? "v" + std::to_string(*e.version) : std::string("v-")) + " "
                    + std::string(e.event.name()) + " " + backend.registry().to_raw(e).data);
    return out;
  }

  /// Appends `total` events in batches of 100, each batch to a new stream.
  static void append_many(sourcery::event_store s, std::size_t total) {
    for (std::size_t i = 0; i < total; i += 100) {
      std::vector<sourcery::wrapped_event<>> events;
      for (std::size_t k = i; k < std::min(total, i + 100); ++k)
        events.push_back(added("e"));
      s.append(sourcery::stream_id::random(), std::move(events));
    }
  }

  /// Given a stream with `n` events.
  sourcery::stream_id given_stream_with(int n, sourcery::event_store s) {
    auto id = sourcery::stream_id::random("cart");
    std::vector<sourcery::wrapped_event<>> events;
    for (int i = 0; i < n; ++i)
      events.push_back(added("item " + std::to_string(i), i));
    if (n > 0)
      s.append(id, std::move(events));
    return id;
  }
};
