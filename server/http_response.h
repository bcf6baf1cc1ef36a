// The primary's whole answers are the ones both servers build (proto/http/response.h); these
// names keep them reachable as server:: for the sessions that use them.
#pragma once

#include "proto/http/response.h"

namespace walstream::server {

using httpd::makeJsonError;
using httpd::makeResponse;
using httpd::StringResponse;

}  // namespace walstream::server
