// serde's fast paths (serde_flat.hpp): flat described structs decoded straight
// from JSON text (R-E1) must give exactly what the general path
// (serde::convert of serde::parse) gives, and written straight to text must
// read back as the general path's text (boost::json::value_from, serialize)
// does; both leave every refusal to the general path, so errors stay typed
// and name the field (R-E3).
#include <sourcery/registry.hpp>
#include <sourcery/events.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace sourcery;
using namespace std::string_literals;

namespace serde_flat_events {

/// One member of every kind the fast path takes.
struct flat {
  std::string text;
  bool flag = false;
  std::int32_t small = 0;
  std::uint64_t big = 0;
  std::int64_t signed_big = 0;
  double amount = 0;
  std::optional<std::string> maybe_text;
  std::optional<std::int16_t> maybe_small;
  friend bool operator==(const flat&, const flat&) = default;
};
BOOST_DESCRIBE_STRUCT(flat, (), (text, flag, small, big, signed_big, amount, maybe_text,
                                 maybe_small))

struct nested {
  std::string name;
  flat inner;
};
BOOST_DESCRIBE_STRUCT(nested, (), (name, inner))

struct with_timestamp {
  std::string name;
  timestamp at;
};
BOOST_DESCRIBE_STRUCT(with_timestamp, (), (name, at))

struct with_float {
  float f = 0;
};
BOOST_DESCRIBE_STRUCT(with_float, (), (f))

struct with_const {
  const std::string name;
};
BOOST_DESCRIBE_STRUCT(with_const, (), (name))

struct with_int128 {
  __int128 n = 0;
};
BOOST_DESCRIBE_STRUCT(with_int128, (), (n))

struct empty_event {
  friend bool operator==(const empty_event&, const empty_event&) = default;
};
BOOST_DESCRIBE_STRUCT(empty_event, (), ())

/// The general path's answer: the struct, or the failure's field and text.
struct general_result {
  std::optional<flat> value;
  std::string field;
  std::string why;
};

general_result general(std::string_view text) {
  try {
    return {serde::convert<flat>(serde::parse(text)), "", ""};
  } catch (const serde::decode_failure& f) {
    return {std::nullopt, f.field, f.what()};
  }
}

/// Checks the fast path against the general one on `text`; returns whether
/// the fast path took it.
bool agrees(const std::string& text) {
  auto fast = serde::detail::try_decode_flat<flat>(text);
  if (!fast)
    return false;
  auto slow = general(text);
  BOOST_TEST_INFO("text: " << text);
  BOOST_TEST_REQUIRE(slow.value.has_value()); // the fast path accepted what value_to refuses
  BOOST_TEST_INFO("text: " << text);
  BOOST_TEST((*fast == *slow.value));
  BOOST_TEST(std::memcmp(&fast->amount, &slow.value->amount, sizeof(double)) == 0); // -0.0
  return true;
}

/// The general path's text of `f`: value_from, checked, serialised.
std::string general_text(const flat& f) {
  auto v = boost::json::value_from(f);
  serde::detail::check_encodable(v);
  return boost::json::serialize(v);
}

/// A random flat value: strings with quotes, back slashes, controls and
/// multi-byte characters, integers at their limits, any finite double.
flat random_flat(std::mt19937_64& random) {
  static const std::vector<std::string> pieces = {
    "a", "\"", "\\", "/", "\n", "\t", "\b", "\f", "\r", std::string(1, '\0'), "\x01", "\x1f",
    "\x7f", "é", "日本", "🌍", " ", "customer-000001", "\u2028"};
  auto text = [&] {
    std::string s;
    for (auto n = random() % 6; n > 0; --n)
      s += pieces[random() % pieces.size()];
    return s;
  };
  auto any_double = [&] {
    double d;
    do {
      std::uint64_t bits = random();
      std::memcpy(&d, &bits, sizeof d);
    } while (!std::isfinite(d));
    const double specials[] = {0.0, -0.0, 20.0, 19.99, 1e21, 1e-7, 0.1, 9007199254740993.0,
                               18446744073709551616.0, -1e308};
    return random() % 2 ? d : specials[random() % std::size(specials)];
  };
  flat f;
  f.text = text();
  f.flag = random() % 2;
  f.small = static_cast<std::int32_t>(random());
  f.big = random() % 3 ? random() : std::numeric_limits<std::uint64_t>::max();
  f.signed_big = random() % 3 ? static_cast<std::int64_t>(random())
                              : std::numeric_limits<std::int64_t>::min();
  f.amount = any_double();
  if (random() % 2)
    f.maybe_text = text();
  if (random() % 2)
    f.maybe_small = static_cast<std::int16_t>(random());
  return f;
}

const std::string plain =
  R"({"text":"customer-000001","flag":true,"small":-7,"big":18446744073709551615,)"
  R"("signed_big":-9223372036854775808,"amount":19.99,"maybe_text":null,"maybe_small":12})";

} // namespace serde_flat_events

using namespace serde_flat_events;

BOOST_AUTO_TEST_SUITE(serde_flat_suite)

