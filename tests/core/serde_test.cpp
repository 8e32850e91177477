// Events, the registry and serde (SPEC §2): JSON through Boost.Describe +
// Boost.JSON (R-E1), the registry (R-E2), decode errors (R-E3), type-safe
// access (R-E4) and the event context (R-C1).
#include "fixtures.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace sourcery;
using namespace std::string_literals;

namespace serde_events {

struct address {
  std::string street;
  std::string city;
  std::optional<std::string> zip;
  friend bool operator==(const address&, const address&) = default;
};
BOOST_DESCRIBE_STRUCT(address, (), (street, city, zip))

struct customer {
  std::string name;
  address home;
  std::vector<address> others;
  friend bool operator==(const customer&, const customer&) = default;
};
BOOST_DESCRIBE_STRUCT(customer, (), (name, home, others))

/// One field of every kind serde supports.
struct everything {
  std::string text;
  std::int64_t i64_min = 0;
  std::int64_t i64_max = 0;
  std::uint64_t u64_max = 0;
  std::int32_t i32_min = 0;
  std::uint8_t small = 0;
  double pi = 0;
  double tiny = 0;
  double huge = 0;
  double negative_zero = 1;
  bool yes = false;
  bool no = true;
  std::optional<int> some;
  std::optional<int> none = 1;
  std::vector<int> numbers;
  std::vector<std::string> words;
  std::map<std::string, double> prices;
  std::map<std::string, std::vector<int>> groups;
  customer who;
  timestamp at;
  timestamp before_epoch;
  uuid ref;
  std::optional<uuid> maybe_ref;
  friend bool operator==(const everything&, const everything&) = default;
};
BOOST_DESCRIBE_STRUCT(everything, (),
                      (text, i64_min, i64_max, u64_max, i32_min, small, pi, tiny, huge,
                       negative_zero, yes, no, some, none, numbers, words, prices, groups,
                       who, at, before_epoch, ref, maybe_ref))

everything sample() {
  everything e;
  e.text = "Grüße 🌍 日本 \"quoted\" back\\slash\nnew line\ttab \x01 nul:"s + '\0' + "end";
  e.i64_min = std::numeric_limits<std::int64_t>::min();
  e.i64_max = std::numeric_limits<std::int64_t>::max();
  e.u64_max = std::numeric_limits<std::uint64_t>::max();
  e.i32_min = std::numeric_limits<std::int32_t>::min();
  e.small = 255;
  e.pi = 3.141592653589793;
  e.tiny = std::numeric_limits<double>::denorm_min();
  e.huge = std::numeric_limits<double>::max();
  e.negative_zero = -0.0;
  e.yes = true;
  e.no = false;
  e.some = -7;
  e.none = std::nullopt;
  e.numbers = {1, -1, 0, 2147483647};
  e.words = {"", "ä", "🙂"};
  e.prices = {{"apple", 0.1}, {"pear", 1e-9}, {"ünïcødé key", -2.5}};
  e.groups = {{"empty", {}}, {"three", {1, 2, 3}}};
  e.who = customer{"Ann", {"1 Main St", "Springfield", "12345"},
                   {{"2 Side St", "Shelbyville", std::nullopt}}};
  e.at = timestamp::from_micros(1'763'898'493'123'456); // 2025-11-23T11:48:13.123456Z
  e.before_epoch = timestamp::from_micros(-1);          // 1969-12-31T23:59:59.999999Z
  e.ref = parse_uuid("98d2202b-bab8-5b7f-b50b-a830761fad6e");
  e.maybe_ref = random_uuid();
  return e;
}

struct registry_fixture {
  event_registry registry;
  stream_id stream = stream_id::named("serde-test", "tests");
  registry_fixture() {
    registry.add<everything>("everything");
    registry.add<customer>("customer_registered");
    registry.add<test_events::item_added>("item_added");
  }

  /// A stored event of `name` with `data`, as if read back from storage.
  static raw_event stored(std::string name, std::string data, std::string context = "") {
    return raw_event{random_uuid(), timestamp::now(), std::move(name), std::move(data),
                     std::move(context), 1};
  }
};

} // namespace serde_events

using namespace serde_events;

BOOST_AUTO_TEST_SUITE(serde_suite)

BOOST_AUTO_TEST_CASE(a_described_struct_has_a_json_form_without_hand_written_code) { // R-E1
  address a{"1 Main St", "Springfield", std::nullopt};
  BOOST_TEST(serde::encode(a) == R"({"street":"1 Main St","city":"Springfield","zip":null})");
  BOOST_TEST((serde::decode<address>(serde::encode(a)) == a));
}

BOOST_FIXTURE_TEST_CASE(every_supported_kind_of_field_round_trips_through_the_registry,
                        registry_fixture) { // R-E1
  auto original = sample();
  auto w = wrap(original);
  w.version = 7;
  auto raw = registry.to_raw(w);
  BOOST_TEST(raw.name == "everything");
  BOOST_TEST(raw.context.empty()); // an empty context is not stored
  auto back = registry.from_raw(raw, stream);

  BOOST_REQUIRE(back.event.is<everything>());
  const auto& e = back.event.as<everything>();
  BOOST_TEST(e.text == original.text);
  BOOST_TEST(e.i64_min == original.i64_min);
  BOOST_TEST(e.i64_max == original.i64_max);
  BOOST_TEST(e.u64_max == original.u64_max);
  BOOST_TEST(e.i32_min == original.i32_min);
  BOOST_TEST(e.small == original.small);
  BOOST_TEST(e.pi == original.pi);
  BOOST_TEST(e.tiny == original.tiny);
  BOOST_TEST(e.huge == original.huge);
  BOOST_TEST(std::signbit(e.negative_zero));
  BOOST_TEST(e.yes);
  BOOST_TEST(!e.no);
  BOOST_TEST(e.some == std::optional<int>(-7));
  BOOST_TEST(!e.none.has_value());
  BOOST_TEST(e.numbers == original.numbers, boost::test_tools::per_element());
  BOOST_TEST(e.words == original.words, boost::test_tools::per_element());
  BOOST_TEST((e.prices == original.prices));
  BOOST_TEST((e.groups == original.groups));
  BOOST_TEST((e.who == original.who));
  BOOST_TEST(e.at.micros() == original.at.micros());
  BOOST_TEST(e.before_epoch.micros() == -1);
  BOOST_TEST(e.ref == original.ref);
  BOOST_TEST(e.maybe_ref == original.maybe_ref);
  BOOST_TEST((e == original)); // nothing above was forgotten

  BOOST_TEST(back.id == w.id);
  BOOST_TEST(back.created_at.micros() == w.created_at.micros());
  BOOST_TEST(back.version == std::optional<version>(7));
  BOOST_TEST(back.event.name() == "everything");
}

BOOST_AUTO_TEST_CASE(timestamps_and_uuids_have_readable_json_forms) { // R-E1
  BOOST_TEST(serde::encode(timestamp::from_micros(1'763'898'493'123'456))
             == R"("2025-11-23T11:48:13.123456Z")");
  BOOST_TEST(serde::encode(timestamp::from_micros(-1)) == R"("1969-12-31T23:59:59.999999Z")");
  BOOST_TEST(serde::encode(parse_uuid("98d2202b-bab8-5b7f-b50b-a830761fad6e"))
             == R"("98d2202b-bab8-5b7f-b50b-a830761fad6e")");
  // Fewer fractional digits and an explicit +00:00 offset are read too.
  BOOST_TEST(serde::decode<timestamp>(R"("2025-11-23T11:48:13.5+00:00")").micros()
             == 1'763'898'493'500'000);
}

// Issue 14: to_string negated INT64_MIN (signed overflow, undefined behaviour;
// the sanitizer build reports it). Every value now has a defined text, and
// one outside the years 0000-9999 is refused typed when encoding.
BOOST_AUTO_TEST_CASE(every_timestamp_has_a_defined_text_and_extremes_are_refused_typed) { // R-E1, §11
  const auto min = std::numeric_limits<std::int64_t>::min();
  const auto max = std::numeric_limits<std::int64_t>::max();
  // INT64_MIN µs = -9,223,372,036,854.775808 s: floor to the second below.
  // (proleptic Gregorian, astronomical years: 292,277 years either side of 1970).
  BOOST_TEST(timestamp::from_micros(min).to_string() == "-290308-12-21T19:59:05.224192Z");
  BOOST_TEST(timestamp::from_micros(max).to_string() == "294247-01-10T04:00:54.775807Z");
  BOOST_TEST(timestamp::from_micros(min + 1).to_string().ends_with(".224193Z"));
  BOOST_TEST(timestamp::from_micros(-1'000'000).to_string() == "1969-12-31T23:59:59.000000Z");

  for (auto us : {min, min + 1, max, std::int64_t(-62'167'219'200'000'001) /* -0001 */,
                  std::int64_t(253'402'300'800'000'000) /* 10000 */}) {
    BOOST_TEST_CONTEXT("micros " << us) {
      BOOST_CHECK_EXCEPTION(serde::encode(timestamp::from_micros(us)), serde::encode_failure,
                            [](const serde::encode_failure& f) {
                              return std::string(f.what()).find("0000-9999") != std::string::npos;
                            });
    }
  }
  // The first and last microseconds of the years 0000-9999 round-trip.
  for (auto us : {std::int64_t(-62'167'219'200'000'000), std::int64_t(253'402'300'799'999'999)}) {
    auto t = timestamp::from_micros(us);
    BOOST_TEST(serde::decode<timestamp>(serde::encode(t)).micros() == us);
  }
}

// Found by fuzz_serde (issue 14): "1e400" read as an infinity, which no write
// can store. Reads accept only what writes make.
BOOST_AUTO_TEST_CASE(a_number_beyond_double_is_malformed_json) { // R-E3
  for (const auto& text : {"1e400"s, "-1e400"s, R"({"x":[1,2e999]})"s})
    BOOST_CHECK_THROW(serde::parse(text), serde::decode_failure);
  BOOST_TEST(serde::parse("1.7976931348623157e308").as_double()
             == std::numeric_limits<double>::max());
  BOOST_TEST(serde::parse("1e-400").as_double() == 0.0); // underflow is a finite value
}

BOOST_AUTO_TEST_CASE(every_finite_double_round_trips_exactly) { // R-E1
  // Boost.JSON 1.81's own parser is off by one ulp for about a third of all
  // doubles; serde parses numbers exactly. 20,000 random bit patterns.
  std::mt19937_64 bits(20251123);
  int checked = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::uint64_t b = bits();
    double x;
    std::memcpy(&x, &b, sizeof x);
    if (!std::isfinite(x))
      continue;
    ++checked;
    auto text = serde::encode(x);
    double y = serde::decode<double>(text);
    if (std::memcmp(&x, &y, sizeof x) != 0)
      BOOST_FAIL("double " << text << " came back as " << serde::encode(y));
  }
  BOOST_TEST(checked > 19'000);
  for (double x : {0.1, 0.30000000000000004, 123456789.123456789, 1e23, -2.5e-300})
    BOOST_TEST(serde::decode<double>(serde::encode(x)) == x);
}

BOOST_FIXTURE_TEST_CASE(context_round_trips_unchanged, registry_fixture) { // R-C1
  context ctx;
  ctx.correlation_id = random_uuid();
  ctx.causation_id = random_uuid();
  ctx.extra["user"] = "ann";
  ctx.extra["attempt"] = 3;
  ctx.extra["tags"] = boost::json::array{"a", "ü", 1.5, nullptr, true};
  ctx.extra["origin"] = boost::json::object{{"service", "checkout"}, {"port", 8080}};

  auto raw = registry.to_raw(wrap(test_events::item_added{"apple", 1}, ctx));
  BOOST_TEST(!raw.context.empty());
  auto back = registry.from_raw(raw, stream);
  BOOST_TEST((back.context == ctx));
  BOOST_TEST(back.context.correlation_id == ctx.correlation_id);
  BOOST_TEST(back.context.causation_id == ctx.causation_id);
  BOOST_TEST(boost::json::serialize(back.context.extra) == boost::json::serialize(ctx.extra));
}

BOOST_FIXTURE_TEST_CASE(a_context_with_only_one_id_or_only_extras_round_trips,
                        registry_fixture) { // R-C1
  context only_causation;
  only_causation.causation_id = random_uuid();
  context only_extra;
  only_extra.extra["k"] = "v";
  for (const auto& ctx : {only_causation, only_extra, context{}}) {
    auto back = registry.from_raw(registry.to_raw(wrap(test_events::item_added{}, ctx)), stream);
    BOOST_TEST((back.context == ctx));
  }
}

BOOST_FIXTURE_TEST_CASE(an_unknown_event_name_is_an_unknown_event_error_naming_it,
                        registry_fixture) { // R-E3
  auto raw = stored("no_such_event", R"({"name":"x"})");
  BOOST_CHECK_EXCEPTION(registry.from_raw(raw, stream), unknown_event,
                        [](const unknown_event& e) {
                          return e.event_name() == "no_such_event"
                                 && std::string(e.what()).find("no_such_event")
                                      != std::string::npos
                                 && e.code() == errc::unknown_event;
                        });
  // The registry is unaffected and still decodes known events.
  auto ok = registry.from_raw(stored("item_added", R"({"name":"x","quantity":2})"), stream);
  BOOST_TEST(ok.event.as<test_events::item_added>().quantity == 2);
}

namespace {

/// Decodes `data` as event `name` and returns the deserialization_error.
deserialization_error decode_error(const registry_fixture& f, const std::string& name,
                                   const std::string& data, const std::string& context = "") {
  try {
    f.registry.from_raw(registry_fixture::stored(name, data, context), f.stream);
  } catch (const deserialization_error& e) {
    return e;
  }
  throw std::logic_error("expected a deserialization_error for " + name + ": " + data);
}

void names_event_stream_and_field(const deserialization_error& e, const std::string& event,
                                  const std::string& field, const stream_id& stream) {
  std::string what = e.what();
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(e.code() == errc::deserialization_error);
    BOOST_TEST(e.event_name() == event);
    BOOST_TEST(e.field() == field);
    BOOST_TEST(e.stream() == stream.to_string());
    BOOST_TEST(what.find(event) != std::string::npos);
    BOOST_TEST(what.find(to_string(stream.id())) != std::string::npos);
    if (!field.empty())
      BOOST_TEST(what.find("'" + field + "'") != std::string::npos);
  }
}

} // namespace

BOOST_FIXTURE_TEST_CASE(a_field_of_the_wrong_type_names_event_stream_and_field,
                        registry_fixture) { // R-E3
  names_event_stream_and_field(decode_error(*this, "item_added", R"({"name":5,"quantity":1})"),
                               "item_added", "name", stream);
}

BOOST_FIXTURE_TEST_CASE(a_missing_field_names_that_field, registry_fixture) { // R-E3
  names_event_stream_and_field(decode_error(*this, "item_added", R"({"name":"apple"})"),
                               "item_added", "quantity", stream);
}

BOOST_FIXTURE_TEST_CASE(an_integer_out_of_range_names_the_field, registry_fixture) { // R-E3
  names_event_stream_and_field(
    decode_error(*this, "item_added", R"({"name":"apple","quantity":3000000000})"),
    "item_added", "quantity", stream);
  names_event_stream_and_field(
    decode_error(*this, "item_added", R"({"name":"apple","quantity":1.5})"), "item_added",
    "quantity", stream);
}

BOOST_FIXTURE_TEST_CASE(a_bad_nested_field_is_named_by_its_dotted_path,
                        registry_fixture) { // R-E3
  names_event_stream_and_field(
    decode_error(*this, "customer_registered",
                 R"({"name":"Ann","home":{"street":7,"city":"x","zip":null},"others":[]})"),
    "customer_registered", "home.street", stream);
  names_event_stream_and_field(
    decode_error(*this, "customer_registered",
                 R"({"name":"Ann","home":{"street":"s","city":"x","zip":[1]},"others":[]})"),
    "customer_registered", "home.zip", stream);
  // Inside a vector the path stops at the vector's field.
  names_event_stream_and_field(
    decode_error(*this, "customer_registered",
                 R"({"name":"Ann","home":{"street":"s","city":"x","zip":null},)"
                 R"("others":[{"street":false,"city":"y","zip":null}]})"),
    "customer_registered", "others", stream);
}

BOOST_FIXTURE_TEST_CASE(a_malformed_timestamp_or_uuid_names_the_field,
                        registry_fixture) { // R-E3
  auto good = boost::json::value_from(sample()).as_object();
  auto with = [&](const char* field, boost::json::value v) {
    auto doc = good;
    doc[field] = std::move(v);
    return boost::json::serialize(doc);
  };
  names_event_stream_and_field(decode_error(*this, "everything", with("at", "yesterday")),
                               "everything", "at", stream);
  names_event_stream_and_field(decode_error(*this, "everything", with("ref", "zzz")),
                               "everything", "ref", stream);
  names_event_stream_and_field(decode_error(*this, "everything", with("maybe_ref", 12)),
                               "everything", "maybe_ref", stream);
  names_event_stream_and_field(decode_error(*this, "everything", with("u64_max", -1)),
                               "everything", "u64_max", stream);
}

BOOST_FIXTURE_TEST_CASE(malformed_json_names_the_event_and_stream, registry_fixture) { // R-E3
  for (const auto& text : {R"({"name":"x",)"s, "not json"s, ""s, R"({"name":"x"} extra)"s,
                           "[1,2]"s, "\"\xff\""s}) {
    BOOST_TEST_CONTEXT("data: " << text) {
      auto e = decode_error(*this, "item_added", text);
      BOOST_TEST(e.event_name() == "item_added");
      BOOST_TEST(e.stream() == stream.to_string());
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_malformed_context_is_named_as_the_context_field,
                        registry_fixture) { // R-E3, R-C1
  names_event_stream_and_field(
    decode_error(*this, "item_added", R"({"name":"x","quantity":1})", "{oops"), "item_added",
    "context", stream);
  names_event_stream_and_field(decode_error(*this, "item_added", R"({"name":"x","quantity":1})",
                                            R"({"correlation_id":"not-a-uuid"})"),
                               "item_added", "context", stream);
}

namespace {

/// The message of the invalid_argument that refusing to encode `e` throws.
std::string refusal(const event_registry& registry, const wrapped_event<>& e) {
  try {
    registry.to_raw(e);
  } catch (const sourcery::invalid_argument& x) {
    return x.what();
  }
  throw std::logic_error("expected the event to be refused");
}

} // namespace

BOOST_FIXTURE_TEST_CASE(a_value_json_cannot_hold_is_refused_when_encoding_naming_its_field,
                        registry_fixture) { // R-E1, R-E3
  // Stored, these would make the stream unreadable: refuse them up front.
  auto refused = [&](auto change, const std::string& field, const std::string& why) {
    auto e = sample();
    change(e);
    auto what = refusal(registry, wrap(e));
    BOOST_TEST_CONTEXT(what) {
      BOOST_TEST(what.find("'everything'") != std::string::npos);
      if (!field.empty())
        BOOST_TEST(what.find("field '" + field + "'") != std::string::npos);
      BOOST_TEST(what.find(why) != std::string::npos);
    }
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  refused([&](everything& e) { e.pi = nan; }, "pi", "NaN");
  refused([&](everything& e) { e.prices["apple"] = -inf; }, "prices.apple", "infinite");
  refused([](everything& e) { e.words = {"fine", "\xc3"}; }, "words[1]", "UTF-8");
  refused([](everything& e) { e.who.others[0].city = "\xff"; }, "who.others[0].city", "UTF-8");
  refused([](everything& e) { e.groups["\xed\xa0\x80"] = {}; }, "groups",
          "key is not valid UTF-8"); // a surrogate
  refused([](everything& e) { e.text = "overlong \xc0\xaf"; }, "text", "UTF-8");
  refused([](everything& e) { e.at = timestamp::from_micros(253'402'300'800'000'000); }, "",
          "0000-9999"); // 10000-01-01
}

BOOST_FIXTURE_TEST_CASE(a_context_json_cannot_hold_is_refused_when_encoding,
                        registry_fixture) { // R-C1, R-E3
  context ctx;
  ctx.extra["ratio"] = std::numeric_limits<double>::quiet_NaN();
  auto what = refusal(registry, wrap(test_events::item_added{"x", 1}, ctx));
  BOOST_TEST(what.find("context") != std::string::npos, what);
  BOOST_TEST(what.find("field 'ratio'") != std::string::npos, what);
}

// -- nesting depth (issue 14) ------------------------------------------------------------

namespace {

/// An event carrying arbitrary JSON.
struct document_saved {
  std::string title;
  boost::json::value body;
};
BOOST_DESCRIBE_STRUCT(document_saved, (), (title, body))

/// Arrays nested `levels` deep around 0 ([[…[0]…]]), built without recursion
/// in `sp`'s memory.
boost::json::value nested_arrays(std::size_t levels, boost::json::storage_ptr sp = {}) {
  boost::json::value v(std::int64_t(0), sp);
  for (std::size_t i = 0; i < levels; ++i) {
    boost::json::array a(sp);
    a.push_back(std::move(v));
    v = std::move(a);
  }
  return v;
}

/// An object nested `levels` deep ({"a":{"a":…{"a":0}…}}), built as above.
boost::json::object nested_objects(std::size_t levels, boost::json::storage_ptr sp = {}) {
  boost::json::value v(std::int64_t(0), sp);
  for (std::size_t i = 1; i < levels; ++i) {
    boost::json::object o(sp);
    o.emplace("a", std::move(v));
    v = std::move(o);
  }
  boost::json::object root(sp);
  root.emplace("a", std::move(v));
  return root;
}

/// The dotted path of the first container beyond max_depth in nested_objects.
std::string too_deep_path() {
  std::string path = "a";
  for (std::size_t i = 1; i < serde::max_depth; ++i)
    path += ".a";
  return path;
}

} // namespace

// Issue 14: a field nested 33+ levels was stored, then every read failed
// ("too deep", Boost.JSON's default of 32). One limit now holds for both.
BOOST_AUTO_TEST_CASE(data_nested_to_max_depth_round_trips_and_deeper_is_refused) { // R-E1, R-E3, §11
  event_registry registry;
  registry.add<document_saved>("document_saved");
  auto stream = stream_id::named("deep", "tests");

  // The event's object is level 1, so its body may hold max_depth - 1 levels.
  auto deepest = wrap(document_saved{"ok", nested_arrays(serde::max_depth - 1)});
  auto raw = registry.to_raw(deepest);
  auto back = registry.from_raw(raw, stream).event.as<document_saved>();
  BOOST_TEST(back.body == nested_arrays(serde::max_depth - 1));

  // One more level: refused when writing, naming the event, field and limit.
  try {
    registry.to_raw(wrap(document_saved{"deep", nested_arrays(serde::max_depth)}));
    BOOST_FAIL("expected invalid_argument");
  } catch (const sourcery::invalid_argument& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("'document_saved'") != std::string::npos, what);
    BOOST_TEST(what.find("field 'body") != std::string::npos, what);
    BOOST_TEST(what.find("deeper than 64 levels") != std::string::npos, what);
  }

  // Reads use the same limit: stored text one level deeper is refused typed.
  std::string deeper = R"({"title":"x","body":)" + std::string(serde::max_depth, '[') + "0"
                       + std::string(serde::max_depth, ']') + "}";
  BOOST_CHECK_EXCEPTION(
    registry.from_raw(registry_fixture::stored("document_saved", deeper), stream),
    deserialization_error, [](const deserialization_error& e) {
      return std::string(e.what()).find("too deep") != std::string::npos;
    });
  BOOST_CHECK_THROW(serde::parse(std::string(serde::max_depth + 1, '[')
                                 + std::string(serde::max_depth + 1, ']')),
                    serde::decode_failure);
  BOOST_TEST(serde::parse(std::string(serde::max_depth, '[') + std::string(serde::max_depth, ']'))
               .is_array());
}

BOOST_FIXTURE_TEST_CASE(a_context_nested_deeper_than_max_depth_is_refused_naming_the_field,
                        registry_fixture) { // R-C1, R-E3, §11
  // The context's object is level 1, as an event's.
  context fits;
  fits.extra = nested_objects(serde::max_depth);
  auto raw = registry.to_raw(wrap(test_events::item_added{"x", 1}, fits));
  BOOST_TEST((registry.from_raw(raw, stream).context == fits));

  context deep;
  deep.extra = nested_objects(serde::max_depth + 1);
  auto what = refusal(registry, wrap(test_events::item_added{"x", 1}, deep));
  BOOST_TEST(what.find("context") != std::string::npos, what);
  BOOST_TEST(what.find("field '" + too_deep_path() + "'") != std::string::npos, what);
  BOOST_TEST(what.find("deeper than 64 levels") != std::string::npos, what);
}

// Issue 14: ~70,000 levels overflowed the stack in the (recursive) write-side
// check. The check is iterative now; the values live in a monotonic resource,
// whose trivial deallocation spares Boost.JSON's own recursive destructor.
BOOST_AUTO_TEST_CASE(a_million_levels_are_refused_without_overflowing_the_stack) { // R-E3, §11
  boost::json::monotonic_resource memory;
  const std::size_t million = 1'000'000;

  auto arrays = nested_arrays(million, &memory);
  BOOST_CHECK_EXCEPTION(serde::detail::check_encodable(arrays), serde::encode_failure,
                        [](const serde::encode_failure& f) {
                          return std::string(f.what()).find("deeper than 64") != std::string::npos
                                 && f.field.size() == 3 * serde::max_depth;
                        });

  context c{.correlation_id = {}, .causation_id = {}, .extra = nested_objects(million, &memory)};
  BOOST_CHECK_EXCEPTION(serde::encode(c), serde::encode_failure,
                        [](const serde::encode_failure& f) { return f.field == too_deep_path(); });
}

BOOST_FIXTURE_TEST_CASE(a_malformed_timestamp_names_the_field_and_the_reason,
                        registry_fixture) { // R-E3
  auto doc = boost::json::value_from(sample()).as_object();
  doc["at"] = "2025-13-45T99:00:00Z";
  auto e = decode_error(*this, "everything", boost::json::serialize(doc));
  BOOST_TEST(e.field() == "at");
  BOOST_TEST(std::string(e.what()).find("malformed timestamp") != std::string::npos, e.what());
}

BOOST_AUTO_TEST_CASE(a_wrong_type_access_is_an_error_not_undefined_behaviour) { // R-E4
  any_event e = test_events::item_added{"apple", 2};
  BOOST_TEST(e.is<test_events::item_added>());
  BOOST_TEST(!e.is<test_events::item_removed>());
  BOOST_TEST(e.get_if<test_events::item_removed>() == nullptr);
  BOOST_TEST(e.get_if<test_events::item_added>()->quantity == 2);
  BOOST_CHECK_EXCEPTION(e.as<test_events::item_removed>(), wrong_event_type,
                        [](const wrong_event_type& x) {
                          std::string what = x.what();
                          return x.code() == errc::wrong_event_type
                                 && what.find("item_added") != std::string::npos
                                 && what.find("item_removed") != std::string::npos;
                        });
}

BOOST_FIXTURE_TEST_CASE(a_loaded_event_names_its_registered_name_on_wrong_access,
                        registry_fixture) { // R-E4
  auto back = registry.from_raw(registry.to_raw(wrap(sample())), stream);
  BOOST_CHECK_EXCEPTION(back.event.as<customer>(), wrong_event_type,
                        [](const wrong_event_type& x) {
                          return std::string(x.what()).find("'everything'")
                                 != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(registering_a_type_twice_is_a_duplicated_event) { // R-E2
  event_registry registry;
  registry.add<test_events::item_added>("item_added");
  BOOST_CHECK_EXCEPTION(registry.add<test_events::item_added>("item_added_v2"), duplicated_event,
                        [](const duplicated_event& e) {
                          return e.code() == errc::duplicated_event
                                 && std::string(e.what()).find("item_added")
                                      != std::string::npos;
                        });
  BOOST_TEST(registry.find("item_added_v2") == nullptr); // nothing half-registered
  BOOST_TEST(registry.name_of<test_events::item_added>() == "item_added");
}

BOOST_AUTO_TEST_CASE(two_types_under_one_name_is_a_duplicated_event) { // R-E2
  event_registry registry;
  registry.add<test_events::item_added>("item");
  BOOST_CHECK_EXCEPTION(registry.add<test_events::item_removed>("item"), duplicated_event,
                        [](const duplicated_event& e) {
                          return std::string(e.what()).find("'item'") != std::string::npos;
                        });
  BOOST_TEST(registry.find(typeid(test_events::item_removed)) == nullptr);
  BOOST_TEST((registry.get("item").type == typeid(test_events::item_added)));
}

BOOST_AUTO_TEST_CASE(an_empty_name_or_an_unregistered_type_is_refused) { // R-E2
  event_registry registry;
  BOOST_CHECK_THROW(registry.add<test_events::item_added>(""), sourcery::invalid_argument);
  BOOST_CHECK_EXCEPTION(registry.to_raw(wrap(test_events::item_added{})),
                        sourcery::invalid_argument, [](const sourcery::invalid_argument& e) {
                          return std::string(e.what()).find("item_added") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
