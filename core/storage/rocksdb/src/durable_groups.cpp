#include "durable_groups.hpp"
#include "layout.hpp"

#include <sourcery/errors.hpp>

#include <memory>

namespace sourcery::storage::rocksdb_detail {

namespace {

constexpr std::string_view prefix = "group/";
constexpr std::uint8_t layout_version = 1;

} // namespace

void durable_groups::save(const group_spec& spec, position checkpoint,
                          std::span<const group_kept_entry> kept) {
  std::string value;
  value.push_back(static_cast<char>(layout_version));
  value.push_back(spec.per_stream_order ? 1 : 0);
  put_u64(value, spec.start);
  put_u64(value, checkpoint);
  put_u32(value, static_cast<std::uint32_t>(kept.size()));
  for (const auto& k : kept) {
    put_u64(value, k.pos);
    put_u32(value, k.attempts);
    value.push_back(static_cast<char>((k.parked ? 1 : 0) | (k.acked ? 2 : 0)));
    put_string(value, k.last_error);
  }
  check(store_.db->Put(store_.state_write, store_.cf(family::meta),
                       std::string(prefix) + spec.name, value),
        "storing a subscription group");
}

void durable_groups::restore_into(group_ledger& ledger) const {
  std::unique_ptr<rocksdb::Iterator> it(
    store_.db->NewIterator(rocksdb::ReadOptions(), store_.cf(family::meta)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next()) {
    group_spec spec;
    spec.name = it->key().ToString().substr(prefix.size());
    byte_reader r(std::string_view(it->value().data(), it->value().size()));
    if (r.u8() != layout_version)
      throw storage_version_mismatch("subscription group '" + spec.name
                                     + "' is stored in a layout this build does not know");
    spec.per_stream_order = r.u8() != 0;
    spec.start = r.u64();
    auto checkpoint = r.u64();
    std::vector<group_kept_entry> kept(r.u32());
    for (auto& k : kept) {
      k.pos = r.u64();
      k.attempts = r.u32();
      auto flags = r.u8();
      k.parked = (flags & 1) != 0;
      k.acked = (flags & 2) != 0;
      k.last_error = std::string(r.string());
    }
    if (!r.done())
      throw storage_corrupt("subscription group '" + spec.name + "' is malformed");
    ledger.restore(spec, checkpoint, std::move(kept));
  }
  check(it->status(), "reading the subscription groups");
}

} // namespace sourcery::storage::rocksdb_detail
