#include "common/http/basic_auth.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/common/http/test_util.h"

namespace reitunnel::http {
namespace {

using testing::ParseHead;

RequestHead WithAuthorization(const std::string& value) {
  return ParseHead("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: " + value + "\r\n\r\n");
}

TEST(BasicAuthTest, AcceptsOnlyTheConfiguredCredentials) {
  BasicAuth auth = BasicAuth::WithPassword("alice", "s3cret:with:colons");
  // base64("alice:s3cret:with:colons")
  EXPECT_TRUE(auth.Check(WithAuthorization("Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z")));
  EXPECT_TRUE(auth.Check(WithAuthorization("basic   YWxpY2U6czNjcmV0OndpdGg6Y29sb25z")));
  // base64("alice:s3cret")
  EXPECT_FALSE(auth.Check(WithAuthorization("Basic YWxpY2U6czNjcmV0")));
  // base64("bob:s3cret:with:colons")
  EXPECT_FALSE(auth.Check(WithAuthorization("Basic Ym9iOnMzY3JldDp3aXRoOmNvbG9ucw==")));
  EXPECT_FALSE(auth.Check(WithAuthorization("Bearer YWxpY2U6czNjcmV0OndpdGg6Y29sb25z")));
  EXPECT_FALSE(auth.Check(WithAuthorization("Basic")));
  EXPECT_FALSE(auth.Check(WithAuthorization("Basic !!!!")));
  EXPECT_FALSE(auth.Check(WithAuthorization("BasicYWxpY2U6czNjcmV0OndpdGg6Y29sb25z")));
  EXPECT_FALSE(auth.Check(ParseHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
  // Two Authorization fields: ambiguous, refused even if one is right.
  EXPECT_FALSE(
      auth.Check(ParseHead("GET / HTTP/1.1\r\nHost: a\r\n"
                           "Authorization: Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z\r\n"
                           "Authorization: Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z\r\n\r\n")));
}

TEST(BasicAuthTest, PasswordDigestConfiguration) {
  // printf %s secret | sha256sum
  absl::StatusOr<BasicAuth> auth = BasicAuth::WithPasswordSha256Hex(
      "u", "2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->Matches("u", "secret"));
  EXPECT_FALSE(auth->Matches("u", "secreT"));
  EXPECT_FALSE(auth->Matches("U", "secret"));
  EXPECT_TRUE(auth->Check(WithAuthorization("Basic dTpzZWNyZXQ=")));  // u:secret

  EXPECT_FALSE(BasicAuth::WithPasswordSha256Hex("u", "abc").ok());
  EXPECT_FALSE(BasicAuth::WithPasswordSha256Hex("u", std::string(64, 'g')).ok());
}

TEST(BasicAuthTest, EmptyUserAndPassword) {
  BasicAuth auth = BasicAuth::WithPassword("", "pw");
  EXPECT_TRUE(auth.Matches("", "pw"));
  EXPECT_FALSE(auth.Matches("pw", ""));
  EXPECT_TRUE(auth.Check(WithAuthorization("Basic OnB3")));  // ":pw"
}

TEST(BasicAuthTest, ParseBasicCredentials) {
  std::string user;
  std::string password;
  ASSERT_TRUE(ParseBasicCredentials("Basic dTpzZWNyZXQ=", &user, &password));
  EXPECT_EQ(user, "u");
  EXPECT_EQ(password, "secret");
  EXPECT_FALSE(ParseBasicCredentials("Basic bm9jb2xvbg==", &user, &password));  // "nocolon"
}

}  // namespace
}  // namespace reitunnel::http
