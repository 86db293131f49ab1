#pragma once

// Challenge-response authentication. The shared token never crosses the
// wire: the server sends a fresh nonce and the agent proves knowledge of the
// token with an HMAC over a transcript bound to that nonce and connection kind.

#include <cstddef>
#include <string>
#include <string_view>

#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::wire {

inline constexpr size_t kNonceSize = 32;
inline constexpr size_t kMacSize = 32;

// Cryptographically random bytes (OpenSSL RAND_bytes). Aborts if the CSPRNG
// fails, since continuing would mean predictable nonces.
std::string RandomBytes(size_t n);

// Lower-case hex of random bytes; used for client and tunnel ids.
std::string RandomId(size_t bytes);

std::string HmacSha256(std::string_view key, std::string_view data);

// The MAC an agent sends in Hello. client_id is empty for control connections.
std::string HandshakeMac(std::string_view key, v1::ConnectionKind kind, std::string_view nonce,
                         std::string_view client_id);

// Key that authenticates an agent's data connections; derivable only with the
// token.
std::string DeriveSessionKey(std::string_view token, std::string_view session_nonce,
                             std::string_view client_id);

// Constant time in the length of the expected value (CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace reitunnel::wire
