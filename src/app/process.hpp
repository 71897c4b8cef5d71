// Everything one otpd process is made of — store, keys, channels, delivery, service,
// presenters and routers — built from the config in one place, for `serve` and the Lambda
// runtime alike.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "api/handler.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::app {

struct ProcessOptions {
  // POST /_test/clock moves a clock that only grows (loopback only; the e2e suite).
  bool unsafe_test_clock = false;
  // A worker delivers in the background (serve); false: each send delivers inline before
  // it is answered (Lambda, where nothing runs between invocations).
  bool background_delivery = true;
};

class Process {
 public:
  // Opens the store (creating the schema of a brand-new embedded database), checks the
  // schema, loads the secrets, builds every channel and the routers. Runs start-up work
  // on `io`, which must not be running yet. Throws config::ConfigError for a bad config
  // and std::runtime_error for anything else that must stop the start.
  Process(const config::Config& config, boost::asio::io_context& io, ProcessOptions options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  api::Handler& router();
  // The operational routes for the admin listener; nullptr when there is none.
  api::Handler* admin_router();
  store::Store& store();
  obs::Metrics& metrics();
  const core::TimeSource& clock() const;

  // An online copy of the embedded SQLite store at `destination` (written beside it, then
  // renamed into place); an error for any other store.
  Task<store::Result<void>> backup(std::string destination);

  // Starts the delivery worker and the expiry sweeper on `io` (serve; in Lambda mode each
  // send delivers inline and nothing runs in the background).
  void start();
  // Stops taking new deliveries and sweeping; attempts in flight finish.
  void stop();
  // Nothing left to deliver or to write: the moment a stopping process may exit.
  bool idle() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace otpd::app
