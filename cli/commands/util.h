#pragma once

// Helpers shared by the command implementations.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "cli/admin_client.h"
#include "cli/command.h"
#include "cli/format.h"
#include "google/protobuf/message.h"
#include "grpcpp/client_context.h"

namespace reitunnel::cli {

// The largest page the admin API hands out.
inline constexpr uint32_t kMaxPageSize = 1000;

// Registers --limit and --label (for list commands).
void AddListFlags(config::FlagSet& fs, bool labels);

// Reads --limit (0: everything) and --page-size (default kMaxPageSize).
// Usage outcome on a bad value.
Outcome ParseLimit(const config::FlagSet& fs, uint32_t* limit, uint32_t* page_size);

// Reads --label into a label selector. Usage outcome on a bad value.
Outcome ParseLabels(const config::FlagSet& fs, std::string* selector);

// Prints `msg` as one JSON document followed by a newline.
void PrintJson(Context& ctx, const google::protobuf::Message& msg);

// With -o json or -o yaml: prints `msg` as that document and returns true.
// With table or wide output: prints nothing and returns false.
bool PrintDocument(Context& ctx, const google::protobuf::Message& msg);

// -o wide: tables show their extra columns.
inline bool Wide(const Context& ctx) { return ctx.globals.output == OutputFormat::kWide; }

// Reads a --ban=DURATION flag into whole seconds (0 when not given). Usage
// outcome on a bad value.
Outcome ParseBanFlag(const config::FlagSet& fs, uint32_t* seconds);

// "59m12s" until `until` at `now` ("expired" once it passed).
std::string Remaining(const google::protobuf::Timestamp& until, absl::Time now);

// "1.2 MiB (1234567 B)", or just "12 B" below a KiB: exact and readable.
std::string BytesDetail(uint64_t bytes);

// One unary admin call: `rpc` is the stub method, e.g.
// &AdminService::StubInterface::GetTunnel. On failure returns the mapped outcome
// (`not_found` is the message for NOT_FOUND).
template <typename Rpc, typename Request, typename Response>
Outcome CallUnary(AdminClient& admin, std::string_view method, Rpc rpc, const Request& request,
                  Response* response, const std::string& not_found) {
  grpc::ClientContext ctx;
  admin.Prepare(&ctx);
  grpc::Status st = (admin.stub().*rpc)(&ctx, request, response);
  if (!st.ok()) return admin.Failure(st, method, not_found);
  return Outcome::Ok();
}

// Fetches every page (or the first `limit` items) of a List call into
// `all`, whose next_page_token ends up empty unless --limit cut the list
// short. `call(ctx, request, response)` makes one call; `items(response)`
// returns its repeated field.
template <typename Request, typename Response, typename Call, typename Items>
Outcome Paginate(AdminClient& admin, std::string_view method, Request request, uint32_t limit,
                 uint32_t page_size, Call call, Items items, Response* all) {
  std::set<std::string> seen_tokens;
  while (true) {
    uint32_t page = page_size;
    if (limit > 0) {
      page = std::min<uint32_t>(page, limit - static_cast<uint32_t>(items(all)->size()));
    }
    request.set_page_size(page);
    Response response;
    grpc::ClientContext ctx;
    admin.Prepare(&ctx);
    grpc::Status st = call(&ctx, request, &response);
    if (!st.ok()) return admin.Failure(st, method);
    all->set_total_size(response.total_size());
    for (auto& item : *items(&response)) {
      if (limit > 0 && static_cast<uint32_t>(items(all)->size()) >= limit) break;
      *items(all)->Add() = std::move(item);
    }
    const bool full = limit > 0 && static_cast<uint32_t>(items(all)->size()) >= limit;
    if (response.next_page_token().empty() || full) {
      all->set_next_page_token(full ? response.next_page_token() : "");
      return Outcome::Ok();
    }
    if (!seen_tokens.insert(response.next_page_token()).second) {
      return Outcome::Error(absl::StrCat(std::string(method),
                                         " failed: the server returned the same page token twice"));
    }
    request.set_page_token(response.next_page_token());
  }
}

}  // namespace reitunnel::cli
