// Consumer of an installed Sourcery: the in-memory engine, with the event-sourcing layer.
#include <sourcery/sourcery.hpp>
#include <sourcery/version.hpp>

#include <boost/describe.hpp>

#include <iostream>

struct item_added {
  std::string sku;
  long long quantity = 0;
};
BOOST_DESCRIBE_STRUCT(item_added, (), (sku, quantity))

int main() {
  auto backend = sourcery::backend::in_memory();
  backend.registry().add<item_added>("item_added");
  auto store = backend.in_tenant_mode("shop").event_store();
  auto cart = sourcery::stream_id::named("cart-1", "cart");
  auto receipt = store.append(cart, {sourcery::wrap(item_added{"tea", 2}),
                                     sourcery::wrap(item_added{"cup", 1})});
  auto events = store.load_stream(cart);
  if (events.size() != 2 || receipt.last_position != 2 ||
      events[1].event.as<item_added>().sku != "cup") {
    std::cerr << "consumer_in_memory: read back something else\n";
    return 1;
  }
  std::cout << "sourcery " << SOURCERY_VERSION << " in_memory: " << events.size()
            << " events, last position " << receipt.last_position << '\n';
}
