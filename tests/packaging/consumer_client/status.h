// The consumer's own shared library, built on portlease::client.
#ifndef PORTLEASE_TESTS_PACKAGING_CONSUMER_CLIENT_STATUS_H_
#define PORTLEASE_TESTS_PACKAGING_CONSUMER_CLIENT_STATUS_H_

#include <string>

// "portleased <version>, <n> ports free" from the server at `address`, or
// "error: <status>".
std::string DescribeServer(const std::string& address);

#endif  // PORTLEASE_TESTS_PACKAGING_CONSUMER_CLIENT_STATUS_H_
