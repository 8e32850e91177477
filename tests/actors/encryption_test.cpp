// Encrypted fields and crypto-shredding (SPEC §5, R-EN).
#include "fixtures.hpp"

// Internal: to read the stream exactly as stored (raw ciphertext).

#include <boost/test/unit_test.hpp>

#include <caf/send.hpp>

#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace sourcery;

namespace enc_events {

struct address {
  std::string street;
  std::string city;
  friend bool operator==(const address&, const address&) = default;
};
BOOST_DESCRIBE_STRUCT(address, (), (street, city))

struct workplace {
  std::string company;
  address office;
};
BOOST_DESCRIBE_STRUCT(workplace, (), (company, office))

/// One encrypted field of every kind; `user_id` is the data subject.
struct profile_updated {
  std::string user_id;
  std::string email;
  int age = 0;
  double balance = 0;
  bool newsletter = false;
  std::optional<std::string> nickname;
  std::vector<std::string> phones;
  std::map<std::string, int> scores;
  timestamp born;
  address home;    // encrypted as a whole
  workplace work;  // only work.office.street is encrypted
  std::string note; // plain
};
BOOST_DESCRIBE_STRUCT(profile_updated, (),
                      (user_id, email, age, balance, newsletter, nickname, phones, scores, born,
                       home, work, note))

/// `message` is the sender's; `recipient_email` has its own subject field.
struct gift_sent {
  std::string user_id;
  std::string recipient_id;
  std::string message;
  std::string recipient_email;
};
BOOST_DESCRIBE_STRUCT(gift_sent, (), (user_id, recipient_id, message, recipient_email))

/// No subject field: the stream's name is the subject.
struct note_taken {
  std::string text;
  int mood = 0;
};
BOOST_DESCRIBE_STRUCT(note_taken, (), (text, mood))

/// A snapshot with an encrypted field.
struct profile_snapshot {
  std::string user_id;
  std::string email;
  int updates = 0;
};
BOOST_DESCRIBE_STRUCT(profile_snapshot, (), (user_id, email, updates))

} // namespace enc_events