BOOST_AUTO_TEST_CASE(flat_structs_take_the_fast_path_and_others_do_not) { // R-E1
  BOOST_TEST(serde::detail::is_flat<flat>());
  BOOST_TEST(serde::detail::is_flat<empty_event>());
  BOOST_TEST(!serde::detail::is_flat<nested>());         // a described member
  BOOST_TEST(!serde::detail::is_flat<with_timestamp>()); // a user conversion
  BOOST_TEST(!serde::detail::is_flat<with_float>());     // float: left to value_to
  BOOST_TEST(!serde::detail::is_flat<with_const>());     // cannot be decoded into
  BOOST_TEST(!serde::detail::is_flat<with_int128>());    // wider than JSON's integers here
  BOOST_TEST(serde::encode(with_const{"x"}) == R"({"name":"x"})"); // the general path
  BOOST_TEST(!serde::detail::is_flat<timestamp>());
  BOOST_TEST(!serde::detail::is_flat<std::string>());
  BOOST_TEST(!serde::detail::is_flat<std::vector<int>>());
}

BOOST_AUTO_TEST_CASE(what_the_fast_path_reads_equals_what_value_to_reads) { // R-E1
  std::vector<std::string> taken = {
    plain,
    // Any order, white space, escapes in keys and strings (parts).
    R"( { "maybe_small" : null , "amount" : 1e-3, "signed_big": 0, "big": 0, "small": 2147483647,)"
    R"( "flag": false, "text": "a\"b\\c\u00e9\ud83c\udf0d", "maybe_text": "x" } )",
    R"({"t\u0065xt":"","flag":true,"small":-2147483648,"big":1,"signed_big":1,"amount":-0.0,)"
    R"("maybe_text":"\n","maybe_small":-32768})",
    // Integers for a double, as value_to converts them.
    R"({"text":"","flag":true,"small":0,"big":0,"signed_big":0,"amount":20,)"
    R"("maybe_text":null,"maybe_small":null})",
    R"({"text":"","flag":true,"small":0,"big":0,"signed_big":0,"amount":18446744073709551615,)"
    R"("maybe_text":null,"maybe_small":null})",
    // Doubles read exactly (Boost.JSON 1.81 alone is one ulp off for some).
    R"({"text":"","flag":true,"small":0,"big":0,"signed_big":0,"amount":0.30000000000000004,)"
    R"("maybe_text":null,"maybe_small":null})",
    R"({"text":"","flag":true,"small":0,"big":0,"signed_big":0,"amount":1e-400,)"
    R"("maybe_text":null,"maybe_small":null})",
  };
  for (const auto& text : taken) {
    BOOST_TEST_INFO("text: " << text);
    BOOST_TEST(agrees(text));
  }
  auto f = serde::decode<flat>(plain);
  BOOST_TEST(f.text == "customer-000001");
  BOOST_TEST(f.big == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(f.signed_big == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(f.amount == 19.99);
  BOOST_TEST(!f.maybe_text.has_value());
  BOOST_TEST((f.maybe_small == std::optional<std::int16_t>(12)));
  BOOST_TEST((serde::detail::try_decode_flat<empty_event>("{}") == empty_event{}));
}

BOOST_AUTO_TEST_CASE(the_fast_path_leaves_every_doubtful_text_to_value_to) { // R-E1, R-E3
  auto with = [](std::string field, std::string value) {
    auto text = plain;
    auto at = text.find("\"" + field + "\":");
    auto from = at + field.size() + 3;
    auto to = text.find_first_of(",}", from);
    return text.replace(from, to - from, value);
  };
  struct doubtful {
    std::string text;
    bool general_reads_it; // else: decode throws decode_failure naming `field`
    std::string field;
  };
  std::vector<doubtful> cases = {
    {with("small", "3.0"), true, ""},        // value_to takes an exact fraction
    {with("small", "2147483648"), false, "small"},
    {with("maybe_small", "32768"), false, "maybe_small"},
    {with("big", "-1"), false, "big"},
    {with("small", "\"3\""), false, "small"},
    {with("text", "3"), false, "text"},
    {with("flag", "1"), false, "flag"},
    {with("flag", "null"), false, "flag"},
    {with("amount", "\"1\""), false, "amount"},
    {with("amount", "1e400"), false, ""}, // malformed: beyond double
    {with("text", "{}"), false, "text"},
    {with("text", "[]"), false, "text"},
    {R"({"text":"a","text":"b"})", false, ""}, // duplicated and missing keys
    {plain.substr(0, plain.size() - 1) + R"(,"extra":1})", false, ""},
    {R"({"text":""})", false, ""},
    {"[]", false, ""},
    {"\"text\"", false, ""},
    {plain + " x", false, ""},
    {plain.substr(0, plain.size() - 1), false, ""},
    {"", false, ""},
  };
  for (const auto& c : cases) {
    BOOST_TEST_INFO("text: " << c.text);
    BOOST_TEST(!serde::detail::try_decode_flat<flat>(c.text).has_value());
    auto slow = general(c.text);
    BOOST_TEST_INFO("text: " << c.text);
    BOOST_TEST(slow.value.has_value() == c.general_reads_it);
    // serde::decode answers as the general path: the value, or its error.
    if (c.general_reads_it) {
      BOOST_TEST((serde::decode<flat>(c.text) == *slow.value));
      continue;
    }
    try {
      (void)serde::decode<flat>(c.text);
      BOOST_ERROR("decoded: " << c.text);
    } catch (const serde::decode_failure& f) {
      BOOST_TEST(f.field == slow.field);
      BOOST_TEST(std::string(f.what()) == slow.why);
      if (!c.field.empty())
        BOOST_TEST(f.field == c.field);
    }
  }
}

BOOST_AUTO_TEST_CASE(mutated_texts_never_make_the_two_paths_disagree) { // R-E1, R-E3
  // 50,000 texts: the plain one with up to four bytes replaced, inserted or
  // removed, drawn from JSON's own characters. Whatever the fast path reads,
  // the general path reads the same; some of each kind must be taken.
  std::mt19937 random(20261202);
  const std::string alphabet = R"({}[]":,0123456789-+.eE tfnrulsa\ )";
  int taken = 0;
  for (int i = 0; i < 50'000; ++i) {
    auto text = plain;
    auto edits = random() % 4 + 1;
    for (unsigned e = 0; e < edits && !text.empty(); ++e) {
      auto at = random() % text.size();
      auto c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
      case 0: text[at] = c; break;
      case 1: text.insert(text.begin() + at, c); break;
      default: text.erase(at, 1);
      }
    }
    taken += agrees(text);
  }
  BOOST_TEST_MESSAGE(taken << " of 50,000 mutated texts took the fast path");
  BOOST_TEST(taken > 1'000);
}

