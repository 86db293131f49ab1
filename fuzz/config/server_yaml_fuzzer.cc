// reitunneld's config loader on an arbitrary --config file.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/config/server_config.h"
#include "fuzz/config/config_fuzz.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The loader reads these; the runner's must not decide the outcome.
  ::unsetenv("REITUNNEL_TOKEN");
  ::unsetenv("REITUNNEL_ADMIN_TOKEN");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reitunnel::fuzz::FuzzConfigFile<reitunnel::config::v1::ServerConfig>(
      data, size,
      [](const std::vector<std::string>& args, reitunnel::config::ConfigFileReader read) {
        return reitunnel::config::LoadServerConfig(args, read);
      },
      reitunnel::config::ServerConfigWarnings);
  return 0;
}
