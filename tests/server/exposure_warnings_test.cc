#include "server/exposure_warnings.h"

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

config::v1::ServerConfig Loopback() {
  config::v1::ServerConfig c;
  c.set_listen("127.0.0.1:7000");
  c.set_admin("127.0.0.1:7001");
  c.set_metrics("127.0.0.1:9100");
  return c;
}

TEST(ExposureWarningsTest, LoopbackListenersAreQuiet) {
  EXPECT_TRUE(ExposureWarnings(Loopback()).empty());
  auto c = Loopback();
  c.set_listen("[::1]:7000");
  c.set_admin("localhost:7001");
  EXPECT_TRUE(ExposureWarnings(c).empty());
}

TEST(ExposureWarningsTest, OneWarningPerExposedListenerWithoutTls) {
  auto c = Loopback();
  c.set_listen("0.0.0.0:7000");
  c.set_admin("0.0.0.0:7001");
  c.set_metrics("0.0.0.0:9100");
  auto w = ExposureWarnings(c);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NE(w[0].find("agent listener"), std::string::npos);
  EXPECT_NE(w[1].find("admin API"), std::string::npos);
  EXPECT_NE(w[2].find("metrics"), std::string::npos);
}

TEST(ExposureWarningsTest, TlsSilencesTheWarning) {
  auto c = Loopback();
  c.set_listen("10.0.0.1:7000");
  c.set_admin("10.0.0.1:7001");
  c.mutable_tls()->set_cert_file("/c.pem");
  c.mutable_admin_api()->set_cert_file("/a.pem");
  EXPECT_TRUE(ExposureWarnings(c).empty());
}

}  // namespace
}  // namespace reitunnel::server
