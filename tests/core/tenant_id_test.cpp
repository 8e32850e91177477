// Tenant ids (SPEC §1): at most 256 bytes of UTF-8 without control
// characters; anything else is rejected before anything is stored (R-T1).
#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace sourcery;
using namespace std::string_literals;

namespace {

bool is_valid(std::string_view id) {
  try {
    validate_tenant_id(id);
    return true;
  } catch (const illegal_tenant_id&) {
    return false;
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(tenant_id_suite)

BOOST_AUTO_TEST_CASE(the_default_tenant_and_ordinary_names_are_valid) { // R-T1
  BOOST_TEST(is_valid(default_tenant));
  BOOST_TEST(is_valid(""));
  BOOST_TEST(is_valid("acme"));
  BOOST_TEST(is_valid("tenant-42_eu.west:blue/7"));
  BOOST_TEST(is_valid("with spaces and 'quotes'"));
}

BOOST_AUTO_TEST_CASE(non_ascii_utf8_is_valid) { // R-T1
  BOOST_TEST(is_valid("Grüße"));
  BOOST_TEST(is_valid("日本の会社"));
  BOOST_TEST(is_valid("emoji 🌍"));           // 4-byte sequence
  BOOST_TEST(is_valid("\xc2\xa0nbsp"));        // U+00A0: first code point after C1
  BOOST_TEST(is_valid("\xf4\x8f\xbf\xbf"));    // U+10FFFF: the last code point
}

BOOST_AUTO_TEST_CASE(at_most_256_bytes_are_allowed) { // R-T1
  BOOST_TEST(is_valid(std::string(256, 'a')));
  BOOST_TEST(!is_valid(std::string(257, 'a')));
  // The limit counts bytes, not characters: 128 × "é" is 256 bytes, 129 is 258.
  std::string e128, e129;
  for (int i = 0; i < 128; ++i)
    e128 += "é";
  e129 = e128 + "é";
  BOOST_TEST(e128.size() == 256u);
  BOOST_TEST(is_valid(e128));
  BOOST_TEST(!is_valid(e129));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_rejected) { // R-T1
  BOOST_TEST(!is_valid("\xff"));              // never valid in UTF-8
  BOOST_TEST(!is_valid("abc\xc3"));           // truncated 2-byte sequence
  BOOST_TEST(!is_valid("\xe6\x97"));          // truncated 3-byte sequence
  BOOST_TEST(!is_valid("\x80"));              // lone continuation byte
  BOOST_TEST(!is_valid("\xc0\xaf"));          // overlong '/'
  BOOST_TEST(!is_valid("\xe0\x80\xaf"));      // overlong 3-byte '/'
  BOOST_TEST(!is_valid("\xed\xa0\x80"));      // UTF-16 surrogate U+D800
  BOOST_TEST(!is_valid("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}

BOOST_AUTO_TEST_CASE(control_characters_are_rejected) { // R-T1
  BOOST_TEST(!is_valid("line\nbreak"));
  BOOST_TEST(!is_valid("tab\there"));
  BOOST_TEST(!is_valid("nul\0inside"s));
  BOOST_TEST(!is_valid("\x1b[31mred"));        // escape
  BOOST_TEST(!is_valid("del\x7f"));
  BOOST_TEST(!is_valid("c1\xc2\x85"));         // U+0085 NEXT LINE (C1 control)
  BOOST_TEST(!is_valid("c1\xc2\x9f"));         // U+009F, last C1 control
}

BOOST_AUTO_TEST_CASE(the_error_names_the_offending_id_printably) { // R-T1, §11
  try {
    validate_tenant_id("bad\ntenant");
    BOOST_FAIL("expected illegal_tenant_id");
  } catch (const illegal_tenant_id& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("bad\\x0atenant") != std::string::npos, what);
    BOOST_TEST(what.find('\n') == std::string::npos, what);
    BOOST_TEST((e.code() == errc::illegal_tenant_id));
  }
}

namespace {

/// The message of the illegal_tenant_id that `id` is rejected with.
std::string rejection_of(std::string_view id) {
  try {
    validate_tenant_id(id);
  } catch (const illegal_tenant_id& e) {
    return e.what();
  }
  BOOST_FAIL("expected illegal_tenant_id for a " << id.size() << "-byte id");
  return {};
}

/// True when `text` is valid UTF-8 without control characters: printable.
bool is_printable_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (!is_valid(text.substr(i, n)))
      return false;
    i += n;
  }
  return true;
}

} // namespace

// Issue 14: invalid UTF-8 bytes went into the message raw (§11: messages name
// the values involved, printably).
BOOST_AUTO_TEST_CASE(the_error_escapes_every_invalid_or_unprintable_byte) { // R-T1, §11
  auto what = rejection_of("a\xff" "b\xc3"s);
  BOOST_TEST(what.find("a\\xffb\\xc3'") != std::string::npos, what);
  BOOST_TEST(is_printable_utf8(what), what);

  // Each kind of bad byte, alone and mixed with good text.
  for (const auto& bad : {"\xff"s, "abc\xc3"s, "\xe6\x97"s, "\x80"s, "\xc0\xaf"s,
                          "\xed\xa0\x80"s, "\xf4\x90\x80\x80"s, "c1\xc2\x85"s,
                          "del\x7f"s, "nul\0in"s, "Grüße\xfe日本"s}) {
    auto message = rejection_of(bad);
    BOOST_TEST(is_printable_utf8(message), message);
  }
  // Valid UTF-8 around a bad byte reads as itself.
  auto mixed = rejection_of("Grüße\xfe日本"s);
  BOOST_TEST(mixed.find("Grüße\\xfe日本") != std::string::npos, mixed);

  // A backslash is escaped too, so "\\x41" in a message always means one byte.
  auto slash = rejection_of("a\\x41\n"s);
  BOOST_TEST(slash.find("a\\x5cx41\\x0a") != std::string::npos, slash);

  // Cut after 64 bytes inside a multi-byte sequence: the partial bytes are escaped.
  auto cut = rejection_of(std::string(63, 'a') + "é" + std::string(300, 'b'));
  BOOST_TEST(cut.find(std::string(63, 'a') + "\\xc3…") != std::string::npos, cut);
  BOOST_TEST(is_printable_utf8(cut), cut);
}

BOOST_FIXTURE_TEST_CASE(a_backend_refuses_an_illegal_tenant_and_stores_nothing,
                        backend_fixture) { // R-T1, R-MT
  auto s = store();
  auto id = given_stream_with(2, s);
  auto before_stats = backend.stats();
  auto before = contents(s, id);

  for (const auto& bad : {std::string(257, 't'), "a\tb"s, "\xff"s, "x\0y"s})
    BOOST_CHECK_THROW(backend.in_tenant_mode(bad), illegal_tenant_id);

  auto after_stats = backend.stats();
  BOOST_TEST(after_stats.tenants == before_stats.tenants); // no tenant actor spawned
  BOOST_TEST(after_stats.last_position == before_stats.last_position);
  BOOST_TEST(s.position() == std::optional<position>(2));
  BOOST_TEST(contents(s, id) == before, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(the_longest_legal_tenant_can_store_events, backend_fixture) { // R-T1
  auto tenant = backend.in_tenant_mode(std::string(256, 'z'));
  auto s = tenant.event_store();
  BOOST_TEST(s.tenant_id() == std::string(256, 'z'));
  auto id = given_stream_with(1, s);
  BOOST_TEST(s.load_stream(id).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
