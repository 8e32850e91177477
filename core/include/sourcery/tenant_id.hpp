// Tenant ids (R-T1).
#pragma once

#include <string>
#include <string_view>

namespace sourcery {

/// The default tenant.
inline const std::string default_tenant{};

/// Maximum length of a tenant id in bytes.
inline constexpr std::size_t max_tenant_id_bytes = 256;

/// Throws `illegal_tenant_id` unless `id` is at most 256 bytes of valid UTF-8
/// without control characters. The empty string (the default tenant) is valid.
void validate_tenant_id(std::string_view id);

} // namespace sourcery