BOOST_AUTO_TEST_CASE(doubles_read_by_the_fast_path_round_trip_exactly) { // R-E1
  std::mt19937_64 bits(20261202);
  int checked = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::uint64_t b = bits();
    double x;
    std::memcpy(&x, &b, sizeof x);
    if (!std::isfinite(x))
      continue;
    flat f;
    f.amount = x;
    auto text = serde::encode(f);
    auto back = serde::detail::try_decode_flat<flat>(text);
    BOOST_TEST_REQUIRE(back.has_value());
    if (std::memcmp(&x, &back->amount, sizeof x) != 0)
      BOOST_FAIL("double " << serde::encode(x) << " came back as " << serde::encode(back->amount));
    ++checked;
  }
  BOOST_TEST(checked > 19'000);
}

BOOST_AUTO_TEST_CASE(what_the_fast_path_writes_reads_back_as_the_general_text) { // R-E1
  // 20,000 random values: the fast text parses to the same JSON as the
  // general path's text, and reads back to the same value, bit for bit.
  std::mt19937_64 random(20261202);
  for (int i = 0; i < 20'000; ++i) {
    auto f = random_flat(random);
    auto fast = serde::detail::try_encode_flat(f);
    BOOST_TEST_REQUIRE(fast.has_value());
    auto general = general_text(f);
    BOOST_TEST_INFO("fast: " << *fast << "\ngeneral: " << general);
    BOOST_TEST_REQUIRE((serde::parse(*fast) == serde::parse(general)));
    auto back = serde::decode<flat>(*fast);
    BOOST_TEST_REQUIRE((back == f));
    BOOST_TEST_REQUIRE(std::memcmp(&back.amount, &f.amount, sizeof(double)) == 0);
    BOOST_TEST_REQUIRE(serde::parse(*fast).at("amount").is_double()); // stays a double
  }
  BOOST_TEST((serde::encode(empty_event{}) == "{}"));
  flat f;
  f.text = "a\"b\\c\n\x01é";
  f.amount = 20;
  BOOST_TEST(serde::encode(f)
             == R"({"text":"a\"b\\c\n\u0001é","flag":false,"small":0,"big":0,"signed_big":0,)"
                R"("amount":20.0,"maybe_text":null,"maybe_small":null})");
}

BOOST_AUTO_TEST_CASE(values_without_a_json_form_are_refused_by_the_general_path) { // R-E1, R-E3
  auto refused = [](flat f, const std::string& field) {
    BOOST_TEST(!serde::detail::try_encode_flat(f).has_value());
    try {
      (void)serde::encode(f);
      BOOST_ERROR("encoded a value without a JSON form, field " << field);
    } catch (const serde::encode_failure& e) {
      BOOST_TEST(e.field == field);
    }
  };
  flat f;
  f.amount = std::numeric_limits<double>::quiet_NaN();
  refused(f, "amount");
  f.amount = -std::numeric_limits<double>::infinity();
  refused(f, "amount");
  f = flat{};
  f.text = "\xff";
  refused(f, "text");
  f = flat{};
  f.maybe_text = "ok \xed\xa0\x80"; // a surrogate
  refused(f, "maybe_text");
}

BOOST_AUTO_TEST_SUITE_END()
