// Consumer of an installed Sourcery: the PostgreSQL engine (the PG* environment
// variables name the server), two nodes on one schema.
#include <sourcery/postgres_backend.hpp>
#include <sourcery/version.hpp>

#include <boost/describe.hpp>

#include <iostream>

struct item_added {
  std::string sku;
  long long quantity = 0;
};
BOOST_DESCRIBE_STRUCT(item_added, (), (sku, quantity))

int main() {
  sourcery::storage::postgres_options options;
  options.schema = "consumer";
  auto cart = sourcery::stream_id::named("cart-1", "cart");
  auto writer = sourcery::postgres_backend("", options);
  auto reader = sourcery::postgres_backend("", options); // another node, same database
  writer.registry().add<item_added>("item_added");
  reader.registry().add<item_added>("item_added");
  writer.in_tenant_mode("shop").event_store().append(
      cart, {sourcery::wrap(item_added{"tea", 2}), sourcery::wrap(item_added{"cup", 1})});
  auto events = reader.in_tenant_mode("shop").event_store().load_stream(cart);
  if (events.size() != 2 || events[1].event.as<item_added>().quantity != 1) {
    std::cerr << "consumer_postgres: the other node read " << events.size() << " events\n";
    return 1;
  }
  std::cout << "sourcery " << SOURCERY_VERSION << " postgres: " << events.size()
            << " events read by a second node\n";
}
