#ifndef TOKENVAULT_CLIBPQ_SHIM_H
#define TOKENVAULT_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>
#endif
