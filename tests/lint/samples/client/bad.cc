// Sample for include_layers_check_rejects_samples: the client may not
// include the server.
#include "server/core/lease.h"
