// http::Server: the public face of the listener (see http/listener.hpp).
#include "http/server.hpp"

#include "http/listener.hpp"

namespace otpd::http {

Server::Server(IoPool& pool, api::Handler& handler, ServerOptions options)
    : impl_(std::make_shared<detail::Listener>(pool, handler, std::move(options))) {}

Server::~Server() { impl_->stop(); }

void Server::start() { impl_->start(); }

void Server::stop() { impl_->stop(); }

unsigned short Server::port() const { return impl_->port(); }

std::size_t Server::open_connections() const { return impl_->open_connections(); }

}  // namespace otpd::http
