#include "memory_log.hpp"

#include <algorithm>
#include <cstring>

namespace sourcery::storage::in_memory_detail {

memory_log::memory_log()
  : top_(new std::atomic<chunk_ptr*>[top_size]), wake_ups_([this] { return last(); }) {
  for (std::size_t i = 0; i < top_size; ++i)
    top_[i].store(nullptr, std::memory_order_relaxed);
}

memory_log::~memory_log() {
  for (std::size_t i = 0; i < top_size; ++i) {
    auto* mid = top_[i].load(std::memory_order_relaxed);
    if (!mid)
      continue;
    for (std::size_t j = 0; j < mid_size; ++j)
      delete[] mid[j].load(std::memory_order_relaxed);
    delete[] mid;
  }
}

mem_record* memory_log::slot(position p) {
  auto i = p - 1;
  auto t = i >> (chunk_bits + mid_bits);
  if (t >= top_size)
    throw storage_full("the in-memory log is full: it holds at most 2^46 events");
  auto* mid = top_[t].load(std::memory_order_relaxed);
  if (!mid) {
    mid = new chunk_ptr[mid_size];
    for (std::size_t j = 0; j < mid_size; ++j)
      mid[j].store(nullptr, std::memory_order_relaxed);
    top_[t].store(mid, std::memory_order_release);
  }
  auto& c = mid[(i >> chunk_bits) & mid_mask];
  auto* chunk = c.load(std::memory_order_relaxed);
  if (!chunk) {
    chunk = new mem_record[chunk_size];
    c.store(chunk, std::memory_order_release);
    chunks_.fetch_add(1, std::memory_order_relaxed);
  }
  return &chunk[i & chunk_mask];
}

char* memory_log::allocate(std::size_t n) {
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

const std::string* memory_log::intern(const std::string& type) {
  return &*types_.insert(type).first;
}

std::vector<const mem_record*> memory_log::commit(
  const std::string* tenant, const stream_id* stream, std::span<const pending_event> events,
  const std::function<void(std::span<const mem_record* const>)>& inside) {
  std::vector<const mem_record*> records;
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
        *rec = mem_record{first + i,
                          tenant,
                          stream,
                          intern(e.raw->name),
                          e.raw->id,
                          e.raw->created_at.micros(),
                          e.version,
                          payload,
                          static_cast<std::uint32_t>(data_len),
                          static_cast<std::uint32_t>(ctx_len),
                          e.raw->schema};
        records.push_back(rec);
      }
      if (inside)
        inside(records);
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
  wake_ups_.published();
  return records;
}

void memory_log::read(position after, std::size_t max, record_batch& out) const {
  auto last = this->last();
  auto end = after + std::min<std::uint64_t>(max, last > after ? last - after : 0);
  out.records.reserve(out.records.size() + (end - after));
  for (auto p = after + 1; p <= end; ++p)
    at(p).view_into(out.records);
}

std::size_t memory_log::memory_bytes() const {
  return chunks_.load(std::memory_order_relaxed) * chunk_size * sizeof(mem_record)
         + arena_bytes_.load(std::memory_order_relaxed);
}

} // namespace sourcery::storage::in_memory_detail
