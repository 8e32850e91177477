// Fuzz target: stored encrypted values (SPEC §5, R-EN, issue 14). Arbitrary
// text as the stored value of an encrypted field, decrypted under a real key.
// Properties: the strategies never return `ok` for text they did not make
// (no unauthenticated plaintext); field_encryption reads it as
// decryption_failed — never as the mask, since the subject's key exists and
// no key of it was ever shredded — and with no key at all as the mask.
#include "fuzz_check.hpp"

#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/detail/field_encryption.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace {

struct fixture {
  std::shared_ptr<sourcery::xchacha20poly1305_strategy> xchacha =
    std::make_shared<sourcery::xchacha20poly1305_strategy>();
  std::shared_ptr<sourcery::in_memory_key_storage> keys =
    std::make_shared<sourcery::in_memory_key_storage>();
  sourcery::field_encryption fields{xchacha, keys};
  std::unique_ptr<sourcery::aes256gcm_strategy> aes =
    sourcery::aes256gcm_strategy::available() ? std::make_unique<sourcery::aes256gcm_strategy>()
                                              : nullptr;
  sourcery::encryption_key key = xchacha->generate_key();
  // As encryption_spec_for<message_sent>().subject("user_id").encrypt("text", "<erased>").
  sourcery::encryption_spec spec{"user_id", {{"text", boost::json::value("<erased>"), ""}}};
  sourcery::stream_id stream = sourcery::stream_id::named("fuzz", "messages");

  fixture() { keys->store("", "ann", key); }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fixture f;
  std::string value(reinterpret_cast<const char*>(data), size);

  FUZZ_CHECK(f.xchacha->decrypt(value, f.key).outcome != sourcery::decryption::ok);
  if (f.aes)
    FUZZ_CHECK(f.aes->decrypt(value, f.key).outcome != sourcery::decryption::ok);

  for (const char* user : {"ann", "nobody"}) {
    boost::json::object event{{"user_id", user}, {"text", value}};
    bool failed = false;
    try {
      f.fields.decrypt(event, f.spec, "message_sent", f.stream, "");
    } catch (const sourcery::decryption_failed& e) {
      failed = e.field() == "text" && e.event_name() == "message_sent";
    }
    if (std::string(user) == "ann")
      FUZZ_CHECK(failed); // a key exists and nothing was shredded: never the mask
    else
      FUZZ_CHECK(!failed && event.at("text") == "<erased>"); // no key: the mask
  }
  return 0;
}
