// Fuzz target: tenant ids (SPEC §1, R-T1, issue 14). Properties: an id is
// accepted exactly when it is at most 256 bytes of UTF-8 without control
// characters; a rejection throws illegal_tenant_id whose message holds no
// control character and is valid UTF-8 (invalid bytes are escaped).
#include "fuzz_check.hpp"

#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace {

/// An independent check: decodes code points one by one.
bool acceptable(std::string_view s, std::size_t max_bytes) {
  if (s.size() > max_bytes)
    return false;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    std::uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (b & 0x3f);
    }
    static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20
        || (cp >= 0x7f && cp < 0xa0))
      return false;
    i += n;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view id(reinterpret_cast<const char*>(data), size);
  bool accepted = true;
  try {
    sourcery::validate_tenant_id(id);
  } catch (const sourcery::illegal_tenant_id& e) {
    accepted = false;
    // Printable: valid UTF-8 without control characters, of any length.
    FUZZ_CHECK(acceptable(e.what(), std::string_view(e.what()).size()));
  }
  FUZZ_CHECK(accepted == acceptable(id, sourcery::max_tenant_id_bytes));
  return 0;
}
