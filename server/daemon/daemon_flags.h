// portleased's command-line flags (defined in daemon_flags.cc). Read them
// where the daemon is wired up, nowhere else.
#ifndef PORTLEASE_SERVER_DAEMON_DAEMON_FLAGS_H_
#define PORTLEASE_SERVER_DAEMON_DAEMON_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::vector<std::string>, listen);
ABSL_DECLARE_FLAG(std::string, socket_group);
ABSL_DECLARE_FLAG(bool, insecure_tcp);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(std::string, admin_token_file);
ABSL_DECLARE_FLAG(uint32_t, max_leases_per_owner);
ABSL_DECLARE_FLAG(int64_t, max_ports_per_owner);
ABSL_DECLARE_FLAG(uint32_t, max_connections);
ABSL_DECLARE_FLAG(uint32_t, max_streams);
ABSL_DECLARE_FLAG(uint32_t, max_waiters);
ABSL_DECLARE_FLAG(int32_t, max_message_bytes);
ABSL_DECLARE_FLAG(double, rate_limit);
ABSL_DECLARE_FLAG(double, rate_burst);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(std::string, store);
ABSL_DECLARE_FLAG(std::string, etcd_endpoints);
ABSL_DECLARE_FLAG(std::string, etcd_ca);
ABSL_DECLARE_FLAG(std::string, etcd_cert);
ABSL_DECLARE_FLAG(std::string, etcd_key);
ABSL_DECLARE_FLAG(std::string, etcd_prefix);
ABSL_DECLARE_FLAG(std::string, pool_host);
ABSL_DECLARE_FLAG(std::string, db);
ABSL_DECLARE_FLAG(bool, durable);
ABSL_DECLARE_FLAG(std::string, db_sync);
ABSL_DECLARE_FLAG(uint32_t, audit_events);
ABSL_DECLARE_FLAG(std::string, pool);
ABSL_DECLARE_FLAG(std::string, exclude);
ABSL_DECLARE_FLAG(std::string, always_exclude);
ABSL_DECLARE_FLAG(std::string, ephemeral);
ABSL_DECLARE_FLAG(std::string, reserve_pool);
ABSL_DECLARE_FLAG(absl::Duration, default_ttl);
ABSL_DECLARE_FLAG(absl::Duration, max_ttl);
ABSL_DECLARE_FLAG(absl::Duration, hold_grace);
ABSL_DECLARE_FLAG(std::string, recovery_window);
ABSL_DECLARE_FLAG(absl::Duration, cooldown);
ABSL_DECLARE_FLAG(absl::Duration, busy_backoff);
ABSL_DECLARE_FLAG(std::string, probe);
ABSL_DECLARE_FLAG(std::string, claims_dir);
ABSL_DECLARE_FLAG(absl::Duration, idle_exit);
ABSL_DECLARE_FLAG(std::vector<std::string>, portserver_listen);
ABSL_DECLARE_FLAG(std::string, portserver_ttl);
ABSL_DECLARE_FLAG(int, ready_fd);

#endif  // PORTLEASE_SERVER_DAEMON_DAEMON_FLAGS_H_
