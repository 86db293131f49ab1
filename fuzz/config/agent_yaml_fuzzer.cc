// reitunnel's (the agent's) config loader on an arbitrary --config file.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/config/agent_config.h"
#include "fuzz/config/config_fuzz.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::unsetenv("REITUNNEL_TOKEN");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reitunnel::fuzz::FuzzConfigFile<reitunnel::config::v1::AgentConfig>(
      data, size,
      [](const std::vector<std::string>& args, reitunnel::config::ConfigFileReader read) {
        return reitunnel::config::LoadAgentConfig(args, read);
      },
      reitunnel::config::AgentConfigWarnings);
  return 0;
}
