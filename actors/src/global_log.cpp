#include "global_log.hpp"

#include <cstring>

namespace sourcery::detail {

global_log::global_log() : directory_(new std::atomic<log_record*>[max_chunks]) {
  for (std::size_t i = 0; i < max_chunks; ++i)
    directory_[i].store(nullptr, std::memory_order_relaxed);
}

global_log::~global_log() {
  for (std::size_t i = 0; i < max_chunks; ++i)
    delete[] directory_[i].load(std::memory_order_relaxed);
}

log_record* global_log::slot(position p) {
  auto i = p - 1;
  auto c = i >> chunk_bits;
  if (c >= max_chunks)
    throw std::length_error("global log is full");
  auto* chunk = directory_[c].load(std::memory_order_relaxed);
  if (!chunk) {
    chunk = new log_record[chunk_size];
    directory_[c].store(chunk, std::memory_order_release);
  }
  return &chunk[i & chunk_mask];
}

char* global_log::allocate(std::size_t n) {
  if (n > static_cast<std::size_t>(block_end_ - cursor_)) {
    auto size = std::max(n, arena_block);
    blocks_.emplace_back(new char[size]);
    arena_bytes_.fetch_add(size, std::memory_order_relaxed);
    cursor_ = blocks_.back().get();
    block_end_ = cursor_ + size;
  }
  auto* out = cursor_;
  cursor_ += n;
  return out;
}

std::vector<const log_record*> global_log::commit(const std::string* tenant,
                                                  const stream_id* stream,
                                                  std::span<const pending_event> events,
                                                  const commit_hook& hook) {
  std::vector<const log_record*> records;
  records.reserve(events.size());
  {
    std::lock_guard lock(commit_mutex_);
    auto first = last_.load(std::memory_order_relaxed) + 1;
    auto saved_cursor = cursor_;
    auto saved_end = block_end_;
    auto saved_blocks = blocks_.size();
    auto saved_bytes = arena_bytes_.load(std::memory_order_relaxed);
    try {
      for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        auto* rec = slot(first + i);
        auto data_len = e.raw->data.size();
        auto ctx_len = e.raw->context.size();
        if (data_len > UINT32_MAX || ctx_len > UINT32_MAX)
          throw invalid_argument("event larger than 4 GiB");
        auto* payload = allocate(data_len + ctx_len);
        std::memcpy(payload, e.raw->data.data(), data_len);
        std::memcpy(payload + data_len, e.raw->context.data(), ctx_len);
        *rec = log_record{first + i, tenant, stream, e.raw->id, e.raw->created_at.micros(),
                          e.version, e.type, payload, static_cast<std::uint32_t>(data_len),
                          static_cast<std::uint32_t>(ctx_len)};
        records.push_back(rec);
      }
      if (hook)
        hook(records);
    } catch (...) {
      // Roll back: give the payload space back; the slots stay unpublished.
      cursor_ = saved_cursor;
      block_end_ = saved_end;
      blocks_.resize(saved_blocks);
      arena_bytes_.store(saved_bytes, std::memory_order_relaxed);
      throw;
    }
    last_.store(first + events.size() - 1, std::memory_order_seq_cst);
  }
  if (has_waiters_.load(std::memory_order_seq_cst))
    wake_waiters();
  return records;
}

void global_log::notify_after(position after, std::function<void()> wake) {
  {
    std::lock_guard lock(waiters_mutex_);
    if (last() <= after) {
      waiters_.emplace_back(after, std::move(wake));
      has_waiters_.store(true, std::memory_order_seq_cst);
      if (last() <= after)
        return;
      wake = std::move(waiters_.back().second);
      waiters_.pop_back();
      has_waiters_.store(!waiters_.empty(), std::memory_order_seq_cst);
    }
  }
  wake();
}

void global_log::wake_waiters() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(waiters_mutex_);
    auto now = last();
    auto keep = waiters_.begin();
    for (auto& w : waiters_) {
      if (w.first < now)
        ready.push_back(std::move(w.second));
      else
        *keep++ = std::move(w);
    }
    waiters_.erase(keep, waiters_.end());
    has_waiters_.store(!waiters_.empty(), std::memory_order_seq_cst);
  }
  for (auto& wake : ready)
    wake();
}

void global_log::clear_waiters() {
  std::lock_guard lock(waiters_mutex_);
  waiters_.clear();
  has_waiters_.store(false, std::memory_order_seq_cst);
}

std::size_t global_log::memory_bytes() const {
  std::size_t chunks = 0;
  for (std::size_t i = 0; i < max_chunks; ++i) {
    if (!directory_[i].load(std::memory_order_relaxed))
      break;
    ++chunks;
  }
  return chunks * chunk_size * sizeof(log_record) + arena_bytes_.load(std::memory_order_relaxed);
}

} // namespace sourcery::detail