namespace {

using namespace enc_events;

const std::string erased = "<erased>";

void register_events(event_registry& r) {
  r.add<profile_updated>("profile_updated",
                         encryption_spec_for<profile_updated>()
                           .subject("user_id")
                           .encrypt("email", erased)
                           .encrypt("age", 0)
                           .encrypt("balance", 0.0)
                           .encrypt("newsletter", false)
                           .encrypt("nickname", std::optional<std::string>())
                           .encrypt("phones", std::vector<std::string>())
                           .encrypt("scores", std::map<std::string, int>())
                           .encrypt("born", timestamp{})
                           .encrypt("home", address{erased, erased})
                           .encrypt("work.office.street", erased));
  r.add<gift_sent>("gift_sent", encryption_spec_for<gift_sent>()
                                  .subject("user_id")
                                  .encrypt("message", erased)
                                  .encrypt("recipient_email", erased, "recipient_id"));
  r.add<note_taken>("note_taken", encryption_spec_for<note_taken>()
                                    .encrypt("text", erased)
                                    .encrypt("mood", -1));
  r.add<profile_snapshot>("profile_snapshot", encryption_spec_for<profile_snapshot>()
                                                .subject("user_id")
                                                .encrypt("email", erased));
}

profile_updated profile_of(std::string user) {
  return profile_updated{
    .user_id = user,
    .email = user + "@example.org",
    .age = 42,
    .balance = 1234.5678,
    .newsletter = true,
    .nickname = "the " + user,
    .phones = {"+44 20 7946 0001", "+44 20 7946 0002"},
    .scores = {{"chess", 1800}, {"go", 5}},
    .born = timestamp::from_micros(86'400'000'123),
    .home = {"1 Privet Drive", "Little Whinging"},
    .work = {"Acme", {"42 Wallaby Way", "Sydney"}},
    .note = "plain note",
  };
}

/// What each encrypted field of profile_updated reads as once shredded.
profile_updated masked_profile_of(const profile_updated& p) {
  auto m = p;
  m.email = erased;
  m.age = 0;
  m.balance = 0;
  m.newsletter = false;
  m.nickname.reset();
  m.phones.clear();
  m.scores.clear();
  m.born = timestamp{};
  m.home = {erased, erased};
  m.work.office.street = erased;
  return m;
}

void check_same(const profile_updated& got, const profile_updated& want) {
  BOOST_TEST(got.user_id == want.user_id);
  BOOST_TEST(got.email == want.email);
  BOOST_TEST(got.age == want.age);
  BOOST_TEST(got.balance == want.balance);
  BOOST_TEST(got.newsletter == want.newsletter);
  BOOST_TEST(got.nickname == want.nickname);
  BOOST_TEST(got.phones == want.phones, boost::test_tools::per_element());
  BOOST_CHECK(got.scores == want.scores);
  BOOST_TEST(got.born.micros() == want.born.micros());
  BOOST_CHECK(got.home == want.home);
  BOOST_TEST(got.work.company == want.work.company);
  BOOST_CHECK(got.work.office == want.work.office);
  BOOST_TEST(got.note == want.note);
}

bool mentions(const std::exception& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

/// The stream exactly as stored: its snapshot's data (if any), then each
/// record's data, read from the storage engine without decoding.
std::vector<std::string> stored_data(backend& b, const stream_id& id) {
  auto read = b.engine()->streams(b.tenant_id())->read(id, std::nullopt, std::nullopt);
  std::vector<std::string> out;
  if (read.snapshot)
    out.push_back(read.snapshot->data);
  for (const auto& rec : read.events.records)
    out.emplace_back(rec.data);
  return out;
}

/// Alters the ciphertext the real strategy makes, as if the stored bytes had
/// been altered: while `tamper` is set, one character of the tag; while
/// `forge` is set, as `forge` says.
class tampering_strategy final : public encryption_strategy {
public:
  enum forgery {
    none,
    key_id_char, ///< one character of the key id (the first ten after the prefix)
    zero_bytes,  ///< the prefix and 48 zero bytes: key id, nonce and tag
  };
  std::atomic<bool> tamper{false};
  std::atomic<forgery> forge{none};

  encryption_key generate_key() const override { return real_.generate_key(); }
  std::string encrypt(std::string_view plaintext, const encryption_key& key) const override {
    auto c = real_.encrypt(plaintext, key);
    if (tamper)
      flip(c, c.size() - 6); // inside the authentication tag
    return forged(std::move(c), forge);
  }
  decryption decrypt(std::string_view ciphertext, const encryption_key& key) const override {
    return real_.decrypt(ciphertext, key);
  }
  std::string key_id(const encryption_key& key) const override { return real_.key_id(key); }

  /// `c` altered as `how` says.
  static std::string forged(std::string c, forgery how) {
    auto body = c.find(':') + 1;
    if (how == key_id_char)
      flip(c, body + 3);
    if (how == zero_bytes)
      c = c.substr(0, body) + std::string(64, 'A'); // base64 of 48 zero bytes
    return c;
  }

  static void flip(std::string& c, std::size_t i) { c[i] = c[i] == 'A' ? 'B' : 'A'; }

private:
  xchacha20poly1305_strategy real_;
};

struct encryption_fixture {
  std::shared_ptr<tampering_strategy> strategy = std::make_shared<tampering_strategy>();
  backend b = make(strategy);

  static backend make(std::shared_ptr<encryption_strategy> strategy) {
    auto b = backend::on(test_engine::make());
    b.with_encryption(std::move(strategy), std::make_shared<in_memory_key_storage>());
    register_events(b.registry());
    return b;
  }

  event_store store() { return b.event_store(); }

  /// Given data subjects with keys.
  void given_subjects(std::initializer_list<std::string> subjects, backend view) {
    for (const auto& s : subjects)
      BOOST_REQUIRE(view.encryption().create_key(s));
  }
  void given_subjects(std::initializer_list<std::string> subjects) { given_subjects(subjects, b); }

  /// The `i`th event, as an `E` (a copy: `events` is often a temporary).
  template <class E>
  E only(const std::vector<wrapped_event<>>& events, std::size_t i = 0) {
    BOOST_REQUIRE_GT(events.size(), i);
    return events[i].event.as<E>();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(encryption_suite, encryption_fixture)

// -- round trip -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(encrypted_fields_of_every_kind_load_back_unchanged) { // R-EN
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann"))});
  check_same(only<profile_updated>(store().load_stream(id)), profile_of("ann"));
}

BOOST_AUTO_TEST_CASE(the_default_cipher_is_aes_gcm_with_aes_instructions_else_xchacha) { // R-EN
  auto plain = backend::on(test_engine::make());
  register_events(plain.registry());
  plain.with_encryption();
  plain.encryption().create_key("ann");
  std::string seen;
  plain.with_outbox([&](const outbox_candidate& c) {
    seen = std::string(c.data);
    return false;
  });
  plain.event_store().append(stream_id::random("profile"), {wrap(profile_of("ann"))});
  auto email = serde::parse(seen).as_object().at("email").as_string();
  BOOST_TEST(email.starts_with(aes256gcm_strategy::available() ? "aes256gcm1:" : "xchacha1:"));
}

BOOST_AUTO_TEST_CASE(the_stored_data_holds_ciphertext_not_the_plain_values) { // R-EN
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann"))});

  auto stored = stored_data(b, id);
  BOOST_REQUIRE_EQUAL(stored.size(), 1u);
  for (const std::string plain : {"ann@example.org", "1234.5678", "the ann", "+44 20 7946",
                                  "chess", "1800", "Privet", "Little Whinging", "Wallaby",
                                  "1970-01-02"})
    BOOST_TEST(stored[0].find(plain) == std::string::npos, plain << " is stored in plain text");
  auto json = serde::parse(stored[0]).as_object();
  // The fixture's strategy wraps XChaCha20-Poly1305 (to tamper on demand).
  const std::string prefix = "xchacha1:";
  BOOST_TEST(json.at("email").as_string().starts_with(prefix));
  BOOST_TEST(json.at("home").as_string().starts_with(prefix));
  BOOST_TEST(json.at("work").at("office").at("street").as_string().starts_with(prefix));
  // Subject and plain fields stay readable.
  BOOST_TEST(json.at("user_id").as_string() == "ann");
  BOOST_TEST(json.at("note").as_string() == "plain note");
  BOOST_TEST(json.at("work").at("office").at("city").as_string() == "Sydney");
}

BOOST_AUTO_TEST_CASE(one_value_encrypted_twice_gives_two_ciphertexts) { // fresh nonces
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann")), wrap(profile_of("ann"))});
  auto stored = stored_data(b, id);
  BOOST_REQUIRE_EQUAL(stored.size(), 2u);
  BOOST_TEST(serde::parse(stored[0]).at("email") != serde::parse(stored[1]).at("email"));
}

BOOST_AUTO_TEST_CASE(an_encrypted_append_repeated_is_stored_once) { // R-ES6, R-EN
  // Encrypted again, the repeat's ciphertext differs from the stored one;
  // it is still the same append.
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  std::vector<wrapped_event<>> evs{wrap(profile_of("ann"))};
  auto first = store().append(id, evs, 0);
  auto again = store().append(id, evs, 0);
  BOOST_TEST(again.first_position == first.first_position);
  BOOST_TEST(again.version == std::optional<version>(1));
  BOOST_REQUIRE_EQUAL(stored_data(b, id).size(), 1u);
  check_same(only<profile_updated>(store().load_stream(id)), profile_of("ann"));
}

// -- shredding ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shredding_a_subject_masks_exactly_its_fields_typed) { // R-EN
  given_subjects({"ann", "bob"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann")), wrap(profile_of("bob"))});

  b.encryption().shred("ann");

  auto events = store().load_stream(id);
  check_same(only<profile_updated>(events, 0), masked_profile_of(profile_of("ann")));
  check_same(only<profile_updated>(events, 1), profile_of("bob"));
}

BOOST_AUTO_TEST_CASE(shredding_a_key_used_only_by_a_second_event_masks_only_that_event) {
  given_subjects({"ann", "carl"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann")),
                      wrap(gift_sent{"ann", "carl", "happy birthday", "carl@example.org"})});

  b.encryption().shred("carl");

  auto events = store().load_stream(id);
  check_same(only<profile_updated>(events, 0), profile_of("ann"));
  auto gift = only<gift_sent>(events, 1);
  BOOST_TEST(gift.recipient_email == erased);
  BOOST_TEST(gift.message == "happy birthday"); // ann's field
  BOOST_TEST(gift.recipient_id == "carl");
}

BOOST_AUTO_TEST_CASE(without_a_subject_field_the_stream_name_is_the_subject) { // R-EN
  given_subjects({"patient-7", "patient-8"});
  auto seven = stream_id::named("patient-7", "notes");
  auto eight = stream_id::named("patient-8", "notes");
  store().append(seven, {wrap(note_taken{"feels better", 3})});
  store().append(eight, {wrap(note_taken{"headache", 1})});
  BOOST_TEST(only<note_taken>(store().load_stream(seven)).text == "feels better");

  b.encryption().shred("patient-7");

  auto masked = only<note_taken>(store().load_stream(seven));
  BOOST_TEST(masked.text == erased);
  BOOST_TEST(masked.mood == -1);
  BOOST_TEST(only<note_taken>(store().load_stream(eight)).text == "headache");
}

BOOST_AUTO_TEST_CASE(a_shredded_subject_stays_shredded) { // R-EN
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann"))});
  b.encryption().shred("ann");
  auto before = store().position();

  // No key is made behind the user's back: new data is refused…
  BOOST_CHECK_THROW(store().append(id, {wrap(profile_of("ann"))}, 1), key_not_found);
  BOOST_TEST(store().position() == before);

  // …and a key created anew on purpose does not revive the shredded data.
  BOOST_TEST(b.encryption().create_key("ann"));
  store().append(id, {wrap(profile_of("ann"))}, 1);
  auto events = store().load_stream(id);
  check_same(only<profile_updated>(events, 0), masked_profile_of(profile_of("ann")));
  check_same(only<profile_updated>(events, 1), profile_of("ann"));
}

// The engine's own key storage (with_encryption's default) records the
// retired id too: on RocksDB a value of the shredded key read as
// decryption_failed once the subject had a new key.
BOOST_AUTO_TEST_CASE(a_shredded_subject_stays_shredded_with_the_engines_key_storage) { // R-EN
  auto own = backend::on(test_engine::make());
  own.with_encryption();
  register_events(own.registry());
  BOOST_REQUIRE(own.encryption().create_key("ann"));
  auto id = stream_id::random("profile");
  own.event_store().append(id, {wrap(profile_of("ann"))});
  own.encryption().shred("ann");
  BOOST_TEST(own.encryption().create_key("ann"));
  own.event_store().append(id, {wrap(profile_of("ann"))}, 1);
  auto events = own.event_store().load_stream(id);
  check_same(only<profile_updated>(events, 0), masked_profile_of(profile_of("ann")));
  check_same(only<profile_updated>(events, 1), profile_of("ann"));
}

// Issue 14: a value whose key id was altered (or replaced by zero bytes) read
// as the mask, so anyone able to write to the storage could erase a field
// unnoticed. Only a key really gone masks; a forged id is decryption_failed.
BOOST_AUTO_TEST_CASE(a_forged_key_id_is_a_decryption_failure_not_a_shred) { // R-EN, §11
  given_subjects({"ann"});
  for (auto how : {tampering_strategy::key_id_char, tampering_strategy::zero_bytes}) {
    BOOST_TEST_CONTEXT("forgery " << int(how)) {
      auto id = stream_id::random("gifts");
      strategy->forge = how;
      store().append(id, {wrap(gift_sent{"ann", "ann", "hello", "ann@example.org"})});
      strategy->forge = tampering_strategy::none;
      BOOST_CHECK_EXCEPTION(store().load_stream(id), decryption_failed,
                            [&](const decryption_failed& e) {
                              return e.stream() == id.to_string() && e.event_name() == "gift_sent"
                                     && e.field() == "message" && mentions(e, "'message'");
                            });
    }
  }
}

BOOST_AUTO_TEST_CASE(after_a_key_is_created_anew_old_values_mask_and_forged_ids_still_fail) { // R-EN
  given_subjects({"ann"});
  auto old_id = stream_id::random("gifts");
  store().append(old_id, {wrap(gift_sent{"ann", "ann", "hello", "ann@example.org"})});
  b.encryption().shred("ann");
  BOOST_TEST(b.encryption().create_key("ann"));

  // The value of the shredded key: its id was retired, so it is masked…
  auto old = only<gift_sent>(store().load_stream(old_id));
  BOOST_TEST(old.message == erased);
  BOOST_TEST(old.recipient_email == erased);

  // …while an id the subject never had is still a forgery.
  auto forged_id = stream_id::random("gifts");
  strategy->forge = tampering_strategy::zero_bytes;
  store().append(forged_id, {wrap(gift_sent{"ann", "ann", "hello", "ann@example.org"})});
  strategy->forge = tampering_strategy::none;
  BOOST_CHECK_THROW(store().load_stream(forged_id), decryption_failed);

  // Retired ids are per tenant and subject.
  in_memory_key_storage keys;
  keys.retire("t", "ann", "12345678");
  BOOST_TEST(keys.retired("t", "ann", "12345678"));
  BOOST_TEST(!keys.retired("t", "bob", "12345678"));
  BOOST_TEST(!keys.retired("u", "ann", "12345678"));
  BOOST_TEST(!keys.retired("t", "ann", "12345679"));
  BOOST_TEST(!keys.retired("t1", "ann", "2345678")); // the parts cannot run into each other
}

BOOST_AUTO_TEST_CASE(creating_a_key_twice_keeps_the_first) {
  auto keys = b.encryption();
  BOOST_TEST(keys.create_key("ann"));
  auto first = keys.key("ann");
  BOOST_TEST(!keys.create_key("ann"));
  BOOST_CHECK(keys.key("ann") == first);
  BOOST_TEST(!keys.store_key("ann", encryption_key(32, 7)));
  BOOST_CHECK(keys.key("ann") == first);
  BOOST_CHECK_THROW(keys.create_key(""), invalid_argument);
}

// -- errors: nothing stored --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_subject_is_an_error_naming_the_stream_and_nothing_is_stored) {
  auto id = stream_id::random("notes"); // no name, no subject field
  auto before = store().position();
  BOOST_CHECK_EXCEPTION(store().append(id, {wrap(note_taken{"secret", 1})}), no_subject_id_found,
                        [&](const no_subject_id_found& e) {
                          return e.stream() == id.to_string() && e.code() == errc::no_subject_id_found;
                        });
  BOOST_TEST(store().position() == before);
  BOOST_TEST(store().load_stream(id).empty());
}

BOOST_AUTO_TEST_CASE(a_missing_key_is_an_error_naming_the_subject_and_nothing_is_stored) {
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann"))});
  auto before = store().position();

  // One event of the append lacks a key: the whole append is refused.
  BOOST_CHECK_EXCEPTION(
    store().append(id, {wrap(profile_of("ann")), wrap(profile_of("zoe"))}, 1), key_not_found,
    [](const key_not_found& e) { return e.subject_id() == "zoe" && mentions(e, "'zoe'"); });
  BOOST_TEST(store().position() == before);
  BOOST_TEST(store().load_stream(id).size() == 1u);

  // The asynchronous form reports the same error.
  std::promise<result<append_receipt>> done;
  store().append_async(id, {wrap(profile_of("zoe"))}, 1,
                       [&](result<append_receipt> r) { done.set_value(std::move(r)); });
  auto r = done.get_future().get();
  BOOST_CHECK_THROW(r.value(), key_not_found);
}

BOOST_AUTO_TEST_CASE(without_encryption_configured_encrypted_types_are_refused) { // R-EN
  auto plain = backend::on(test_engine::make());
  register_events(plain.registry());
  auto id = stream_id::named("patient-7");
  BOOST_CHECK_EXCEPTION(plain.event_store().append(id, {wrap(note_taken{"secret", 1})}),
                        encryption_not_configured, [](const encryption_not_configured& e) {
                          return mentions(e, "note_taken") && mentions(e, "with_encryption");
                        });
  BOOST_TEST(!plain.event_store().position());
  BOOST_CHECK_THROW(plain.encryption(), encryption_not_configured);
  BOOST_CHECK_THROW(plain.services().get<key_storage>(), no_provider_configured);
}

// -- tenants --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(two_tenants_have_separate_keys_for_one_subject_id) { // R-MT, R-EN
  auto t1 = b.in_tenant_mode("t1");
  auto t2 = b.in_tenant_mode("t2");
  given_subjects({"ann"}, t1);
  given_subjects({"ann"}, t2);
  BOOST_CHECK(t1.encryption().key("ann") != t2.encryption().key("ann"));
  auto id = stream_id::named("profile-of-ann", "profile");
  t1.event_store().append(id, {wrap(profile_of("ann"))});
  t2.event_store().append(id, {wrap(profile_of("ann"))});

  t1.encryption().shred("ann");

  check_same(only<profile_updated>(t1.event_store().load_stream(id)),
             masked_profile_of(profile_of("ann")));
  check_same(only<profile_updated>(t2.event_store().load_stream(id)), profile_of("ann"));
  BOOST_TEST(!b.encryption().has_key("ann")); // the default tenant never had one
}

// -- snapshots, listeners, subscriptions --------------------------------------------------

BOOST_AUTO_TEST_CASE(snapshots_are_encrypted_and_shredded_too) { // R-EN, R-ES3
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann"))});
  store().save_snapshot(id, wrap(profile_snapshot{"ann", "ann@example.org", 1}));

  auto stored = stored_data(b, id);
  BOOST_REQUIRE_EQUAL(stored.size(), 1u); // the snapshot only
  BOOST_TEST(stored[0].find("ann@example.org") == std::string::npos);
  BOOST_TEST(only<profile_snapshot>(store().load_stream(id)).email == "ann@example.org");

  b.encryption().shred("ann");
  auto masked = only<profile_snapshot>(store().load_stream(id));
  BOOST_TEST(masked.email == erased);
  BOOST_TEST(masked.updates == 1);
}

BOOST_AUTO_TEST_CASE(the_outbox_filter_sees_ciphertext_and_publishes_decrypted_or_masked) {
  // R-EN, R-OB
  given_subjects({"ann", "bob"});
  std::vector<std::string> filtered;
  b.with_outbox([&](const outbox_candidate& c) {
    filtered.emplace_back(c.data);
    return true;
  });
  auto id = stream_id::random("profile");
  store().append(id, {wrap(profile_of("ann")), wrap(profile_of("bob"))});
  BOOST_REQUIRE_EQUAL(filtered.size(), 2u);
  BOOST_TEST(filtered[0].find("ann@example.org") == std::string::npos);

  b.encryption().shred("bob");

  std::vector<std::string> published;
  b.outbox().run([&](const recorded_event& r) {
    published.push_back(r.event.as<profile_updated>().email);
  });
  BOOST_TEST(published == (std::vector<std::string>{"ann@example.org", erased}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(listeners_and_subscriptions_see_decrypted_events) { // R-EN, R-L, R-SUB
  given_subjects({"ann"});
  std::vector<std::string> heard;
  auto l = make_listener(
    [&](const recorded_event& r) { heard.push_back(r.event.as<profile_updated>().email); });
  b.in_transaction().add<profile_updated>(l);
  auto id = stream_id::random("profile");
  auto receipt = store().append(id, {wrap(profile_of("ann"))});
  b.in_transaction().remove(l);
  BOOST_TEST(heard == std::vector<std::string>{"ann@example.org"}, boost::test_tools::per_element());

  auto sub = b.subscriber().start_from(receipt.first_position - 1).build_iter(std::chrono::seconds(5));
  auto first = sub.next();
  BOOST_REQUIRE(first);
  BOOST_TEST(first->event.as<profile_updated>().email == "ann@example.org");
}

// -- tampering ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tampered_ciphertext_is_an_error_naming_stream_event_and_field) { // R-EN
  given_subjects({"ann"});
  auto id = stream_id::random("profile");
  strategy->tamper = true;
  store().append(id, {wrap(gift_sent{"ann", "ann", "hello", "ann@example.org"})});
  strategy->tamper = false;

  BOOST_CHECK_EXCEPTION(store().load_stream(id), decryption_failed,
                        [&](const decryption_failed& e) {
                          return e.stream() == id.to_string() && e.event_name() == "gift_sent"
                                 && e.field() == "message" && mentions(e, "gift_sent")
                                 && mentions(e, "'message'");
                        });
}

/// The built-in strategy `s`, whose values start with `prefix`, never
/// returns unauthenticated plaintext.
void check_authenticated(const encryption_strategy& s, std::string_view prefix) {
  auto key = s.generate_key();
  auto c = s.encrypt(R"("ann@example.org")", key);
  BOOST_TEST(c.starts_with(prefix));
  BOOST_TEST(c != s.encrypt(R"("ann@example.org")", key)); // a fresh nonce each time
  auto ok = s.decrypt(c, key);
  BOOST_TEST(ok.outcome == decryption::ok);
  BOOST_TEST(ok.plaintext == R"("ann@example.org")");
  BOOST_TEST(s.decrypt(s.encrypt("", key), key).outcome == decryption::ok);

  // Any altered character after the key id: authentication fails.
  const std::size_t key_id_chars = prefix.size() + 11;
  for (std::size_t i = key_id_chars; i < c.size(); ++i) {
    auto altered = c;
    tampering_strategy::flip(altered, i);
    BOOST_TEST(s.decrypt(altered, key).outcome == decryption::failed, "position " << i);
  }
  BOOST_TEST(s.decrypt(c.substr(0, c.size() - 4), key).outcome == decryption::failed);
  BOOST_TEST(s.decrypt(c + "AAAA", key).outcome == decryption::failed);
  BOOST_TEST(s.decrypt(c.substr(0, prefix.size() + 8), key).outcome == decryption::failed);
  BOOST_TEST(s.decrypt("ann@example.org", key).outcome == decryption::failed);
  // Another key: reported with the id the value names (a claim the caller
  // checks against the key storage; issue 14).
  auto other = s.decrypt(c, s.generate_key());
  BOOST_TEST(other.outcome == decryption::other_key);
  BOOST_TEST(other.key_id == s.key_id(key));
  BOOST_TEST(s.key_id(key).size() == 8u);
  BOOST_TEST(s.key_id(encryption_key(32)).empty()); // not a key of this strategy: no id
  // An altered key id is `other_key` naming the altered id, never `ok`.
  for (std::size_t i = prefix.size(); i < key_id_chars - 1; ++i) {
    auto altered = c;
    tampering_strategy::flip(altered, i);
    auto d = s.decrypt(altered, key);
    BOOST_TEST(d.outcome == decryption::other_key, "position " << i);
    BOOST_TEST(d.key_id != s.key_id(key), "position " << i);
  }
  auto zeros = s.decrypt(std::string(prefix) + std::string(64, 'A'), key);
  BOOST_TEST(zeros.outcome == decryption::other_key);
  BOOST_TEST(zeros.key_id == std::string(8, '\0'));
  BOOST_CHECK_THROW(s.encrypt("x", encryption_key(32)), invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_default_strategy_never_returns_unauthenticated_plaintext) {
  check_authenticated(xchacha20poly1305_strategy(), "xchacha1:");
}

BOOST_AUTO_TEST_CASE(the_aes_strategy_never_returns_unauthenticated_plaintext) {
  if (!aes256gcm_strategy::available()) {
    BOOST_TEST_MESSAGE("skipped: this CPU has no AES-NI");
    return;
  }
  check_authenticated(aes256gcm_strategy(), "aes256gcm1:");
}

BOOST_AUTO_TEST_CASE(the_aes_strategy_runs_the_whole_store) {
  if (!aes256gcm_strategy::available())
    return;
  auto aes = backend::on(test_engine::make());
  aes.with_encryption(std::make_shared<aes256gcm_strategy>(),
                      std::make_shared<in_memory_key_storage>());
  register_events(aes.registry());
  given_subjects({"ann", "bob"}, aes);
  auto id = stream_id::random("profile");
  aes.event_store().append(id, {wrap(profile_of("ann")), wrap(profile_of("bob"))});
  aes.encryption().shred("bob");
  auto events = aes.event_store().load_stream(id);
  check_same(only<profile_updated>(events, 0), profile_of("ann"));
  check_same(only<profile_updated>(events, 1), masked_profile_of(profile_of("bob")));
}

// -- declaring -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(registration_refuses_a_mask_of_the_wrong_type) { // R-EN
  event_registry r;
  BOOST_CHECK_EXCEPTION(
    r.add<profile_updated>("profile_updated",
                           encryption_spec_for<profile_updated>().encrypt("age", std::string("?"))),
    invalid_argument, [](const invalid_argument& e) { return mentions(e, "'age'"); });
  BOOST_CHECK_EXCEPTION(
    r.add<profile_updated>("profile_updated",
                           encryption_spec_for<profile_updated>().encrypt("email", "literal")),
    invalid_argument, [](const invalid_argument& e) { return mentions(e, "'email'"); });
  BOOST_CHECK_EXCEPTION(r.add<profile_updated>("profile_updated",
                                               encryption_spec_for<profile_updated>().encrypt(
                                                 "work.office.street", 0)),
                        invalid_argument,
                        [](const invalid_argument& e) { return mentions(e, "'work.office.street'"); });
  BOOST_TEST(!r.find("profile_updated"));
}

BOOST_AUTO_TEST_CASE(registration_refuses_a_path_that_does_not_exist) { // R-EN
  event_registry r;
  for (const std::string path : {"mail", "work.office.zip", "home.street.name", "work.", ""})
    BOOST_CHECK_EXCEPTION(
      r.add<profile_updated>("profile_updated",
                             encryption_spec_for<profile_updated>().encrypt(path, erased)),
      invalid_argument,
      [&](const invalid_argument& e) { return mentions(e, "'" + path + "'") || path.empty(); });
  BOOST_CHECK_EXCEPTION(
    r.add<gift_sent>("gift_sent",
                     encryption_spec_for<gift_sent>().encrypt("message", erased, "sender_id")),
    invalid_argument, [](const invalid_argument& e) { return mentions(e, "'sender_id'"); });
  BOOST_TEST(!r.find("profile_updated"));
  BOOST_TEST(!r.find("gift_sent"));
}

BOOST_AUTO_TEST_CASE(registration_refuses_unusable_subjects) { // R-EN
  event_registry r;
  auto refused = [&](encryption_spec_for<profile_updated> spec, const std::string& named) {
    BOOST_CHECK_EXCEPTION(r.add<profile_updated>("profile_updated", spec), invalid_argument,
                          [&](const invalid_argument& e) { return mentions(e, named); });
  };
  refused(encryption_spec_for<profile_updated>().subject("user_id").subject("email"), "at most one");
  refused(encryption_spec_for<profile_updated>().subject("email").encrypt("email", erased),
          "cannot be encrypted");
  refused(encryption_spec_for<profile_updated>().subject("home"), "'home'");
  refused(encryption_spec_for<profile_updated>().encrypt("home", address{}).encrypt(
            "home.street", erased),
          "overlap");
  BOOST_TEST(!r.find("profile_updated"));
}

BOOST_AUTO_TEST_SUITE_END()
