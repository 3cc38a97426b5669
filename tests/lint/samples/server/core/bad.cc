// Sample for include_layers_check_rejects_samples: the core uses no RPC
// library.
#include <grpcpp/grpcpp.h>
