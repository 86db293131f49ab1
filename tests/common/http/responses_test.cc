#include "common/http/responses.h"

#include <http_parser.h>

#include <string>

#include "gtest/gtest.h"

namespace reitunnel::http {
namespace {

struct Parsed {
  int status = 0;
  std::string body;
  bool complete = false;
  bool keep_alive = true;
  std::string headers;
};

// Parses a response with libhttp-parser, so framing mistakes (a wrong
// Content-Length) show up the way a client would see them.
Parsed ParseResponse(const std::string& bytes) {
  Parsed out;
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &out;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_body = [](http_parser* p, const char* at, size_t len) {
    static_cast<Parsed*>(p->data)->body.append(at, len);
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, size_t len) {
    static_cast<Parsed*>(p->data)->headers.append("|").append(at, len);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t len) {
    static_cast<Parsed*>(p->data)->headers.append("=").append(at, len);
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    auto* o = static_cast<Parsed*>(p->data);
    o->complete = true;
    o->status = static_cast<int>(p->status_code);
    o->keep_alive = http_should_keep_alive(p) != 0;
    return 0;
  };
  size_t n = http_parser_execute(&p, &s, bytes.data(), bytes.size());
  EXPECT_EQ(n, bytes.size()) << http_errno_name(HTTP_PARSER_ERRNO(&p));
  return out;
}

TEST(ResponsesTest, CannedResponsesAreWellFramedAndClose) {
  for (int status : {400, 404, 405, 408, 414, 421, 431, 502, 503, 505, 418, 500}) {
    std::string bytes = ErrorResponse(status);
    Parsed r = ParseResponse(bytes);
    EXPECT_TRUE(r.complete) << status;
    EXPECT_EQ(r.status, status);
    EXPECT_FALSE(r.keep_alive) << "Connection: close";
    EXPECT_FALSE(r.body.empty());
    EXPECT_LT(r.body.size(), 64u);
    EXPECT_EQ(bytes.substr(0, 9), "HTTP/1.1 ");
  }
  EXPECT_EQ(ParseResponse(ErrorResponse(404)).body, "no tunnel serves this host\n");
  EXPECT_EQ(ParseResponse(ErrorResponse(99)).status, 500);
}

TEST(ResponsesTest, UnauthorizedCarriesASanitizedRealm) {
  Parsed r = ParseResponse(UnauthorizedResponse("My \"App\"\r\nX: y"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.find("|WWW-Authenticate=Basic realm=\"My AppX: y\", charset=\"UTF-8\""),
            std::string::npos)
      << r.headers;
  EXPECT_EQ(r.headers.find("|X="), std::string::npos);
  EXPECT_NE(ParseResponse(UnauthorizedResponse("")).headers.find("realm=\"reitunnel\""),
            std::string::npos);
}

}  // namespace
}  // namespace reitunnel::http
