#include "cli/admin_client.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace reitunnel::cli {
namespace {

bool ReadFile(const std::string& flag, const std::string& path, std::string* contents,
              Outcome* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    *error = Outcome::Error(absl::StrCat("cannot read ", flag, " file ", path, ": ",
                                         err != 0 ? std::strerror(err) : "unreadable"));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *contents = ss.str();
  return true;
}

// gRPC reports unusable PEM data only as an opaque connection failure, so
// check it up front.
Outcome CheckPem(const grpc::SslCredentialsOptions& ssl, const GlobalOptions& options) {
  auto bio = [](const std::string& pem) {
    return std::unique_ptr<BIO, decltype(&BIO_free)>(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  };
  if (!options.tls_ca.empty()) {
    auto b = bio(ssl.pem_root_certs);
    X509* first = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
    if (first == nullptr) {
      return Outcome::Error(
          absl::StrCat("--tls-ca file ", options.tls_ca, " holds no PEM certificate"));
    }
    X509_free(first);
  }
  if (options.tls_cert.empty()) return Outcome::Ok();
  auto cb = bio(ssl.pem_cert_chain);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) {
    return Outcome::Error(
        absl::StrCat("--tls-cert file ", options.tls_cert, " holds no PEM certificate"));
  }
  auto kb = bio(ssl.pem_private_key);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (!key) {
    return Outcome::Error(
        absl::StrCat("--tls-key file ", options.tls_key, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Outcome::Error("--tls-cert and --tls-key do not belong together");
  }
  return Outcome::Ok();
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("code ", static_cast<int>(code));
  }
}

// One line: gRPC messages can carry newlines.
std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::string DescribeTransportError(std::string_view grpc_message) {
  const std::string lower =
      absl::AsciiStrToLower(absl::string_view(grpc_message.data(), grpc_message.size()));
  struct Cause {
    const char* needle;
    const char* text;
  };
  static constexpr Cause kCauses[] = {
      {"connection refused", "connection refused"},
      {"no route to host", "no route to host"},
      {"network is unreachable", "network is unreachable"},
      {"dns resolution failed", "cannot resolve the host name"},
      {"name or service not known", "cannot resolve the host name"},
      {"could not resolve", "cannot resolve the host name"},
      {"not in peer certificate",
       "the server's certificate is not valid for the expected name (check --tls-server-name)"},
      {"handshake", "TLS handshake failed (check --tls, --tls-ca and --tls-server-name)"},
      {"ssl", "TLS handshake failed (check --tls, --tls-ca and --tls-server-name)"},
      {"connection reset", "connection reset by peer"},
      {"socket closed",
       "connection closed by the server (TLS on one side only, or client certificate refused?)"},
      {"connection closed",
       "connection closed by the server (TLS on one side only, or client certificate refused?)"},
      {"timed out", "timed out"},
      {"timeout", "timed out"},
  };
  for (const Cause& c : kCauses) {
    if (absl::StrContains(lower, c.needle)) return c.text;
  }
  if (grpc_message.empty()) return "unavailable";
  return OneLine(grpc_message);
}

Outcome MapRpcError(const grpc::Status& status, std::string_view address, std::string_view method,
                    std::string_view not_found, bool token_given, absl::Duration timeout) {
  const std::string addr(address);
  const std::string rpc(method);
  const std::string detail = OneLine(status.error_message());
  const std::string code = CodeName(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Outcome::Ok();
    case grpc::StatusCode::UNAVAILABLE:
      return Outcome::Unreachable(absl::StrCat("cannot reach admin API at ", addr, ": ",
                                               DescribeTransportError(status.error_message())));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Outcome::Unreachable(absl::StrCat("admin API at ", addr, " did not answer within ",
                                               absl::FormatDuration(timeout),
                                               " (DEADLINE_EXCEEDED; see --timeout)"));
    case grpc::StatusCode::UNAUTHENTICATED:
      return Outcome::Unreachable(
          absl::StrCat("admin API refused the credentials (UNAUTHENTICATED)",
                       token_given ? "" : "; no token given (--token or REITUNNEL_ADMIN_TOKEN)"));
    case grpc::StatusCode::PERMISSION_DENIED:
      return Outcome::Unreachable(absl::StrCat("admin API denied access (PERMISSION_DENIED)",
                                               detail.empty() ? "" : ": ", detail));
    case grpc::StatusCode::NOT_FOUND:
      if (!not_found.empty()) return Outcome::Error(std::string(not_found));
      return Outcome::Error(absl::StrCat("not found", detail.empty() ? "" : ": ", detail));
    case grpc::StatusCode::UNIMPLEMENTED:
      return Outcome::Error(absl::StrCat("admin API at ", addr, " does not implement ", rpc,
                                         " (UNIMPLEMENTED; server too old?)"));
    default:
      return Outcome::Error(
          absl::StrCat(rpc, " failed (", code, ")", detail.empty() ? "" : ": ", detail));
  }
}

Outcome AdminClient::Create(const GlobalOptions& options, std::unique_ptr<AdminClient>* out) {
  grpc::ChannelArguments args;
  // A CLI makes a handful of calls: fail fast rather than back off.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    Outcome error;
    if (!options.tls_ca.empty() &&
        !ReadFile("--tls-ca", options.tls_ca, &ssl.pem_root_certs, &error)) {
      return error;
    }
    if (!options.tls_cert.empty() &&
        !ReadFile("--tls-cert", options.tls_cert, &ssl.pem_cert_chain, &error)) {
      return error;
    }
    if (!options.tls_key.empty() &&
        !ReadFile("--tls-key", options.tls_key, &ssl.pem_private_key, &error)) {
      return error;
    }
    if (Outcome o = CheckPem(ssl, options); !o.ok()) return o;
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(options.admin, creds, args);
  if (!channel) return Outcome::Error(absl::StrCat("cannot create a channel to ", options.admin));
  *out = std::make_unique<AdminClient>(options, std::move(channel));
  return Outcome::Ok();
}

AdminClient::AdminClient(const GlobalOptions& options, std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      stub_(admin::v1::AdminService::NewStub(channel_)) {}

void AdminClient::Prepare(grpc::ClientContext* ctx, bool streaming) const {
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
  if (!streaming) ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

Outcome AdminClient::Failure(const grpc::Status& status, std::string_view method,
                             std::string_view not_found) const {
  return MapRpcError(status, options_.admin, method, not_found, !options_.token.empty(),
                     options_.timeout);
}

}  // namespace reitunnel::cli
