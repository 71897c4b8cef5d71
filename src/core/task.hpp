// The one coroutine type of otpd's asynchronous seams (handlers, store ports, channels): an
// Asio awaitable, resumed on the executor of whoever awaits it.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace otpd {

template <typename T>
using Task = boost::asio::awaitable<T>;

}  // namespace otpd
