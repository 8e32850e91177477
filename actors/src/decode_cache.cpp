#include "decode_cache.hpp"

#include <bit>

namespace sourcery::detail {

decode_cache::decode_cache(const sourcery::codec& decoder, std::size_t capacity)
  : decoder_(decoder) {
  if (capacity == 0)
    return;
  slots_.resize(std::bit_ceil(capacity));
  mask_ = slots_.size() - 1;
}

recorded_event decode_cache::decode(const storage::record& r) {
  if (slots_.empty() || readers_.load(std::memory_order_relaxed) < 2)
    return decoder_.decode(r);
  auto index = static_cast<std::size_t>(r.position) & mask_;
  std::lock_guard lock(lock_of(index));
  auto& s = slots_[index];
  if (s.at == r.position && decoder_.still_current(s.value->basis, r.tenant))
    return s.value->event;
  sourcery::codec::decode_basis basis;
  auto fresh = std::make_shared<const kept>(kept{decoder_.decode(r, &basis), std::move(basis)});
  if (fresh->basis.reusable) {
    s.at = r.position;
    s.value = fresh;
  } else if (s.at == r.position) {
    s.at = 0;
    s.value.reset();
  }
  return fresh->event;
}

} // namespace sourcery::detail
