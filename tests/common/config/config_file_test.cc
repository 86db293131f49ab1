// Which paths a config file may be read from: regular files of bounded size,
// never anything that can block the daemon at start.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include "common/config/config_file.h"
#include "common/config/server_config.h"
#include "common/config/yaml_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/config/v1/server.pb.h"
#include "tests/common/config/test_util.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::ServerConfig;
using ::testing::HasSubstr;

// Runs `load` on another thread. If it has not returned within a few seconds
// it is blocked in open() on the FIFO: a writer is attached to release it, so
// the test fails instead of hanging.
absl::Status LoadWithDeadline(const std::string& fifo, std::function<absl::Status()> load) {
  auto result = std::async(std::launch::async, std::move(load));
  if (result.wait_for(std::chrono::seconds(5)) == std::future_status::timeout) {
    ADD_FAILURE() << "loading " << fifo << " blocked (waiting for a writer)";
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  return result.get();
}

class ConfigFileTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

TEST_F(ConfigFileTest, FifoIsRefusedWithoutBlocking) {
  const std::string fifo = dir_.path() + "/server.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::Status st = LoadWithDeadline(fifo, [&] {
    ServerConfig msg;
    return LoadYamlFile(fifo, &msg);
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), fifo + ": cannot read: a FIFO (named pipe), not a regular file");
}

TEST_F(ConfigFileTest, FifoThroughTheServerLoader) {
  const std::string fifo = dir_.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::Status st = LoadWithDeadline(
      fifo, [&] { return LoadServerConfig({"--config=" + fifo, "--token=t"}).status(); });
  EXPECT_THAT(st.message(), HasSubstr("a FIFO (named pipe), not a regular file"));
}

TEST_F(ConfigFileTest, DirectoriesAndDevicesAreRefused) {
  ServerConfig msg;
  EXPECT_EQ(LoadYamlFile(dir_.path(), &msg).message(),
            dir_.path() + ": cannot read: a directory, not a regular file");
  EXPECT_EQ(LoadYamlFile("/dev/null", &msg).message(),
            "/dev/null: cannot read: a character device, not a regular file");
}

TEST_F(ConfigFileTest, SymlinkToRegularFileIsFine) {
  const std::string target = dir_.Write("real.yaml", "listen: 127.0.0.1:1\n");
  const std::string link = dir_.path() + "/link.yaml";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ServerConfig msg;
  ASSERT_TRUE(LoadYamlFile(link, &msg).ok());
  EXPECT_EQ(msg.listen(), "127.0.0.1:1");
}

TEST_F(ConfigFileTest, SizeIsBounded) {
  // Sparse: the size check must not need the bytes.
  const std::string big = dir_.Write("big.yaml", "");
  ASSERT_EQ(::truncate(big.c_str(), kMaxConfigFileBytes + 1), 0);
  ServerConfig msg;
  EXPECT_EQ(LoadYamlFile(big, &msg).message(),
            big + ": too large for a config file (4194305 bytes; the limit is 4194304)");

  const std::string edge = dir_.Write("edge.yaml", "");
  ASSERT_EQ(::truncate(edge.c_str(), kMaxConfigFileBytes), 0);
  std::string text;
  EXPECT_TRUE(ReadConfigFile(edge, &text).ok());
  EXPECT_EQ(text.size(), kMaxConfigFileBytes);
}

TEST_F(ConfigFileTest, MissingFileAndEmptyName) {
  std::string text;
  const std::string missing = dir_.path() + "/nope.yaml";
  EXPECT_EQ(ReadConfigFile(missing, &text).message(),
            missing + ": cannot read: No such file or directory");
  EXPECT_EQ(ReadConfigFile("", &text).message(), "empty config file name");
}

TEST_F(ConfigFileTest, ReadsRegularFile) {
  const std::string path = dir_.Write("a.yaml", "token: x\n");
  std::string text = "old";
  ASSERT_TRUE(ReadConfigFile(path, &text).ok());
  EXPECT_EQ(text, "token: x\n");
}

}  // namespace
}  // namespace reitunnel::config
