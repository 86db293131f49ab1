// hookd-veto-latency: how long a veto takes, seen from the caller, against
// one or more running hook services.
//
//   hookd-veto-latency --target=thread_pool=127.0.0.1:7100
//                      --target=inline=127.0.0.1:7101 --calls=2000 [--rounds=4]
//
// Makes `calls` sequential OnTunnelOpen calls per target, as reitunneld makes
// them (one channel, one call at a time, a 10 s deadline), split into
// `rounds` rounds that alternate between the targets so that both see the
// same background load. Every answer is checked: tunnels named "admin-N" must
// be denied and the others allowed (the policy of examples/minimal), so a
// fast wrong answer cannot pass. Prints one JSON line per target with the
// latency percentiles in microseconds; exits 1 on a wrong answer.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "reitunnel/hook/v1/hook.grpc.pb.h"

namespace {

namespace pb = ::reitunnel::hook::v1;

struct Target {
  std::string label;
  std::string address;
  std::unique_ptr<pb::HookService::Stub> stub;
  std::vector<double> micros;
};

constexpr char kUsage[] =
    "usage: hookd-veto-latency --target=LABEL=HOST:PORT [--target=...] [--calls=2000] "
    "[--rounds=4] [--warmup=100]\n";

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// One call; false on a wrong or failed answer.
bool Call(Target& target, int n, bool record) {
  pb::TunnelOpenRequest request;
  const bool admin = n % 10 == 0;
  request.set_client_id("bench");
  // StrCat, not operator+: GCC 12 at -O3 misreads the latter (-Wrestrict).
  request.set_tunnel_id(absl::StrCat("t", n));
  request.set_tunnel_name(admin ? absl::StrCat("admin-", n) : "web");
  request.set_local_addr("127.0.0.1:8080");
  pb::DecisionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = target.stub->OnTunnelOpen(&context, request, &response);
  const auto end = std::chrono::steady_clock::now();
  if (!status.ok() || response.decision() != (admin ? pb::DENY : pb::ALLOW)) {
    std::fprintf(stderr, "%s: wrong answer to %s: %s %s\n", target.label.c_str(),
                 request.tunnel_name().c_str(), status.error_message().c_str(),
                 response.ShortDebugString().c_str());
    return false;
  }
  if (record)
    target.micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  return true;
}

bool IntFlag(std::string_view arg, std::string_view name, int* value) {
  if (arg.substr(0, name.size()) != name) return false;
  const std::string_view digits = arg.substr(name.size());
  if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), value) || *value <= 0) {
    std::fprintf(stderr, "bad %.*s\n%s", static_cast<int>(arg.size()), arg.data(), kUsage);
    std::exit(2);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Target> targets;
  int calls = 2000;
  int rounds = 4;
  int warmup = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (arg.substr(0, 9) == "--target=") {
      const std::string_view spec = arg.substr(9);
      const size_t eq = spec.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        std::fprintf(stderr, "bad %s: want --target=LABEL=HOST:PORT\n", argv[i]);
        return 2;
      }
      Target target;
      target.label = std::string(spec.substr(0, eq));
      target.address = std::string(spec.substr(eq + 1));
      target.stub = pb::HookService::NewStub(
          grpc::CreateChannel(target.address, grpc::InsecureChannelCredentials()));
      targets.push_back(std::move(target));
    } else if (IntFlag(arg, "--calls=", &calls) || IntFlag(arg, "--rounds=", &rounds) ||
               IntFlag(arg, "--warmup=", &warmup)) {
    } else {
      std::fprintf(stderr, "unknown argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (targets.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  // Warm-up: connect and let both sides start their threads.
  for (Target& target : targets) {
    for (int n = 0; n < warmup; ++n) {
      if (!Call(target, n, false)) return 1;
    }
  }
  const int per_round = std::max(1, calls / rounds);
  for (int round = 0; round < rounds; ++round) {
    for (Target& target : targets) {
      for (int n = 0; n < per_round; ++n) {
        if (!Call(target, round * per_round + n + 1, true)) return 1;
      }
    }
  }
  for (const Target& target : targets) {
    double sum = 0;
    for (double v : target.micros) sum += v;
    std::printf(
        "{\"target\":\"%s\",\"calls\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
        "\"p99_us\":%.1f,\"max_us\":%.1f}\n",
        target.label.c_str(), target.micros.size(), sum / static_cast<double>(target.micros.size()),
        Percentile(target.micros, 0.50), Percentile(target.micros, 0.90),
        Percentile(target.micros, 0.99), Percentile(target.micros, 1.0));
  }
  return 0;
}
