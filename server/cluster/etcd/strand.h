#pragma once

#include "asio/any_io_executor.hpp"
#include "asio/strand.hpp"

namespace reitunnel::cluster {

// Everything long-lived in cluster mode (streams, lease, membership, port
// claims) keeps its state on one strand: no locks between them, and stream
// callbacks from gRPC threads hop onto it with asio::post.
using Strand = asio::strand<asio::any_io_executor>;

}  // namespace reitunnel::cluster
