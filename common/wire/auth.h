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

// Per-agent identities (server config `agents:`): the HMAC key of an agent
// with --agent-id is SHA-256(its token), 32 raw bytes, on both sides, so a
// server that stores only the hash (token_sha256) can verify the proof while
// the token itself stays on the agent. The hash is what authenticates, so the
// server's copy must be protected like a token; it just never reveals the
// token (which may be reused elsewhere) and never crosses the wire either.
std::string IdentityKey(std::string_view token);

// The key an agent's control Hello is proven with (and its session key is
// derived from): the token itself, or IdentityKey(token) when the agent
// gives an id; the id then goes into the transcript in place of client_id.
std::string AgentProofKey(std::string_view token, std::string_view agent_id);

// Constant time in the length of the expected value (CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace reitunnel::wire
