#include <sourcery/errors.hpp>
#include <sourcery/settings.hpp>

#include "metrics_endpoint.hpp"

#include <cstdint>

namespace sourcery {

void runtime_options::validate() const {
  if (scheduler_policy != "sharing" && scheduler_policy != "stealing")
    throw invalid_argument("scheduler policy must be 'sharing' or 'stealing', got '"
                           + scheduler_policy + "'");
  if (subscription_callback_threads < 1 || subscription_callback_threads > 1024)
    throw invalid_argument("subscription_callback_threads must be from 1 to 1024, got "
                           + std::to_string(subscription_callback_threads));
  if (subscription_decode_cache > 1'048'576)
    throw invalid_argument("subscription_decode_cache must be at most 1048576, got "
                           + std::to_string(subscription_decode_cache));
}

void settings::validate() const {
  // Above INT32_MAX is a negative count wrapped round (and more than the
  // durable engines store).
  if (outbox_attempts < 1 || outbox_attempts > INT32_MAX)
    throw invalid_argument("outbox_attempts must be from 1 to " + std::to_string(INT32_MAX)
                           + ", got " + std::to_string(outbox_attempts));
  if (outbox_backoff_base.count() <= 0)
    throw invalid_argument("outbox_backoff_base must be positive, got "
                           + std::to_string(outbox_backoff_base.count()) + " ms");
  if (outbox_backoff_cap < outbox_backoff_base)
    throw invalid_argument("outbox_backoff_cap (" + std::to_string(outbox_backoff_cap.count())
                           + " ms) must not be below outbox_backoff_base ("
                           + std::to_string(outbox_backoff_base.count()) + " ms)");
  if (subscription_buffer < 1)
    throw invalid_argument("subscription_buffer must be at least 1");
  if (!metrics_listen.empty())
    detail::listen_address::parse(metrics_listen);
  if (metrics_tenant_series > 10'000)
    throw invalid_argument("metrics_tenant_series must be at most 10000, got "
                           + std::to_string(metrics_tenant_series));
  if (tenant_idle.count() < 0)
    throw invalid_argument("tenant_idle must not be negative, got "
                           + std::to_string(tenant_idle.count()) + " ms");
}

} // namespace sourcery
