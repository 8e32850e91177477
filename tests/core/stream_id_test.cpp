// Stream ids (SPEC §1): a UUID plus an optional category; named ids are UUID
// v5 under the namespace of the Python library this design follows (R-S1).
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <unordered_set>

using namespace sourcery;

BOOST_AUTO_TEST_SUITE(stream_id_suite)

BOOST_AUTO_TEST_CASE(named_ids_match_the_reference_implementation) { // R-S1
  BOOST_TEST(to_string(stream_id::named("Test #1").id())
             == "98d2202b-bab8-5b7f-b50b-a830761fad6e");
}

BOOST_AUTO_TEST_CASE(named_ids_match_independently_computed_uuid5) { // R-S1
  // Computed outside Sourcery with Python 3:
  //   uuid.uuid5(uuid.UUID('3a24a3ee-d33d-4266-93ab-7d8e256a6d44'), name)
  // (Python encodes the name as UTF-8, as Sourcery does.)
  BOOST_TEST(to_string(stream_id::named("order-42").id())
             == "8622a318-a563-5b28-ab9c-e7fa4de2e4ea");
  BOOST_TEST(to_string(stream_id::named("customer/7").id())
             == "6661cde3-c924-51e7-b30e-914d7789d44f");
  BOOST_TEST(to_string(stream_id::named("Grüße, Welt 🌍").id())
             == "22a32bc8-c3f4-5f0d-910c-12f8b2297d32");
}

BOOST_AUTO_TEST_CASE(a_named_id_keeps_its_name_and_category) { // R-S1
  auto id = stream_id::named("order-42", "orders");
  BOOST_TEST(id.name() == std::optional<std::string>("order-42"));
  BOOST_TEST(id.category() == std::optional<std::string>("orders"));
  BOOST_TEST(id.id().version() == boost::uuids::uuid::version_name_based_sha1);
}

BOOST_AUTO_TEST_CASE(random_ids_are_version_4_and_distinct) { // R-S1
  auto a = stream_id::random();
  auto b = stream_id::random("cart");
  BOOST_TEST(a.id().version() == boost::uuids::uuid::version_random_number_based);
  BOOST_TEST(!(a == b));
  BOOST_TEST(!a.category().has_value());
  BOOST_TEST(b.category() == std::optional<std::string>("cart"));
  BOOST_TEST(!a.name().has_value());
}

BOOST_AUTO_TEST_CASE(an_explicit_uuid_with_its_own_name_is_accepted) { // R-S1
  auto uuid = parse_uuid("98d2202b-bab8-5b7f-b50b-a830761fad6e");
  stream_id id(uuid, std::nullopt, "Test #1");
  BOOST_TEST(id == stream_id::named("Test #1"));
  BOOST_TEST(id.name() == std::optional<std::string>("Test #1"));
}

BOOST_AUTO_TEST_CASE(an_explicit_uuid_with_a_mismatching_name_is_rejected) { // R-S1
  auto uuid = parse_uuid("98d2202b-bab8-5b7f-b50b-a830761fad6e");
  BOOST_CHECK_EXCEPTION(stream_id(uuid, std::nullopt, "Test #2"), incompatible_uuid_and_name,
                        [](const incompatible_uuid_and_name& e) {
                          std::string what = e.what();
                          return e.code() == errc::incompatible_uuid_and_name
                                 && what.find("98d2202b-bab8-5b7f-b50b-a830761fad6e")
                                      != std::string::npos
                                 && what.find("Test #2") != std::string::npos;
                        });
  BOOST_CHECK_THROW(stream_id::from_string("8622a318-a563-5b28-ab9c-e7fa4de2e4ea", "orders",
                                           "order-43"),
                    incompatible_uuid_and_name);
}

BOOST_AUTO_TEST_CASE(an_id_can_be_given_as_hex_text) { // R-S1
  auto id = stream_id::from_string("98d2202b-bab8-5b7f-b50b-a830761fad6e");
  BOOST_TEST(id == stream_id::named("Test #1"));
  BOOST_TEST(!id.name().has_value());
  // Upper case and braces are accepted too; the canonical text is lower case.
  auto upper = stream_id::from_string("{98D2202B-BAB8-5B7F-B50B-A830761FAD6E}");
  BOOST_TEST(upper == id);
  BOOST_TEST(to_string(upper.id()) == "98d2202b-bab8-5b7f-b50b-a830761fad6e");
  auto named = stream_id::from_string("98d2202b-bab8-5b7f-b50b-a830761fad6e", "tests", "Test #1");
  BOOST_TEST(named.name() == std::optional<std::string>("Test #1"));
  BOOST_TEST(named.category() == std::optional<std::string>("tests"));
}

BOOST_AUTO_TEST_CASE(malformed_hex_text_is_an_invalid_argument) { // R-S1
  for (const char* bad : {"", "not-a-uuid", "98d2202b-bab8-5b7f-b50b-a830761fad6",
                          "98d2202b-bab8-5b7f-b50b-a830761fad6e0",
                          "98d2202b-bab8-5b7f-b50b-a830761fad6g",
                          "98d2202b_bab8_5b7f_b50b_a830761fad6e"}) {
    BOOST_TEST_CONTEXT("text '" << bad << "'") {
      BOOST_CHECK_THROW(stream_id::from_string(bad), sourcery::invalid_argument);
      BOOST_CHECK_THROW(parse_uuid(bad), sourcery::invalid_argument);
    }
  }
}

BOOST_AUTO_TEST_CASE(equality_ignores_the_name_but_not_the_category) { // R-S1
  auto uuid = stream_namespace();
  stream_id plain(uuid);
  stream_id same_uuid_no_name(uuid, std::nullopt, std::nullopt);
  BOOST_TEST(plain == same_uuid_no_name);
  // The name is not part of identity: a named id equals the bare UUID.
  BOOST_TEST(stream_id::named("Test #1") == stream_id::from_string(
                                              "98d2202b-bab8-5b7f-b50b-a830761fad6e"));
  // Same name, different category → different streams.
  BOOST_TEST(!(stream_id::named("Test #1", "a") == stream_id::named("Test #1", "b")));
  BOOST_TEST(!(stream_id::named("Test #1", "a") == stream_id::named("Test #1")));
  BOOST_TEST(stream_id::named("Test #1", "a") == stream_id::named("Test #1", "a"));
}

BOOST_AUTO_TEST_CASE(equal_ids_hash_alike_and_work_as_keys) { // R-S1
  std::hash<stream_id> h;
  BOOST_TEST(h(stream_id::named("x", "c"))
             == h(stream_id(stream_id::named("x").id(), std::string("c"))));
  std::unordered_set<stream_id> set;
  set.insert(stream_id::named("x"));
  set.insert(stream_id::named("x", "c1"));
  set.insert(stream_id::named("x", "c2"));
  set.insert(stream_id::from_string(to_string(stream_id::named("x").id()))); // duplicate
  BOOST_TEST(set.size() == 3u);
  BOOST_TEST(set.contains(stream_id::named("x", "c2")));
  BOOST_TEST(!set.contains(stream_id::named("y")));
}

BOOST_AUTO_TEST_CASE(to_string_names_category_uuid_and_name) { // R-S1, §11
  auto text = stream_id::named("Test #1", "tests").to_string();
  BOOST_TEST(text.find("tests") != std::string::npos, text);
  BOOST_TEST(text.find("98d2202b-bab8-5b7f-b50b-a830761fad6e") != std::string::npos, text);
  BOOST_TEST(text.find("Test #1") != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()
