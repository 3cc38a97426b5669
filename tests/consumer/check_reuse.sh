#!/bin/sh
# check_reuse.sh FIXTURE: under an outer lease-run (OUTER_LEASE_ID), the
# fixture named by EXPECT_REUSE runs on the outer lease and every other
# fixture on a lease of its own.
set -eu
: "${OUTER_LEASE_ID:?run under lease-run with OUTER_LEASE_ID}"
if [ "${EXPECT_REUSE:-}" = "$1" ]; then
  [ "$PORTLEASE_LEASE_ID" = "$OUTER_LEASE_ID" ] ||
    { echo "$1: own lease $PORTLEASE_LEASE_ID, want the outer one" >&2; exit 1; }
else
  [ "$PORTLEASE_LEASE_ID" != "$OUTER_LEASE_ID" ] ||
    { echo "$1: took the outer lease, want its own" >&2; exit 1; }
fi
