// UTF-8 validation, shared by serde's writers (serde.cpp, serde_flat.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sourcery::serde::detail {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points beyond U+10FFFF), as Boost.JSON's parser requires.
inline bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    // ASCII, eight bytes at a time.
    std::uint64_t word;
    while (i + 8 <= s.size()
           && (std::memcpy(&word, s.data() + i, 8), (word & 0x8080808080808080ULL) == 0))
      i += 8;
    if (i == s.size())
      break;
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80            ? 1
                    : (c >> 5) == 0x6   ? 2
                    : (c >> 4) == 0xe   ? 3
                    : (c >> 3) == 0x1e  ? 4
                                        : 0;
    if (n == 0 || i + n > s.size())
      return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

} // namespace sourcery::serde::detail
