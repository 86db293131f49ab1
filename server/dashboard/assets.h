#pragma once

// The page's files (server/dashboard/assets/), compiled into the binary by
// embed_assets.cmake: nothing is read from disk or fetched from elsewhere at
// run time.

#include <string_view>

namespace reitunnel::server::dashboard {

struct Asset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

// nullptr when there is no such file.
const Asset* FindAsset(std::string_view path);

}  // namespace reitunnel::server::dashboard
