#include "server/auth/authenticator.h"

#include "common/wire/auth.h"

namespace reitunnel::server {

Authenticator::Result Authenticator::VerifyControl(const wire::v1::Hello& hello,
                                                   std::string_view nonce) const {
  Result r;
  std::string expected =
      wire::HandshakeMac(shared_token_, wire::v1::CONNECTION_KIND_CONTROL, nonce, "");
  if (!wire::ConstantTimeEquals(hello.mac(), expected)) return r;
  r.ok = true;
  r.key = shared_token_;
  r.agent_id = hello.agent_id().substr(0, 128);
  return r;
}

}  // namespace reitunnel::server
