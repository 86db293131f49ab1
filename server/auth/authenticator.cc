#include "server/auth/authenticator.h"

#include "common/wire/auth.h"

namespace reitunnel::server {
namespace {

constexpr size_t kMaxAgentIdBytes = 128;

std::string SharedCredential(const std::string& token) {
  return token.empty() ? "" : "shared/" + Fingerprint("shared token", {token});
}

}  // namespace

Authenticator::Authenticator(std::string shared_token,
                             std::shared_ptr<const AgentDirectory> agents) {
  Update(std::move(shared_token), std::move(agents));
}

void Authenticator::Update(std::string shared_token,
                           std::shared_ptr<const AgentDirectory> agents) {
  auto s = std::make_shared<State_>();
  s->shared_credential = SharedCredential(shared_token);
  s->shared_token = std::move(shared_token);
  s->agents = agents ? std::move(agents) : std::make_shared<const AgentDirectory>();
  std::lock_guard<std::mutex> l(mu_);
  state_ = std::move(s);
}

std::shared_ptr<const Authenticator::State_> Authenticator::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_;
}

bool Authenticator::RevokedLocked(const IdentityEntry& e) const {
  return revoked_.count(e.key_id) > 0;
}

Authenticator::Result Authenticator::VerifyControl(const wire::v1::Hello& hello,
                                                   std::string_view nonce) const {
  Result r;
  auto s = Snapshot();
  const std::string& id = hello.agent_id();
  if (id.size() > kMaxAgentIdBytes) return r;
  if (id.empty()) {
    if (s->shared_token.empty()) return r;
    std::string expected =
        wire::HandshakeMac(s->shared_token, wire::v1::CONNECTION_KIND_CONTROL, nonce, "");
    if (!wire::ConstantTimeEquals(hello.mac(), expected)) return r;
    r.ok = true;
    r.key = s->shared_token;
    r.credential = s->shared_credential;
    return r;
  }
  if (const IdentityEntry* e = s->agents->Find(id)) {
    // A configured id is only ever proven with its own token: the shared
    // token cannot claim it.
    {
      std::lock_guard<std::mutex> l(mu_);
      if (RevokedLocked(*e)) return r;
    }
    std::string expected =
        wire::HandshakeMac(e->key, wire::v1::CONNECTION_KIND_CONTROL, nonce, id);
    if (!wire::ConstantTimeEquals(hello.mac(), expected)) return r;
    r.ok = true;
    r.key = e->key;
    r.agent_id = id;
    r.verified = true;
    r.credential = "agent/" + e->credential;
    r.labels = e->labels;
    r.allowed_ports = e->allowed_ports;
    r.allowed_hostnames = e->allowed_hostnames;
    return r;
  }
  if (s->shared_token.empty()) return r;
  const std::string key = wire::IdentityKey(s->shared_token);
  std::string expected = wire::HandshakeMac(key, wire::v1::CONNECTION_KIND_CONTROL, nonce, id);
  if (!wire::ConstantTimeEquals(hello.mac(), expected)) return r;
  r.ok = true;
  r.key = key;
  r.agent_id = id;
  r.credential = s->shared_credential;
  return r;
}

bool Authenticator::Revoke(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  const IdentityEntry* e = state_->agents->Find(id);
  if (!e) return false;
  revoked_.insert(e->key_id);
  return true;
}

Authenticator::CredentialState Authenticator::State(const std::string& credential,
                                                    const std::string& agent_id,
                                                    bool verified) const {
  std::lock_guard<std::mutex> l(mu_);
  if (!verified) {
    return !credential.empty() && credential == state_->shared_credential
               ? CredentialState::kValid
               : CredentialState::kSharedChanged;
  }
  const IdentityEntry* e = state_->agents->Find(agent_id);
  if (!e) return CredentialState::kRemoved;
  if (RevokedLocked(*e)) return CredentialState::kRevoked;
  return credential == "agent/" + e->credential ? CredentialState::kValid
                                                : CredentialState::kChanged;
}

std::vector<Authenticator::Listed> Authenticator::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Listed> out;
  for (const auto& e : state_->agents->entries()) out.push_back({e, RevokedLocked(e)});
  return out;
}

bool Authenticator::shared_token_enabled() const {
  std::lock_guard<std::mutex> l(mu_);
  return !state_->shared_token.empty();
}

}  // namespace reitunnel::server
