// Records decoded once for all of a runtime's subscriptions
// (R-SUB-DECODE-ONCE).
//
// Subscriptions that read the same records — many of them following the log —
// ask the cache for each record's decoded form: the first to ask decodes it
// (parses, decrypts, upcasts) and keeps it; the others copy the kept value,
// whose event payload they share (any_event holds it by shared_ptr), instead
// of decoding again.
//
// Only while it has something to share: with fewer than two readers (feeds
// registered with reader) decode() decodes and keeps nothing, so a lone
// subscription pays nothing for the cache.
//
// Bounded: a ring of `capacity` slots keyed by position. A record's slot is
// its position modulo the capacity, so a newer record pushes an older one out
// and the cache never holds more than `capacity` decoded records, whatever
// the log holds; a reader further behind than that decodes for itself.
//
// Crypto-shredding stays exact: a kept value with decrypted (or masked)
// fields remembers the key each field's subject had (codec::decode_basis),
// and is reused only while every one of those keys is unchanged
// (codec::still_current, one key storage lookup per subject). So a shred —
// on this node or, through a shared key storage, on another — masks the
// field for every later delivery, as it would without the cache. Failures
// are not kept: a record that cannot be decoded is tried by each reader.
//
// Thread-safety: decode() may be called from any thread at once. A slot's
// lock is held while its record decodes, so readers racing for one record
// wait for the first decode instead of repeating it.
#pragma once

#include <sourcery/detail/codec.hpp>
#include <sourcery/events.hpp>
#include <sourcery/storage/record.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace sourcery::detail {

class decode_cache {
public:
  /// Keeps up to `capacity` decoded records (rounded up to a power of two);
  /// 0 = keeps none: every decode() decodes.
  decode_cache(const sourcery::codec& decoder, std::size_t capacity);
  decode_cache(const decode_cache&) = delete;
  decode_cache& operator=(const decode_cache&) = delete;

  /// `r` decoded, as codec::decode gives it: a copy of the kept value when
  /// one is kept for r's position and still current, else decoded now and
  /// kept in r's slot. Throws what codec::decode throws.
  recorded_event decode(const storage::record& r);

  /// Counts its feed as a reader while it lives (a feed's state holds one).
  class reader {
  public:
    explicit reader(decode_cache* cache = nullptr) noexcept : cache_(cache) {
      if (cache_)
        cache_->readers_.fetch_add(1, std::memory_order_relaxed);
    }
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;
    ~reader() {
      if (cache_)
        cache_->readers_.fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    decode_cache* cache_;
  };

  /// How many slots there are (0 = off).
  std::size_t capacity() const noexcept { return slots_.size(); }
  const sourcery::codec& codec() const noexcept { return decoder_; }

private:
  struct kept {
    recorded_event event;
    sourcery::codec::decode_basis basis;
  };
  struct slot {
    position at = 0; // 0 = empty (positions start at 1)
    std::shared_ptr<const kept> value;
  };
  static constexpr std::size_t stripes = 64;

  std::mutex& lock_of(std::size_t index) noexcept { return locks_[index % stripes]; }

  const sourcery::codec& decoder_;
  std::size_t mask_ = 0;
  std::vector<slot> slots_; // slots_[i] GUARDED_BY(lock_of(i))
  std::array<std::mutex, stripes> locks_;
  std::atomic<std::size_t> readers_{0};
};

} // namespace sourcery::detail
