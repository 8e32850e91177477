// Consumer of an installed Sourcery: the RocksDB engine, written, closed, reopened.
#include <sourcery/rocksdb_backend.hpp>
#include <sourcery/version.hpp>

#include <boost/describe.hpp>

#include <filesystem>
#include <iostream>

struct item_added {
  std::string sku;
  long long quantity = 0;
};
BOOST_DESCRIBE_STRUCT(item_added, (), (sku, quantity))

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer_rocksdb FOLDER (an absent or empty folder)\n";
    return 2;
  }
  const std::string folder = argv[1];
  auto cart = sourcery::stream_id::named("cart-1", "cart");
  {
    auto backend = sourcery::rocksdb_backend(folder);
    backend.registry().add<item_added>("item_added");
    backend.in_tenant_mode("shop").event_store().append(
        cart, {sourcery::wrap(item_added{"tea", 2}), sourcery::wrap(item_added{"cup", 1})});
  } // closed: the runtime and the store shut down with the last handle
  sourcery::storage::rocksdb_options options;
  options.cache_mb = 8;
  auto backend = sourcery::rocksdb_backend(folder, options);
  backend.registry().add<item_added>("item_added");
  auto events = backend.in_tenant_mode("shop").event_store().load_stream(cart);
  if (events.size() != 2 || events[0].event.as<item_added>().sku != "tea") {
    std::cerr << "consumer_rocksdb: reopened store holds " << events.size() << " events\n";
    return 1;
  }
  std::cout << "sourcery " << SOURCERY_VERSION << " rocksdb: " << events.size()
            << " events after reopening " << folder << '\n';
}
