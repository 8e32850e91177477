// Fuzz target: stream ids (SPEC §1, R-S1). The input is split at the first
// two NUL bytes into UUID text, category and name. Properties: from_string
// either gives an id whose UUID prints back to the canonical text or throws
// invalid_argument / incompatible_uuid_and_name; named ids are deterministic,
// v5, and equal to an explicit id with the same UUID, category and name.
#include "fuzz_check.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto cut = [&in]() -> std::optional<std::string> {
    if (in.empty())
      return std::nullopt;
    auto nul = in.find('\0');
    std::string part(in.substr(0, nul));
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    return part;
  };
  auto text = cut().value_or("");
  auto category = cut();
  auto name = cut();

  try {
    auto id = sourcery::stream_id::from_string(text, category, name);
    auto canonical = sourcery::to_string(id.id());
    FUZZ_CHECK(sourcery::stream_id::from_string(canonical, category) == id);
    (void)id.to_string();
  } catch (const sourcery::invalid_argument&) {
  } catch (const sourcery::incompatible_uuid_and_name&) {
  }

  if (name) {
    auto a = sourcery::stream_id::named(*name, category);
    auto b = sourcery::stream_id::named(*name, category);
    FUZZ_CHECK(a == b);
    FUZZ_CHECK(a.id().version() == sourcery::uuid::version_name_based_sha1);
    FUZZ_CHECK(sourcery::stream_id(a.id(), category, name) == a);
    FUZZ_CHECK(std::hash<sourcery::stream_id>{}(a) == std::hash<sourcery::stream_id>{}(b));
  }
  return 0;
}
