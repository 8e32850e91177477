// How a push subscription talks to a CAF actor consumer.
//
// The feed sends each batch as a request `(records_atom, std::vector<recorded_event>)`;
// the consumer's handler returns (void) when it is done with the batch, and
// that response returns the batch's credit. At most `subscription_buffer`
// records are in flight at once, so a slow consumer slows only its own feed.
//
//   caf::behavior consumer(caf::event_based_actor*) {
//     return {[](sourcery::records_atom, const std::vector<sourcery::recorded_event>& rs) {
//       for (auto& r : rs) handle(r);
//     }};
//   }
//   auto sub = backend.subscriber().start_from(0).build_push_to(system.spawn(consumer));
#pragma once

#include <sourcery/events.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <vector>

namespace sourcery {
using records_atom = caf::atom_constant<caf::atom("records")>;
} // namespace sourcery

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<sourcery::recorded_event>)
