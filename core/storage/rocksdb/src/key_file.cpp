#include "key_file.hpp"

#include "files.hpp"
#include "layout.hpp"
#include "store.hpp"

#include <boost/crc.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <tuple>

namespace sourcery::storage::rocksdb_detail {

namespace {

constexpr std::string_view magic = "SRCKEYS1";
constexpr std::string_view retired_prefix = "retired";

std::string retired_key(std::string_view tenant, std::string_view subject,
                        std::string_view key_id) {
  std::string out(retired_prefix);
  put_string(out, tenant);
  put_string(out, subject);
  put_string(out, key_id);
  return out;
}

std::uint32_t crc_of(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

} // namespace

key_file::key_map key_file::load(const std::filesystem::path& file) {
  key_map out;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return out;
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw storage_unavailable("cannot read " + file.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& why) {
    return storage_corrupt("the key file " + file.string() + " is damaged: " + why);
  };
  if (bytes.size() < magic.size() + 8 || std::string_view(bytes).substr(0, magic.size()) != magic)
    throw corrupt("it does not start with a Sourcery key file header");
  auto body = std::string_view(bytes).substr(0, bytes.size() - 4);
  if (crc_of(body) != get_u32(bytes.data() + body.size()))
    throw corrupt("checksum mismatch");
  try {
    byte_reader r(body.substr(magic.size()));
    auto count = r.u32();
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string tenant(r.string());
      std::string subject(r.string());
      auto key = r.string();
      out.emplace(std::pair{std::move(tenant), std::move(subject)},
                  encryption_key(key.begin(), key.end()));
    }
    if (!r.done())
      throw corrupt("trailing bytes");
  } catch (const storage_corrupt& e) {
    throw corrupt(e.what());
  }
  return out;
}

void key_file::check(const std::filesystem::path& folder) { load(folder / "keys"); }

key_file::key_file(std::filesystem::path folder, const rocksdb_detail::store& db)
  : folder_(std::move(folder)), db_(db), keys_(load(folder_ / "keys")) {}

key_file::~key_file() {
  for (auto& [who, key] : keys_)
    std::fill(key.begin(), key.end(), std::uint8_t{0});
}

void key_file::copy_to(const std::filesystem::path& folder) const {
  std::shared_lock lock(mutex_);
  std::error_code ec;
  if (!std::filesystem::exists(folder_ / "keys", ec))
    return;
  std::filesystem::copy_file(folder_ / "keys", folder / "keys",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    throw storage_unavailable("cannot copy the keys to " + folder.string() + ": " + ec.message());
}

void key_file::save(const key_map& keys) const {
  std::string bytes(magic);
  put_u32(bytes, static_cast<std::uint32_t>(keys.size()));
  for (const auto& [who, key] : keys) {
    put_string(bytes, who.first);
    put_string(bytes, who.second);
    put_string(bytes, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  }
  put_u32(bytes, crc_of(bytes));
  auto tmp = folder_ / "keys.tmp";
  write_synced(tmp, bytes);
  std::fill(bytes.begin(), bytes.end(), '\0');
  std::error_code ec;
  std::filesystem::rename(tmp, folder_ / "keys", ec);
  if (ec)
    throw storage_unavailable("cannot rename " + tmp.string() + ": " + ec.message());
  sync_folder(folder_);
}

std::optional<encryption_key> key_file::get(std::string_view tenant,
                                            std::string_view subject) const {
  std::shared_lock lock(mutex_);
  auto it = keys_.find(std::pair{std::string(tenant), std::string(subject)});
  if (it == keys_.end())
    return std::nullopt;
  return it->second;
}

bool key_file::store(std::string_view tenant, std::string_view subject,
                     const encryption_key& key) {
  std::unique_lock lock(mutex_);
  std::pair who{std::string(tenant), std::string(subject)};
  if (keys_.contains(who))
    return false;
  auto next = keys_;
  next.emplace(std::move(who), key);
  save(next);
  keys_.swap(next);
  return true;
}

void key_file::remove(std::string_view tenant, std::string_view subject) {
  std::unique_lock lock(mutex_);
  auto it = keys_.find(std::pair{std::string(tenant), std::string(subject)});
  if (it == keys_.end())
    return;
  auto next = keys_;
  next.erase(std::pair{std::string(tenant), std::string(subject)});
  save(next);
  std::fill(it->second.begin(), it->second.end(), std::uint8_t{0});
  keys_.swap(next);
}

std::vector<subject_key> key_file::list() const {
  std::vector<subject_key> out;
  std::shared_lock lock(mutex_);
  for (const auto& [who, key] : keys_) // a map: sorted by tenant, then subject
    out.push_back({who.first, who.second, key});
  return out;
}

void key_file::retire(std::string_view tenant, std::string_view subject,
                      std::string_view key_id) {
  rocksdb::WriteOptions synced;
  synced.sync = true;
  rocksdb_detail::check(db_.db->Put(synced, db_.cf(family::meta), retired_key(tenant, subject, key_id), ""),
        "recording a retired key id");
}

bool key_file::retired(std::string_view tenant, std::string_view subject,
                       std::string_view key_id) const {
  std::string value;
  auto s = db_.db->Get(rocksdb::ReadOptions(), db_.cf(family::meta),
                       retired_key(tenant, subject, key_id), &value);
  if (s.IsNotFound())
    return false;
  rocksdb_detail::check(s, "reading a retired key id");
  return true;
}

std::vector<retired_key_id> key_file::list_retired() const {
  std::vector<retired_key_id> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(),
                                                            db_.cf(family::meta)));
  for (it->Seek(retired_prefix); it->Valid() && it->key().starts_with(retired_prefix); it->Next()) {
    byte_reader r(std::string_view(it->key().data(), it->key().size()).substr(retired_prefix.size()));
    retired_key_id id;
    id.tenant = r.string();
    id.subject = r.string();
    id.key_id = r.string();
    out.push_back(std::move(id));
  }
  rocksdb_detail::check(it->status(), "reading the retired key ids");
  // Keys are length-prefixed, so RocksDB's order is not the bytewise order of the text.
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.tenant, x.subject, x.key_id) < std::tie(y.tenant, y.subject, y.key_id);
  });
  return out;
}

} // namespace sourcery::storage::rocksdb_detail
